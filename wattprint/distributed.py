"""Multi-process jobs: who measures what, one job id, and job totals.

Roles come from the launcher's environment (torchrun, SLURM ``srun``, Open MPI, MPICH/Intel MPI
PMI, MVAPICH). The rules, so that every joule is counted exactly once:

* the node's *measurer* (local rank 0) measures the node's shared hardware (CPU, DRAM, psys)
  **and every GPU it can see**; other ranks measure nothing of their own. Measuring GPUs from
  the measurer rather than "local rank N owns GPU N" stays right when a rank drives several GPUs
  or none, and counts GPUs that the job holds but leaves idle (they draw power for the job too).
  Set ``WATTPRINT_GPU_OWNER=rank`` when each rank sees a different ``CUDA_VISIBLE_DEVICES``
  (e.g. ``srun --gpus-per-task=1``): then every rank measures the GPUs it sees.
* record ids: the job is ``<job>``; each rank writes ``<job>.n<node>.r<rank>`` with ``job_id``
  set and ``meta.part_of = <job>``. ``<job>`` is ``WATTPRINT_JOB_ID``, the ``run_id`` given to
  ``track()``, ``slurm-<SLURM_JOB_ID>``, torchrun's ``--rdzv-id``, the MPI job id, or else a
  fresh id broadcast from rank 0 over torch.distributed.
* with torch.distributed initialised, each run end gathers every rank's totals (over a gloo
  group made for this, whatever the training's backend) and rank 0 stores the job record
  ``<job>`` with a per-node breakdown; ``run.job`` holds the same on every rank.
  Without torch.distributed, ``wattprint merge`` builds the job record from the per-rank ones.

Use :func:`countable` to sum records without counting a job twice.
"""
from __future__ import annotations

import hashlib
import itertools
import logging
import os
import re
import socket
import sys
import time
from dataclasses import dataclass

from .errors import UsageError

log = logging.getLogger("wattprint")

# Seconds a gather may wait for the other ranks before giving up (the training goes on).
GATHER_TIMEOUT_S = float(os.environ.get("WATTPRINT_GATHER_TIMEOUT", "120") or 120)
# Seconds to wait, when a run starts, for every rank to call track() too.
JOIN_TIMEOUT_S = float(os.environ.get("WATTPRINT_JOIN_TIMEOUT", "30") or 30)
_RUNS_IN_PROCESS = itertools.count(1)  # the n-th track() of every rank is the same job


@dataclass(frozen=True)
class Role:
    launcher: str            # "torchrun", "slurm", "openmpi", "pmi", "mvapich"
    rank: int
    world_size: int
    local_rank: int | None   # None: the launcher does not say
    local_world_size: int | None
    node_rank: int | None    # index of this node in the job, if the launcher gives one
    host: str
    job_id: str | None       # the launcher's job id, if any

    @property
    def node(self) -> str:
        return os.environ.get("WATTPRINT_NODE") or (
            str(self.node_rank) if self.node_rank is not None else self.host)

    @property
    def multi(self) -> bool:
        return self.world_size > 1


def _int(env, *names):
    for n in names:
        v = env.get(n)
        if v not in (None, ""):
            try:
                return int(v)
            except ValueError:
                pass
    return None


def detect(env=None) -> Role | None:
    """The role of this process, or None when no launcher variables are set."""
    env = os.environ if env is None else env
    host = socket.gethostname()
    slurm_job = env.get("SLURM_JOB_ID") or env.get("SLURM_JOBID")
    slurm_id = f"slurm-{slurm_job}" if slurm_job else None
    step = _int(env, "SLURM_STEP_ID", "SLURM_STEPID")
    if slurm_id and step is not None and step < 0xFFFFFFF0:  # ignore the batch/extern pseudo-steps
        slurm_id += f".{step}"
    if _int(env, "RANK") is not None and _int(env, "WORLD_SIZE") is not None and (
            "LOCAL_RANK" in env or "TORCHELASTIC_RUN_ID" in env):
        te = env.get("TORCHELASTIC_RUN_ID")
        job = slurm_id or (te if te and te != "none" else None)
        return Role("torchrun", _int(env, "RANK"), _int(env, "WORLD_SIZE"),
                    _int(env, "LOCAL_RANK"), _int(env, "LOCAL_WORLD_SIZE"),
                    _int(env, "GROUP_RANK", "SLURM_NODEID"), host, job)
    if _int(env, "SLURM_PROCID") is not None and _int(env, "SLURM_STEP_NUM_TASKS") is not None:
        return Role("slurm", _int(env, "SLURM_PROCID"), _int(env, "SLURM_STEP_NUM_TASKS"),
                    _int(env, "SLURM_LOCALID"), _int(env, "SLURM_STEP_TASKS_PER_NODE"),
                    _int(env, "SLURM_NODEID"), host, slurm_id)
    if _int(env, "OMPI_COMM_WORLD_RANK") is not None:
        ns = env.get("PMIX_NAMESPACE") or env.get("OMPI_MCA_ess_base_jobid")
        return Role("openmpi", _int(env, "OMPI_COMM_WORLD_RANK"),
                    _int(env, "OMPI_COMM_WORLD_SIZE") or 1, _int(env, "OMPI_COMM_WORLD_LOCAL_RANK"),
                    _int(env, "OMPI_COMM_WORLD_LOCAL_SIZE"), None, host, slurm_id or ns)
    if _int(env, "MV2_COMM_WORLD_RANK") is not None:
        return Role("mvapich", _int(env, "MV2_COMM_WORLD_RANK"),
                    _int(env, "MV2_COMM_WORLD_SIZE") or 1, _int(env, "MV2_COMM_WORLD_LOCAL_RANK"),
                    _int(env, "MV2_COMM_WORLD_LOCAL_SIZE"), None, host, slurm_id)
    if _int(env, "PMI_RANK") is not None:
        return Role("pmi", _int(env, "PMI_RANK"), _int(env, "PMI_SIZE") or 1,
                    _int(env, "MPI_LOCALRANKID", "PMI_LOCAL_RANK"),
                    _int(env, "MPI_LOCALNRANKS", "PMI_LOCAL_SIZE"), None, host, slurm_id)
    return None


def wanted(option, env=None) -> bool:
    """Whether ``track(distributed=option)`` turns the distributed plugin on."""
    if option is True:
        return True
    if option in (False, None, "off", "no"):
        return False
    if option != "auto":
        raise UsageError(f"distributed must be 'auto', True or False, got {option!r}")
    role = detect(env)
    return role is not None and role.multi


_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def safe_id(s: str, limit: int = 48) -> str:
    return _SAFE.sub("-", str(s)).strip("-.")[:limit] or "job"


def rank_run_id(job: str, node: str, rank: int) -> str:
    return f"{job}.n{safe_id(node, 24)}.r{rank}"


def _fallback_job_id(env) -> str:
    """Same on every rank of one launch (from the rendezvous address), different across launches."""
    keys = ("MASTER_ADDR", "MASTER_PORT", "PMI_PORT", "PMIX_SERVER_URI2", "OMPI_MCA_orte_hnp_uri")
    seed = "|".join(env.get(k, "") for k in keys)
    if not seed.strip("|"):
        return None
    day = time.strftime("%Y%m%d", time.gmtime())
    return f"job-{day}-{hashlib.sha1(seed.encode()).hexdigest()[:8]}"


# -- torch.distributed ---------------------------------------------------------------------
def _dist():
    """torch.distributed if the training initialised it; never imports torch itself."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    try:
        dist = torch.distributed
        return dist if dist.is_available() and dist.is_initialized() else None
    except Exception:
        return None


def _all_gather_json(dist, obj, group) -> list:
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


def _new_gloo_group(dist):
    from datetime import timedelta

    return dist.new_group(backend="gloo", timeout=timedelta(seconds=GATHER_TIMEOUT_S))


def _all_ranks_join(dist, key: str, timeout: float) -> bool:
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


def _make_groups(dist, key: str, count: int):
    if not _all_ranks_join(dist, key, JOIN_TIMEOUT_S):
        log.warning("wattprint: track() is not running on every rank of this job, so there are "
                    "no job totals; each rank keeps its own record ('wattprint merge' sums them)")
        return None
    try:
        return [_new_gloo_group(dist) for _ in range(count)]
    except Exception as e:
        log.warning("wattprint: cannot create a gloo group for job totals (%s)", e)
        return None


# -- measurer election without a local rank -----------------------------------------------
def _elect_by_lock(job: str):
    """First process of this job on this host to lock the file measures the node."""
    import fcntl
    import tempfile

    path = os.path.join(tempfile.gettempdir(), f"wattprint-{safe_id(job)}.measurer.lock")
    try:
        f = open(path, "a+")
    except OSError as e:
        log.warning("wattprint: cannot elect this node's measurer (%s: %s); this rank measures "
                    "the node, set the launcher's local rank variable to avoid counting it twice",
                    path, e.strerror)
        return True
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return f  # held for the life of the run
    except OSError:
        f.close()
        return None


def _prepare_store(path, attempts: int = 20) -> None:
    """Open the store once, retrying while another rank is creating it.

    Ranks starting together on a fresh store race to switch it to WAL; SQLite answers the loser
    "database is locked" at once, without waiting. Once the file is in WAL mode, opening it
    needs no exclusive lock, so the tracker's own open cannot hit that race any more.
    """
    from .store import Store

    delay = 0.01
    for _ in range(attempts):
        try:
            Store.open(path).close()
            return
        except UsageError as e:
            if "locked" not in str(e):
                return  # the tracker's own open reports it, with its message
        time.sleep(delay)
        delay = min(delay * 2, 0.5)


class DistributedPlugin:
    """Sets the role before the meters open; gathers job totals at window ends and the end."""

    def __init__(self, role: Role | None = None):
        self.role = role
        self.job_id: str | None = None
        self.provisional = False
        self.measures_host = True
        self._lock_file = None
        self._final_group = None
        self._window_group = None
        self._window_works: list = []  # (name, work, gathered rows), oldest first
        self._window_seq = 0
        self._node_of: list = []
        self.windows: list = []  # job totals of windows closed on every rank
        self._joined = None  # None: torch.distributed was not up at the start
        self._windows_ok = True
        self.gather_s: float | None = None

    # -- hooks -------------------------------------------------------------------------
    def configure(self, run) -> None:
        env = os.environ
        run.job = None
        role = self.role or detect(env) or Role("single", 0, 1, 0, 1, None, socket.gethostname(), None)
        self.role = role
        seq = next(_RUNS_IN_PROCESS)
        job = env.get("WATTPRINT_JOB_ID") or run.config.get("run_id") or role.job_id
        restart = _int(env, "TORCHELASTIC_RESTART_COUNT")
        self._sync_key = f"wattprint/{restart or 0}/{seq}"
        dist = _dist()
        if dist is not None:
            groups = _make_groups(dist, self._sync_key + "/start", 2)
            self._joined = groups is not None
            if groups:
                self._final_group, self._window_group = groups
        if self._final_group is not None:
            info = _all_gather_json(dist, [run.run_id, role.node], self._final_group)
            self._node_of = [i[1] for i in info]  # rank -> node, for window totals per node
            job = job or info[0][0]  # rank 0's fresh id
        if not job:
            job = _fallback_job_id(env)
        if not job and role.world_size == 1:
            job = run.run_id
        if not job:  # fixed later, at the end, if torch.distributed comes up
            job, self.provisional = "pending-" + run.run_id, True
        if seq > 1 and not run.config.get("run_id"):
            job = f"{job}-{seq}"
        if restart:
            job = f"{job}-a{restart}"
        self.job_id = safe_id(job, 64)
        run.job_id = self.job_id
        run.rank = role.rank
        run.node = role.node
        run.run_id = rank_run_id(self.job_id, role.node, role.rank)
        if role.local_rank is not None:
            self.measures_host = role.local_rank == 0
        else:
            self._lock_file = _elect_by_lock(f"{self.job_id}-{role.host}")
            self.measures_host = self._lock_file is not None
            if self._lock_file is True:
                self._lock_file = None
        run.measure_host = self.measures_host
        if role.rank != 0:
            run.config["quiet"] = True  # one end-of-run summary per job (rank 0's: the job's)
        _prepare_store(run.store_path)
        if os.environ.get("WATTPRINT_GPU_OWNER", "node") == "rank":
            pass  # every rank measures the GPUs it sees (CUDA_VISIBLE_DEVICES differs per rank)
        elif not self.measures_host:
            run.config["gpus"] = False

    def started(self, run) -> None:
        meta = {"unavailable": [u.__dict__ for u in getattr(run, "unavailable", [])],
                **self._rank_meta()}
        run._store.update_run(run._key, meta=meta)

    def window_closed(self, run, m) -> None:
        if self._window_group is None or not self._windows_ok:
            return
        import torch

        self._window_seq += 1
        # Fixed shape, so a window closed on only some ranks cannot corrupt the others' data.
        row = torch.tensor([self._window_seq, _hash(m.name), m.seconds, m.total_j, m.start_s],
                           dtype=torch.float64)
        out = [torch.zeros(5, dtype=torch.float64) for _ in range(self.role.world_size)]
        try:
            work = _dist().all_gather(out, row, group=self._window_group, async_op=True)
        except Exception as e:
            self._windows_ok = False
            log.warning("wattprint: window totals across ranks disabled (%s)", e)
            return
        self._window_works.append((m.name, work, out))
        self._drain_windows()

    def _drain_windows(self, wait_s: float = 0.0) -> None:
        """Fold finished window gathers into ``self.windows`` (small), in order."""
        from datetime import timedelta

        deadline = time.monotonic() + wait_s
        while self._window_works and self._windows_ok:
            name, work, rows = self._window_works[0]
            try:
                left = deadline - time.monotonic()
                done = work.is_completed() or (left > 0 and work.wait(timedelta(seconds=left)))
            except Exception:
                done, self._windows_ok = False, False
            if not done:
                return
            self._window_works.pop(0)
            vals = [r.tolist() for r in rows]
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
            self._window_works = []

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
        if self.role.rank == 0 and run.job is not None and getattr(self, "_job_record", None):
            run._record = self._job_record
            run._result = None  # recomputed from the job record
            run.run_id = self.job_id

    # -- internals ---------------------------------------------------------------------
    def _rank_meta(self) -> dict:
        r = self.role
        return {"role": "rank", "part_of": self.job_id, "launcher": r.launcher, "rank": r.rank,
                "local_rank": r.local_rank, "world_size": r.world_size,
                "node_rank": r.node_rank, "measures_host": self.measures_host}

    def _part(self, run) -> dict:
        m = run._final
        return {"run_id": run.run_id, "job_id": self.job_id, "rank": self.role.rank, "node": self.role.node,
                "host": self.role.host, "measures_host": self.measures_host,
                "status": run.status, "started_at": run._t0_wall, "seconds": m.seconds,
                "energy_j": dict(m.energy_j), "pid": os.getpid(),
                "counted": sorted(getattr(run, "counted", None) or m.energy_j),
                "domains": [{"name": d.name, "kind": d.kind, "source": d.source, "label": d.label,
                             "method": d.method, "device": d.device} for d in run.domains]}

    def _gather(self, run) -> None:
        dist = _dist()
        if dist is None:
            return
        group = self._final_group
        if group is None:
            if self._joined is False:  # not every rank runs track(): no collectives at all
                return
            groups = _make_groups(dist, self._sync_key + "/end", 1)  # dist came up after the start
            if not groups:
                return
            group = self._final_group = groups[0]
        parts = _all_gather_json(dist, self._part(run), group)
        if self.provisional:
            job = parts[0]["job_id"]
            self._rename(run, job)
            for p in parts:
                p["run_id"] = rank_run_id(job, p["node"], p["rank"])
        self._drain_windows(wait_s=min(5.0, GATHER_TIMEOUT_S))
        run.job = job_summary(self.job_id, parts, self.windows)
        if self.role.rank == 0:
            own = run._store.get_run(run.run_id)  # not run.record: it would cache a stale copy
            self._job_record = write_job(run._store, run.job, template=own, parts=parts)

    def _rename(self, run, job: str) -> None:
        self.job_id, self.provisional = job, False
        run.job_id = job
        run.run_id = rank_run_id(job, self.role.node, self.role.rank)
        run._store.update_run(run._key, id=run.run_id, job_id=job, meta={
            "unavailable": [u.__dict__ for u in getattr(run, "unavailable", [])], **self._rank_meta()})


def _hash(name: str) -> float:
    return float(int.from_bytes(hashlib.blake2b(name.encode(), digest_size=6).digest(), "big"))


# -- job totals (shared by the live gather and ``wattprint merge``) -------------------------
def job_summary(job_id: str, parts: list[dict], windows=()) -> dict:
    """Totals of a job from its ranks' parts: every domain once, summed per node and overall."""
    nodes: dict[str, dict] = {}
    for p in sorted(parts, key=lambda p: p["rank"]):
        n = nodes.setdefault(p["node"], {"host": p.get("host"), "ranks": [], "energy_j": 0.0,
                                         "seconds": 0.0, "domains": {}, "by_kind": {},
                                         "measured_by": []})
        n["ranks"].append(p["rank"])
        n["seconds"] = max(n["seconds"], p["seconds"])
        if p.get("measures_host"):
            n["measured_by"].append(p["rank"])
        kinds = {d["name"]: d["kind"] for d in p.get("domains", [])}
        counted = set(p.get("counted", p["energy_j"]))  # uncore, or cpu under psys: not added
        for name, j in p["energy_j"].items():
            key = name if name not in n["domains"] else f"{name}@r{p['rank']}"
            n["domains"][key] = j
            if name in counted:
                n["energy_j"] += j
                kind = kinds.get(name, "other")
                n["by_kind"][kind] = n["by_kind"].get(kind, 0.0) + j
            else:
                n.setdefault("not_added", []).append(key)
    statuses = [p.get("status") for p in parts]
    status = next((s for s in ("failed", "interrupted", "stopped", "running") if s in statuses),
                  "finished")
    starts = [p["started_at"] for p in parts if p.get("started_at")]
    return {"job_id": job_id, "world_size": len(parts), "status": status,
            "started_at": min(starts) if starts else time.time(),
            "seconds": max((p["seconds"] for p in parts), default=0.0),
            "energy_j": sum(n["energy_j"] for n in nodes.values()), "nodes": nodes,
            "parts": [p["run_id"] for p in sorted(parts, key=lambda p: p["rank"])],
            "windows": list(windows)}


def write_job(store, job: dict, *, template=None, parts=()) -> "object":
    """Store (or replace) the job record ``job['job_id']``; returns it as read back."""
    from .store import DomainTotal, RunRecord

    dom_meta = {}
    for p in parts:
        for d in p.get("domains", []):
            dom_meta[(p["node"], d["name"])] = d
    domains = []
    for node, n in job["nodes"].items():
        for name, j in n["domains"].items():
            d = dom_meta.get((node, name.split("@r")[0]), {})
            dt = DomainTotal(
                f"n{node}/{name}", d.get("kind", "other"), d.get("source", "?"),
                d.get("label", "measured"), d.get("method", ""), j,
                j / job["seconds"] if job["seconds"] else 0.0, device=d.get("device"), node=node,
                idx=len(domains))
            if hasattr(dt, "in_total"):
                dt.in_total = name not in n.get("not_added", ())
            domains.append(dt)
    nodes_meta = {k: {kk: v for kk, v in n.items() if kk != "domains"}
                  for k, n in job["nodes"].items()}
    meta = {"role": "job", "world_size": job["world_size"], "parts": job["parts"],
            "nodes": nodes_meta}  # window totals go to the windows table
    now = time.time()
    t = template
    rec = RunRecord(
        id=job["job_id"], status=job["status"], started_at=job["started_at"], updated_at=now,
        ended_at=job["started_at"] + job["seconds"], duration_s=job["seconds"],
        energy_j=job["energy_j"], job_id=job["job_id"], meta=meta, domains=domains,
        project=getattr(t, "project", None), tags=list(getattr(t, "tags", []) or []),
        command=getattr(t, "command", None), cwd=getattr(t, "cwd", None),
        host=getattr(t, "host", None), interval_s=getattr(t, "interval_s", None),
        total=getattr(t, "total", None), unit=getattr(t, "unit", None),
        done=getattr(t, "done", None), location=dict(getattr(t, "location", {}) or {}),
        degraded=bool(getattr(t, "degraded", False)))
    with store._tx() as db:  # replace: a merge may be rerun when late parts arrive
        row = db.execute("SELECT key FROM runs WHERE id=?", (rec.id,)).fetchone()
        if row:
            db.execute("DELETE FROM domains WHERE run=?", (row[0],))
            db.execute("DELETE FROM windows WHERE run=?", (row[0],))
            db.execute("DELETE FROM runs WHERE key=?", (row[0],))
    store.create_run(rec)
    if job["windows"]:
        store.flush(rec.key, windows=[(w["name"], w["start_s"], w["start_s"] + w["seconds"],
                                       {f"n{k}": v for k, v in w["nodes"].items()})
                                      for w in job["windows"]])
    return store.get_run(rec.id)


def countable(records) -> list:
    """Records to add up without counting a job twice.

    A job record stands for its per-rank parts; where no job record exists (no
    torch.distributed and no ``wattprint merge`` yet) the parts are summed instead, which is
    right because each node and GPU is measured by exactly one rank.
    """
    records = list(records)
    jobs = {r.id for r in records if (r.meta or {}).get("role") == "job"}
    return [r for r in records if (r.meta or {}).get("part_of") not in jobs
            or (r.meta or {}).get("role") == "job"]
