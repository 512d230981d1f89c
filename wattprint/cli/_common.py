"""Options and helpers shared by several commands."""
from __future__ import annotations


def add_store(p) -> None:
    p.add_argument("--store", metavar="PATH",
                   help="run store (default: $WATTPRINT_STORE or .wattprint/runs.sqlite)")


def add_json(p) -> None:
    p.add_argument("--json", action="store_true", help="print JSON instead of text")


def open_store(args, *, create: bool = False, write: bool | None = None):
    """The ``--store`` of ``args``: read-only (never written, works on a read-only file or
    directory) unless ``write`` (default: ``create``)."""
    from ..store import open_store as open_

    write = create if write is None else write
    return open_(getattr(args, "store", None), create=create, readonly=not write)
