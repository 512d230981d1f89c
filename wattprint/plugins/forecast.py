"""Forecasts and budgets: the plugin behind ``track(total=..., budget_kwh=..., ...)``.

At each ``run.progress()`` it checks the new row ``(t, done, energy_j)``. At fixed points (after the
first epoch, then every ``predict_every`` of the total) it predicts the whole run
(``wattprint.predict``) and stores the prediction with the run. It prints one line when a
prediction first becomes reliable, then only when a new one's central value lies outside the
range of the last one printed; with ``verbose`` also, at most ``MAX_UNRELIABLE_LINES`` times,
that it is not yet reliable and why. A line never lands inside a progress bar: where tqdm has
bars on screen it goes through ``tqdm.write``. Budgets are checked at those points and at every
1 % of the total, in the training thread only:

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

from .. import fmt
from ..errors import BudgetExceeded
from ..units import J_PER_KWH, printable

log = logging.getLogger("wattprint")

CHECK_EVERY = 0.01       # budgets are checked at every 1 % of the total
MAX_UNRELIABLE_LINES = 2  # with verbose: "not yet reliable" lines in a run, at most
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
        self.verbose = bool(getattr(opts, "verbose", False))
        self.shown: tuple | None = None   # (low, high) kWh of the last reliable line printed
        self.unreliable_shown: list[tuple] = []  # the same for "not yet reliable" lines
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
            self._warn_once("backwards", f"wattprint: progress went backwards ({fmt.count(row[1])} "
                            f"after {fmt.count(prev[1])}); report cumulative work done. "
                            "Prediction is unreliable")
        valid_total = isinstance(total, (int, float)) and math.isfinite(total) and total > 0
        if valid_total and done > total:
            self._warn_once("over", f"wattprint: work done ({fmt.count(done)}) exceeds the total "
                            f"({fmt.count(total)}); pass the right total ("
                            + fmt.either(python="progress(done, total=N)", cli="--total N")
                            + "). Prediction is unreliable")
        spent_kwh = row[2] / J_PER_KWH
        b = self.budgets["budget_kwh"]
        if b is not None and spent_kwh > b and "budget_kwh" not in self.fired:
            self._exceeded(run, "budget_kwh", f"energy spent {fmt.energy(spent_kwh)} exceeds "
                           f"{_given('budget_kwh', b)}", self.last)
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
                            "and no budget checked; " + fmt.either(
                                python="call run.progress(done) as work completes",
                                cli="print 'epoch k/N' lines or write $WATTPRINT_PROGRESS_FILE "
                                    "(see docs/progress.md)"))

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
        run.record_prediction(pred.t, pred.as_dict())  # every checkpoint is stored
        if not self._worth_a_line(pred):
            return
        line = "wattprint: " + printable(pred.line(verbose=self.verbose))
        if self.quiet:
            log.info(line)
        else:
            say(line)

    def _worth_a_line(self, pred) -> bool:
        """The first reliable prediction, then one whose centre left the last printed range;
        none once the work is done."""
        if pred.energy_kwh is None or (pred.fraction_done or 0) >= 1:
            return False  # at the end the summary says what it took
        if pred.reliable:
            if self.shown is not None and self.shown[0] <= pred.energy_kwh <= self.shown[1]:
                return False
            self.shown = (pred.energy_kwh_low, pred.energy_kwh_high)
            return True
        seen = self.unreliable_shown
        if not self.verbose or self.shown is not None or len(seen) >= MAX_UNRELIABLE_LINES:
            return False
        if seen and seen[-1][0] <= pred.energy_kwh <= seen[-1][1]:
            return False
        seen.append((pred.energy_kwh_low, pred.energy_kwh_high))
        return True

    def _check(self, run, pred) -> None:
        if not pred.reliable:
            return
        for key, attr, unit in BUDGETS:
            limit = self.budgets[key]
            if limit is None or key in self.fired:
                continue
            value = getattr(pred, attr)
            if value is None:
                self._warn_once(key, f"wattprint: {fmt.opt(key).rstrip('=')} cannot be checked: "
                                f"no {attr} was computed "
                                f"({'; '.join(pred.reasons) or 'missing location or prices'})")
                continue
            if value > limit:
                self._exceeded(run, key, f"predicted total {fmt.plain(value)} {unit} exceeds "
                               f"{_given(key, limit)} (at {pred.fraction_done * 100:.0f} % done)",
                               pred)

    def _exceeded(self, run, key, what, pred) -> None:
        self.fired.add(key)
        t = run.last_progress[0] if run.last_progress else 0.0
        data = dict(pred.as_dict()) if pred is not None else {}
        data["budget_exceeded"] = {"budget": key, "message": what, "action": self.on_exceed}
        run.record_prediction(t, data)
        if self.on_exceed == "stop":
            raise BudgetExceeded(f"wattprint: {what}; stopping ({_given('on_exceed', 'stop')})", pred)
        log.warning("wattprint: %s (%s: the run goes on)", what, _given("on_exceed", "warn"))

    def _warn_once(self, key, msg) -> None:
        if key not in self.warned:
            self.warned.add(key)
            log.warning(msg)


def _given(name: str, value) -> str:
    """An option as the user set it: ``budget_kwh=2`` in Python, ``--budget-kwh 2`` on the CLI."""
    text = fmt.exact(value, sep=False) if isinstance(value, (int, float)) else str(value)
    if fmt.interface() == "cli":
        return f"{fmt.opt(name)} {text}"
    return f"{fmt.opt(name)}{text!r}" if isinstance(value, str) else f"{fmt.opt(name)}{text}"


def say(line: str) -> None:
    """Print a line on stderr without breaking a tqdm bar of this process: where tqdm has bars
    on screen, through ``tqdm.write``, which clears them, prints and draws them again."""
    tq = sys.modules.get("tqdm")
    cls = getattr(tq, "tqdm", None)
    # tqdm keeps its live bars in the class's ``_instances``; nothing public lists them
    if cls is not None and getattr(cls, "_instances", None):
        try:
            cls.write(line, file=sys.stderr)
            return
        except Exception:
            pass
    print(line, file=sys.stderr, flush=True)
