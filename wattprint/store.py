"""The run store: runs, domains, samples, windows, progress and predictions in one SQLite file.

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
from dataclasses import dataclass, field

from .errors import UsageError

SCHEMA_VERSION = 1
DEFAULT_PATH = os.path.join(".wattprint", "runs.sqlite")

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

_RUN_COLUMNS = ("id", "project", "tags", "command", "cwd", "host", "pid", "pid_started", "status",
                "exit_code", "started_at", "ended_at", "updated_at", "duration_s", "energy_j",
                "interval_s", "flush_s", "degraded", "total", "unit", "done", "location", "job_id",
                "node", "rank", "meta")
_JSON_COLUMNS = {"tags": list, "location": dict, "meta": dict}


@dataclass
class DomainTotal:
    name: str
    kind: str
    source: str
    label: str
    method: str
    energy_j: float
    avg_power_w: float
    device: str | None = None
    node: str | None = None
    idx: int = 0
    in_total: bool = True

    def as_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "source": self.source, "label": self.label,
                "method": self.method, "device": self.device, "node": self.node,
                "energy_j": self.energy_j, "avg_power_w": self.avg_power_w,
                "in_total": self.in_total}


@dataclass
class RunRecord:
    id: str
    status: str
    started_at: float
    updated_at: float
    duration_s: float = 0.0
    energy_j: float = 0.0
    project: str | None = None
    tags: list = field(default_factory=list)
    command: str | None = None
    cwd: str | None = None
    host: str | None = None
    pid: int | None = None
    pid_started: float | None = None
    exit_code: int | None = None
    ended_at: float | None = None
    interval_s: float | None = None
    flush_s: float | None = None
    degraded: bool = False
    total: float | None = None
    unit: str | None = None
    done: float | None = None
    location: dict = field(default_factory=dict)
    job_id: str | None = None
    node: str | None = None
    rank: int | None = None
    meta: dict = field(default_factory=dict)
    domains: list = field(default_factory=list)
    key: int | None = None

    @property
    def energy_kwh(self) -> float:
        return self.energy_j / 3.6e6

    @property
    def avg_power_w(self) -> float:
        return self.energy_j / self.duration_s if self.duration_s > 0 else 0.0

    def as_dict(self) -> dict:
        return {
            "run_id": self.id, "project": self.project, "tags": list(self.tags),
            "status": self.status, "exit_code": self.exit_code,
            "started_at": _iso(self.started_at), "ended_at": _iso(self.ended_at),
            "duration_s": round(self.duration_s, 3), "energy_j": self.energy_j,
            "energy_kwh": self.energy_kwh, "avg_power_w": self.avg_power_w,
            "degraded": bool(self.degraded), "command": self.command, "host": self.host,
            "node": self.node, "job_id": self.job_id, "interval_s": self.interval_s,
            "total": self.total, "unit": self.unit, "done": self.done,
            "location": self.location, "meta": self.meta,
            "domains": [d.as_dict() for d in self.domains],
        }


def _iso(t: float | None) -> str | None:
    if t is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


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


class Store:
    """One connection to a store file. Safe to share between threads of one process."""

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

    @classmethod
    def open(cls, path=None, *, create: bool = True) -> "Store":
        return cls(path, create=create)

    # -- schema ---------------------------------------------------------------------------
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
        return Store._Tx(self)

    def close(self) -> None:
        with self._lock:
            try:
                self._db.close()
            except Exception:
                pass

    # -- writing --------------------------------------------------------------------------
    def create_run(self, rec: RunRecord) -> int:
        values = []
        for c in _RUN_COLUMNS:
            v = getattr(rec, c)
            if c in _JSON_COLUMNS:
                v = json.dumps(v or _JSON_COLUMNS[c]())
            elif c == "degraded":
                v = int(bool(v))
            values.append(v)
        with self._tx() as db:
            try:
                cur = db.execute(
                    f"INSERT INTO runs ({', '.join(_RUN_COLUMNS)}) VALUES "
                    f"({', '.join('?' * len(_RUN_COLUMNS))})", values)
            except sqlite3.IntegrityError:
                raise UsageError(f"run id {rec.id!r} already exists in {self.path}") from None
            rec.key = cur.lastrowid
            self._insert_domains(db, rec.key, rec.domains)
        return rec.key

    def _insert_domains(self, db, key, domains) -> None:
        db.executemany(
            "INSERT OR REPLACE INTO domains (run, idx, name, kind, source, label, method, device, node,"
            " energy_j, in_total) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            [(key, d.idx, d.name, d.kind, d.source, d.label, d.method, d.device, d.node, d.energy_j,
              int(d.in_total)) for d in domains])

    def add_domains(self, key: int, domains: list[DomainTotal]) -> None:
        with self._tx() as db:
            self._insert_domains(db, key, domains)

    def update_run(self, key: int, **fields) -> None:
        for c in fields:
            if c not in _RUN_COLUMNS:
                raise KeyError(c)
        sets = ", ".join(f"{c}=?" for c in fields)
        vals = [json.dumps(v) if c in _JSON_COLUMNS else v for c, v in fields.items()]
        with self._tx() as db:
            db.execute(f"UPDATE runs SET {sets} WHERE key=?", (*vals, key))

    def flush(self, key: int, *, samples=(), domain_energy: dict[int, float] | None = None,
              run_fields: dict | None = None, progress=(), windows=(), predictions=()) -> None:
        """Write everything pending for one run in a single transaction."""
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
                db.executemany("INSERT INTO windows (run, name, start_s, end_s, energy) "
                               "VALUES (?,?,?,?,?)",
                               [(key, n, a, b, json.dumps(e)) for n, a, b, e in windows])
            if predictions:
                db.executemany("INSERT INTO predictions (run, t, data) VALUES (?,?,?)",
                               [(key, t, json.dumps(d)) for t, d in predictions])
            if run_fields:
                sets = ", ".join(f"{c}=?" for c in run_fields)
                vals = [json.dumps(v) if c in _JSON_COLUMNS else v for c, v in run_fields.items()]
                db.execute(f"UPDATE runs SET {sets} WHERE key=?", (*vals, key))

    # -- reading --------------------------------------------------------------------------
    def _record(self, row) -> RunRecord:
        d = dict(zip(("key",) + _RUN_COLUMNS, row))
        for c, typ in _JSON_COLUMNS.items():
            try:
                d[c] = json.loads(d[c]) if d[c] else typ()
            except ValueError:
                d[c] = typ()
        d["degraded"] = bool(d["degraded"])
        rec = RunRecord(**d)
        if rec.status == "running" and self._looks_dead(rec):
            rec.status = "interrupted"
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

    @staticmethod
    def _looks_dead(rec: RunRecord) -> bool:
        if rec.host == hostname():
            return not _pid_alive(rec.pid, rec.pid_started)
        # Another host: trust the heartbeat. Three missed flushes (at least a minute) means dead.
        stale = max(60.0, 3 * (rec.flush_s or 5.0))
        return time.time() - rec.updated_at > stale

    def _select(self, where: str = "", params=(), order: str = "started_at, key") -> list[RunRecord]:
        cols = ", ".join(("key",) + _RUN_COLUMNS)
        with self._lock:
            rows = self._db.execute(f"SELECT {cols} FROM runs {where} ORDER BY {order}",
                                    params).fetchall()
            return [self._record(r) for r in rows]

    def list_runs(self, *, project: str | None = None, tag: str | None = None,
                  since: float | None = None, job_id: str | None = None) -> list[RunRecord]:
        clauses, params = [], []
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
        runs = self._select(where, params)
        if tag is not None:
            runs = [r for r in runs if tag in r.tags]
        return runs

    def get_run(self, run_id: str) -> RunRecord:
        """A run by id or unique id prefix; ``UsageError`` naming the problem otherwise."""
        runs = self._select("WHERE id = ?", (run_id,))
        if not runs:
            like = run_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            runs = self._select("WHERE id LIKE ? ESCAPE '\\'", (like,))
        if len(runs) == 1:
            return runs[0]
        if not runs:
            n = self._db.execute("SELECT count(*) FROM runs").fetchone()[0]
            hint = "the store is empty" if n == 0 else "'wattprint runs' lists the run ids"
            raise UsageError(f"no run {run_id!r} in {self.path} ({hint})")
        raise UsageError(f"run id {run_id!r} is ambiguous ({len(runs)} runs start with it): "
                         "give more characters")

    def samples(self, key: int, *, domain: int | None = None):
        """Rows (t, domain_idx, energy_j, power_w) in time order."""
        q = "SELECT t, domain, energy_j, power_w FROM samples WHERE run=?"
        params: tuple = (key,)
        if domain is not None:
            q += " AND domain=?"
            params = (key, domain)
        with self._lock:
            return self._db.execute(q + " ORDER BY t, domain", params).fetchall()

    def count_samples(self, key: int) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM samples WHERE run=?", (key,)).fetchone()[0]

    def windows(self, key: int) -> list[tuple[str, float, float, dict]]:
        with self._lock:
            rows = self._db.execute("SELECT name, start_s, end_s, energy FROM windows WHERE run=? "
                                    "ORDER BY start_s", (key,)).fetchall()
        return [(n, a, b, json.loads(e)) for n, a, b, e in rows]

    def progress(self, key: int) -> list[tuple[float, float, float | None, float]]:
        """Rows (t, done, total, energy_j) in time order."""
        with self._lock:
            return self._db.execute("SELECT t, done, total, energy_j FROM progress WHERE run=? "
                                    "ORDER BY t", (key,)).fetchall()

    def predictions(self, key: int) -> list[tuple[float, dict]]:
        with self._lock:
            rows = self._db.execute("SELECT t, data FROM predictions WHERE run=? ORDER BY t",
                                    (key,)).fetchall()
        return [(t, json.loads(d)) for t, d in rows]

    def add_prediction(self, key: int, t: float, data: dict) -> None:
        self.flush(key, predictions=[(t, data)])
