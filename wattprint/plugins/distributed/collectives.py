"""torch.distributed helpers for job totals.

Only used when the training initialised torch.distributed; nothing here imports torch unless
the training already did (:func:`current` looks in ``sys.modules``). Every collective runs over
gloo groups made for wattprint, whatever backend the training uses.
"""
from __future__ import annotations

import logging
import os
import sys
import time

log = logging.getLogger("wattprint")

# Seconds a gather may wait for the other ranks before giving up (the training goes on).
GATHER_TIMEOUT_S = float(os.environ.get("WATTPRINT_GATHER_TIMEOUT", "120") or 120)
# Seconds to wait, when a run starts, for every rank to call track() too.
JOIN_TIMEOUT_S = float(os.environ.get("WATTPRINT_JOIN_TIMEOUT", "30") or 30)


def current():
    """torch.distributed if the training initialised it; never imports torch itself."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    try:
        dist = torch.distributed
        return dist if dist.is_available() and dist.is_initialized() else None
    except Exception:
        return None


def all_gather_json(dist, obj, group) -> list:
    """all_gather of JSON-able objects as byte tensors (the *_object collectives need numpy)."""
    import json

    import torch

    data = json.dumps(obj, separators=(",", ":")).encode()
    n = dist.get_world_size(group)
    size = torch.tensor([len(data)], dtype=torch.int64)
    sizes = [torch.zeros(1, dtype=torch.int64) for _ in range(n)]
    dist.all_gather(sizes, size, group=group)
    longest = max(int(s.item()) for s in sizes)
    buf = torch.zeros(longest, dtype=torch.uint8)
    if data:
        buf[: len(data)] = torch.frombuffer(bytearray(data), dtype=torch.uint8)
    bufs = [torch.zeros(longest, dtype=torch.uint8) for _ in range(n)]
    dist.all_gather(bufs, buf, group=group)
    return [json.loads(bytes(b[: int(s.item())].tolist())) for b, s in zip(bufs, sizes)]


class RowGather:
    """An asynchronous all_gather of one fixed-length row of floats per rank.

    Fixed shape, so a row sent by only some ranks cannot corrupt the others' data.
    """

    def __init__(self, dist, row, world_size: int, group):
        import torch

        mine = torch.tensor(row, dtype=torch.float64)
        self._rows = [torch.zeros(len(row), dtype=torch.float64) for _ in range(world_size)]
        self._work = dist.all_gather(self._rows, mine, group=group, async_op=True)

    def done(self, wait_s: float = 0.0) -> bool:
        """Whether every rank's row has arrived, waiting up to ``wait_s`` s; raises on failure."""
        from datetime import timedelta

        return bool(self._work.is_completed()
                    or (wait_s > 0 and self._work.wait(timedelta(seconds=wait_s))))

    def rows(self) -> list[list[float]]:
        return [r.tolist() for r in self._rows]


def all_ranks_join(dist, key: str, timeout: float) -> bool:
    """Whether every rank reaches this point within ``timeout`` s.

    Making a group is a collective: if ``track()`` runs on only some ranks (``if rank == 0:``),
    the others never arrive, and waiting for them would stall the training. A counter in the
    job's own rendezvous store tells, without a collective, whether they all came.
    """
    try:
        store = dist.distributed_c10d._get_default_store()
    except Exception:
        return False
    world = dist.get_world_size()
    deadline = time.monotonic() + timeout
    n = store.add(key, 1)
    delay = 0.001
    while n < world:
        if time.monotonic() >= deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
        n = store.add(key, 0)
    return True


def new_gloo_group(dist):
    from datetime import timedelta

    return dist.new_group(backend="gloo", timeout=timedelta(seconds=GATHER_TIMEOUT_S))


def make_groups(dist, key: str, count: int) -> list | None:
    """``count`` new gloo groups once every rank has joined at ``key``; None (logged) if not."""
    if not all_ranks_join(dist, key, JOIN_TIMEOUT_S):
        log.warning("wattprint: track() is not running on every rank of this job, so there are "
                    "no job totals; each rank keeps its own record ('wattprint merge' sums them)")
        return None
    try:
        return [new_gloo_group(dist) for _ in range(count)]
    except Exception as e:
        log.warning("wattprint: cannot create a gloo group for job totals (%s)", e)
        return None
