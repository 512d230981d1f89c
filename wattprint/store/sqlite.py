"""``SQLiteStore``: the run store in one SQLite file. wattprint's SQL lives here and in
``sqlite_schema.py`` (the schema) and ``check.py`` (what doctor asks of a file).

WAL journal, short transactions and a busy timeout let several processes write one store at once.
Each process holds one connection per file (``connections.py``) and never opens the file
outside SQLite: closing any descriptor of it would drop the process's locks.
A run's totals are rewritten at every flush, so a run killed with SIGKILL keeps its energy up to
the last flush; readers list it as ``interrupted``.
"""
from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import urllib.parse
import weakref

from ..errors import UsageError
from ..fmt import opt
from . import connections, fs
from . import sqlite_schema as schema
from .base import RunIdTaken, Store, default_path, where_clause
from .records import (DOMAIN_COLS, INSERT_COLS, LINE_COLS, MISSING_COLS, RUN_FIELDS, RunRecord, column_values,
                      record_from_row, record_values)

# Tables holding rows of one run (column ``run``), besides ``runs`` itself.
_RUN_TABLES = ("domains", "samples", "windows", "progress", "predictions")
_SAMPLE_CHUNK = 10000
_KEYS_AT_ONCE = 900  # run keys per query (SQLite allows 999 parameters before 3.32)


class _Unshared(Exception):
    """A read-only connection that must not be shared (an empty or lock-free view)."""

    def __init__(self, db):
        super().__init__("unshared")
        self.db = db


class SQLiteStore(Store):
    """A store file (or ``:memory:``), through this process's shared connection to it.

    ``readonly=True`` never writes, not even a schema: a file without one reads as an empty
    store. Writers refuse network filesystems (``fs.check_local``)."""

    def __init__(self, path: str | os.PathLike | None = None, *, create: bool = True,
                 readonly: bool = False):
        self.path = str(path or default_path())
        self.readonly = readonly
        if self.path != ":memory:":
            self._check_path(create and not readonly)
        self._h = self._acquire()
        self._release = weakref.finalize(self, connections.drop, self._h)

    def _check_path(self, create: bool) -> None:
        fs.check_not_url(self.path)
        if os.path.isdir(self.path):
            raise UsageError(f"store path {self.path} is a directory: give a file path, "
                             "e.g. {}/runs.sqlite".format(self.path))
        if not create and not os.path.exists(self.path):
            raise UsageError(f"no run store at {self.path}: run 'wattprint run -- CMD' first, "
                             f"or point {opt('store')} / WATTPRINT_STORE at an existing store")
        if self.readonly:
            return
        fs.check_local(self.path)
        why = fs.writable(self.path)
        if why is None:
            try:
                os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            except OSError as e:
                why = e.strerror
        if why:
            raise UsageError(f"cannot write the run store {self.path}: {why}; choose another "
                             f"path with {opt('store')} or WATTPRINT_STORE (reading it needs no write "
                             "access)")

    # -- the connection -------------------------------------------------------------------
    def _acquire(self) -> connections.Handle:
        if self.path == ":memory:":
            return connections.acquire((), lambda: self._connect(":memory:"), shared=False)
        real = os.path.realpath(self.path)
        if not self.readonly:
            return connections.acquire((real, "rw"), lambda: self._connect(real))
        try:
            return connections.acquire((real, "ro"), lambda: self._connect(real, "ro"))
        except _Unshared as e:  # empty, or only readable without locks: this store's own
            db = e.db
        return connections.acquire((), lambda: db, shared=False)

    def _connect(self, real: str, mode: str = "rwc", immutable: bool = False):
        uri = real if real == ":memory:" else \
            "file:" + urllib.parse.quote(real) + f"?mode={mode}" + ("&immutable=1" * immutable)
        try:
            db = sqlite3.connect(uri, uri=real != ":memory:", timeout=30.0,
                                 check_same_thread=False, isolation_level=None)
        except sqlite3.Error as e:
            raise self._usage(e) from None
        try:
            db.execute("PRAGMA busy_timeout=30000")
            if mode == "ro":
                return self._ready_to_read(db, real, immutable)
            if real != ":memory:":
                self._set_wal(db)
            db.execute("PRAGMA synchronous=NORMAL")
            if schema.version(db) != schema.SCHEMA_VERSION:  # else no need to take the lock
                with connections.Tx(db, threading.RLock(), self.path):
                    schema.create_or_upgrade(db, self.path)
            return db
        except _Unshared:
            raise
        except BaseException as e:
            db.close()
            if isinstance(e, sqlite3.Error):
                raise self._usage(e) from None
            raise

    def _ready_to_read(self, db, real: str, immutable: bool):
        db.execute("PRAGMA query_only=1")
        try:
            v = schema.version(db)
        except sqlite3.OperationalError as e:
            # A WAL store in a read-only directory whose -shm file is gone: SQLite cannot set
            # up its shared memory, but nobody can be writing there either.
            if immutable or "unable to open" not in str(e) or fs.writable(real) is None:
                raise
            db.close()
            return self._connect(real, "ro", immutable=True)  # raises _Unshared
        schema.check(v, self.path, readonly=True)
        if v is None or immutable:
            if v is None:  # nothing stored yet: an empty store, without writing to the file
                db.close()
                db = self._connect(":memory:")
            raise _Unshared(db)
        return db

    def _usage(self, e: sqlite3.Error) -> UsageError:
        msg = str(e)
        if "readonly" in msg or "read-only" in msg or "unable to open" in msg:
            return UsageError(f"cannot {'read' if self.readonly else 'write'} the run store "
                              f"{self.path} ({msg}); choose another path with {opt('store')} or "
                              "WATTPRINT_STORE")
        return UsageError(f"{self.path} is not a wattprint store ({msg}); "
                          f"point {opt('store')} / WATTPRINT_STORE at another file")

    @staticmethod
    def _set_wal(db) -> None:
        # Switching a new file to WAL needs a moment alone with it; several processes opening a
        # fresh store at once (ranks of one job) can find it locked despite the busy timeout.
        for attempt in range(50):
            try:
                db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) and "busy" not in str(e):
                    raise
                time.sleep(0.02 * (1 + attempt % 5))
        db.execute("PRAGMA journal_mode=WAL")

    def _handle(self) -> connections.Handle:
        h = self._h
        if h is None:
            raise sqlite3.ProgrammingError(f"the store {self.path} is closed")
        if h.pid != os.getpid():  # a forked child: its own connection, never the parent's
            self._release.detach()
            self._h = h = self._acquire()
            self._release = weakref.finalize(self, connections.drop, h)
        return h

    def _read(self):
        """The connection, locked: ``with self._read() as db: ...`` (one statement's snapshot)."""
        h = self._handle()
        return connections.Tx(h.db, h.lock, self.path, begin=None)

    def _snapshot(self):
        """The connection, locked, in one read transaction: ``with self._snapshot() as db: ...``."""
        h = self._handle()
        return connections.Tx(h.db, h.lock, self.path, begin="BEGIN")

    def _tx(self):
        """One write transaction, yielding the connection: ``with self._tx() as db: ...``."""
        if self.readonly:
            raise UsageError(f"the run store {self.path} was opened read-only")
        h = self._handle()
        return connections.Tx(h.db, h.lock, self.path)

    def close(self) -> None:
        h, self._h = self._h, None
        if h is not None and self._release.detach():
            connections.release(h)

    # -- writing --------------------------------------------------------------------------
    def transient(self, error: BaseException) -> bool:
        return connections.transient(error)

    def create_run(self, rec: RunRecord) -> int:
        with self._tx() as db:
            rec.key = self._insert_run(db, rec)
        return rec.key

    def _insert_run(self, db, rec: RunRecord) -> int:
        values = record_values(rec)
        try:
            cur = db.execute(f"INSERT INTO runs ({', '.join(INSERT_COLS)}) VALUES "
                             f"({', '.join('?' * len(INSERT_COLS))})", values)
        except sqlite3.IntegrityError:
            raise RunIdTaken(f"run id {rec.id!r} already exists in {self.path}") from None
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
                cols, values = column_values(run_fields)
                sets = ", ".join(f"{c}=?" for c in cols)
                db.execute(f"UPDATE runs SET {sets} WHERE key=?", (*values, key))

    def _fill_derived(self) -> int:
        with self._tx() as db:
            return schema.fill_facts(db)

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
    def _find_runs(self, *, run_id=None, id_prefix=None, project=None, since=None,
                   job_id=None, newest=None, keys=None, trial=None) -> list[RunRecord]:
        if keys is not None and len(keys) > _KEYS_AT_ONCE:  # SQLite's limit on parameters
            return sorted((r for i in range(0, len(keys), _KEYS_AT_ONCE) for r in self._find_runs(
                project=project, since=since, job_id=job_id, keys=keys[i:i + _KEYS_AT_ONCE], trial=trial)),
                key=lambda r: (r.started_at, r.key))
        clauses, params = [], []
        if id_prefix is not None:
            like = id_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            clauses.append("id LIKE ? ESCAPE '\\'")
            params.append(like)
        for column, op, value in (("id", "=", run_id), ("project", "=", project), ("job_id", "=", job_id),
                                  ("started_at", ">=", since)):
            if value is not None:
                clauses.append(f"{column} {op} ?")
                params.append(value)
        if keys is not None:
            clauses.append(f"key IN ({', '.join('?' * len(keys))})")
            params += list(keys)
        with self._snapshot() as db:  # the runs and their domains as of one moment
            if trial is not None and schema.version(db) >= 2:
                clauses.append("trial IS NOT NULL" if trial is True else "trial = ?")
                params += [] if trial is True else [trial]
            elif trial is not None:  # no column to pick trials by: all runs, for list_runs to filter
                newest = None
            order = "ORDER BY started_at, key" if newest is None else "ORDER BY started_at DESC, key DESC LIMIT ?"
            where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
            limit = [] if newest is None else [int(newest)]
            rows = db.execute(f"SELECT key, {', '.join(RUN_FIELDS)} FROM runs {where} {order}",
                              params + limit).fetchall()
            # the domains of every run read, in one query (the newest N: of those N)
            doms = db.execute(f"SELECT run, {DOMAIN_COLS} FROM domains WHERE run IN (SELECT key FROM runs "
                              f"{where} {order}) ORDER BY run, idx", params + limit).fetchall()
        by_run: dict = {}
        for d in doms:
            by_run.setdefault(d[0], []).append(d[1:])
        return [record_from_row(r, by_run.get(r[0], ())) for r in (rows[::-1] if newest is not None else rows)]

    def _meta_rows(self, *, project=None, since=None):
        where, params = where_clause("?", project, since, "(hosts IS NULL OR status = 'running')")
        with self._read() as db:
            if schema.version(db) < 2:
                return []
            return db.execute("SELECT key, meta, (SELECT count(*) FROM domains d WHERE d.run = runs.key AND "
                              f"d.kind = 'gpu') FROM runs {where}", params).fetchall()

    def _lines(self, *, project=None, since=None):
        where, params = where_clause("?", project, since)
        with self._read() as db:
            if schema.version(db) < 2:
                return None
            return db.execute(f"SELECT {LINE_COLS}, {MISSING_COLS} FROM runs {where} ORDER BY started_at, key",
                              params).fetchall()

    def projects(self) -> list[str]:
        with self._read() as db:
            return sorted(r[0] for r in db.execute("SELECT DISTINCT project FROM runs WHERE project <> ''"))

    def _count_runs(self, project=None) -> int:
        where, params = where_clause("?", project, None)
        with self._read() as db:
            return db.execute(f"SELECT count(*) FROM runs {where}", params).fetchone()[0]

    # -- reading a run's rows -------------------------------------------------------------
    def samples(self, key: int, *, domain: int | None = None):
        q = "SELECT t, domain, energy_j, power_w FROM samples WHERE run=?"
        params: tuple = (key,)
        if domain is not None:
            q += " AND domain=?"
            params = (key, domain)
        with self._read() as db:
            return db.execute(q + " ORDER BY t, domain", params).fetchall()

    def iter_samples(self, key: int):
        # Pages of whole t values through the (run, t) index; no read stays open between pages,
        # so a slow consumer never blocks this connection's or another process's writes.
        cols = "SELECT t, domain, energy_j, power_w FROM samples WHERE run=? AND "
        t_from, op = float("-inf"), ">="
        while True:
            with self._read() as db:
                page = db.execute(cols + f"t{op}? ORDER BY t, domain LIMIT ?",
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
                with self._read() as db:
                    rows = db.execute(cols + "t=? ORDER BY domain", (key, last)).fetchall()
                yield from rows
                t_from, op = last, ">"

    def sample_span(self, key: int):
        with self._read() as db:
            row = db.execute("SELECT min(t), max(t) FROM samples WHERE run=?",
                                   (key,)).fetchone()
        return None if row is None or row[0] is None else (row[0], row[1])

    def energy_at(self, key: int, domain_idx: int, times) -> list:
        q = "SELECT t, energy_j FROM samples WHERE run=? AND domain=? AND t>=? ORDER BY t LIMIT 1"
        with self._read() as db:
            return [db.execute(q, (key, domain_idx, t)).fetchone() for t in times]

    def count_samples(self, key: int) -> int:
        with self._read() as db:
            return db.execute("SELECT count(*) FROM samples WHERE run=?", (key,)).fetchone()[0]

    def windows(self, key: int) -> list[tuple[str, float, float, dict]]:
        with self._read() as db:
            rows = db.execute("SELECT name, start_s, end_s, energy FROM windows WHERE run=? "
                                    "ORDER BY start_s", (key,)).fetchall()
        return [(n, a, b, json.loads(e)) for n, a, b, e in rows]

    def progress(self, key: int) -> list[tuple[float, float, float | None, float]]:
        with self._read() as db:
            return db.execute("SELECT t, done, total, energy_j FROM progress WHERE run=? "
                                    "ORDER BY t", (key,)).fetchall()

    def predictions(self, key: int) -> list[tuple[float, dict]]:
        with self._read() as db:
            rows = db.execute("SELECT t, data FROM predictions WHERE run=? ORDER BY t",
                                    (key,)).fetchall()
        return [(t, json.loads(d)) for t, d in rows]
