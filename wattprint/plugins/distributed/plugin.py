"""DistributedPlugin: one rank's part in a multi-process job, through the Plugin protocol.

* ``configure`` places the rank: its ids and whether it measures the node (local rank 0, or the
  lock-file winner) and the GPUs; only rank 0 prints a summary.
* ``started`` writes the rank's meta (``role: rank``, ``part_of: <job>``...).
* ``window_closed`` gathers each window's totals from every rank, asynchronously.
* ``stopping`` gathers every rank's totals over torch.distributed (if up) into ``run.job``;
  rank 0 writes the job record, and ``stopped`` makes it rank 0's record and result.
"""
from __future__ import annotations

import hashlib
import itertools
import logging
import os
import time

from ...errors import UsageError
from ..base import Placement
from . import collectives
from .jobs import job_summary, write_job
from .roles import (Role, detect, elect_by_lock, env_int, fallback_job_id, rank_run_id, safe_id,
                    single)

log = logging.getLogger("wattprint")

_RUNS_IN_PROCESS = itertools.count(1)  # the n-th track() of every rank is the same job


def _prepare_store(path, attempts: int = 20) -> None:
    """Open the store once, retrying while another rank is creating it.

    Ranks starting together on a fresh store race to switch it to WAL; SQLite answers the loser
    "database is locked" at once, without waiting. Once the file is in WAL mode, opening it
    needs no exclusive lock, so the run's own open cannot hit that race any more.
    """
    from ...store import open_store

    delay = 0.01
    for _ in range(attempts):
        try:
            open_store(path).close()
            return
        except UsageError as e:
            if "locked" not in str(e):
                return  # the run's own open reports it, with its message
        time.sleep(delay)
        delay = min(delay * 2, 0.5)


def _hash(name: str) -> float:
    """A window name as a float that a float64 tensor carries exactly (48 bits)."""
    return float(int.from_bytes(hashlib.blake2b(name.encode(), digest_size=6).digest(), "big"))


class DistributedPlugin:
    """Places the rank before the meters open; gathers job totals at window ends and the end.

    Public after ``configure``: ``role`` (:class:`Role`), ``job_id``, ``measures_host``;
    after the end: ``windows`` (job totals of windows closed on every rank) and ``gather_s``
    (seconds the end-of-run gather took).
    """

    def __init__(self, role: Role | None = None):
        self.role = role
        self.job_id: str | None = None
        self.provisional = False  # job id made up until the end's gather fixes it
        self.measures_host = True
        self.windows: list = []
        self.gather_s: float | None = None
        self._lock_file = None
        self._final_group = None
        self._window_group = None
        self._window_gathers: list = []  # (name, RowGather), oldest first
        self._window_seq = 0
        self._node_of: list = []  # rank -> node
        self._joined = None  # None: torch.distributed was not up at the start
        self._windows_ok = True
        self._job_record = None
        self._sync_key = ""

    # -- hooks -------------------------------------------------------------------------
    def configure(self, run) -> Placement:
        env = os.environ
        run.job = None
        role = self.role = self.role or detect(env) or single()
        seq = next(_RUNS_IN_PROCESS)
        given = run.options.run_id
        job = env.get("WATTPRINT_JOB_ID") or given or role.job_id
        restart = env_int(env, "TORCHELASTIC_RESTART_COUNT")
        self._sync_key = f"wattprint/{restart or 0}/{seq}"
        dist = collectives.current()
        if dist is not None:
            groups = collectives.make_groups(dist, self._sync_key + "/start", 2)
            self._joined = groups is not None
            if groups:
                self._final_group, self._window_group = groups
        if self._final_group is not None:
            info = collectives.all_gather_json(dist, [run.run_id, role.node], self._final_group)
            self._node_of = [i[1] for i in info]
            job = job or info[0][0]  # rank 0's fresh id
        if not job:
            job = fallback_job_id(env)
        if not job and role.world_size == 1:
            job = run.run_id
        if not job:  # fixed at the end, if torch.distributed comes up
            job, self.provisional = "pending-" + run.run_id, True
        if seq > 1 and not given:
            job = f"{job}-{seq}"
        if restart:
            job = f"{job}-a{restart}"
        self.job_id = safe_id(job, 64)
        if role.local_rank is not None:
            self.measures_host = role.local_rank == 0
        else:
            lock = elect_by_lock(f"{self.job_id}-{role.host}")
            self.measures_host = lock is not None
            self._lock_file = lock if lock is not True else None
        _prepare_store(run.options.store)
        # WATTPRINT_GPU_OWNER=rank: every rank measures the GPUs it sees (its own
        # CUDA_VISIBLE_DEVICES); by default the node's measurer measures them all.
        gpus = self.measures_host or os.environ.get("WATTPRINT_GPU_OWNER", "node") == "rank"
        return Placement(run_id=rank_run_id(self.job_id, role.node, role.rank),
                         job_id=self.job_id, node=role.node, rank=role.rank,
                         local_rank=role.local_rank, measure_host=self.measures_host,
                         measure_gpus=gpus,
                         quiet=(role.rank != 0) or None)  # one summary per job: rank 0's

    def started(self, run) -> None:
        run.update_record(meta=self._rank_meta(run))

    def window_closed(self, run, m) -> None:
        if self._window_group is None or not self._windows_ok:
            return
        self._window_seq += 1
        row = [self._window_seq, _hash(m.name), m.seconds, m.total_j, m.start_s]
        try:
            gather = collectives.RowGather(collectives.current(), row, self.role.world_size,
                                           self._window_group)
        except Exception as e:
            self._windows_ok = False
            log.warning("wattprint: window totals across ranks disabled (%s)", e)
            return
        self._window_gathers.append((m.name, gather))
        self._drain_windows()

    def stopping(self, run) -> None:
        t0 = time.perf_counter()
        try:
            self._gather(run)
        finally:
            self.gather_s = time.perf_counter() - t0

    def stopped(self, run) -> None:
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None
        if self.role.rank == 0 and run.job is not None and self._job_record is not None:
            run.represent(self._job_record)

    # -- internals ---------------------------------------------------------------------
    def _drain_windows(self, wait_s: float = 0.0) -> None:
        """Fold finished window gathers into ``self.windows`` (small), in order."""
        deadline = time.monotonic() + wait_s
        while self._window_gathers and self._windows_ok:
            name, gather = self._window_gathers[0]
            try:
                done = gather.done(deadline - time.monotonic())
            except Exception:
                done, self._windows_ok = False, False
            if not done:
                return
            self._window_gathers.pop(0)
            vals = gather.rows()
            if len({(v[0], v[1]) for v in vals}) != 1:  # ranks closed different windows
                log.warning("wattprint: window %r was not closed on every rank (in the same "
                            "order); job window totals stop here", name)
                self._windows_ok = False
                return
            per_node: dict = {}
            for rank, v in enumerate(vals):
                node = self._node_of[rank] if rank < len(self._node_of) else "?"
                per_node[node] = per_node.get(node, 0.0) + v[3]
            self.windows.append({"name": name, "start_s": min(v[4] for v in vals),
                                 "seconds": max(v[2] for v in vals),
                                 "energy_j": sum(v[3] for v in vals), "nodes": per_node})
        if not self._windows_ok:
            self._window_gathers = []

    def _rank_meta(self, run) -> dict:
        r = self.role
        return {"unavailable": [u.__dict__ for u in run.unavailable],
                "role": "rank", "part_of": self.job_id, "launcher": r.launcher, "rank": r.rank,
                "local_rank": r.local_rank, "world_size": r.world_size,
                "node_rank": r.node_rank, "measures_host": self.measures_host}

    def _part(self, run) -> dict:
        m = run.energy()  # the final totals: the run has stopped measuring
        r = self.role
        return {"run_id": run.run_id, "job_id": self.job_id, "rank": r.rank, "node": r.node,
                "host": r.host, "measures_host": self.measures_host,
                "status": run.status, "started_at": run.started_at, "seconds": m.seconds,
                "energy_j": dict(m.energy_j), "pid": os.getpid(),
                "counted": sorted(run.counted or m.energy_j),
                "domains": [{"name": d.name, "kind": d.kind, "source": d.source, "label": d.label,
                             "method": d.method, "device": d.device} for d in run.domains]}

    def _gather(self, run) -> None:
        dist = collectives.current()
        if dist is None:
            return
        group = self._final_group
        if group is None:
            if self._joined is False:  # not every rank runs track(): no collectives at all
                return
            # torch.distributed came up after the start
            groups = collectives.make_groups(dist, self._sync_key + "/end", 1)
            if not groups:
                return
            group = self._final_group = groups[0]
        parts = collectives.all_gather_json(dist, self._part(run), group)
        if self.provisional:
            job = parts[0]["job_id"]
            self._rename(run, job)
            for p in parts:
                p["run_id"] = rank_run_id(job, p["node"], p["rank"])
        self._drain_windows(wait_s=min(5.0, collectives.GATHER_TIMEOUT_S))
        run.job = job_summary(self.job_id, parts, self.windows)
        if self.role.rank == 0:
            own = run.store.get_run(run.run_id)  # not run.record: it would cache a stale copy
            self._job_record = write_job(run.store, run.job, template=own, parts=parts)

    def _rename(self, run, job: str) -> None:
        self.job_id, self.provisional = job, False
        run.update_record(id=rank_run_id(job, self.role.node, self.role.rank), job_id=job,
                          meta=self._rank_meta(run))
