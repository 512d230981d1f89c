"""``track()`` and ``Run``: meters + sampler + store for one training.

    with wattprint.track(project="bert") as run:
        with run.window("epoch") as w:
            train_one_epoch()
        print(w.energy_j, w.seconds)
    print(run.result)

Nothing in here may crash or stop the training: meter and store failures are logged once and
mark the run degraded. Only misuse of the API itself (bad arguments) raises, and it raises at
once, before any training has run.
"""
from __future__ import annotations

import functools
import logging
import math
import os
import sys
import threading
import time
from dataclasses import dataclass, field

from .errors import UsageError
from .meters.base import counted_in_total
from .sampler import MIN_INTERVAL_S, Sampler
from .store import DomainTotal, RunRecord, Store, hostname

log = logging.getLogger("wattprint")

# Progress rows written to the store: a burst of this many, then this many per interval.
PROGRESS_BURST = 100
PROGRESS_PER_INTERVAL = 2

# Pending sample rows kept in memory when the store cannot be written (≈ 10 MB at most).
MAX_PENDING_ROWS = 200_000


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + os.urandom(3).hex()


@dataclass
class Measurement:
    """Energy per domain over a span of time (a window, or the run so far)."""

    name: str
    seconds: float = 0.0
    energy_j: dict = field(default_factory=dict)
    start_s: float = 0.0  # seconds since the run started
    counted: frozenset | None = None  # domains that add up without double counting (None: all)

    @property
    def total_j(self) -> float:
        if self.counted is None:
            return sum(self.energy_j.values())
        return sum(v for k, v in self.energy_j.items() if k in self.counted)

    @property
    def energy_kwh(self) -> float:
        return self.total_j / 3.6e6

    @property
    def avg_power_w(self) -> float:
        return self.total_j / self.seconds if self.seconds > 0 else 0.0

    def __repr__(self) -> str:
        parts = ", ".join(f"{k}={v:.1f} J" for k, v in self.energy_j.items())
        return f"Measurement({self.name!r}, {self.seconds:.3f} s, {self.total_j:.1f} J: {parts})"


def _check_positive(name: str, value, *, allow_none=True):
    if value is None and allow_none:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise UsageError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v) or v <= 0:
        raise UsageError(f"{name} must be a positive number, got {value!r}")
    return v


class Run:
    """One measured training. Use it through ``wattprint.track()``."""

    def __init__(self, *, project: str | None = None, tags=None, interval: float = 1.0,
                 store=None, flush_interval: float = 5.0, total: float | None = None,
                 unit: str = "step", region: str | None = None, cloud: str | None = None,
                 intensity=None, net_intensity=None, pue=None, prices: str | None = None,
                 tariff=None, hardware: str | None = None,
                 budget_kwh=None, budget_co2e_kg=None, budget_usd=None, on_exceed: str = "warn",
                 predict_every: float | None = 0.1, prometheus_port: int | None = None,
                 push_gateway: str | None = None,
                 distributed: str | bool = "auto", scope: str = "machine",
                 sysfs_root: str | None = None, gpus: bool = True, run_id: str | None = None,
                 command: str | None = None, quiet: bool = False, meters=None):
        self.config = dict(locals())
        del self.config["self"]
        try:
            interval = float(interval)
        except (TypeError, ValueError):
            raise UsageError(f"interval must be a number of seconds, got {interval!r}") from None
        if not interval >= MIN_INTERVAL_S:
            raise UsageError(f"interval must be at least {MIN_INTERVAL_S} s (10 ms), got {interval!r}")
        if scope not in ("machine", "process"):
            raise UsageError(f"scope must be 'machine' or 'process', got {scope!r}")
        if on_exceed not in ("warn", "stop"):
            raise UsageError(f"on_exceed must be 'warn' or 'stop', got {on_exceed!r}")
        self.interval = interval
        self.flush_interval = _check_positive("flush_interval", flush_interval, allow_none=False)
        self.project = project
        self.tags = [tags] if isinstance(tags, str) else list(tags or [])
        self.total = total
        self.unit = unit
        self.location = {k: v for k, v in dict(
            region=region, cloud=cloud, intensity=intensity, net_intensity=net_intensity, pue=pue,
            prices=prices, tariff=tariff, hardware=hardware).items() if v is not None}
        self.store_path = store
        self.run_id = run_id or new_run_id()
        self.command = command if command is not None else " ".join(sys.argv) or None
        # Set by a distributed plugin before the meters open.
        self.measure_host = True
        self.gpu_indices = None
        self.node: str | None = None
        self.job_id: str | None = None
        self.rank: int | None = None
        self.job: dict | None = None  # job totals and per-node breakdown (distributed runs)
        self.prometheus_port: int | None = None  # where this process serves metrics, if it does
        self.status = "new"
        self.exit_code: int | None = None
        self.done: float | None = None
        self.last_progress: tuple | None = None  # (t, done, energy_j) of the last progress()
        self._meters_override = meters
        self._discovery = None
        self._sampler: Sampler | None = None
        self._store: Store | None = None
        self._key: int | None = None
        self._t0_wall = 0.0
        self._windows: dict[str, tuple[float, dict]] = {}
        self._pending: list = []
        self._pending_progress: list = []
        self._progress_stored_t = -math.inf
        self._progress_tokens, self._progress_token_t = float(PROGRESS_BURST), 0.0
        self._progress_unstored = None  # the newest progress row not yet queued for the store
        self._pending_windows: list = []
        self._pending_predictions: list = []
        self._pending_lock = threading.Lock()
        self._last_flush = 0.0
        self._store_failed = False
        self._final: Measurement | None = None
        self._result = None
        self._record: RunRecord | None = None
        self.counted: frozenset = frozenset()
        self.plugins: list = _plugins_for(self)

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> "Run":
        if self.status != "new":
            raise UsageError("this run was already started; call wattprint.track() for a new one")
        self._call_plugins("configure")
        self._store = Store.open(self.store_path)  # unwritable path: UsageError before training
        if self._meters_override is not None:
            meters, self.unavailable = list(self._meters_override), []
        else:
            from .meters import discover

            self._discovery = discover(
                sysfs_root=self.config["sysfs_root"], gpus=self.config["gpus"],
                cpu=self.measure_host, gpu_indices=self.gpu_indices,
                pid=os.getpid() if self.config["scope"] == "process" else None)
            meters, self.unavailable = self._discovery.meters, self._discovery.unavailable
            for u in self.unavailable:  # present but unusable: one line each, then go on
                if u.loud:
                    fallback = " (modelled instead)" if u.source == "rapl" else ""
                    log.warning("wattprint: %s: %s%s%s", u.source, u.reason, fallback,
                                f"; fix: {u.fix}" if u.fix else "")
        self._sampler = Sampler(meters, self.interval, on_sample=self._on_sample,
                                after_poll=self._maybe_flush)
        self.domains = self._sampler.domains
        self.counted = counted_in_total(self.domains)
        self._t0_wall = time.time()
        rec = RunRecord(
            id=self.run_id, status="running", started_at=self._t0_wall, updated_at=self._t0_wall,
            project=self.project, tags=self.tags, command=self.command, cwd=os.getcwd(),
            host=hostname(), pid=os.getpid(), pid_started=_process_started(),
            interval_s=self.interval, flush_s=self.flush_interval, total=self.total,
            unit=self.unit, location=self.location, job_id=self.job_id, node=self.node,
            rank=self.rank,
            meta={"unavailable": [u.__dict__ for u in self.unavailable]},
            domains=[DomainTotal(d.name, d.kind, d.source, d.label, d.method, 0.0, 0.0,
                                 device=d.device, node=self.node, idx=i,
                                 in_total=d.name in self.counted)
                     for i, d in enumerate(self.domains)])
        self._key = self._store.create_run(rec)
        self._last_flush = time.monotonic()
        self.status = "running"
        self._sampler.start()
        # Every run's samples start at (0 s, 0 J), so plots and exports begin where it began.
        with self._pending_lock:
            self._pending[:0] = [(0.0, i, 0.0, None) for i in range(len(self.domains))]
        self._call_plugins("started")
        return self

    def stop(self, status: str = "finished", exit_code: int | None = None) -> None:
        if self.status != "running":
            return
        snap = self._sampler.stop()
        self._final = Measurement("run", snap.t, snap.energy_j, counted=self.counted)
        power = self._sampler.power()
        with self._pending_lock:
            # the final reading is a sample too: a run shorter than one interval still has two
            if not self._pending or self._pending[-1][0] < snap.t:
                self._pending.extend((snap.t, i, snap.energy_j[d.name], power.get(d.name))
                                     for i, d in enumerate(self.domains))
            if self._progress_unstored is not None:
                self._pending_progress.append(self._progress_unstored)
        self.status = status
        self.exit_code = exit_code
        self._call_plugins("stopping")
        self._flush(final=True)
        if self._discovery is not None:
            self._discovery.close()
        self._call_plugins("stopped")
        if not self.config["quiet"]:
            self._print_summary()

    def _print_summary(self) -> None:
        try:
            from .report.terminal import summary

            print(summary(self.record, self.result, store=self._store), file=sys.stderr)
        except Exception as e:  # a summary must never fail the training
            log.warning("wattprint: no summary (%s: %s)", type(e).__name__, e)

    def __enter__(self) -> "Run":
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        from .errors import BudgetExceeded

        if exc_type is None:
            self.stop("finished")
        elif issubclass(exc_type, BudgetExceeded):
            self.stop("stopped")
        else:
            self.stop("failed")
        return False

    def __call__(self, func):
        """``@wattprint.track(...)``: every call of ``func`` is measured as a new run."""
        config = dict(self.config)

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            run = Run(**{**config, "run_id": None})
            wrapper.last_run = run
            with run:
                return func(*args, **kwargs)

        wrapper.last_run = None
        return wrapper

    # -- measuring ------------------------------------------------------------------------
    def energy(self) -> Measurement:
        """Energy per domain since the run started (live while running)."""
        if self._final is not None:
            return self._final
        if self._sampler is None:
            return Measurement("run")
        snap = self._sampler.snapshot(fresh=True)
        return Measurement("run", snap.t, snap.energy_j, counted=self.counted)

    def begin_window(self, name: str, sync: bool = True) -> None:
        if self.status != "running":
            raise UsageError(f"window {name!r}: the run is not running")
        if name in self._windows:
            raise UsageError(f"window {name!r} is already open; give overlapping windows different names")
        if sync:
            _sync_devices()
        snap = self._sampler.snapshot(fresh=True)
        self._windows[name] = (snap.t, snap.energy_j)

    def end_window(self, name: str, sync: bool = True) -> Measurement:
        try:
            t0, e0 = self._windows.pop(name)
        except KeyError:
            raise UsageError(f"window {name!r} was never begun (or already ended)") from None
        if sync:
            _sync_devices()
        snap = self._sampler.snapshot(fresh=True)
        m = Measurement(name, snap.t - t0, {k: v - e0.get(k, 0.0) for k, v in snap.energy_j.items()},
                        start_s=t0, counted=self.counted)
        with self._pending_lock:
            self._pending_windows.append((name, t0, snap.t, m.energy_j))
        self._call_plugins("window_closed", m)
        return m

    def window(self, name: str, sync: bool = True) -> "_Window":
        """``with run.window("eval") as w:`` — afterwards ``w.energy_j`` and ``w.seconds``."""
        return _Window(self, name, sync)

    def progress(self, done: float, total: float | None = None) -> None:
        """Report work done (epochs, steps, tokens...). Enables prediction and budgets.

        Bad values are warned about and ignored: they never stop the training. Only a budget
        with ``on_exceed="stop"`` raises ``BudgetExceeded`` here, by design.
        """
        if self.status != "running":
            return
        try:
            done = float(done)
            if total is not None:
                total = float(total)
        except (TypeError, ValueError):
            log.warning("wattprint: progress(%r) ignored: not a number", done)
            return
        if total is not None:
            if not (math.isfinite(total) and total > 0):
                log.warning("wattprint: total=%r ignored: it must be a positive number", total)
            else:
                self.total = total
        # Never wait for a sampler busy reading a slow meter: the last totals will do.
        snap = self._sampler.snapshot(fresh=False, timeout=0.0)
        # The snapshot is up to one interval old: carry it to now at the last power, so that
        # energy and work done refer to the same moment (prediction rates depend on it).
        t = self._sampler._clock() - self._sampler._t0
        lag = min(max(t - snap.t, 0.0), 2 * self.interval)
        power = self._sampler.power()
        energy_j = sum(snap.energy_j[n] + power.get(n, 0.0) * lag for n in self.counted)
        t = snap.t + lag
        prev = self.last_progress
        if prev is not None:  # the carried-forward estimate must not run ahead of the next reading
            energy_j, t = max(energy_j, prev[2]), max(t, prev[0])
        self.done = done
        self.last_progress = (t, done, energy_j)
        # Rows for the store come from a token bucket: bursts of up to PROGRESS_BURST rows, then
        # PROGRESS_PER_INTERVAL per sampler interval, and always the last one. Epoch-level
        # reports are all kept; a loop reporting every step at 1 kHz writes ~2 rows a second.
        self._progress_tokens = min(PROGRESS_BURST, self._progress_tokens + PROGRESS_PER_INTERVAL
                                    * (t - self._progress_token_t) / self.interval)
        self._progress_token_t = t
        finished = self.total is not None and done >= self.total
        if self._progress_tokens >= 1 or finished:
            self._progress_tokens = max(0.0, self._progress_tokens - 1)
            self._progress_stored_t = t
            self._progress_unstored = None
            with self._pending_lock:
                self._pending_progress.append((t, done, self.total, energy_j))
        else:
            self._progress_unstored = (t, done, self.total, energy_j)
        self._call_plugins("progressed", done, self.total, raising=True)

    def predict(self, total: float | None = None):
        """The predicted whole-run energy, time, CO2e and cost (``wattprint.Prediction``)."""
        from .predict import predict_run

        return predict_run(self, total)

    def record_prediction(self, t: float, data: dict) -> None:
        with self._pending_lock:
            self._pending_predictions.append((t, data))

    # -- results --------------------------------------------------------------------------
    @property
    def degraded(self) -> bool:
        return bool(self._sampler and self._sampler.degraded) or self._store_failed

    @property
    def problems(self) -> list[str]:
        return list(self._sampler.problems) if self._sampler else []

    @property
    def record(self) -> RunRecord:
        """This run as stored (reread after the run ends)."""
        if self._record is None or self.status == "running":
            rec = self._store.get_run(self.run_id) if self._store else None
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
            self._result = footprint_of(self.record)
        return self._result

    # -- internals ------------------------------------------------------------------------
    def _call_plugins(self, hook: str, *args, raising: bool = False) -> None:
        from .errors import BudgetExceeded

        for p in self.plugins:
            fn = getattr(p, hook, None)
            if fn is None:
                continue
            try:
                fn(self, *args)
            except BudgetExceeded:
                if raising:
                    raise
            except UsageError:
                if hook == "configure":
                    raise
                log.warning("wattprint: %s.%s failed", type(p).__name__, hook, exc_info=True)
            except Exception:
                log.warning("wattprint: %s.%s failed", type(p).__name__, hook, exc_info=True)

    def _on_sample(self, t: float, energy: dict, power: dict) -> None:
        # Sampler thread. Rows go to a buffer; the store is written every flush_interval.
        rows = [(t, i, energy[d.name], power[d.name]) for i, d in enumerate(self.domains)]
        with self._pending_lock:
            self._pending.extend(rows)
            if len(self._pending) > MAX_PENDING_ROWS:  # store unwritable for long: keep newest
                del self._pending[: len(self._pending) - MAX_PENDING_ROWS]

    def _maybe_flush(self) -> None:
        if time.monotonic() - self._last_flush >= self.flush_interval and self.status == "running":
            self._flush()

    def _flush(self, final: bool = False) -> None:
        self._last_flush = time.monotonic()
        with self._pending_lock:
            samples, self._pending = self._pending, []
            progress, self._pending_progress = self._pending_progress, []
            windows, self._pending_windows = self._pending_windows, []
            predictions, self._pending_predictions = self._pending_predictions, []
        if final:
            t, energy = self._final.seconds, self._final.energy_j
        else:
            snap = self._sampler.snapshot(fresh=False, timeout=0.0) if samples == [] else None
            t = samples[-1][0] if samples else snap.t
            energy = ({self.domains[i].name: e for (_, i, e, _) in samples[-len(self.domains):]}
                      if samples else snap.energy_j)
        now = time.time()
        fields = {"updated_at": now, "duration_s": t,
                  "energy_j": sum(v for k, v in energy.items() if k in self.counted),
                  "degraded": int(self.degraded), "done": self.done, "total": self.total}
        if final:
            fields.update(status=self.status, exit_code=self.exit_code, ended_at=now)
        try:
            self._store.flush(self._key, samples=samples,
                              domain_energy={i: energy.get(d.name, 0.0)
                                             for i, d in enumerate(self.domains)},
                              run_fields=fields, progress=progress, windows=windows,
                              predictions=predictions)
        except Exception as e:
            if not self._store_failed:
                log.warning("wattprint: cannot write the run store %s (%s); keeping samples in "
                            "memory and retrying", self._store.path, e)
            self._store_failed = True
            with self._pending_lock:  # put them back, oldest first
                self._pending[:0] = samples
                self._pending_progress[:0] = progress
                self._pending_windows[:0] = windows
                self._pending_predictions[:0] = predictions


class _Window:
    def __init__(self, run: Run, name: str, sync: bool):
        self.run, self.name, self.sync = run, name, sync
        self.measurement: Measurement | None = None

    def __enter__(self):
        self.run.begin_window(self.name, self.sync)
        return self

    def __exit__(self, *exc):
        self.measurement = self.run.end_window(self.name, self.sync)
        return False

    @property
    def energy_j(self) -> dict:
        return self.measurement.energy_j if self.measurement else {}

    @property
    def seconds(self) -> float:
        return self.measurement.seconds if self.measurement else 0.0

    @property
    def total_j(self) -> float:
        return self.measurement.total_j if self.measurement else 0.0

    def __repr__(self):
        return repr(self.measurement) if self.measurement else f"<window {self.name!r} open>"


def _sync_devices() -> None:
    """Wait for queued GPU work so it lands in the right window (only if torch+CUDA are in use)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return
    try:
        if torch.cuda.is_initialized():
            torch.cuda.synchronize()
    except Exception:
        pass


def _process_started() -> float | None:
    try:
        import psutil

        return psutil.Process().create_time()
    except Exception:
        return None


def footprint_of(record: RunRecord):
    """The footprint of a stored run, with the location the run was given."""
    from .footprint import for_energy

    loc = dict(record.location or {})
    hours = (record.duration_s or 0.0) / 3600.0
    return for_energy(record.energy_j / 3.6e6, hours, **loc)


# Rank variables of torchrun, SLURM, Open MPI, MVAPICH and PMI (see distributed.detect).
_LAUNCHER_RANK_VARS = ("RANK", "SLURM_PROCID", "OMPI_COMM_WORLD_RANK", "MV2_COMM_WORLD_RANK",
                       "PMI_RANK")


def _distributed_wanted(option) -> bool:
    from .distributed import wanted

    return wanted(option)


def _plugins_for(run: Run) -> list:
    """Optional behaviour, each in its own module, imported only when asked for."""
    plugins = []
    option = run.config.get("distributed")
    # Importing the distributed module costs ~10 ms: only where a launcher set its rank variables.
    if (option != "auto" or any(v in os.environ for v in _LAUNCHER_RANK_VARS)) \
            and _distributed_wanted(option):
        from .distributed import DistributedPlugin
        plugins.append(DistributedPlugin())
    if run.config.get("prometheus_port") is not None or run.config.get("push_gateway") \
            or os.environ.get("WATTPRINT_PUSHGATEWAY"):
        from .integrations.prometheus import PrometheusPlugin
        plugins.append(PrometheusPlugin.from_run(run))
    c = run.config
    if c.get("predict_every") is not None or run.total is not None or any(
            c.get(k) is not None for k in ("budget_kwh", "budget_co2e_kg", "budget_usd")):
        from .budget import Forecast
        plugins.append(Forecast(run))
    return plugins


def track(func=None, **options):
    """Measure a training: ``with track(...) as run:`` or ``@track(...)`` / ``@track``.

    Options: project, tags, interval (s, default 1, min 0.01), store (path), flush_interval (s),
    total and unit (for prediction), region / cloud / intensity / pue / prices / tariff (for
    CO2e and cost), budget_kwh / budget_co2e_kg / budget_usd with on_exceed ("warn"|"stop"),
    scope ("machine" or "process" for the modelled CPU), sysfs_root, gpus, run_id.
    """
    if func is not None and callable(func):
        return Run(**options)(func)
    return Run(**options)
