"""The recorder: what a run has to write, buffered, and written to the store every flush.

Samples arrive from the sampler thread, progress and windows from the training thread; both
only append to buffers under a lock. ``flush()`` writes everything pending in one store
transaction. A store that cannot be written keeps the rows in memory (bounded) and retries at
the next flush, so a full disk or a locked file never reaches the training.
"""
from __future__ import annotations

import logging
import math
import os
import threading
import time

from ..store import DomainTotal, RunIdTaken, RunRecord, hostname

log = logging.getLogger("wattprint")

# Progress rows written to the store: a burst of this many, then this many per interval.
PROGRESS_BURST = 100
PROGRESS_PER_INTERVAL = 2

# Pending sample rows kept in memory when the store cannot be written (≈ 10 MB at most).
MAX_PENDING_ROWS = 200_000


class Recorder:
    """Buffers one run's rows and flushes them to ``store`` under record ``key``."""

    def __init__(self, store, key: int, domains, counted, *, latest, interval: float,
                 flush_interval: float, clock=time.monotonic, wall=time.time):
        self.store, self.key = store, key
        self.names = [d.name for d in domains]
        self.counted = counted
        self._latest = latest  # -> (t, {domain: J}): the totals when no sample is pending
        self.interval, self.flush_interval = interval, flush_interval
        self._clock, self._wall = clock, wall
        self._lock = threading.Lock()
        # Every run's samples start at (0 s, 0 J), so plots and exports begin where it began.
        self._samples: list = [(0.0, i, 0.0, None) for i in range(len(self.names))]
        self._progress: list = []
        self._windows: list = []
        self._predictions: list = []
        self._tokens, self._token_t = float(PROGRESS_BURST), 0.0
        self._held = None  # the newest progress row the token bucket did not queue
        self._last_flush = clock()
        self.failed = False
        self.set_aside = 0  # rows the store refused, left out

    # -- adding (any thread; cheap) -----------------------------------------------------------
    def add_sample(self, t: float, energy: dict, power: dict) -> None:
        rows = [(t, i, energy[n], power.get(n)) for i, n in enumerate(self.names)]
        with self._lock:
            self._samples.extend(rows)
            if len(self._samples) > MAX_PENDING_ROWS:  # store unwritable for long: keep newest
                del self._samples[: len(self._samples) - MAX_PENDING_ROWS]

    def add_final_sample(self, t: float, energy: dict, power: dict) -> None:
        """The final reading is a sample too: a run shorter than one interval still has two."""
        with self._lock:
            last = self._samples[-1][0] if self._samples else -math.inf
        if last < t:
            self.add_sample(t, energy, power)
        with self._lock:
            if self._held is not None:
                self._progress.append(self._held)
                self._held = None

    def add_progress(self, t: float, done: float, total, energy_j: float, *, finished: bool) -> None:
        # A token bucket: bursts of up to PROGRESS_BURST rows, then PROGRESS_PER_INTERVAL per
        # sampler interval, and always the last one. Epoch-level reports are all kept; a loop
        # reporting every step at 1 kHz writes ~2 rows a second.
        self._tokens = min(PROGRESS_BURST, self._tokens + PROGRESS_PER_INTERVAL
                           * (t - self._token_t) / self.interval)
        self._token_t = t
        row = (t, done, total, energy_j)
        with self._lock:
            if self._tokens >= 1 or finished:
                self._tokens = max(0.0, self._tokens - 1)
                self._held = None
                self._progress.append(row)
            else:
                self._held = row

    def add_window(self, name: str, start_s: float, end_s: float, energy_j: dict) -> None:
        with self._lock:
            self._windows.append((name, start_s, end_s, dict(energy_j)))

    def add_prediction(self, t: float, data: dict) -> None:
        with self._lock:
            self._predictions.append((t, data))

    # -- writing ------------------------------------------------------------------------------
    def due(self) -> bool:
        return self._clock() - self._last_flush >= self.flush_interval

    def flush(self, fields: dict, *, final: tuple | None = None) -> bool:
        """Write everything pending with the run's ``fields``; False (rows kept) if it failed.

        The run's totals are ``final`` (t, {domain: J}) when given, else the newest pending
        sample, else the latest totals.
        """
        self._last_flush = self._clock()
        with self._lock:
            samples, self._samples = self._samples, []
            progress, self._progress = self._progress, []
            windows, self._windows = self._windows, []
            predictions, self._predictions = self._predictions, []
        n = len(self.names)
        if final is not None:
            t, energy = final
        elif samples and n:
            t = samples[-1][0]
            energy = {self.names[i]: e for (_, i, e, _) in samples[-n:]}
        else:
            t, energy = self._latest()
        fields = {"updated_at": self._wall(), "duration_s": t or 0.0,
                  "energy_j": sum(v for k, v in energy.items() if k in self.counted), **fields}
        rows = {"samples": samples, "progress": progress, "windows": windows,
                "predictions": predictions}
        domain_energy = {i: energy.get(name, 0.0) for i, name in enumerate(self.names)}
        try:
            self.store.flush(self.key, domain_energy=domain_energy, run_fields=fields, **rows)
        except Exception as e:
            return self._after_failure(e, rows, domain_energy, fields)
        return True

    def _after_failure(self, error, rows: dict, domain_energy: dict, fields: dict) -> bool:
        """A failed flush: is the store unwritable now (disk full, locked, I/O: keep every row
        and retry later) or did it refuse some rows (set those aside, write the rest)?"""
        if not self.store.transient(error):
            try:  # the totals alone: if they fail too, the store is down after all
                self.store.flush(self.key, domain_energy=domain_energy, run_fields=fields)
            except Exception as e:
                error = e
            else:
                return self._write_each(rows)
        if not self.failed:
            log.warning("wattprint: cannot write the run store %s (%s); keeping samples in "
                        "memory and retrying", getattr(self.store, "path", "?"), error)
        self._keep(rows)
        return False

    def _write_each(self, rows: dict) -> bool:
        """Write table by table, then row by row where a table fails; a row refused for what
        it holds is set aside, and a store that stops working keeps what is left."""
        before = self.set_aside
        names = list(rows)
        for n, name in enumerate(names):
            kept = rows[name]
            try:
                self.store.flush(self.key, **{name: kept})
                continue
            except Exception:
                pass
            for i, row in enumerate(kept):
                try:
                    self.store.flush(self.key, **{name: [row]})
                except Exception as e:
                    if self.store.transient(e):
                        self._keep({name: kept[i:], **{m: rows[m] for m in names[n + 1:]}})
                        return False
                    self._set_aside(name, row, e)
        if self.set_aside > before:
            try:
                self.store.flush(self.key, run_fields={"degraded": 1})
            except Exception:
                pass
        return True

    def _keep(self, rows: dict) -> None:
        self.failed = True
        with self._lock:  # put them back, oldest first
            for name, kept in rows.items():
                getattr(self, "_" + name)[:0] = kept

    def _set_aside(self, table: str, row, error) -> None:
        self.set_aside += 1
        if self.set_aside == 1:
            log.warning("wattprint: the store refused a %s row (%s: %s); it is left out and the "
                        "run goes on", table.rstrip("s"), type(error).__name__, error)
        self.failed = True  # the record says degraded: something was not stored


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + os.urandom(3).hex()


def process_started() -> float | None:
    try:
        import psutil

        return psutil.Process().create_time()
    except Exception:
        return None


def _os_name() -> str:
    """Like ``platform.platform()`` ("Linux-6.18.0-x86_64-with-glibc2.36"), without its ~10 ms
    read of the Python binary: the C library's version is asked of the C library."""
    u = os.uname()
    name = f"{u.sysname}-{u.release}-{u.machine}"
    try:
        libc = os.confstr("CS_GNU_LIBC_VERSION")  # "glibc 2.36"
    except (ValueError, OSError, AttributeError):
        libc = None
    return f"{name}-with-{libc.replace(' ', '')}" if libc else name


def system_info(run) -> dict:
    """The machine a run is on, as CodeCarbon's emissions.csv names it (os, python_version,
    cpu_model, cpu_count, gpu_model, ram_total_size); read once at start, never fails."""
    import platform

    info: dict = {}
    try:
        from ..meters.cpu_model import cpu_model_name

        info = {"os": _os_name(), "python": platform.python_version(),
                "cpu_model": cpu_model_name(), "cpu_count": os.cpu_count(),
                "gpu_models": [d.meta["model"] for d in run.domains
                               if d.kind == "gpu" and (d.meta or {}).get("model")]}
        import psutil

        info["ram_total_gb"] = round(psutil.virtual_memory().total / 2**30, 3)
    except Exception:  # a missing /proc or psutil: the record is written anyway
        pass
    return info


def create_record(store, record: RunRecord, *, fixed: bool) -> int:
    """The store key of a new run's record. A generated id that another writer took in the same
    second (many writers on one PostgreSQL store) is drawn again; an id asked for is not."""
    for attempt in range(5):
        try:
            return store.create_run(record)
        except RunIdTaken:
            if fixed or attempt == 4:
                raise
            record.id = new_run_id()
    raise AssertionError("unreachable")  # the loop returns or raises


def first_record(run, meta: dict) -> RunRecord:
    """The record a run starts with: who, where, what is measured, all at 0 J."""
    p = run.placement
    return RunRecord(
        id=run.run_id, status="running", started_at=run.started_at,
        updated_at=run.started_at, project=run.project, tags=run.tags,
        command=run.options.command, cwd=os.getcwd(), host=hostname(), pid=os.getpid(),
        pid_started=process_started(), interval_s=run.interval,
        flush_s=run.options.flush_interval, total=run.total, unit=run.unit,
        location=run.location, job_id=p.job_id, node=p.node, rank=p.rank,
        meta={"unavailable": [u.__dict__ for u in run.unavailable], "system": system_info(run),
              "scope": run.options.scope, **meta},
        domains=[DomainTotal(d.name, d.kind, d.source, d.label, d.method, 0.0, 0.0,
                             device=d.device, node=p.node, idx=i,
                             in_total=d.name in run.counted)
                 for i, d in enumerate(run.domains)])
