"""``wattprint store copy SRC... DST``: copy runs between stores (SQLite files, PostgreSQL)."""
from __future__ import annotations

import os
import sys
import time

from ..errors import UsageError
from ._common import add_json
from ._output import print_json, say

_URL_PREFIXES = ("postgresql://", "postgres://")


def add_arguments(p, name) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True,
                           parser_class=type(p))
    c = sub.add_parser("copy", help="copy or merge the runs of stores into another store, "
                                    "SQLite or PostgreSQL; running it again adds nothing",
                       description="Copy every run (with its samples, windows, progress and "
                                   "predictions) of each SRC into DST. A run DST already has is "
                                   "skipped, or replaced when SRC has a newer version of it.")
    c.add_argument("stores", nargs="+", metavar="STORE",
                   help="SRC... DST: store files, directories of *.sqlite stores, or "
                        "postgresql://user@host:port/db; the last one is the destination")
    add_json(c)
    i = sub.add_parser("init", help="create the store's tables now (for the administrator of "
                                    "a shared PostgreSQL store, before granting access)")
    i.add_argument("dst", metavar="STORE", help="a postgresql:// address or a store file")


def _expand(source: str) -> list[str]:
    if source.lower().startswith(_URL_PREFIXES):
        return [source]
    if os.path.isdir(source):
        from ..store.fs import stores_in

        found = stores_in(source)
        if not found:
            raise UsageError(f"no *.sqlite stores in {source}: give store files or a directory "
                             "holding them")
        return found
    if not os.path.isfile(source):
        raise UsageError(f"{source} does not exist: give a store file, a directory of stores or "
                         "a postgresql:// address")
    return [source]


def _same(a: str, b: str) -> bool:
    """Whether two store names are one file (server addresses: the same text)."""
    if a.lower().startswith(_URL_PREFIXES) or b.lower().startswith(_URL_PREFIXES):
        return a == b
    return os.path.realpath(a) == os.path.realpath(b)


class _Progress:
    """'copying runs: 1,234/5,000' on one line of stderr, redrawn at most ten times a second;
    only on a terminal (a log gets the summary alone)."""

    def __init__(self):
        self.tty = sys.stderr.isatty()
        self.last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if not self.tty or (done < total and now - self.last < 0.1):
            return
        self.last = now
        width = 30
        filled = width * done // max(total, 1)
        sys.stderr.write(f"\rcopying runs [{'#' * filled}{'.' * (width - filled)}] "
                         f"{done:,}/{total:,}" + ("\n" if done == total else ""))
        sys.stderr.flush()


def run(args) -> int:
    from ..store import open_store
    from ..store.copy import copy_runs

    if args.action == "init":
        st = open_store(args.dst, create=True)
        try:
            filled = st.fill_derived()
        finally:
            st.close()
        say(f"{st.path}: ready; runs can be stored in it"
            + (f" (derived columns filled for {filled:,} runs written without them)" if filled else ""))
        return 0
    if len(args.stores) < 2:
        raise UsageError("give at least one source and the destination: wattprint store copy "
                         "SRC... DST")
    *srcs, dst_path = args.stores
    # a directory searched for stores may hold the destination: that one is not a source
    paths = [p for s in srcs for p in _expand(s) if p == s or not _same(p, dst_path)]
    sources = [open_store(p, readonly=True) for p in paths]
    dst = open_store(dst_path, create=True)
    try:
        result = copy_runs(sources, dst, on_progress=_Progress())
    finally:
        for st in (*sources, dst):
            st.close()
    if args.json:
        print_json({"destination": dst.path, "sources": [s.path for s in sources],
                    **result.as_dict()})
        return 0
    say(f"{dst.path}: {result.copied:,} run(s) copied, {result.updated:,} updated, "
        f"{result.unchanged:,} already there; {result.samples:,} samples written, from "
        f"{len(sources)} store(s)")
    return 0
