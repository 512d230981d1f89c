"""The plugin contract: how optional behaviour (forecasts and budgets, distributed totals,
Prometheus, a sweep or tracker integration) hooks into a run.

A plugin is any object with some of the hooks below; the run calls them in order, on the
thread named. A plugin sees the run only through its public surface (``run.options``,
``run.run_id``, ``run.status``, ``run.domains``, ``run.counted``, ``run.energy()``,
``run.power()``, ``run.last_progress``, ``run.progress_rows()``, ``run.started_at``,
``run.elapsed()``, ``run.interval``, ``run.placement``, ``run.rank``, ``run.store``, and after
the final write ``run.record`` and ``run.result``; it writes through ``run.update_record()``,
``run.record_prediction()``, ``run.represent()``) and never reads another plugin.

A hook that raises is logged once and ignored, so a plugin cannot stop the training. Two
exceptions propagate by design: ``UsageError`` from ``configure`` (a bad option, before any
training) and ``BudgetExceeded`` from ``progressed`` (a budget asked to stop, in the training
thread).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class Placement:
    """Where this process stands in a job, and so what it measures and how its record is named.

    Returned by a plugin's ``configure``; ``None`` fields keep the run's own value.
    """

    run_id: str | None = None        # the record id (ranks: <job>.n<node>.r<rank>)
    job_id: str | None = None
    node: str | None = None
    rank: int | None = None
    local_rank: int | None = None
    measure_host: bool = True        # CPU, DRAM, psys of this node
    measure_gpus: bool = True        # the GPUs this process sees
    quiet: bool | None = None        # True: print no end-of-run summary (ranks other than 0)


@runtime_checkable
class Plugin(Protocol):
    """All hooks are optional; implement the ones you need."""

    def configure(self, run) -> Placement | None:
        """Before the store and meters open (training thread). May return a Placement."""

    def started(self, run) -> None:
        """Meters open and the record created (training thread)."""

    def progressed(self, run, done: float, total: float | None) -> None:
        """After each ``run.progress()`` (training thread); may raise ``BudgetExceeded``."""

    def window_closed(self, run, measurement) -> None:
        """After each window ends (the thread that ended it)."""

    def stopping(self, run) -> None:
        """Final energy known (``run.energy()``), before the final write (training thread)."""

    def stopped(self, run) -> None:
        """After the final write (training thread)."""


HOOKS = ("configure", "started", "progressed", "window_closed", "stopping", "stopped")
