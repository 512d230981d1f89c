"""``PostgresStore``: the run store in a PostgreSQL database, for many machines and users at once.

Same tables and meaning as ``SQLiteStore`` (schema in ``postgres_schema.py``). One connection per
store object and process, in autocommit mode, each write one transaction. Credentials come the
way libpq finds them (the URL, ``PG*`` variables, ``~/.pgpass``); the password is masked in
``path`` and every message. A lost connection is ``transient``: the recorder keeps its rows and
retries, and the store reconnects with backoff, failing fast meanwhile so a flush never waits
on a dead server.
"""
from __future__ import annotations

import json
import os
import threading
import time

from ..errors import UsageError
from ..fmt import opt
from . import postgres_schema as schema
from .base import RunIdTaken, Store, where_clause
from .fs import mask
from .records import (DOMAIN_COLS, INSERT_COLS, LINE_COLS, MISSING_COLS, RUN_FIELDS, RunRecord, column_values,
                      record_from_row, record_values)

try:
    import psycopg
except ImportError:  # the optional extra
    psycopg = None

_RUN_TABLES = ("domains", "samples", "windows", "progress", "predictions")
_SAMPLE_CHUNK = 10000
_BACKOFF_MAX_S = 60.0
_inherited: list = []  # a forked child's copies of its parent's connections: never used, never closed
# libpq keeps a dead server from hanging a flush: connect and TCP timeouts, keepalives.
_CONNECT = {"connect_timeout": 10, "keepalives": 1, "keepalives_idle": 10,
            "keepalives_interval": 5, "keepalives_count": 3, "tcp_user_timeout": 30000,
            "application_name": "wattprint"}


def is_url(path) -> bool:
    return str(path).lower().startswith(("postgresql://", "postgres://"))


class PostgresStore(Store):
    """The store in the database at ``url`` (``postgresql://user@host:port/db``)."""

    def __init__(self, url: str, *, create: bool = True, readonly: bool = False):
        if psycopg is None:
            raise UsageError("a PostgreSQL store needs psycopg: pip install 'wattprint[postgres]'")
        self._url, self.path, self.readonly = str(url), mask(str(url)), readonly
        self._lock = threading.RLock()
        self._db, self._pid, self._failures, self._next_try = None, os.getpid(), 0, 0.0
        try:
            db = self._conn()
            v = schema.version(db)
        except psycopg.Error as e:
            self.close()
            hint = (f"check the address in {opt('store')} / WATTPRINT_STORE, and PG* variables or "
                    "~/.pgpass for the password" if isinstance(e, psycopg.OperationalError)
                    else "docs/store.md lists the grants a reader needs")
            raise UsageError(f"cannot connect to the run store {self.path} ({self._why(e)}); {hint}") from None
        schema.check(v, self.path, readonly=readonly)
        self._empty = v is None
        if v is None and not readonly and not create:
            raise UsageError(f"no run store at {self.path} (the database has no wattprint tables): "
                             "run 'wattprint run -- CMD' with it first")
        if v != schema.SCHEMA_VERSION and not readonly:
            try:
                schema.create_or_upgrade(db, self.path)
            except psycopg.Error as e:
                self.close()
                if v:  # tables of an older schema, which only their owner may alter
                    raise UsageError(f"the run store {self.path} has schema {v} and this wattprint "
                                     f"writes schema {schema.SCHEMA_VERSION}; upgrading it failed "
                                     f"({self._why(e)}): the tables' owner runs 'wattprint store "
                                     "init' on it once (reading needs no upgrade)") from None
                raise UsageError(f"cannot create the run store's tables in {self.path} "
                                 f"({self._why(e)}): docs/store.md lists the grants a writer "
                                 "needs") from None
            self._empty = False
        if not readonly:
            self._check_writable(db)

    def _check_writable(self, db) -> None:
        # A role that may only read fails here, before any training, not at the first flush.
        missing = [t for t in ("runs", "domains", "samples") if not db.execute(
            "SELECT has_table_privilege(%s, 'INSERT')", (f"{schema.SCHEMA}.{t}",)).fetchone()[0]]
        if missing:
            user = db.execute("SELECT current_user").fetchone()[0]
            self.close()
            raise UsageError(f"cannot write the run store {self.path}: permission denied for role "
                             f"{user} to add rows to {', '.join(missing)} (reading needs no write "
                             "access; docs/store.md lists the grants a writer needs)")

    @staticmethod
    def _why(e) -> str:
        return mask(str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__)

    # -- the connection -------------------------------------------------------------------
    def _conn(self):
        """The live connection, made anew when lost (at most once per backoff period)."""
        if self._pid != os.getpid():  # a forked child: its parent's socket is not ours
            if self._db is not None:
                _inherited.append(self._db)
            self._db, self._pid = None, os.getpid()
        db = self._db
        if db is not None and not db.closed and not db.broken:
            return db
        if db is not None:
            self._db = None
            try:
                db.close()
            except Exception:
                pass
        if time.monotonic() < self._next_try:
            raise psycopg.OperationalError(f"no connection to {self.path}; retrying later")
        try:
            db = psycopg.connect(self._url, autocommit=True, **_CONNECT)
            # jit: compiling a plan costs more than these short reads (100 ms for 100,000 runs)
            db.execute("SET search_path TO " + schema.SCHEMA + "; SET jit = off")
            if self.readonly:
                db.execute("SET default_transaction_read_only = on")
            else:  # a writer waits on no lock for long: the recorder keeps its rows and retries
                db.execute("SET lock_timeout = '10s'; SET statement_timeout = '60s'")
        except psycopg.Error:
            self._failures += 1
            self._next_try = time.monotonic() + min(_BACKOFF_MAX_S, 0.5 * 2 ** self._failures)
            raise
        self._db, self._failures, self._next_try = db, 0, 0.0
        return db

    def _tx(self):
        if self.readonly:
            raise UsageError(f"the run store {self.path} was opened read-only")
        return _Locked(self, write=True)

    def _read(self):
        return _Locked(self, write=False)

    def close(self) -> None:
        db, self._db = self._db, None
        if db is not None and self._pid == os.getpid():
            try:
                db.close()
            except Exception:
                pass

    def transient(self, error: BaseException) -> bool:
        # connection lost, server shutting down, serialization or lock timeouts
        return isinstance(error, OSError) or (psycopg is not None and isinstance(
            error, (psycopg.OperationalError, psycopg.InterfaceError)))

    # -- writing --------------------------------------------------------------------------
    def create_run(self, rec: RunRecord) -> int:
        with self._tx() as db:
            rec.key = self._insert_run(db, rec)
        return rec.key

    def _insert_run(self, db, rec: RunRecord) -> int:
        values = record_values(rec)
        row = db.execute(f"INSERT INTO runs ({', '.join(INSERT_COLS)}) VALUES "
                         f"({', '.join(['%s'] * len(INSERT_COLS))}) ON CONFLICT (id) DO NOTHING "
                         "RETURNING key", values).fetchone()
        if row is None:
            raise RunIdTaken(f"run id {rec.id!r} already exists in {self.path}")
        with db.cursor() as cur:
            cur.executemany(
                f"INSERT INTO domains (run, {DOMAIN_COLS}) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)"
                " ON CONFLICT (run, idx) DO UPDATE SET name=excluded.name, energy_j=excluded.energy_j",
                [(row[0], d.idx, d.name, d.kind, d.source, d.label, d.method, d.device, d.node,
                  d.energy_j, int(d.in_total)) for d in rec.domains])
        return row[0]

    def flush(self, key: int, *, samples=(), domain_energy: dict[int, float] | None = None,
              run_fields: dict | None = None, progress=(), windows=(), predictions=()) -> None:
        if run_fields and "ended_at" in run_fields:
            self._next_try = 0.0  # the run's last flush: its last chance, never skipped by backoff
        with self._tx() as db, db.cursor() as cur:
            if samples:
                with cur.copy("COPY samples (run, t, domain, energy_j, power_w) FROM STDIN") as cp:
                    for s in samples:
                        cp.write_row((key, *s))
            if domain_energy:
                cur.executemany("UPDATE domains SET energy_j=%s WHERE run=%s AND idx=%s",
                                [(e, key, i) for i, e in domain_energy.items()])
            if progress:
                cur.executemany("INSERT INTO progress (run, t, done, total, energy_j) "
                                "VALUES (%s,%s,%s,%s,%s)", [(key, *p) for p in progress])
            if windows:
                self._insert_windows(cur, key, windows)
            if predictions:
                cur.executemany("INSERT INTO predictions (run, t, data) VALUES (%s,%s,%s)",
                                [(key, t, json.dumps(d)) for t, d in predictions])
            if run_fields:
                cols, values = column_values(run_fields)
                sets = ", ".join(f"{c}=%s" for c in cols)
                cur.execute(f"UPDATE runs SET {sets} WHERE key=%s", (*values, key))

    def _fill_derived(self) -> int:
        with self._tx() as db:
            return schema.fill_facts(db)

    @staticmethod
    def _insert_windows(cur, key: int, windows) -> None:
        cur.executemany("INSERT INTO windows (run, name, start_s, end_s, energy) "
                        "VALUES (%s,%s,%s,%s,%s)",
                        [(key, n, a, b, json.dumps(e)) for n, a, b, e in windows])

    def replace_run(self, rec: RunRecord, *, windows=()) -> RunRecord:
        with self._tx() as db:
            for (old,) in db.execute("SELECT key FROM runs WHERE id=%s FOR UPDATE",
                                     (rec.id,)).fetchall():
                for table in _RUN_TABLES:
                    db.execute(f"DELETE FROM {table} WHERE run=%s", (old,))
                db.execute("DELETE FROM runs WHERE key=%s", (old,))
            rec.key = self._insert_run(db, rec)
            if windows:
                with db.cursor() as cur:
                    self._insert_windows(cur, rec.key, windows)
        return self.get_run(rec.id)

    # -- reading runs ---------------------------------------------------------------------
    def _no_tables(self) -> bool:
        """A reader that found no tables looks again: a writer may have made them since."""
        if self._empty and self.readonly:
            with self._read() as db:
                self._empty = schema.version(db) is None
        return self._empty and self.readonly

    def _find_runs(self, *, run_id=None, id_prefix=None, project=None, since=None,
                   job_id=None, newest=None, keys=None, trial=None) -> list[RunRecord]:
        if self._no_tables():
            return []
        clauses, params = [], []
        if id_prefix is not None:
            like = id_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            clauses.append("lower(r.id) LIKE lower(%s) ESCAPE '\\'")
            params.append(like + "%")
        for column, op, value in (("id", "=", run_id), ("project", "=", project), ("job_id", "=", job_id),
                                  ("started_at", ">=", since)):
            if value is not None:
                clauses.append(f"r.{column} {op} %s")
                params.append(value)
        if keys is not None:
            clauses.append("r.key = ANY(%s)")
            params.append(list(keys))
        cols = ", ".join("r." + c for c in ("key",) + RUN_FIELDS)
        # two queries in one snapshot, whatever the number of runs (never one per run)
        dcols = ", ".join("d." + c for c in DOMAIN_COLS.split(", "))
        with self._read() as db, db.transaction():
            db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")  # both queries: one snapshot
            if trial is not None and schema.version(db) >= 2:
                clauses.append("r.trial IS NOT NULL" if trial is True else "r.trial = %s")
                params += [] if trial is True else [trial]
            elif trial is not None:  # no column to pick trials by: all runs, for list_runs to filter
                newest = None
            where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
            if newest is None:
                rows = db.execute(f"SELECT {cols} FROM runs r {where} ORDER BY r.started_at, r.key",
                                  params).fetchall()
                doms = db.execute(f"SELECT d.run, {dcols} FROM domains d JOIN runs r ON r.key = d.run "
                                  f"{where} ORDER BY d.run, d.idx", params).fetchall()
            else:  # the last N, read as N
                rows = db.execute(f"SELECT {cols} FROM runs r {where} ORDER BY r.started_at DESC, "
                                  "r.key DESC LIMIT %s", params + [int(newest)]).fetchall()[::-1]
                doms = db.execute(f"SELECT d.run, {dcols} FROM domains d WHERE d.run = ANY(%s) "
                                  "ORDER BY d.run, d.idx", ([r[0] for r in rows],)).fetchall()
        by_run: dict = {}
        for d in doms:
            by_run.setdefault(d[0], []).append(d[1:])
        return [record_from_row(r, by_run.get(r[0], ())) for r in rows]

    def _meta_rows(self, *, project=None, since=None):
        if self._no_tables():
            return []
        where, params = where_clause("%s", project, since, "(hosts IS NULL OR status = 'running')")
        with self._read() as db, db.transaction():
            if schema.version(db) < 2:
                return []
            return db.execute("SELECT key, meta, (SELECT count(*) FROM domains d WHERE d.run = runs.key AND "
                              f"d.kind = 'gpu') FROM runs {where}", params).fetchall()

    def _lines(self, *, project=None, since=None):
        if self._no_tables():
            return []
        where, params = where_clause("%s", project, since)
        with self._read() as db, db.transaction():
            if schema.version(db) < 2:
                return None
            return db.execute(f"SELECT {LINE_COLS}, {MISSING_COLS} FROM runs {where} ORDER BY started_at, key",
                              params).fetchall()

    def projects(self) -> list[str]:
        if self._no_tables():
            return []
        with self._read() as db:
            return sorted(r[0] for r in db.execute("SELECT DISTINCT project FROM runs WHERE project <> ''"))

    def _count_runs(self, project=None) -> int:
        if self._no_tables():
            return 0
        where, params = where_clause("%s", project, None)
        with self._read() as db:
            return db.execute(f"SELECT count(*) FROM runs {where}", params).fetchone()[0]

    # -- reading a run's rows -------------------------------------------------------------
    def _rows(self, query: str, params) -> list:
        with self._read() as db:
            return db.execute(query, params).fetchall()

    def samples(self, key: int, *, domain: int | None = None):
        q = "SELECT t, domain, energy_j, power_w FROM samples WHERE run=%s"
        if domain is not None:
            return self._rows(q + " AND domain=%s ORDER BY t, domain", (key, domain))
        return self._rows(q + " ORDER BY t, domain", (key,))

    def iter_samples(self, key: int):
        # Pages of whole t values, as SQLite's; no transaction stays open between pages.
        cols = "SELECT t, domain, energy_j, power_w FROM samples WHERE run=%s AND "
        t_from, op = float("-inf"), ">="
        while True:
            page = self._rows(cols + f"t{op}%s ORDER BY t, domain LIMIT %s",
                              (key, t_from, _SAMPLE_CHUNK))
            if len(page) < _SAMPLE_CHUNK:
                yield from page
                return
            last = page[-1][0]
            cut = len(page) - 1
            while cut > 0 and page[cut - 1][0] == last:
                cut -= 1
            if cut:
                yield from page[:cut]
                t_from, op = last, ">="
            else:
                yield from self._rows(cols + "t=%s ORDER BY domain", (key, last))
                t_from, op = last, ">"

    def sample_span(self, key: int):
        row = self._rows("SELECT min(t), max(t) FROM samples WHERE run=%s", (key,))[0]
        return None if row[0] is None else (row[0], row[1])

    def energy_at(self, key: int, domain_idx: int, times) -> list:
        times = [float(t) for t in times]
        rows = self._rows(
            "SELECT s.t, s.energy_j FROM unnest(%s::float8[]) WITH ORDINALITY AS x(t, i) "
            "LEFT JOIN LATERAL (SELECT t, energy_j FROM samples WHERE run=%s AND domain=%s "
            "AND t >= x.t ORDER BY t LIMIT 1) s ON true ORDER BY x.i", (times, key, domain_idx))
        return [None if t is None else (t, e) for t, e in rows]

    def count_samples(self, key: int) -> int:
        return self._rows("SELECT count(*) FROM samples WHERE run=%s", (key,))[0][0]

    def windows(self, key: int) -> list[tuple[str, float, float, dict]]:
        rows = self._rows("SELECT name, start_s, end_s, energy FROM windows WHERE run=%s "
                          "ORDER BY start_s", (key,))
        return [(n, a, b, json.loads(e)) for n, a, b, e in rows]

    def progress(self, key: int) -> list[tuple[float, float, float | None, float]]:
        return self._rows("SELECT t, done, total, energy_j FROM progress WHERE run=%s "
                          "ORDER BY t", (key,))

    def predictions(self, key: int) -> list[tuple[float, dict]]:
        rows = self._rows("SELECT t, data FROM predictions WHERE run=%s ORDER BY t", (key,))
        return [(t, json.loads(d)) for t, d in rows]


class _Locked:
    """This store's lock and connection; ``write``: one transaction, committed on success."""

    def __init__(self, store: PostgresStore, write: bool):
        self.store, self.write, self._tx = store, write, None

    def __enter__(self):
        self.store._lock.acquire()
        try:
            db = self.store._conn()
            if self.write:
                self._tx = db.transaction()
                self._tx.__enter__()
            return db
        except BaseException:
            self.store._lock.release()
            raise

    def __exit__(self, kind, e, tb):
        try:
            if self._tx is not None:
                return self._tx.__exit__(kind, e, tb)
            if self.store.readonly and isinstance(e, psycopg.Error):  # a reading command: one line
                raise UsageError(f"cannot read the run store {self.store.path} "
                                 f"({PostgresStore._why(e)}); docs/store.md lists the grants a "
                                 "reader needs") from None
            return False
        finally:
            self.store._lock.release()
