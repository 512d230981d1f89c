"""``Store``: what every run store backend offers, and the rules that do not depend on one.

A backend (SQLite, PostgreSQL) implements the abstract methods; run-id lookup by
prefix, the ``interrupted`` reading of dead runs and field checks live here, once.
Times inside a run (sample, window, progress and prediction ``t``) are seconds since the run
started; ``started_at``/``updated_at``/``ended_at`` are epoch seconds; energy is in joules
(cumulative since the run started for samples), power in watts.
"""
from __future__ import annotations

import abc
import json
import os
import time
from types import MappingProxyType
from typing import Iterable, Iterator

from ..errors import UsageError
from .records import RUN_FIELDS, RunLine, RunRecord, meta_facts, parse_meta

DEFAULT_PATH = os.path.join(".wattprint", "runs.sqlite")

Sample = tuple  # (t, domain_idx, energy_j, power_w | None)


class RunIdTaken(UsageError):
    """``create_run`` with an id the store already holds (another writer may have taken a
    generated id first: make a new one and retry)."""


def hostname() -> str:
    return os.uname().nodename if hasattr(os, "uname") else os.environ.get("COMPUTERNAME", "")


def default_path() -> str:
    return os.environ.get("WATTPRINT_STORE") or DEFAULT_PATH


def _pid_alive(pid: int | None, started: float | None) -> bool:
    if not pid:
        return False
    try:
        import psutil

        p = psutil.Process(pid)
        # A reused pid has a different start time.
        return started is None or abs(p.create_time() - started) < 1.0
    except Exception:
        return False


def where_clause(mark: str, project, since, *extra) -> tuple[str, list]:
    """A backend's WHERE clause on a run's project and start (and ``extra`` conditions), with its
    parameters; ``mark`` is the backend's placeholder."""
    clauses, params = list(extra), []
    if project is not None:
        clauses.append(f"project = {mark}")
        params.append(project)
    if since is not None:
        clauses.append(f"started_at >= {mark}")
        params.append(since)
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", params


def _json(text, typ):
    """A JSON column as ``typ``; unreadable or another type reads as empty (as records do)."""
    if not text or text in ("[]", "{}"):
        return typ()
    try:
        v = json.loads(text)
    except ValueError:
        return typ()
    return v if isinstance(v, typ) else typ()


def _candidates(runs, shown: int = 10) -> str:
    """The newest ``shown`` of ``runs`` as 'id started HH:MM', and how many more there are."""
    newest = sorted(runs, key=lambda r: (r.started_at or 0, r.key or 0), reverse=True)
    items = []
    for r in newest[:shown]:
        try:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.started_at))
        except (OverflowError, OSError, ValueError, TypeError):
            when = "?"
        items.append(f"{r.id} started {when}")
    more = len(runs) - shown
    return ", ".join(items) + (f" and {more} more" if more > 0 else "")


class Store(abc.ABC):
    """One open run store. Safe to share between the threads of one process; several processes
    may write one store at once. ``key`` is the store's own integer handle of a run. A store
    opened ``readonly`` raises ``UsageError`` on any write."""

    path: str
    readonly: bool = False

    @classmethod
    def open(cls, path=None, *, create: bool = True, readonly: bool = False) -> "Store":
        """``open_store(path, create=..., readonly=...)``; on a backend class, that backend."""
        if cls is Store:
            from . import open_store

            return open_store(path, create=create, readonly=readonly)
        return cls(path, create=create and not readonly, readonly=readonly)

    # -- writing --------------------------------------------------------------------------
    @abc.abstractmethod
    def create_run(self, rec: RunRecord) -> int:
        """Insert ``rec`` and its domains; set and return ``rec.key``.
        ``RunIdTaken`` (a ``UsageError``) if a run with ``rec.id`` exists."""

    def update_run(self, key: int, **fields) -> None:
        """Overwrite run fields now (names of ``RunRecord`` fields; ``KeyError`` for others)."""
        for c in fields:
            if c not in RUN_FIELDS:
                raise KeyError(c)
        if fields:
            self.flush(key, run_fields=fields)

    @abc.abstractmethod
    def flush(self, key: int, *, samples: Iterable[Sample] = (),
              domain_energy: dict[int, float] | None = None, run_fields: dict | None = None,
              progress=(), windows=(), predictions=()) -> None:
        """Write everything pending for one run atomically (all or nothing).

        samples: (t, domain_idx, energy_j, power_w) rows to add; domain_energy: {domain_idx:
        joules} totals to overwrite; run_fields: run fields to overwrite (not checked);
        progress: (t, done, total, energy_j); windows: (name, start_s, end_s, {domain: joules});
        predictions: (t, dict) with a JSON-able dict."""

    def transient(self, error: BaseException) -> bool:
        """Whether ``error``, raised by a write, says the store cannot be written now (disk
        full, locked, read-only, I/O error) rather than that it refuses the rows given: the
        writer should keep the rows and retry them later, never set them aside."""
        return isinstance(error, OSError)

    def fill_derived(self) -> int:
        """Fill the derived columns (``records.FACT_COLS``) of finished runs written without them
        (by hand, or by an older wattprint during an upgrade), in one transaction; returns how
        many rows. Reading derives them anyway, at some cost; ``wattprint store init`` calls it."""
        return self._fill_derived()

    @abc.abstractmethod
    def _fill_derived(self) -> int:
        """``fill_derived`` in the backend's own transaction."""

    @abc.abstractmethod
    def replace_run(self, rec: RunRecord, *, windows=()) -> RunRecord:
        """Atomically delete any run with ``rec.id`` (with its domains, samples, windows,
        progress and predictions), insert ``rec`` with its domains and ``windows``
        [(name, start_s, end_s, {domain: joules})], set ``rec.key`` and return the record as
        ``get_run(rec.id)`` reads it back. For records rewritten as a whole (job records)."""

    # -- reading runs ---------------------------------------------------------------------
    @abc.abstractmethod
    def _find_runs(self, *, run_id: str | None = None, id_prefix: str | None = None,
                   project: str | None = None, since: float | None = None,
                   job_id: str | None = None, newest: int | None = None,
                   keys: list | None = None, trial: str | bool | None = None) -> list[RunRecord]:
        """Runs as stored (with domains, ordered by idx) matching every criterion given, ordered
        by (started_at, key). ``id_prefix`` matches ids starting with it, literally (no
        wildcards), ASCII case-insensitively; ``since``: started_at >= since; ``newest``: only
        the last N in that order (read as N, not as all of them); ``keys``: these runs.
        ``trial`` (True: any study) may narrow the rows read; ``list_runs`` checks each."""

    @abc.abstractmethod
    def _meta_rows(self, *, project: str | None = None, since: float | None = None) -> list:
        """(key, meta JSON, GPU domains) of the runs matching the filters whose derived columns
        may be missing (hosts NULL) or stale (still running: its writer may be an older
        wattprint); [] on a schema that predates them (``_lines`` is None there)."""

    @abc.abstractmethod
    def _lines(self, *, project: str | None = None, since: float | None = None) -> list | None:
        """Rows of ``records.LINE_COLS`` in (started_at, key) order, as stored (status not
        checked, facts NULL where unknown); None when the schema predates the facts."""

    @abc.abstractmethod
    def projects(self) -> list[str]:
        """The projects that runs were stored under, sorted (one query)."""

    @abc.abstractmethod
    def _count_runs(self, project: str | None = None) -> int:
        """Number of runs in the store (of ``project``)."""

    def count_runs(self, *, project: str | None = None, tag: str | None = None) -> int:
        """Number of runs (of ``project``, with ``tag``): one query."""
        if tag is None:
            return self._count_runs(project)
        keys = self._tagged(tag, project, None)
        if keys is None:  # an older schema
            return sum(tag in r.tags for r in self._find_runs(project=project))
        return len(keys)

    def _tagged(self, tag: str, project, since) -> list | None:
        """Keys of the runs with ``tag``, in (started_at, key) order, read from the lines (no
        record loaded); None on a schema without them."""
        rows = self._lines(project=project, since=since)
        if rows is None:
            return None
        has: dict = {}
        keys = []
        for row in rows:
            found = has.get(row[6])
            if found is None:
                found = has[row[6]] = tag in _json(row[6], list)
            if found:
                keys.append(row[0])
        return keys

    def _live(self, rec: RunRecord) -> RunRecord:
        if rec.status == "running" and self._looks_dead(rec):
            rec.status = "interrupted"
        return rec

    @staticmethod
    def _looks_dead(rec: RunRecord) -> bool:
        if rec.host == hostname():
            return not _pid_alive(rec.pid, rec.pid_started)
        # Another host: trust the heartbeat. Three missed flushes (at least a minute) means dead.
        stale = max(60.0, 3 * (rec.flush_s or 5.0))
        return time.time() - rec.updated_at > stale

    def list_runs(self, *, project: str | None = None, tag: str | None = None,
                  since: float | None = None, job_id: str | None = None,
                  newest: int | None = None, trial: str | bool | None = None) -> list[RunRecord]:
        """Runs matching every filter given, oldest first (``newest``: only the last N, and only
        they are read; ``trial``: only sweep trials, of that study unless True); a ``running``
        run whose process is gone (or, on another host, whose heartbeat stopped) reads as
        ``interrupted``."""
        if newest is not None and tag is None and trial is None:
            runs = self._find_runs(project=project, since=since, job_id=job_id, newest=newest)
        elif tag is not None and trial is None and job_id is None and \
                (keys := self._tagged(tag, project, since)) is not None:
            if newest is not None:  # only the last N tagged runs are loaded
                keys = keys[max(0, len(keys) - newest):]
            # a second read: a run retagged meanwhile is checked again (one replaced is missed)
            runs = [r for r in self._find_runs(keys=keys) if tag in r.tags] if keys else []
        else:
            # rows without derived columns first: one filled meanwhile is then found by _find_runs
            more = self._trials_without_facts(trial, project, since, job_id) if trial is not None else []
            # the last N trials in SQL when the columns can be trusted (the backend reads all
            # where the schema has none)
            last = newest if trial is not None and tag is None and not more else None
            runs = self._find_runs(project=project, since=since, job_id=job_id, trial=trial, newest=last)
            if more:
                seen = {r.key for r in runs}
                runs = sorted(runs + [r for r in more if r.key not in seen], key=lambda r: (r.started_at, r.key))
            if tag is not None:
                runs = [r for r in runs if tag in r.tags]
            if trial is not None:
                runs = [r for r in runs if r.trial is not None and (trial is True or r.trial == trial)]
            if newest is not None:
                runs = runs[len(runs) - newest:] if newest < len(runs) else runs
        return [self._live(r) for r in runs]

    def run_lines(self, *, project: str | None = None, tag: str | None = None,
                  since: float | None = None) -> list[RunLine]:
        """The runs ``list_runs`` gives for these filters, as ``RunLine``s: what adding up
        100,000 runs needs, read in one query without parsing meta or loading domains."""
        rows = self._lines(project=project, since=since)
        if rows is None:  # an older schema, read without upgrading it
            return [r.line() for r in self.list_runs(project=project, tag=tag, since=since)]
        tags_of, places = {}, {}
        lines, running = [], []
        new, append = tuple.__new__, lines.append
        for key, rid, status, start, secs, joules, tags_text, place_text, *facts, hosts, gpus, meta, n_gpus in rows:
            tags = tags_of.get(tags_text)
            if tags is None:
                raw = _json(tags_text, list)
                tags = tags_of[tags_text] = (tuple(str(t) for t in raw), tag is None or tag in raw)
            if not tags[1]:
                continue
            place = places.get(place_text)
            if place is None:
                place = places[place_text] = MappingProxyType(_json(place_text, dict))
            if hosts is None:  # written without the derived columns (by hand, or an older writer)
                *facts, hosts = meta_facts(parse_meta(meta))
                gpus = n_gpus
            if status == "running":  # its liveness to check, and its facts (its writer may be older)
                running.append(key)
            append(new(RunLine, (key, rid, status, start, secs or 0.0, joules, tags[0], place, *facts,
                                 hosts or 0, gpus or 0)))
        if running:
            again = {r.key: self._live(r).line() for r in self._find_runs(keys=running)}
            lines = [again.get(x.key, x) for x in lines]
        return lines

    def _trials_without_facts(self, trial, project, since, job_id) -> list[RunRecord]:
        """Trials among the rows whose derived columns are missing or may be stale (``_find_runs``
        cannot see them by those columns)."""
        keys = [k for k, meta, _ in self._meta_rows(project=project, since=since)
                if (t := meta_facts(parse_meta(meta))[0]) is not None and (trial is True or t == trial)]
        return self._find_runs(keys=keys, project=project, since=since, job_id=job_id) if keys else []

    def get_run(self, run_id: str) -> RunRecord:
        """A run by id or unique id prefix; ``UsageError`` naming the problem otherwise."""
        runs = self._find_runs(run_id=run_id) or self._find_runs(id_prefix=run_id)
        if len(runs) == 1:
            return self._live(runs[0])
        if not runs:
            empty = self._count_runs() == 0
            hint = "the store is empty" if empty else "'wattprint runs' lists the run ids"
            raise UsageError(f"no run {run_id!r} in {self.path} ({hint})")
        raise UsageError(f"run id {run_id!r} is ambiguous: {len(runs)} runs start with it "
                         f"({_candidates(runs)}); give more characters")

    # -- reading a run's rows -------------------------------------------------------------
    @abc.abstractmethod
    def samples(self, key: int, *, domain: int | None = None) -> list[Sample]:
        """All rows (t, domain_idx, energy_j, power_w) of a run, or of one domain, ordered by
        (t, domain). Loads them all: use ``iter_samples`` for long runs."""

    @abc.abstractmethod
    def iter_samples(self, key: int) -> Iterator[Sample]:
        """The rows of ``samples(key)`` in the same order, streamed in chunks (memory does not
        grow with the run); the store stays usable by other threads between chunks."""

    @abc.abstractmethod
    def sample_span(self, key: int) -> tuple[float, float] | None:
        """(first t, last t) of a run's samples, or None when it has none."""

    @abc.abstractmethod
    def energy_at(self, key: int, domain_idx: int, times: Iterable[float]) -> list:
        """For each time, (t, energy_j) of the domain's first sample at or after it, or None
        where no sample is that late; one indexed lookup per time, never a scan."""

    @abc.abstractmethod
    def count_samples(self, key: int) -> int:
        """Number of sample rows of a run (all domains)."""

    @abc.abstractmethod
    def windows(self, key: int) -> list[tuple[str, float, float, dict]]:
        """Rows (name, start_s, end_s, {domain: joules}) ordered by start_s."""

    @abc.abstractmethod
    def progress(self, key: int) -> list[tuple[float, float, float | None, float]]:
        """Rows (t, done, total, energy_j) in time order."""

    @abc.abstractmethod
    def predictions(self, key: int) -> list[tuple[float, dict]]:
        """Rows (t, prediction dict) in time order."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the connection; never raises."""
