"""One SQLite connection per process, store file and mode, shared by every ``SQLiteStore``.

A process's POSIX locks on a file belong to the process, not to a connection, and any close()
of a descriptor of the file drops them all. Sharing one connection keeps one owner of those
locks per process; the store never opens the file itself. A child made by fork() never uses its
parent's connections: they are keyed by pid, and set aside (never used, never closed) in the
child, since closing them there would run SQLite's shutdown on the parent's behalf.
"""
from __future__ import annotations

import os
import sqlite3
import threading

from ..errors import UsageError


class Handle:
    """A connection and the lock to hold while using it; ``refs`` stores share it."""

    def __init__(self, key, db, shared: bool):
        self.key, self.db, self.shared = key, db, shared
        self.lock = threading.RLock()
        self.pid = os.getpid()
        self.refs = 1
        self.ident = _ident(key[0]) if shared else None


def _ident(path: str):
    """Which file is at ``path`` now (a stat, never an open)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


class Tx:
    """Holds ``lock`` around the use of ``db``; with ``begin``, one transaction, committed or
    rolled back on exit. A corrupt file becomes a one-line ``UsageError``."""

    def __init__(self, db, lock, path: str, begin: str | None = "BEGIN IMMEDIATE"):
        self.db, self.lock, self.path, self.begin = db, lock, path, begin

    def __enter__(self):
        self.lock.acquire()
        try:
            if self.begin:
                self.db.execute(self.begin)
        except BaseException as e:
            self.lock.release()
            self._raise_if_corrupt(e)
            raise
        return self.db

    def __exit__(self, exc_type, exc, tb):
        try:
            if self.begin:
                try:
                    self.db.execute("COMMIT" if exc_type is None else "ROLLBACK")
                finally:
                    # A failed COMMIT (disk full) can leave the transaction open, and every
                    # later BEGIN would fail: end it here, losing only this transaction.
                    if self.db.in_transaction:
                        try:
                            self.db.execute("ROLLBACK")
                        except sqlite3.Error:
                            pass
        except sqlite3.Error as e:
            if exc is None:
                self._raise_if_corrupt(e)
                raise
        finally:
            self.lock.release()
        if exc is not None:
            self._raise_if_corrupt(exc)
        return False

    def _raise_if_corrupt(self, e) -> None:
        if corrupt(e):
            raise UsageError(f"the run store {self.path} is damaged ({e}): 'wattprint doctor "
                             "--store PATH' checks it; move it aside and use a backup") from None


def corrupt(e) -> bool:
    """An error that says the file is not (or no longer) a sound SQLite database."""
    if not isinstance(e, sqlite3.DatabaseError):
        return False
    name = getattr(e, "sqlite_errorname", "")
    return name in ("SQLITE_CORRUPT", "SQLITE_NOTADB") or (
        not name and ("malformed" in str(e) or "not a database" in str(e)))


_TRANSIENT = ("SQLITE_FULL", "SQLITE_IOERR", "SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_READONLY",
              "SQLITE_CANTOPEN", "SQLITE_PROTOCOL", "SQLITE_NOMEM")


def transient(e) -> bool:
    """An error about the file's state (full, locked, read-only, I/O), not about the rows."""
    if isinstance(e, OSError):
        return True
    if not isinstance(e, sqlite3.OperationalError):
        return False  # IntegrityError, binding errors (ProgrammingError), OverflowError: rows
    name = getattr(e, "sqlite_errorname", "")
    if name:
        return name.startswith(_TRANSIENT)
    return any(w in str(e) for w in ("full", "locked", "I/O", "readonly", "unable to open"))


_open: dict[tuple, Handle] = {}
_guard = threading.Lock()
_inherited: list[Handle] = []
_dropped: list[Handle] = []


def acquire(key: tuple, connect, *, shared: bool = True) -> Handle:
    """This process's handle for ``key`` (real path, mode), made with ``connect()`` the first
    time. ``shared=False``: a handle of one's own (``:memory:``, fallbacks)."""
    _reap()
    if not shared:
        return Handle(key, connect(), False)
    with _guard:
        full = (os.getpid(), *key)
        h = _open.get(full)
        # a file deleted and made anew at the same path is another store: its own connection
        if h is not None and h.ident == _ident(key[0]):
            h.refs += 1
            return h
        h = _open[full] = Handle(key, connect(), True)
        return h


def release(h: Handle) -> None:
    """One user less; the last one closes the connection. Never raises."""
    _reap()
    _release(h)


def drop(h: Handle) -> None:
    """``release`` for a store the garbage collector took. The collector can run inside
    ``acquire`` (holding ``_guard``), so this only notes the handle; the next acquire or
    release does the rest."""
    _dropped.append(h)


def _reap() -> None:
    while _dropped:
        try:
            h = _dropped.pop()
        except IndexError:  # another thread took the last one
            return
        _release(h)


def _release(h: Handle) -> None:
    if h.pid != os.getpid():
        return
    with _guard:
        h.refs -= 1
        if h.refs > 0:
            return
        if h.shared and _open.get((h.pid, *h.key)) is h:
            del _open[(h.pid, *h.key)]
    with h.lock:
        try:
            h.db.close()
        except Exception:
            pass


def open_count() -> int:
    """Shared connections this process holds (for tests)."""
    _reap()
    with _guard:
        return sum(1 for k in _open if k[0] == os.getpid())


def _after_fork_in_child() -> None:
    global _guard
    _guard = threading.Lock()  # another thread may have held it at fork time
    _inherited.extend(_open.values())
    _open.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
