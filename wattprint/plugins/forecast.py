"""Forecasts and budgets: the plugin behind ``track(total=..., budget_kwh=..., ...)``.

At each ``run.progress()`` it checks the new row ``(t, done, energy_j)``. At fixed points (after the
first epoch, then every ``predict_every`` of the total) it predicts the whole run
(``wattprint.predict``), logs one line and stores the prediction with the run. Budgets are
checked at those points and at every 1 % of the total, in the training thread only:

* energy already spent above ``budget_kwh`` exceeds the budget at once;
* otherwise the *predicted* total (energy, CO2e or cost) exceeds it only once the prediction is
  reliable (see ``wattprint.predict``), so a warm-up spike cannot stop a run.

``on_exceed="warn"`` logs a warning once per budget; ``"stop"`` raises ``BudgetExceeded`` from
``progress()`` (once), which ``with track(...)`` records as status "stopped".
"""
from __future__ import annotations

import logging
import math
import sys

from ..errors import BudgetExceeded
from ..units import J_PER_KWH, printable

log = logging.getLogger("wattprint")

CHECK_EVERY = 0.01       # budgets are checked at every 1 % of the total
BUDGETS = (("budget_kwh", "energy_kwh", "kWh"), ("budget_co2e_kg", "co2e_kg", "kg CO2e"),
           ("budget_usd", "cost_usd", "USD"))


class ForecastPlugin:
    """Predictions at checkpoints, stored and logged; budget checks."""

    def __init__(self, opts):
        """``opts``: the run's checked ``Options`` (budgets and predict_every are valid)."""
        self.every = opts.predict_every
        self.budgets = opts.budgets
        self.on_exceed = opts.on_exceed
        self.quiet = opts.quiet
        self.prev: tuple | None = None  # the previous progress row (t, done, energy_j)
        self.next_log = self.every
        self.next_check = CHECK_EVERY
        self.first_epoch_logged = False
        self.fired: set[str] = set()
        self.warned: set[str] = set()
        self.last: object | None = None  # the last Prediction made

    # -- hooks ---------------------------------------------------------------------------
    def progressed(self, run, done, total) -> None:
        row = run.last_progress
        if row is None:
            return
        prev, self.prev = self.prev, row
        if prev is not None and row[1] < prev[1]:
            self._warn_once("backwards", f"wattprint: progress went backwards ({row[1]:g} after "
                            f"{prev[1]:g}); report cumulative work done. Prediction is unreliable")
        valid_total = isinstance(total, (int, float)) and math.isfinite(total) and total > 0
        if valid_total and done > total:
            self._warn_once("over", f"wattprint: done={done:g} exceeds total={total:g}; pass the "
                            "right total (progress(done, total=N)). Prediction is unreliable")
        spent_kwh = row[2] / J_PER_KWH
        b = self.budgets["budget_kwh"]
        if b is not None and spent_kwh > b and "budget_kwh" not in self.fired:
            self._exceeded(run, "budget_kwh", f"energy spent {spent_kwh:.4g} kWh exceeds "
                           f"budget_kwh={b:g}", self.last)
        if not valid_total:
            return
        frac = done / total
        pred = None
        if self.every is not None and (frac >= self.next_log - 1e-9 or self._first_epoch(run, done)):
            pred = self._predict(run)
            self._report(run, pred)
            self.next_log = (math.floor(frac / self.every + 1e-9) + 1) * self.every
        if any(v is not None for v in self.budgets.values()) and frac >= self.next_check - 1e-9:
            self.next_check = (math.floor(frac / CHECK_EVERY + 1e-9) + 1) * CHECK_EVERY
            self._check(run, pred or self._predict(run))

    def stopping(self, run) -> None:
        if run.last_progress is None and (run.total is not None or any(self.budgets.values())):
            self._warn_once("none", "wattprint: no progress was reported, so nothing was predicted "
                            "and no budget checked; call run.progress(done) as work completes")

    # -- internals -----------------------------------------------------------------------
    def _first_epoch(self, run, done) -> bool:
        if run.unit == "epoch" and not self.first_epoch_logged and done >= 1:
            self.first_epoch_logged = True
            return True
        return False

    def _predict(self, run):
        from ..predict import add_footprint, extrapolate

        pred = extrapolate(run.progress_rows(), run.total, unit=run.unit, resolution_s=run.interval)
        self.last = add_footprint(pred, run.location)
        return self.last

    def _report(self, run, pred) -> None:
        run.record_prediction(pred.t, pred.as_dict())
        line = "wattprint: " + printable(pred.line())
        if self.quiet:
            log.info(line)
        else:
            print(line, file=sys.stderr, flush=True)

    def _check(self, run, pred) -> None:
        if not pred.reliable:
            return
        for key, attr, unit in BUDGETS:
            limit = self.budgets[key]
            if limit is None or key in self.fired:
                continue
            value = getattr(pred, attr)
            if value is None:
                self._warn_once(key, f"wattprint: {key} cannot be checked: no {attr} was computed "
                                f"({'; '.join(pred.reasons) or 'missing location or prices'})")
                continue
            if value > limit:
                self._exceeded(run, key, f"predicted total {value:.4g} {unit} exceeds "
                               f"{key}={limit:g} (at {pred.fraction_done * 100:.0f} % done)", pred)

    def _exceeded(self, run, key, what, pred) -> None:
        self.fired.add(key)
        t = run.last_progress[0] if run.last_progress else 0.0
        data = dict(pred.as_dict()) if pred is not None else {}
        data["budget_exceeded"] = {"budget": key, "message": what, "action": self.on_exceed}
        run.record_prediction(t, data)
        if self.on_exceed == "stop":
            raise BudgetExceeded(f"wattprint: {what}; stopping (on_exceed='stop')", pred)
        log.warning("wattprint: %s (on_exceed='warn': the run goes on)", what)

    def _warn_once(self, key, msg) -> None:
        if key not in self.warned:
            self.warned.add(key)
            log.warning(msg)
