"""``track()``: options, plugins and ``Run`` put together."""
from __future__ import annotations

import time

from .core import Run
from .options import checked_keywords, options


@checked_keywords
def track(func=None, *, project=None, tags=None, interval=1.0, store=None, flush_interval=5.0,
          total=None, unit="step", region=None, cloud=None, intensity=None, net_intensity=None,
          pue=None, prices=None, tariff=None, hardware=None, budget_kwh=None, budget_co2e_kg=None,
          budget_usd=None, on_exceed="warn", predict_every=0.1, prometheus_port=None,
          push_gateway=None, distributed="auto", scope="machine", sysfs_root=None, gpus=True,
          cpu=None, cpu_tdp_w=None, run_id=None, command=None, quiet=False, verbose=False,
          meters=None, log_to=None, clock=time.monotonic):
    """Measure a training: ``with track(...) as run:``, ``@track(...)`` or ``@track``.

    What the run is:
      project, tags       names to group runs by (``wattprint runs``, campaigns, reports)
      run_id              the id to store the run under (default: a fresh one)
      store               the run store's path (default: $WATTPRINT_STORE or .wattprint/runs.sqlite)
      command             the command line recorded with the run (default: sys.argv)
    Sampling:
      interval            seconds between meter readings (default 1, at least 0.01)
      flush_interval      seconds between writes to the store (default 5)
      scope               "machine" (default) or "process": what the modelled CPU counts
      gpus                False to leave the GPUs out
      cpu, cpu_tdp_w      the CPU's model, or its package power in W, where the machine hides it
      sysfs_root, meters  other meters than this machine's (tests, embedding)
    Where and what it costs (CO2e and cost):
      region, cloud, intensity, net_intensity, pue, prices, tariff, hardware
    Progress, prediction and budgets:
      total, unit         the work to do (e.g. 40, "epoch"), for predictions
      predict_every       predict every this fraction of ``total`` (default 0.1; None: never)
      budget_kwh, budget_co2e_kg, budget_usd, on_exceed ("warn" or "stop")
      verbose             also say when a prediction is not yet reliable, and why
    Elsewhere:
      prometheus_port, push_gateway   serve or push metrics to Prometheus
      log_to              experiment trackers: "mlflow", "wandb", "tensorboard:DIR", a
                          SummaryWriter, or a list; energy, power, CO2e and the prediction as
                          metrics, the footprint and reports at the end (docs/trackers.md)
      distributed         "auto" (default), True or False
      quiet               print no summary at the end
      clock               monotonic seconds (tests advance it instead of sleeping)

    A bad option raises ``wattprint.UsageError`` at once, before any training; an unknown one
    (a typo) names the closest option.
    """
    run = Run(options(
        project=project, tags=tags, interval=interval, store=store, flush_interval=flush_interval,
        total=total, unit=unit, region=region, cloud=cloud, intensity=intensity,
        net_intensity=net_intensity, pue=pue, prices=prices, tariff=tariff, hardware=hardware,
        budget_kwh=budget_kwh, budget_co2e_kg=budget_co2e_kg, budget_usd=budget_usd,
        on_exceed=on_exceed, predict_every=predict_every, prometheus_port=prometheus_port,
        push_gateway=push_gateway, distributed=distributed, scope=scope, sysfs_root=sysfs_root,
        gpus=gpus, cpu=cpu, cpu_tdp_w=cpu_tdp_w, run_id=run_id, command=command, quiet=quiet,
        verbose=verbose, meters=meters, log_to=log_to), clock=clock)
    if func is not None and callable(func):
        return run(func)
    return run
