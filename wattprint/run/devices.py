"""Which meters a run opens: those it was given, the enclosing run's, or what this machine has."""
from __future__ import annotations

import logging
import os

from . import nested

log = logging.getLogger("wattprint")


def open_meters(opts, placement, outer):
    """(meters, unavailable, discovery or None, record meta) for a run about to start."""
    if opts.meters is not None:
        return list(opts.meters), [], None, {}
    if outer is not None and outer.status == "running":
        return [nested.OuterRunMeter(outer)], [], None, {"nested_in": outer.run_id}
    from ..meters import discover

    found = discover(sysfs_root=opts.sysfs_root, gpus=opts.gpus and placement.measure_gpus,
                     cpu=placement.measure_host, gpu_indices=None,
                     cpu_model=opts.cpu, cpu_tdp_w=opts.cpu_tdp_w,
                     pid=os.getpid() if opts.scope == "process" else None)
    for u in found.unavailable:  # present but unusable: one line each, then go on
        if u.loud:
            fallback = " (modelled instead)" if u.source == "rapl" else ""
            log.warning("wattprint: %s: %s%s%s", u.source, u.reason, fallback,
                        f"; fix: {u.fix}" if u.fix else "")
    return found.meters, found.unavailable, found, {}
