"""``track(log_to=...)``: the run's energy, power, CO2e and prediction in experiment trackers.

The training thread only notes a point (a tuple appended under a lock, at most one per
``min_interval_s`` of the run's clock); a writer thread sends the points, so a slow tracker
server never slows a step. With no progress, a point is written every ``idle_s``. At the end
the last point (the run's final energy), the summary and the report files are written from
the training thread. A tracker that fails is logged once, dropped, and named in the record's
``meta["trackers"]``; it never raises into the training.
"""
from __future__ import annotations

import logging
import sys
import tempfile
import threading

from ...units import J_PER_KWH
from . import base, summary
from .spec import kind

log = logging.getLogger("wattprint")
STUCK_S = 60.0  # how long the end waits for the writer thread's last points


class TrackersPlugin:
    def __init__(self, specs, *, min_interval_s: float = 1.0, idle_s: float = 10.0):
        self.specs = tuple(specs)
        self.min_interval_s, self.idle_s = min_interval_s, idle_s
        self.trackers: list = []   # the live ones
        self.state: dict = {}      # tracker name -> what it logs to, or "failed: ..."
        self._lock = threading.Lock()       # the points, and the trackers list
        self._send = threading.Lock()       # one writer at a time
        self._points: list = []             # (step, t, energy_j, power_w, final) to send
        self._last_t = None                 # run time of the last point noted
        self._step = None
        self._reports = 0
        self._co2e_per_kwh = None
        self._wake, self._stop = threading.Event(), threading.Event()
        self._thread = None

    # -- hooks --------------------------------------------------------------------------------
    def started(self, run) -> None:
        if run.rank not in (None, 0):  # one tracker run per job: rank 0's
            self.state = {kind(s): "not logged: only rank 0 logs" for s in self.specs}
            return
        self._co2e_per_kwh = _co2e_per_kwh(run.location)
        for spec in self.specs:
            tracker = make(spec)
            try:
                where = tracker.open(run)
            except Exception as e:
                self._failed(tracker, e)
                continue
            self.trackers.append(tracker)
            self.state[tracker.name] = where
            _say(run, f"wattprint: logging energy to {where}")
        self._mark(run)
        if self.trackers:
            self._thread = threading.Thread(target=self._loop, args=(run,),
                                            name="wattprint-trackers", daemon=True)
            self._thread.start()

    def progressed(self, run, done: float, total) -> None:
        if not self.trackers or run.last_progress is None:
            return
        t, done, energy_j = run.last_progress
        self._reports += 1
        # The framework's global step when progress is whole steps; else the report's number.
        self._step = int(done) if float(done).is_integer() else self._reports
        if self._last_t is not None and t - self._last_t < self.min_interval_s:
            return
        with self._lock:
            self._last_t = t
            self._points.append((self._step, t, energy_j, _power(run), False))
        self._wake.set()

    def stopping(self, run) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=STUCK_S)
        if self._thread.is_alive():  # a tracker hung on a write: the end must not wait for it
            for tracker in list(self.trackers):
                self._failed(tracker, TimeoutError(f"no answer in {STUCK_S:.0f} s"), close=False)
            return
        m = run.energy()  # final: the energy the record stores
        step = self._step if self._step is not None else int(m.seconds)
        with self._lock:
            self._points.append((step, m.seconds, m.total_j, _power(run), True))
        self._send_points(run)

    def stopped(self, run) -> None:
        if not self.trackers:
            if self.state:
                self._mark(run)
            return
        record, footprint = run.record, None
        try:
            footprint = run.result
        except Exception as e:  # the summary keeps the energy without it
            log.warning("wattprint: no footprint for the trackers (%s: %s)", type(e).__name__, e)
        fields = summary.fields(record, footprint)
        with tempfile.TemporaryDirectory(prefix="wattprint-report-") as tmp:
            try:
                files = summary.files(run.store, record.id, tmp)
            except Exception as e:
                log.warning("wattprint: no report files for the trackers (%s: %s)", type(e).__name__, e)
                files = []
            for tracker in list(self.trackers):
                self._call(tracker, "finish", fields, files)
        for tracker in list(self.trackers):
            self._call(tracker, "close")
        self._mark(run)

    # -- writing ------------------------------------------------------------------------------
    def _loop(self, run) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.idle_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            t = run.elapsed()
            with self._lock:
                since = t - (self._last_t or 0.0)
                if not self._points and since >= self.idle_s:  # no progress lately (or yet)
                    m = run.energy(fresh=False)
                    step = self._step if self._step is not None else int(t)
                    self._points.append((step, m.seconds, m.total_j, _power(run), False))
                    self._last_t = t
            self._send_points(run)

    def _send_points(self, run) -> None:
        with self._send:
            with self._lock:
                points, self._points = self._points, []
            for step, t, energy_j, power_w, final in points:
                metrics = self._metrics(run, t, energy_j, power_w, final)
                for tracker in list(self.trackers):
                    self._call(tracker, "log", metrics, step)

    def _metrics(self, run, t: float, energy_j: float, power_w: float, final: bool) -> dict:
        kwh = energy_j / J_PER_KWH
        out = {base.ENERGY: kwh, base.POWER: power_w}
        if self._co2e_per_kwh is not None:
            out[base.CO2E] = kwh * self._co2e_per_kwh
        if run.total is not None and not final:  # at the end the total is known, not predicted
            out.update(_prediction(run, t))
        return out

    def _call(self, tracker, method: str, *args) -> None:
        try:
            getattr(tracker, method)(*args)
        except Exception as e:
            self._failed(tracker, e)

    def _failed(self, tracker, e: Exception, close: bool = True) -> None:
        with self._lock:
            if tracker in self.trackers:
                self.trackers.remove(tracker)
            elif tracker.name in self.state and self.state[tracker.name].startswith("failed"):
                return
            self.state[tracker.name] = f"failed: {type(e).__name__}: {e}"
        log.warning("wattprint: logging to %s failed (%s: %s); the training goes on without it",
                    tracker.name, type(e).__name__, e)
        if close:
            try:
                tracker.close()
            except Exception:
                pass

    def _mark(self, run) -> None:
        """The record says where each tracker logged, or why it did not (training thread)."""
        if run.placement.run_id and run.placement.run_id != run.run_id:
            return  # rank 0 now stands for the job's record: its own is not at hand
        record = run.record
        if record is None:
            return
        run.update_record(meta={**record.meta, "trackers": dict(self.state)})


def make(spec) -> base.Tracker:
    """The tracker for a checked ``log_to`` spec (see spec.py)."""
    if not isinstance(spec, str):
        from .to_tensorboard import TensorBoardTracker

        return TensorBoardTracker(writer=spec)
    name, _, arg = spec.partition(":")
    if name == "mlflow":
        from .to_mlflow import MlflowTracker

        return MlflowTracker()
    if name == "wandb":
        from .to_wandb import WandbTracker

        return WandbTracker()
    from .to_tensorboard import TensorBoardTracker

    return TensorBoardTracker(logdir=arg)


def _power(run) -> float:
    power = run.power()
    return sum(power.get(d, 0.0) for d in run.counted)


def _co2e_per_kwh(location: dict):
    """kg CO2e per kWh of IT energy (PUE included), or None without a grid intensity."""
    if not any(location.get(k) for k in ("region", "cloud", "intensity")):
        return None
    try:
        from ...footprint import for_energy

        return for_energy(1.0, 1.0, **location).co2e_kg
    except Exception as e:
        log.warning("wattprint: no CO2e for the trackers (%s)", e)
        return None


def _prediction(run, t: float) -> dict:
    """The predicted total and its range as of run time ``t``, once the prediction is reliable
    (from the progress rows up to ``t``: the writer thread may send a point late)."""
    from ...predict import extrapolate

    rows = [r for r in run.progress_rows() if r[0] <= t]
    pred = extrapolate(rows, run.total, unit=run.unit, resolution_s=run.interval)
    if not pred.reliable or pred.energy_kwh is None:
        return {}
    out = {base.PREDICTED: pred.energy_kwh, base.PREDICTED_LOW: pred.energy_kwh_low,
           base.PREDICTED_HIGH: pred.energy_kwh_high}
    return {k: v for k, v in out.items() if v is not None}


def _say(run, line: str) -> None:
    if run.options.quiet:
        log.info(line)
    else:
        print(line, file=sys.stderr, flush=True)
