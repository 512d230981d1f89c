"""Which plugins a run gets: each is imported only when its option asks for it."""
from __future__ import annotations

import os

from .options import Options

# Rank variables of torchrun, SLURM, Open MPI, MVAPICH and PMI (see plugins.distributed.roles).
LAUNCHER_RANK_VARS = ("RANK", "SLURM_PROCID", "OMPI_COMM_WORLD_RANK", "MV2_COMM_WORLD_RANK",
                      "PMI_RANK")


def plugins_for(opts: Options) -> list:
    """Optional behaviour, each in its own module, imported only when asked for."""
    plugins = []
    # Importing the distributed plugin costs ~10 ms: only where a launcher set its rank variables.
    if opts.distributed is True or (opts.distributed == "auto" and any(
            v in os.environ for v in LAUNCHER_RANK_VARS)):
        from ..plugins.distributed import DistributedPlugin, wanted

        if wanted(opts.distributed):
            plugins.append(DistributedPlugin())
    push = opts.push_gateway or os.environ.get("WATTPRINT_PUSHGATEWAY")
    if opts.prometheus_port is not None or push:
        from ..plugins.prometheus import PrometheusPlugin

        plugins.append(PrometheusPlugin(opts.prometheus_port, push))
    if opts.predict_every is not None or opts.total is not None or any(opts.budgets.values()):
        from ..plugins.forecast import ForecastPlugin

        plugins.append(ForecastPlugin(opts))
    if opts.log_to:
        from ..plugins.trackers import TrackersPlugin

        plugins.append(TrackersPlugin(opts.log_to))
    return plugins
