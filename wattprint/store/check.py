"""What a store path holds, for ``wattprint doctor --store``: read only, never written."""
from __future__ import annotations

import os
import sqlite3
import urllib.parse
from dataclasses import asdict, dataclass

from ..errors import UsageError
from . import fs
from . import sqlite_schema as schema


@dataclass
class StoreCheck:
    """state: new, store, empty, read-only, network-fs, directory, not-sqlite, corrupt,
    other-schema, unsupported, server (PostgreSQL), unreachable; ``writable``: a run can be stored there now."""

    path: str
    state: str
    writable: bool
    message: str
    runs: int | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def diagnose(path: str) -> StoreCheck:
    def bad(state, message, runs=None):
        return StoreCheck(path, state, False, message, runs)

    if path.lower().startswith(("postgresql://", "postgres://")):
        return _server(path)
    try:
        fs.check_not_url(path)
    except UsageError as e:
        return bad("unsupported", str(e))
    if os.path.isdir(path):
        return bad("directory", f"a directory: give a file path, e.g. {path}/runs.sqlite")
    why = fs.writable(path)
    net = None if os.environ.get(fs.ALLOW_NETWORK_ENV, "") not in ("", "0") else fs.network_fs(path)
    if not os.path.exists(path):
        if why:
            return bad("new", f"does not exist and cannot be created: {why}")
        if net:
            return bad("network-fs", _network(net))
        return StoreCheck(path, "new", True, "does not exist yet: the first run creates it")
    if not os.path.isfile(path):
        return bad("not-sqlite", "not a regular file")
    if os.path.getsize(path) == 0:
        state, runs = "empty", 0
    else:
        try:
            state, runs = _inspect(path, immutable=False)
        except sqlite3.DatabaseError as e:
            return _broken(path, e)
        except UsageError as e:
            return bad("other-schema", str(e))
    if net:
        return bad("network-fs", _network(net), runs)
    if why:
        return bad("read-only", f"read-only ({why}): runs, show, export and report can read it, "
                                "but runs cannot be stored in it", runs)
    what = "empty: runs will be stored in it" if state == "empty" else f"{runs} run(s)"
    return StoreCheck(path, state, True, what, runs)


def _inspect(path: str, *, immutable: bool) -> tuple[str, int]:
    uri = "file:" + urllib.parse.quote(os.path.realpath(path)) + "?mode=ro"
    db = sqlite3.connect(uri + "&immutable=1" * immutable, uri=True, timeout=10.0)
    try:
        db.execute("PRAGMA query_only=1")
        try:
            problems = [r[0] for r in db.execute("PRAGMA quick_check(3)")]
        except sqlite3.OperationalError as e:
            # a WAL store in a read-only directory without its -shm file (see SQLiteStore)
            if immutable or "unable to open" not in str(e) or fs.writable(path) is None:
                raise
            return _inspect(path, immutable=True)
        if problems != ["ok"]:
            raise sqlite3.DatabaseError("; ".join(problems))
        v = schema.version(db)
        schema.check(v, path, readonly=True)
        if v is None:
            return "empty", 0
        return "store", db.execute("SELECT count(*) FROM runs").fetchone()[0]
    finally:
        db.close()


def _broken(path: str, e: sqlite3.DatabaseError) -> StoreCheck:
    if "not a database" in str(e):
        return StoreCheck(path, "not-sqlite", False, "not a SQLite database: point --store / "
                                                     "WATTPRINT_STORE at another file")
    return StoreCheck(path, "corrupt", False, f"a corrupt SQLite database ({e}): move it aside "
                                              "and copy back a backup")


def _network(mount) -> str:
    return (f"on a {mount[1]} filesystem ({mount[0]}), where SQLite's locks are not safe: "
            f"runs will refuse to write it (a PostgreSQL server as the shared store, a local path "
            f"plus 'wattprint store copy', or {fs.ALLOW_NETWORK_ENV}=1)")


def _server(url: str) -> StoreCheck:
    """A PostgreSQL store: reachable, and how many runs (read-only; writability not probed)."""
    from .fs import mask
    from .postgres import PostgresStore

    try:
        st = PostgresStore(url, create=False, readonly=True)
    except UsageError as e:
        return StoreCheck(mask(url), "unreachable", False, str(e))
    try:
        runs = st.count_runs()
    finally:
        st.close()
    what = "no wattprint tables yet: the first run creates them" if runs == 0 else f"{runs} run(s)"
    return StoreCheck(st.path, "server", True, f"PostgreSQL, {what}", runs)
