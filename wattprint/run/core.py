"""``Run``: one measured training — its lifecycle, windows and progress.

Nothing in here may crash or stop the training: meter and store failures are logged once and
mark the run degraded. Only misuse of the API itself (bad arguments) raises, and it raises at
once, before any training has run.
"""
from __future__ import annotations

import dataclasses
import functools
import logging
import math
import sys
import time

from ..errors import BudgetExceeded, UsageError
from ..meters.base import counted_in_total
from ..plugins.base import Placement
from ..sampler import Sampler
from ..store import RunRecord, open_store
from ..units import positive
from . import nested
from .devices import open_meters
from .measurement import Measurement, Window, check_window_name, sync_devices
from .options import Options, options as make_options, unknown_option
from .plugins import plugins_for
from .recorder import Recorder, create_record, first_record, new_run_id

log = logging.getLogger("wattprint")

HISTORY_ROWS = 2000  # progress rows kept in memory for predictions


class Run:
    """One measured training. Use it through ``wattprint.track()``.

    ``Run(**track_options)`` checks the options; ``Run(options, plugins=[...])`` takes them
    ready-made. ``clock`` (monotonic seconds) drives the sampler, progress and flushes, so tests
    of their logic can advance time instead of sleeping.
    """

    def __init__(self, opts: Options | None = None, *, plugins=None, clock=time.monotonic,
                 **kwargs):
        for key in kwargs:  # a typo names the closest option
            if key not in make_options.known_options:
                raise unknown_option(key, make_options.known_options | {"plugins", "clock"})
        self.options = opts if opts is not None else make_options(**kwargs)
        o = self.options
        self.project, self.tags = o.project, list(o.tags)
        self.interval, self.unit, self.total = o.interval, o.unit, o.total
        self.location = dict(o.location)
        self.run_id = o.run_id or new_run_id()
        self.placement = Placement()
        self.status = "new"
        self.exit_code: int | None = None
        self.done: float | None = None
        self.last_progress: tuple | None = None  # (t, done, energy_j) of the last progress()
        self.job: dict | None = None  # job totals and per-node breakdown (distributed runs)
        self.prometheus_port: int | None = None  # where this process serves metrics, if it does
        self.domains: list = []
        self.counted: frozenset = frozenset()
        self.unavailable: list = []
        self.started_at = 0.0
        self.store = None
        self._clock = clock
        self._discovery = None
        self._meta: dict = {}  # the record's meta, written whole: events join what is there
        self._sampler: Sampler | None = None
        self._recorder: Recorder | None = None
        self._key: int | None = None
        self._windows: dict[str, tuple[float, dict]] = {}
        self._history: list[tuple[float, float, float]] = []
        self._warned: set[str] = set()
        self._final: Measurement | None = None
        self._record: RunRecord | None = None
        self._result = None
        if plugins is None:
            plugins = plugins_for(self.options)
        self.plugins: list = list(plugins)

    # -- where this process stands (set by a plugin's Placement) ----------------------------
    @property
    def job_id(self) -> str | None:
        return self.placement.job_id

    @property
    def node(self) -> str | None:
        return self.placement.node

    @property
    def rank(self) -> int | None:
        return self.placement.rank

    def _place(self, p: Placement) -> None:
        self.placement = p
        if p.run_id:
            self.run_id = p.run_id

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> "Run":
        if self.status != "new":
            raise UsageError("this run was already started; call wattprint.track() for a new one")
        for placement in self._call_plugins("configure"):
            if isinstance(placement, Placement):
                self._place(placement)
        self.store = open_store(self.options.store)  # unwritable path: UsageError before training
        outer = nested.enter(self)
        try:
            meters, self.unavailable, self._discovery, meta = open_meters(
                self.options, self.placement, outer)
            self._sampler = Sampler(meters, self.interval, on_sample=self._on_sample,
                                    after_poll=self._maybe_flush, clock=self._clock)
            self.domains = self._sampler.domains
            self.counted = counted_in_total(self.domains)
            self.started_at = time.time()
            record = first_record(self, meta)
            self._meta = dict(record.meta)
            self._key = create_record(self.store, record, fixed=bool(self.options.run_id or self.placement.run_id))
            self.run_id = record.id  # a generated id another writer took is drawn again
        except BaseException:
            nested.leave(self)
            if self._discovery is not None:
                self._discovery.close()
            raise
        self._recorder = Recorder(self.store, self._key, self.domains, self.counted,
                                  latest=self._latest, interval=self.interval,
                                  flush_interval=self.options.flush_interval, clock=self._clock)
        self.status = "running"
        self._sampler.start()
        self._call_plugins("started")
        return self

    def stop(self, status: str = "finished", exit_code: int | None = None) -> None:
        if self.status != "running":
            return
        nested.leave(self)
        snap = self._sampler.stop()
        self._final = Measurement("run", snap.t, snap.energy_j, counted=self.counted)
        self._recorder.add_final_sample(snap.t, snap.energy_j, self._sampler.power())
        self.status = status
        self.exit_code = exit_code
        self._call_plugins("stopping")
        self._flush(final=True)
        if self._discovery is not None:
            self._discovery.close()
        self._call_plugins("stopped")
        quiet = self.placement.quiet if self.placement.quiet is not None else self.options.quiet
        if not quiet:
            self._print_summary()

    def _print_summary(self) -> None:
        try:
            from ..report.terminal import summary

            print(summary(self.record, self.result, store=self.store), file=sys.stderr)
        except Exception as e:  # a summary must never fail the training
            log.warning("wattprint: no summary (%s: %s)", type(e).__name__, e)

    def __enter__(self) -> "Run":
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.stop("finished")
        elif issubclass(exc_type, BudgetExceeded):
            self.stop("stopped")
        elif issubclass(exc_type, KeyboardInterrupt):
            self.stop("cancelled")  # the user stopped it: not a failure of the training
        else:
            self.stop("failed")
        return False

    def __call__(self, func):
        """``@wattprint.track(...)``: every call of ``func`` is measured as a new run."""
        # Each call is a new run with a new id (a given run_id would collide on the second call).
        opts, clock = dataclasses.replace(self.options, run_id=None), self._clock

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            run = Run(opts, clock=clock)
            wrapper.last_run = run
            with run:
                return func(*args, **kwargs)

        wrapper.last_run = None
        return wrapper

    # -- measuring --------------------------------------------------------------------------
    def elapsed(self) -> float:
        """Seconds since the run started, on the run's clock."""
        return self._sampler.elapsed() if self._sampler is not None else 0.0

    def energy(self, fresh: bool = True) -> Measurement:
        """Energy per domain since the run started (live while running, final once stopped).

        ``fresh=False`` returns the sampler's last totals without reading the meters."""
        if self._final is not None:
            return self._final
        if self._sampler is None:
            return Measurement("run")
        snap = self._sampler.snapshot(fresh=fresh, timeout=0.5 if fresh else 0.0)
        return Measurement("run", snap.t, snap.energy_j, counted=self.counted)

    def power(self) -> dict:
        """Average power per domain (W) over the last sampling interval."""
        return self._sampler.power() if self._sampler is not None else {}

    def begin_window(self, name: str, sync: bool = True) -> None:
        check_window_name(name)
        if self.status != "running":
            raise UsageError(f"window {name!r}: the run is not running")
        if name in self._windows:
            raise UsageError(f"window {name!r} is already open; give overlapping windows different names")
        if sync:
            sync_devices()
        snap = self._sampler.snapshot(fresh=True)
        self._windows[name] = (snap.t, snap.energy_j)

    def end_window(self, name: str, sync: bool = True) -> Measurement:
        check_window_name(name)
        try:
            t0, e0 = self._windows.pop(name)
        except KeyError:
            raise UsageError(f"window {name!r} was never begun (or already ended)") from None
        if sync:
            sync_devices()
        snap = self._sampler.snapshot(fresh=True)
        m = Measurement(name, snap.t - t0, {k: v - e0.get(k, 0.0) for k, v in snap.energy_j.items()},
                        start_s=t0, counted=self.counted)
        self._recorder.add_window(name, t0, snap.t, m.energy_j)
        self._call_plugins("window_closed", m)
        return m

    def window(self, name: str, sync: bool = True) -> Window:
        """``with run.window("eval") as w:`` — afterwards ``w.energy_j`` and ``w.seconds``."""
        return Window(self, name, sync)

    def progress(self, done: float, total: float | None = None) -> None:
        """Report work done (epochs, steps, tokens...). Enables prediction and budgets.

        Bad values are warned about and ignored: they never stop the training. Only a budget
        with ``on_exceed="stop"`` raises ``BudgetExceeded`` here, by design.
        """
        if self.status != "running":
            return
        try:
            value = float(done)
        except (TypeError, ValueError):
            value = math.nan
        if not (math.isfinite(value) and value >= 0):  # dropped, never stored: the record stays whole
            self._warn_once("progress", f"wattprint: progress({done!r}) ignored: not a number of "
                            "work done (finite, 0 or more); said once, later ones are dropped too")
            return
        done = value
        if total is not None:
            if positive(total) is None:
                log.warning("wattprint: total=%r ignored: it must be a positive number", total)
            else:
                self.total = positive(total)
        # Never wait for a sampler busy reading a slow meter: the last totals will do.
        snap = self._sampler.snapshot(fresh=False, timeout=0.0)
        # The snapshot is up to one interval old: carry it to now at the last power, so that
        # energy and work done refer to the same moment (prediction rates depend on it).
        t = self._sampler.elapsed()
        lag = min(max(t - snap.t, 0.0), 2 * self.interval)
        power = self._sampler.power()
        energy_j = sum(snap.energy_j[n] + power.get(n, 0.0) * lag for n in self.counted)
        t = snap.t + lag
        prev = self.last_progress
        if prev is not None:  # the carried-forward estimate must not run ahead of the next reading
            energy_j, t = max(energy_j, prev[2]), max(t, prev[0])
        self.done = done
        self.last_progress = row = (t, done, energy_j)
        self._history.append(row)
        if len(self._history) > HISTORY_ROWS:  # thin the older half
            half = len(self._history) // 2
            self._history[:half] = self._history[:half:2]
        finished = self.total is not None and done >= self.total
        self._recorder.add_progress(t, done, self.total, energy_j, finished=finished)
        self._call_plugins("progressed", done, self.total, raising=True)

    def progress_rows(self) -> list[tuple[float, float, float]]:
        """Progress reports (t, done, energy_j), oldest first; beyond HISTORY_ROWS the older
        ones are thinned (a prediction needs few rows per segment, and stays ~1 ms)."""
        return list(self._history)

    def predict(self, total: float | None = None):
        """The predicted whole-run energy, time, CO2e and cost (``wattprint.Prediction``)."""
        from ..predict import predict_run
        return predict_run(self, total)

    def record_prediction(self, t: float, data: dict) -> None:
        if self._recorder is not None:
            self._recorder.add_prediction(t, data)

    def set_unit(self, unit: str) -> None:
        """Change the unit of work (e.g. to 'epoch' once the output shows epochs) and record it."""
        self.unit = unit
        self.update_record(unit=unit)

    def update_record(self, **fields) -> None:
        """Write fields of this run's record now; ``id=`` renames the run."""
        if self.store is None or self._key is None:
            return
        try:
            self.store.update_run(self._key, **fields)
        except Exception as e:
            log.warning("wattprint: cannot update the run record (%s: %s)", type(e).__name__, e)
            return
        self._meta = dict(fields.get("meta", self._meta))
        self.run_id = fields.get("id", self.run_id)
        if self.status not in ("new", "running"):  # once ended: record and result reread
            self._record = self._result = None
        if "id" in fields or "job_id" in fields:  # a job id settled late (distributed)
            self.placement = dataclasses.replace(
                self.placement, run_id=fields.get("id", self.placement.run_id),
                job_id=fields.get("job_id", self.placement.job_id))

    def represent(self, record: RunRecord) -> None:
        """After the end, let this run stand for ``record`` (rank 0: the whole job's record)."""
        self._record, self._result = record, None
        self.run_id = record.id

    # -- results ----------------------------------------------------------------------------
    @property
    def degraded(self) -> bool:
        return bool(self._sampler and self._sampler.degraded) or bool(
            self._recorder and self._recorder.failed)

    @property
    def problems(self) -> list[str]:
        return list(self._sampler.problems) if self._sampler else []

    @property
    def record(self) -> RunRecord:
        """This run as stored (reread after the run ends)."""
        if self._record is None or self.status == "running":
            rec = self.store.get_run(self.run_id) if self.store else None
            if self.status != "running":
                self._record = rec
            return rec
        return self._record

    @property
    def result(self):
        """The run's footprint (``wattprint.footprint.Footprint``) once it has ended."""
        if self.status in ("new", "running"):
            return None
        if self._result is None:
            from ..footprint import for_record

            self._result = for_record(self.record)
        return self._result

    # -- internals --------------------------------------------------------------------------
    def _call_plugins(self, hook: str, *args, raising: bool = False) -> list:
        out = []
        for p in self.plugins:
            fn = getattr(p, hook, None)
            if fn is None:
                continue
            try:
                out.append(fn(self, *args))
            except BudgetExceeded:
                if raising:
                    raise
            except UsageError:
                if hook == "configure":
                    raise
                log.warning("wattprint: %s.%s failed", type(p).__name__, hook, exc_info=True)
            except Exception:
                log.warning("wattprint: %s.%s failed", type(p).__name__, hook, exc_info=True)
        return out

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning(message)

    def _on_sample(self, t: float, energy: dict, power: dict) -> None:
        self._recorder.add_sample(t, energy, power)  # sampler thread: a buffer append only

    def _latest(self) -> tuple[float, dict]:
        snap = self._sampler.snapshot(fresh=False, timeout=0.0)
        return snap.t, snap.energy_j

    def _maybe_flush(self) -> None:
        if self.status == "running" and self._recorder.due():
            self._flush()

    def _flush(self, final: bool = False) -> None:
        fields = {"degraded": int(self.degraded), "done": self.done, "total": self.total}
        events = self._sampler.events  # what happened to the meters' domains, and when
        if events:
            fields["meta"] = {**self._meta, "events": events}
        if final:
            fields.update(status=self.status, exit_code=self.exit_code, ended_at=time.time())
        self._recorder.flush(fields, final=(self._final.seconds, self._final.energy_j)
                             if final else None)
