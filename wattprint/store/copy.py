"""Copying runs between stores of any backend (SQLite files, PostgreSQL), idempotently.

A run already in the destination is left alone unless the source has a newer version of it
(a larger ``updated_at``: it was still running at the last copy); then it is replaced whole.
Only the ``Store`` interface is used, so every pair of backends works. A run is written in
several transactions (its samples in chunks); until the last one its ``updated_at`` is 0, so a
copy interrupted half-way is redone by the next copy instead of being taken as done.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

from ..errors import UsageError
from .base import Store

_CHUNK = 10000  # samples per transaction


@dataclass
class CopyResult:
    copied: int = 0    # runs new to the destination
    updated: int = 0   # runs the destination had in an older version
    unchanged: int = 0  # runs the destination already had as they are
    samples: int = 0   # sample rows written

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def _one_file(a: str, b: str) -> bool:
    if "://" in a or "://" in b:
        return a == b
    return os.path.realpath(a) == os.path.realpath(b)


def copy_runs(sources: list[Store], dst: Store, *, on_progress=None) -> CopyResult:
    """Copy every run of ``sources`` (in order) into ``dst``. ``on_progress(done, total)`` is
    called after each run. The same run in two sources is copied once, from the newest."""
    for src in sources:
        if _one_file(src.path, dst.path):
            raise UsageError(f"{src.path} is both a source and the destination: give another "
                             "destination")
    newest: dict[str, tuple] = {}
    for src in sources:
        for rec in src.list_runs():
            old = newest.get(rec.id)
            if old is None or rec.updated_at > old[1].updated_at:
                newest[rec.id] = (src, rec)
    have = {r.id: r.updated_at for r in dst.list_runs()}
    result, total = CopyResult(), len(newest)
    for done, (src, rec) in enumerate(newest.values(), 1):
        there = have.get(rec.id)
        if there is not None and there >= rec.updated_at:
            result.unchanged += 1
        else:
            result.samples += _copy_one(src, rec, dst, replace=there is not None)
            if there is None:
                result.copied += 1
            else:
                result.updated += 1
        if on_progress is not None:
            on_progress(done, total)
    return result


def _copy_one(src: Store, rec, dst: Store, *, replace: bool) -> int:
    key, updated_at = rec.key, rec.updated_at
    new = dataclasses.replace(rec, key=None, updated_at=0.0, domains=list(rec.domains))
    windows = src.windows(key)
    if replace:
        new_key = dst.replace_run(new, windows=windows).key
    else:
        new_key = dst.create_run(new)
        if windows:
            dst.flush(new_key, windows=windows)
    n, chunk = 0, []
    for row in src.iter_samples(key):
        chunk.append(row)
        if len(chunk) >= _CHUNK:
            dst.flush(new_key, samples=chunk)
            n, chunk = n + len(chunk), []
    # the last transaction: the remaining rows and the real updated_at, which marks it done
    dst.flush(new_key, samples=chunk, progress=src.progress(key),
              predictions=src.predictions(key), run_fields={"updated_at": updated_at})
    return n + len(chunk)
