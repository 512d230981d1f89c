"""Who this process is in a multi-process job, from the launcher's environment.

torchrun, SLURM ``srun``, Open MPI, MPICH/Intel MPI PMI and MVAPICH each say a rank and a world
size; most also say a local rank and a job id. From these come the ids a rank writes under and
which process of a node measures it (local rank 0, or else the first to take a lock file).
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import socket
import time
from dataclasses import dataclass

from ...errors import UsageError

log = logging.getLogger("wattprint")


@dataclass(frozen=True)
class Role:
    launcher: str            # "torchrun", "slurm", "openmpi", "pmi", "mvapich" ("single": none)
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


def single() -> Role:
    """The role of a process that no launcher started (``distributed=True`` forced)."""
    return Role("single", 0, 1, 0, 1, None, socket.gethostname(), None)


def env_int(env, *names) -> int | None:
    """The first of ``names`` set to an integer in ``env``."""
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

    def n(*names):
        return env_int(env, *names)

    host = socket.gethostname()
    slurm_job = env.get("SLURM_JOB_ID") or env.get("SLURM_JOBID")
    slurm_id = f"slurm-{slurm_job}" if slurm_job else None
    step = n("SLURM_STEP_ID", "SLURM_STEPID")
    if slurm_id and step is not None and step < 0xFFFFFFF0:  # ignore the batch/extern pseudo-steps
        slurm_id += f".{step}"
    if n("RANK") is not None and n("WORLD_SIZE") is not None and (
            "LOCAL_RANK" in env or "TORCHELASTIC_RUN_ID" in env):
        te = env.get("TORCHELASTIC_RUN_ID")
        job = slurm_id or (te if te and te != "none" else None)
        return Role("torchrun", n("RANK"), n("WORLD_SIZE"), n("LOCAL_RANK"), n("LOCAL_WORLD_SIZE"),
                    n("GROUP_RANK", "SLURM_NODEID"), host, job)
    if n("SLURM_PROCID") is not None and n("SLURM_STEP_NUM_TASKS") is not None:
        return Role("slurm", n("SLURM_PROCID"), n("SLURM_STEP_NUM_TASKS"), n("SLURM_LOCALID"),
                    n("SLURM_STEP_TASKS_PER_NODE"), n("SLURM_NODEID"), host, slurm_id)
    if n("OMPI_COMM_WORLD_RANK") is not None:
        ns = env.get("PMIX_NAMESPACE") or env.get("OMPI_MCA_ess_base_jobid")
        return Role("openmpi", n("OMPI_COMM_WORLD_RANK"), n("OMPI_COMM_WORLD_SIZE") or 1,
                    n("OMPI_COMM_WORLD_LOCAL_RANK"), n("OMPI_COMM_WORLD_LOCAL_SIZE"), None, host,
                    slurm_id or ns)
    if n("MV2_COMM_WORLD_RANK") is not None:
        return Role("mvapich", n("MV2_COMM_WORLD_RANK"), n("MV2_COMM_WORLD_SIZE") or 1,
                    n("MV2_COMM_WORLD_LOCAL_RANK"), n("MV2_COMM_WORLD_LOCAL_SIZE"), None, host,
                    slurm_id)
    if n("PMI_RANK") is not None:
        return Role("pmi", n("PMI_RANK"), n("PMI_SIZE") or 1,
                    n("MPI_LOCALRANKID", "PMI_LOCAL_RANK"), n("MPI_LOCALNRANKS", "PMI_LOCAL_SIZE"),
                    None, host, slurm_id)
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
    """``s`` made safe for a run id and a file name."""
    return _SAFE.sub("-", str(s)).strip("-.")[:limit] or "job"


def rank_run_id(job: str, node: str, rank: int) -> str:
    """The id one rank writes its record under: ``<job>.n<index>.r<rank>`` for a numbered node
    (``slurm-4242.0.n1.r3``), ``<job>.<name>.r<rank>`` for a named one (``slurm-4242.0.node1.r3``,
    not ``.nnode1``)."""
    node = safe_id(node, 24)
    return f"{job}.{'n' + node if node.isdigit() else node}.r{rank}"


def fallback_job_id(env) -> str | None:
    """Same on every rank of one launch (from the rendezvous address), different across launches."""
    keys = ("MASTER_ADDR", "MASTER_PORT", "PMI_PORT", "PMIX_SERVER_URI2", "OMPI_MCA_orte_hnp_uri")
    seed = "|".join(env.get(k, "") for k in keys)
    if not seed.strip("|"):
        return None
    day = time.strftime("%Y%m%d", time.gmtime())
    return f"job-{day}-{hashlib.sha1(seed.encode()).hexdigest()[:8]}"


def elect_by_lock(job: str):
    """Whether this process measures the node when the launcher gives no local rank.

    The first process of ``job`` on this host to lock a file in the temp dir measures it and
    gets the open file (to hold for the life of the run); the others get None. True: no lock
    could be taken, so this process measures, and a warning says it may count the node twice.
    """
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
