"""What every tracker does, and the metric names they all write (docs/trackers.md).

A tracker attaches to the library's active run (or starts one), writes metric points, and at
the end writes the summary and the report files. It imports its library in ``open()`` only.
"""
from __future__ import annotations

# Stable names: dashboards and queries depend on them. Energy is IT energy (before PUE), as
# stored; CO2e includes PUE and needs a location; the prediction appears once it is reliable.
ENERGY = "wattprint/energy_kwh"
POWER = "wattprint/power_w"
CO2E = "wattprint/co2e_kg"
PREDICTED = "wattprint/predicted_energy_kwh"
PREDICTED_LOW = PREDICTED + "_low"
PREDICTED_HIGH = PREDICTED + "_high"
METRICS = (ENERGY, POWER, CO2E, PREDICTED, PREDICTED_LOW, PREDICTED_HIGH)
STEP = "wattprint/step"  # W&B: the x-axis of the metrics above (its own step belongs to the user)


class Tracker:
    """One tracker's run. Any method may raise: the plugin logs it once and drops the tracker."""

    name = "tracker"
    started = False  # True when this tracker started the run itself (then it also ends it)

    def open(self, run) -> str:
        """Attach to the active run or start one; return a few words saying which."""
        raise NotImplementedError

    def log(self, metrics: dict, step: int) -> None:
        """One point of each metric at the training's ``step``."""
        raise NotImplementedError

    def finish(self, summary: dict, files: list) -> None:
        """The footprint summary (flat name -> str or number) and report files (paths)."""
        raise NotImplementedError

    def close(self) -> None:
        """Flush; end the run only if this tracker started it."""

