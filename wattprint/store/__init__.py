"""The run store: runs, domains, samples, windows, progress and predictions.

``open_store`` picks the backend from the path; callers use only the ``Store`` interface
(``base.py``): a SQLite file (``sqlite.py``) or a PostgreSQL database given by its
``postgresql://`` URL (``postgres.py``, imported only then). Readers open with ``readonly=True``.
"""
from __future__ import annotations

import os

from . import connections, fs
from .base import DEFAULT_PATH, RunIdTaken, Store, default_path, hostname
from .records import DomainTotal, RunRecord
from .fs import check_not_url
from .sqlite import SQLiteStore
from .sqlite_schema import SCHEMA_VERSION

__all__ = ["DEFAULT_PATH", "SCHEMA_VERSION", "DomainTotal", "RunIdTaken", "RunRecord", "SQLiteStore",
           "Store", "connections", "default_path", "fs", "hostname", "open_store"]


def open_store(path: str | os.PathLike | None = None, *, create: bool = True,
               readonly: bool = False) -> Store:
    """The store at ``path`` (default: ``$WATTPRINT_STORE`` or ``.wattprint/runs.sqlite``): a
    SQLite file, ``:memory:``, or ``postgresql://user@host:port/db``. ``create=False``: ``UsageError`` when the file does not exist.
    ``readonly=True``: for readers; never creates nor writes anything (implies ``create=False``),
    works on read-only files and directories, and a file without a schema reads as empty."""
    path = str(path or default_path())
    if path.lower().startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresStore

        return PostgresStore(path, create=create and not readonly, readonly=readonly)
    check_not_url(path)  # before anything could make a directory named 'postgresql:'
    return SQLiteStore(path, create=create and not readonly, readonly=readonly)
