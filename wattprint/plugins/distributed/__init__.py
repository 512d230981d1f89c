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

Modules: ``roles`` (launcher roles, ids, measurer election), ``collectives`` (torch.distributed),
``plugin`` (:class:`~.plugin.DistributedPlugin`), ``jobs`` (job records). Use :func:`countable`
to sum records without counting a job twice.
"""
from .jobs import countable
from .roles import detect, wanted

__all__ = ["DistributedPlugin", "countable", "detect", "wanted"]


def __getattr__(name):
    # The plugin needs the run package; readers of records (campaign, merge) do not.
    if name == "DistributedPlugin":
        from .plugin import DistributedPlugin

        return DistributedPlugin
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
