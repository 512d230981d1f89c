"""``SQLiteStore``: the run store in one SQLite file. All of wattprint's SQL lives here.

WAL journal, short transactions and a busy timeout let several processes write one store at once.
A run's totals are rewritten at every flush, so a run killed with SIGKILL keeps its energy up to
the last flush; readers list it as ``interrupted``.
"""
from __future__ import annotations

import json
import os
import sqlite3
import threading
import time

from ..errors import UsageError
from .base import Store, default_path
from .records import JSON_FIELDS, RUN_FIELDS, DomainTotal, RunRecord

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS runs (
    key INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    project TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    command TEXT,
    cwd TEXT,
    host TEXT,
    pid INTEGER,
    pid_started REAL,
    status TEXT NOT NULL,
    exit_code INTEGER,
    started_at REAL NOT NULL,
    ended_at REAL,
    updated_at REAL NOT NULL,
    duration_s REAL NOT NULL DEFAULT 0,
    energy_j REAL NOT NULL DEFAULT 0,
    interval_s REAL,
    flush_s REAL,
    degraded INTEGER NOT NULL DEFAULT 0,
    total REAL,
    unit TEXT,
    done REAL,
    location TEXT NOT NULL DEFAULT '{}',
    job_id TEXT,
    node TEXT,
    rank INTEGER,
    meta TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS runs_project ON runs(project, started_at);
CREATE TABLE IF NOT EXISTS domains (
    run INTEGER NOT NULL REFERENCES runs(key) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    label TEXT NOT NULL,
    method TEXT NOT NULL,
    device TEXT,
    node TEXT,
    energy_j REAL NOT NULL DEFAULT 0,
    in_total INTEGER NOT NULL DEFAULT 1,  -- 0: contained in another domain (uncore, or cpu under psys)
    PRIMARY KEY (run, idx)
);
CREATE TABLE IF NOT EXISTS samples (
    run INTEGER NOT NULL,
    t REAL NOT NULL,          -- seconds since the run started
    domain INTEGER NOT NULL,  -- domains.idx
    energy_j REAL NOT NULL,   -- cumulative since the run started
    power_w REAL              -- average over the interval ending at t
);
CREATE INDEX IF NOT EXISTS samples_run_t ON samples(run, t);
CREATE TABLE IF NOT EXISTS windows (
    run INTEGER NOT NULL,
    name TEXT NOT NULL,
    start_s REAL NOT NULL,
    end_s REAL NOT NULL,
    energy TEXT NOT NULL      -- JSON {domain: joules}
);
CREATE INDEX IF NOT EXISTS windows_run ON windows(run);
CREATE TABLE IF NOT EXISTS progress (
    run INTEGER NOT NULL,
    t REAL NOT NULL,
    done REAL NOT NULL,
    total REAL,
    energy_j REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS progress_run ON progress(run, t);
CREATE TABLE IF NOT EXISTS predictions (
    run INTEGER NOT NULL,
    t REAL NOT NULL,
    data TEXT NOT NULL        -- JSON of a Prediction
);
CREATE INDEX IF NOT EXISTS predictions_run ON predictions(run, t);
"""

# Upgrades from version N to N+1, in order. Never edit a released step; add one.
_MIGRATIONS: list[str] = []

# Tables holding rows of one run (column ``run``), besides ``runs`` itself.
_RUN_TABLES = ("domains", "samples", "windows", "progress", "predictions")
_SAMPLE_CHUNK = 10000


def _json_fields(fields: dict) -> list:
    return [json.dumps(v) if c in JSON_FIELDS else v for c, v in fields.items()]


class SQLiteStore(Store):
    """One connection to a store file (or ``:memory:``)."""

    def __init__(self, path: str | os.PathLike | None = None, *, create: bool = True):
        self.path = str(path or default_path())
        if self.path != ":memory:":
            if not create and not os.path.exists(self.path):
                raise UsageError(f"no run store at {self.path}: run 'wattprint run -- CMD' first, "
                                 "or point --store / WATTPRINT_STORE at an existing store")
            if os.path.isdir(self.path):
                raise UsageError(f"store path {self.path} is a directory: give a file path, "
                                 "e.g. {}/runs.sqlite".format(self.path))
            try:
                os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
                os.close(fd)
            except OSError as e:
                raise UsageError(f"cannot write the run store {self.path}: {e.strerror}; "
                                 "choose another path with --store or WATTPRINT_STORE") from None
        self._lock = threading.RLock()
        try:
            self._db = sqlite3.connect(self.path, timeout=30.0, check_same_thread=False,
                                       isolation_level=None)
            self._db.execute("PRAGMA busy_timeout=30000")
            if self.path != ":memory:":
                self._set_wal()
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._init_schema()
        except sqlite3.DatabaseError as e:
            raise UsageError(f"{self.path} is not a wattprint store ({e}); "
                             "point --store / WATTPRINT_STORE at another file") from None

    def _set_wal(self) -> None:
        # Switching a new file to WAL needs a moment alone with it; several processes opening a
        # fresh store at once (ranks of one job) can find it locked despite the busy timeout.
        for attempt in range(50):
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) and "busy" not in str(e):
                    raise
                time.sleep(0.02 * (1 + attempt % 5))
        self._db.execute("PRAGMA journal_mode=WAL")

    # -- schema and transactions ----------------------------------------------------------
    def _init_schema(self) -> None:
        with self._tx():
            self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            row = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            version = int(row[0]) if row else 0
            if version > SCHEMA_VERSION:
                raise UsageError(f"{self.path} was written by a newer wattprint (schema "
                                 f"{version} > {SCHEMA_VERSION}): upgrade wattprint")
            if version == 0:
                for stmt in _SCHEMA.split(";"):
                    if stmt.strip():
                        self._db.execute(stmt)
                version = SCHEMA_VERSION
            while version < SCHEMA_VERSION:
                self._db.execute(_MIGRATIONS[version - 1])
                version += 1
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)",
                             (str(version),))

    class _Tx:
        def __init__(self, store):
            self.store = store

        def __enter__(self):
            self.store._lock.acquire()
            try:
                self.store._db.execute("BEGIN IMMEDIATE")
            except BaseException:
                self.store._lock.release()
                raise
            return self.store._db

        def __exit__(self, exc_type, exc, tb):
            try:
                self.store._db.execute("COMMIT" if exc_type is None else "ROLLBACK")
            finally:
                self.store._lock.release()
            return False

    def _tx(self):
        """One write transaction, yielding the connection: ``with self._tx() as db: ...``."""
        return SQLiteStore._Tx(self)

    def close(self) -> None:
        with self._lock:
            try:
                self._db.close()
            except Exception:
                pass

    # -- writing --------------------------------------------------------------------------
    def create_run(self, rec: RunRecord) -> int:
        with self._tx() as db:
            rec.key = self._insert_run(db, rec)
        return rec.key

    def _insert_run(self, db, rec: RunRecord) -> int:
        values = []
        for c in RUN_FIELDS:
            v = getattr(rec, c)
            if c in JSON_FIELDS:
                v = json.dumps(v or JSON_FIELDS[c]())
            elif c == "degraded":
                v = int(bool(v))
            values.append(v)
        try:
            cur = db.execute(f"INSERT INTO runs ({', '.join(RUN_FIELDS)}) VALUES "
                             f"({', '.join('?' * len(RUN_FIELDS))})", values)
        except sqlite3.IntegrityError:
            raise UsageError(f"run id {rec.id!r} already exists in {self.path}") from None
        db.executemany(
            "INSERT OR REPLACE INTO domains (run, idx, name, kind, source, label, method, device, node,"
            " energy_j, in_total) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            [(cur.lastrowid, d.idx, d.name, d.kind, d.source, d.label, d.method, d.device, d.node,
              d.energy_j, int(d.in_total)) for d in rec.domains])
        return cur.lastrowid

    def flush(self, key: int, *, samples=(), domain_energy: dict[int, float] | None = None,
              run_fields: dict | None = None, progress=(), windows=(), predictions=()) -> None:
        with self._tx() as db:
            if samples:
                db.executemany("INSERT INTO samples (run, t, domain, energy_j, power_w) "
                               "VALUES (?,?,?,?,?)", [(key, *s) for s in samples])
            if domain_energy:
                db.executemany("UPDATE domains SET energy_j=? WHERE run=? AND idx=?",
                               [(e, key, i) for i, e in domain_energy.items()])
            if progress:
                db.executemany("INSERT INTO progress (run, t, done, total, energy_j) "
                               "VALUES (?,?,?,?,?)", [(key, *p) for p in progress])
            if windows:
                self._insert_windows(db, key, windows)
            if predictions:
                db.executemany("INSERT INTO predictions (run, t, data) VALUES (?,?,?)",
                               [(key, t, json.dumps(d)) for t, d in predictions])
            if run_fields:
                sets = ", ".join(f"{c}=?" for c in run_fields)
                db.execute(f"UPDATE runs SET {sets} WHERE key=?", (*_json_fields(run_fields), key))

    @staticmethod
    def _insert_windows(db, key: int, windows) -> None:
        db.executemany("INSERT INTO windows (run, name, start_s, end_s, energy) VALUES (?,?,?,?,?)",
                       [(key, n, a, b, json.dumps(e)) for n, a, b, e in windows])

    def replace_run(self, rec: RunRecord, *, windows=()) -> RunRecord:
        with self._tx() as db:
            for (old,) in db.execute("SELECT key FROM runs WHERE id=?", (rec.id,)).fetchall():
                for table in _RUN_TABLES:
                    db.execute(f"DELETE FROM {table} WHERE run=?", (old,))
                db.execute("DELETE FROM runs WHERE key=?", (old,))
            rec.key = self._insert_run(db, rec)
            if windows:
                self._insert_windows(db, rec.key, windows)
        return self.get_run(rec.id)

    # -- reading runs ---------------------------------------------------------------------
    def _record(self, row) -> RunRecord:
        d = dict(zip(("key",) + RUN_FIELDS, row))
        for c, typ in JSON_FIELDS.items():
            try:
                d[c] = json.loads(d[c]) if d[c] else typ()
            except ValueError:
                d[c] = typ()
        d["degraded"] = bool(d["degraded"])
        rec = RunRecord(**d)
        rows = self._db.execute(
            "SELECT idx, name, kind, source, label, method, device, node, energy_j, in_total "
            "FROM domains WHERE run=? ORDER BY idx", (rec.key,)).fetchall()
        dur = rec.duration_s or 0.0
        rec.domains = [DomainTotal(name=r[1], kind=r[2], source=r[3], label=r[4], method=r[5],
                                   device=r[6], node=r[7], energy_j=r[8],
                                   avg_power_w=r[8] / dur if dur > 0 else 0.0, idx=r[0],
                                   in_total=bool(r[9]))
                       for r in rows]
        return rec

    def _find_runs(self, *, run_id=None, id_prefix=None, project=None, since=None,
                   job_id=None) -> list[RunRecord]:
        clauses, params = [], []
        if run_id is not None:
            clauses.append("id = ?")
            params.append(run_id)
        if id_prefix is not None:
            like = id_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            clauses.append("id LIKE ? ESCAPE '\\'")
            params.append(like)
        if project is not None:
            clauses.append("project = ?")
            params.append(project)
        if since is not None:
            clauses.append("started_at >= ?")
            params.append(since)
        if job_id is not None:
            clauses.append("job_id = ?")
            params.append(job_id)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        cols = ", ".join(("key",) + RUN_FIELDS)
        with self._lock:
            rows = self._db.execute(f"SELECT {cols} FROM runs {where} ORDER BY started_at, key",
                                    params).fetchall()
            return [self._record(r) for r in rows]

    def _count_runs(self) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM runs").fetchone()[0]

    # -- reading a run's rows -------------------------------------------------------------
    def samples(self, key: int, *, domain: int | None = None):
        q = "SELECT t, domain, energy_j, power_w FROM samples WHERE run=?"
        params: tuple = (key,)
        if domain is not None:
            q += " AND domain=?"
            params = (key, domain)
        with self._lock:
            return self._db.execute(q + " ORDER BY t, domain", params).fetchall()

    def iter_samples(self, key: int):
        # Pages of whole t values through the (run, t) index; no read stays open between pages,
        # so a slow consumer never blocks this connection's or another process's writes.
        cols = "SELECT t, domain, energy_j, power_w FROM samples WHERE run=? AND "
        t_from, op = float("-inf"), ">="
        while True:
            with self._lock:
                page = self._db.execute(cols + f"t{op}? ORDER BY t, domain LIMIT ?",
                                        (key, t_from, _SAMPLE_CHUNK)).fetchall()
            if len(page) < _SAMPLE_CHUNK:
                yield from page
                return
            last = page[-1][0]
            cut = len(page) - 1
            while cut > 0 and page[cut - 1][0] == last:
                cut -= 1
            if cut:  # the rows at the last t may go on in the next page: read them there
                yield from page[:cut]
                t_from, op = last, ">="
            else:  # one t fills the page: read all of that t, then go past it
                with self._lock:
                    rows = self._db.execute(cols + "t=? ORDER BY domain", (key, last)).fetchall()
                yield from rows
                t_from, op = last, ">"

    def sample_span(self, key: int):
        with self._lock:
            row = self._db.execute("SELECT min(t), max(t) FROM samples WHERE run=?",
                                   (key,)).fetchone()
        return None if row is None or row[0] is None else (row[0], row[1])

    def energy_at(self, key: int, domain_idx: int, times) -> list:
        q = "SELECT t, energy_j FROM samples WHERE run=? AND domain=? AND t>=? ORDER BY t LIMIT 1"
        with self._lock:
            return [self._db.execute(q, (key, domain_idx, t)).fetchone() for t in times]

    def count_samples(self, key: int) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM samples WHERE run=?", (key,)).fetchone()[0]

    def windows(self, key: int) -> list[tuple[str, float, float, dict]]:
        with self._lock:
            rows = self._db.execute("SELECT name, start_s, end_s, energy FROM windows WHERE run=? "
                                    "ORDER BY start_s", (key,)).fetchall()
        return [(n, a, b, json.loads(e)) for n, a, b, e in rows]

    def progress(self, key: int) -> list[tuple[float, float, float | None, float]]:
        with self._lock:
            return self._db.execute("SELECT t, done, total, energy_j FROM progress WHERE run=? "
                                    "ORDER BY t", (key,)).fetchall()

    def predictions(self, key: int) -> list[tuple[float, dict]]:
        with self._lock:
            rows = self._db.execute("SELECT t, data FROM predictions WHERE run=? ORDER BY t",
                                    (key,)).fetchall()
        return [(t, json.loads(d)) for t, d in rows]
