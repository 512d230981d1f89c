"""Thin adapters over ``Run``: framework callbacks, Jupyter, Prometheus.

The Lightning, Hugging Face and Keras callbacks share ``_Adapter``: start a run (or use the one
given), report the global step as progress, turn a budget stop into the framework's own graceful
stop flag (so checkpoints and teardown still run), and end the run with the right status.
Nothing here imports a framework; each callback module imports its own.
"""
from __future__ import annotations

import atexit
import logging
import math
import time
import weakref

from ..units import positive

log = logging.getLogger("wattprint")

# Steps faster than this are reported in batches: the sampler cannot resolve them anyway, and
# the training loop of a tiny model should not pay ~10 µs per step for it.
MIN_GAP_S = 0.01


class _Adapter:
    """Framework-neutral part of the callbacks."""

    def __init__(self, run=None, *, unit: str = "step", **track_options):
        self.run = run
        self.own = run is None
        self.unit = unit
        self.options = track_options
        self.stop_requested = False   # a budget asked the framework to stop
        self.budget_error = None
        self._last_done = None
        self._pending = None
        self._last_t = -math.inf

    # -- lifecycle ---------------------------------------------------------------------------
    def begin(self, total=None) -> None:
        total = total if _valid(total) else None
        if self.own:
            if self.run is not None and self.run.status == "running":
                return
            from ..run import track

            opts = dict(self.options)
            opts.setdefault("unit", self.unit)
            if total is not None and opts.get("total") is None:
                opts["total"] = total
            self.run = track(**opts)
            self.run.start()
            # A crash that skips the framework's end hook still closes the record.
            ref = weakref.ref(self)
            atexit.register(lambda: ref() is not None and ref().end("failed"))
        elif total is not None and self.run.total is None:
            self.run.total = total

    def progress(self, done, *, force: bool = False) -> bool:
        """Report work done; True once a budget wants the training stopped."""
        run = self.run
        if run is None or self.stop_requested or done == self._last_done:
            return self.stop_requested
        now = time.monotonic()
        if not force and now - self._last_t < MIN_GAP_S:
            self._pending = done
            return False
        self._last_done, self._pending, self._last_t = done, None, now
        from ..errors import BudgetExceeded

        try:
            run.progress(done)
        except BudgetExceeded as e:
            self.stop_requested, self.budget_error = True, e
            log.warning("%s; asking the trainer to stop", e)
        return self.stop_requested

    def flush(self) -> bool:
        """Report a step held back by MIN_GAP_S (at epoch and training end)."""
        if self._pending is not None and self.run is not None and self.run.status == "running":
            self.progress(self._pending, force=True)
        return self.stop_requested

    def end(self, status: str = "finished"):
        """Stop an owned run; returns its footprint (None if unavailable)."""
        run = self.run
        if run is None:
            return None
        self.flush()
        if self.stop_requested and status == "finished":
            status = "stopped"
        if self.own and run.status == "running":
            run.stop(status)
        if run.status == "running":
            return None
        try:
            return run.result
        except Exception as e:  # an unknown region must not fail the training at its end
            log.warning("wattprint: footprint not computed: %s", e)
            return None

    # -- what to log -------------------------------------------------------------------------
    def metrics(self) -> dict:
        """Energy so far and the prediction, as flat numbers for a framework's logger."""
        run = self.run
        if run is None or run.status != "running":
            return {}
        self.flush()
        out = {"wattprint/energy_kwh": run.energy().energy_kwh}
        try:
            p = run.predict()
        except Exception:
            return out
        if p.energy_kwh is not None and p.reliable:
            out["wattprint/predicted_kwh"] = p.energy_kwh
            out["wattprint/predicted_kwh_low"] = p.energy_kwh_low
            out["wattprint/predicted_kwh_high"] = p.energy_kwh_high
            if p.duration_s is not None:
                out["wattprint/predicted_s"] = p.duration_s
            if p.co2e_kg is not None:
                out["wattprint/predicted_co2e_kg"] = p.co2e_kg
        return out

    @staticmethod
    def final_metrics(fp) -> dict:
        if fp is None:
            return {}
        out = {"wattprint/energy_kwh": fp.energy_kwh, "wattprint/hours": fp.hours}
        if fp.co2e_kg is not None:
            out["wattprint/co2e_kg"] = fp.co2e_kg
        if fp.electricity_cost_usd is not None:
            out["wattprint/electricity_usd"] = fp.electricity_cost_usd
        return out


def _valid(total) -> bool:
    return total is not None and positive(total) is not None
