"""The run store: runs, domains, samples, windows, progress and predictions.

``open_store`` picks the backend from the path; callers use only the ``Store`` interface
(``base.py``). SQLite is the one backend today.
"""
from __future__ import annotations

import os

from ..errors import UsageError
from .base import DEFAULT_PATH, Store, default_path, hostname
from .records import DomainTotal, RunRecord
from .sqlite import SCHEMA_VERSION, SQLiteStore

__all__ = ["DEFAULT_PATH", "SCHEMA_VERSION", "DomainTotal", "RunRecord", "SQLiteStore", "Store",
           "default_path", "hostname", "open_store"]


def open_store(path: str | os.PathLike | None = None, *, create: bool = True) -> Store:
    """The store at ``path`` (default: ``$WATTPRINT_STORE`` or ``.wattprint/runs.sqlite``): a
    SQLite file or ``:memory:``. ``create=False``: ``UsageError`` when the file does not exist."""
    path = str(path or default_path())
    if path.startswith(("postgresql://", "postgres://")):
        raise UsageError("PostgreSQL stores are not supported yet")
    return SQLiteStore(path, create=create)
