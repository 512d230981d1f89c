"""``track()``: options, plugins and ``Run`` put together."""
from __future__ import annotations

import time

from .core import Run
from .options import options

def track(func=None, *, clock=time.monotonic, **kwargs):
    """Measure a training: ``with track(...) as run:`` or ``@track(...)`` / ``@track``.

    Options: project, tags, interval (s, default 1, min 0.01), store (path), flush_interval (s),
    total and unit (for prediction), region / cloud / intensity / pue / prices / tariff (for
    CO2e and cost), budget_kwh / budget_co2e_kg / budget_usd with on_exceed ("warn"|"stop"),
    predict_every, prometheus_port / push_gateway, distributed ("auto", True, False),
    scope ("machine" or "process" for the modelled CPU), cpu (the CPU's model, where the machine
    hides it) / cpu_tdp_w (its package power, W), sysfs_root, gpus, run_id, quiet.
    Bad options raise ``wattprint.UsageError`` at once, before any training.
    """
    run = Run(options(**kwargs), clock=clock)
    if func is not None and callable(func):
        return run(func)
    return run
