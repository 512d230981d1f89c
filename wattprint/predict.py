"""Predict a whole training's energy, time, CO2e and cost from its first part.

Input: progress rows ``(t, done, energy_j)`` (seconds since start, work done, cumulative joules)
and the total work. Method:

1. **Clean.** Rows whose ``done`` goes backwards are dropped (and reported); ``done`` above
   ``total`` and ``total`` <= 0 are reported. Any of these marks the prediction unreliable.
2. **Segment.** The rows, with the run's start ``(0, 0, 0)`` in front, are cut into at most
   ``MAX_SEGMENTS`` segments of about equal wall-clock length, each at least a few sampler
   intervals long so that the sampler's step-wise energy does not show as noise. For each
   segment: energy per unit of work ``dE/dn`` and time per unit ``dt/dn``.
3. **Warm-up.** The reference is the median of the later half of the segments, the spread
   their median absolute deviation (MAD). A segment whose energy or time per unit lies further
   than ``max(3.5 x 1.4826 MAD, 4 %)`` from the reference is an outlier; everything up to the
   last outlier in the earlier half is warm-up (compilation, data-loader start, cache fill, a
   first epoch drawing more power) and is left out.
4. **Rate.** On the stable part the rate is total energy over total work (the end-point slope,
   which for a steady process is the least noisy estimate); likewise seconds per unit.
5. **Extrapolate.** ``E = E_now + (total - done) x rate``; same for time.
6. **Range.** The rate's half-width is ``max(1.5 %, sqrt((2 t95 x s x sqrt(1/n + 1/m))^2 +
   drift^2))`` where ``s`` is the spread of the stable segments' rates, ``n`` their number,
   ``m`` the number of such segments the remaining work makes up, and ``drift`` the gap
   between the rate of the latest half of the stable part and the whole stable part (so a
   slowly changing rate widens the range). It applies only to the remaining work, so the range
   narrows as the run goes and closes at the end. With fewer than ``MIN_STABLE`` stable
   segments the half-width is at least 50 % of the rate.

A prediction is **reliable** when the input is clean, a total is known, at least ``MIN_STABLE``
segments follow the warm-up, at least ``MIN_FRACTION`` of the work is done, the stable part spans
at least five sampler intervals, and the range on the total is within +-15 %. Budgets act only on
reliable predictions (or on energy actually spent).
"""
from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass, field

from .units import J_PER_KWH, S_PER_H

MAX_SEGMENTS = 24
MIN_STABLE = 4
MIN_FRACTION = 0.02
WARMUP_MADS = 3.5
WARMUP_MIN_REL = 0.04
RATE_FLOOR_REL = 0.015
RELIABLE_REL_WIDTH = 0.15
# The range is 2 t95 wide: a budget needs it to hold the final value nearly always, not 95 %.
INTERVAL_T = 2.0
METHOD = ("warm-up excluded by MAD test on segment rates; end-point rate on the stable part; "
          "range from segment spread (t95) and drift")

# Two-sided 95 % Student t quantiles, df 1..10; beyond that 1.96 + 2.4/df is within 1 %.
_T95 = (12.71, 4.30, 3.18, 2.78, 2.57, 2.45, 2.36, 2.31, 2.26, 2.23)


def _t95(df: int) -> float:
    if df < 1:
        return _T95[0]
    return _T95[df - 1] if df <= len(_T95) else 1.96 + 2.4 / df


@dataclass
class Prediction:
    """The predicted whole-run totals. Energy is IT energy as measured (before PUE)."""

    energy_kwh: float | None = None
    energy_kwh_low: float | None = None
    energy_kwh_high: float | None = None
    duration_s: float | None = None
    duration_s_low: float | None = None
    duration_s_high: float | None = None
    fraction_done: float | None = None
    reliable: bool = False
    done: float | None = None
    total: float | None = None
    unit: str | None = None
    t: float = 0.0                    # seconds since start of the last progress row used
    energy_kwh_so_far: float = 0.0
    warmup_done: float = 0.0          # work (in units) left out as warm-up
    warmup_s: float = 0.0
    kwh_per_unit: float | None = None
    seconds_per_unit: float | None = None
    segments: int = 0                 # stable segments the rate rests on
    co2e_kg: float | None = None
    co2e_kg_low: float | None = None
    co2e_kg_high: float | None = None
    cost_usd: float | None = None
    cost_usd_low: float | None = None
    cost_usd_high: float | None = None
    pue: float | None = None
    problems: list[str] = field(default_factory=list)   # bad input, always warned about
    reasons: list[str] = field(default_factory=list)    # why not reliable
    method: str = METHOD

    def as_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        """One or two sentences: ``print(run.predict())``. The dataclass repr stays for debugging."""
        if self.energy_kwh is None:
            return f"No prediction yet: {self.short_reason() or 'no progress reported'}."
        text = f"Predicted total {self._totals()}"
        where = self._where()
        if where:
            text += f", {where}"
        if self.reliable:
            return text + "; reliable."
        return text + f"; not yet reliable: {self.short_reason()}."

    def line(self, verbose: bool = False) -> str:
        """One line for a log: ``at 40 % of 100 epochs: predicted total 1.2 kWh (1.0 - 1.4 kWh),
        3 h 20 min, 0.5 kg CO2e``; an unreliable one says so, with its reason when ``verbose``."""
        if self.energy_kwh is None:
            return f"no prediction yet: {self.short_reason() or 'no progress reported'}"
        where = self._where()
        text = (f"{where}: " if where else "") + f"predicted total {self._totals()}"
        if not self.reliable:
            text += " - not yet reliable" + (f" ({self.short_reason()})" if verbose else "")
        return text

    def short_reason(self) -> str:
        """The first reason the prediction is not reliable, or the first input problem."""
        for why in self.problems + self.reasons:
            if why != "bad input (see problems)":
                return why
        return ""

    def _totals(self) -> str:
        from . import fmt

        s = fmt.energy_scale(self.energy_kwh, self.energy_kwh_low, self.energy_kwh_high)
        parts = [s(self.energy_kwh)]
        if self.energy_kwh_low is not None and self.energy_kwh_high is not None \
                and self.energy_kwh_low != self.energy_kwh_high:
            parts[0] += f" ({s.range(self.energy_kwh_low, self.energy_kwh_high)})"
        if self.duration_s is not None:
            parts.append(fmt.duration(self.duration_s))
        if self.co2e_kg is not None:
            parts.append(f"{fmt.mass(self.co2e_kg)} CO2e")
        if self.cost_usd is not None:
            parts.append(fmt.usd(self.cost_usd_low, self.cost_usd_high)
                         if self.cost_usd_low is not None and self.cost_usd_high is not None
                         else fmt.usd(self.cost_usd))
        return ", ".join(parts)

    def _where(self) -> str:
        if self.fraction_done is None or self.total is None:
            return ""
        unit = self.unit or "unit"
        units = unit if self.total == 1 or unit.endswith("s") else unit + "s"
        return f"at {self.fraction_done * 100:.0f} % of {_work(self.total)} {units}"


def _work(x) -> str:
    """A count of work, or "?" when unknown."""
    from .fmt import count

    return "?" if x is None else count(x)


def clean(rows, total):
    """(points, total, problems): monotone finite points and a valid total (or None)."""
    problems: list[str] = []
    if total is not None:
        try:
            total = float(total)
        except (TypeError, ValueError):
            total = float("nan")
        if not (math.isfinite(total) and total > 0):
            problems.append(f"the total ({_work(total)}) is not a positive number; "
                            f"pass a total above 0 ({_total_option()})")
            total = None
    pts: list[tuple[float, float, float]] = []
    backwards = None
    last_t = last_d = -math.inf
    isfinite = math.isfinite
    for row in rows:
        try:
            t, d, e = float(row[0]), float(row[1]), float(row[2])
        except (TypeError, ValueError, IndexError):
            continue
        if not isfinite(t + d + e):  # nan or inf in any of them
            continue
        if d < last_d:
            backwards = backwards or (d, last_d)
            continue
        if t < last_t:
            continue
        pts.append((t, d, e))
        last_t, last_d = t, d
    if backwards:
        problems.append(f"progress went backwards ({_work(backwards[0])} after {_work(backwards[1])}); "
                        "report cumulative work done, e.g. the global step")
    if total is not None and pts and pts[-1][1] > total * (1 + 1e-9):
        problems.append(f"work done ({_work(pts[-1][1])}) exceeds the total ({_work(total)}); "
                        f"pass the right total ({_total_option()})")
    return pts, total, problems


def _how_to_report() -> str:
    from .fmt import either

    return either(python="call run.progress(done) as work completes",
                  cli="print 'epoch k/N' lines or write $WATTPRINT_PROGRESS_FILE (see docs/progress.md)")


def _how_to_give_total() -> str:
    from .fmt import either

    return either(python="pass track(total=N) or run.progress(done, total=N)",
                  cli="pass --total N, or print 'epoch k/N' lines")


def _total_option() -> str:
    from .fmt import either

    return either(python="total=", cli="--total")


def _segments(pts, resolution_s: float):
    """Boundaries (indices into pts) of ~equal-time segments, each with work done in it."""
    t0, t1 = pts[0][0], pts[-1][0]
    span = t1 - t0
    min_len = max(span / MAX_SEGMENTS, 3.0 * resolution_s)
    bounds = [0]
    for i in range(1, len(pts)):
        a = pts[bounds[-1]]
        if pts[i][0] - a[0] >= min_len - 1e-12 and pts[i][1] > a[1]:
            bounds.append(i)
    if bounds[-1] != len(pts) - 1:
        # The tail shorter than one segment joins the last segment.
        if len(bounds) > 1:
            bounds[-1] = len(pts) - 1
        elif pts[-1][1] > pts[0][1]:
            bounds.append(len(pts) - 1)
    return bounds


def _rate(pts, a, b, k):
    return (pts[b][k] - pts[a][k]) / (pts[b][1] - pts[a][1])


def extrapolate(rows, total, *, unit: str | None = None, resolution_s: float = 0.0) -> Prediction:
    """Predict from rows ``(t, done, energy_j)``. Never raises on bad data: see ``problems``."""
    pts, total, problems = clean(rows, total)
    p = Prediction(total=total, unit=unit, problems=problems)
    if not pts or pts[-1][1] <= 0:
        p.reasons.append("no progress reported; " + _how_to_report())
        return p
    if pts[0][1] > 0 and pts[0][0] > 0:
        pts.insert(0, (0.0, 0.0, 0.0))
    t_now, done, e_now = pts[-1]
    p.t, p.done, p.energy_kwh_so_far = t_now, done, e_now / J_PER_KWH
    if total is None:
        p.reasons.append("no total; " + _how_to_give_total())
        return p
    done_c = min(done, total)
    p.fraction_done = done_c / total
    remaining = total - done_c
    bounds = _segments(pts, resolution_s)
    segs = list(zip(bounds, bounds[1:]))
    if not segs:
        p.reasons.append("not enough progress yet")
        return p
    e_rates = [_rate(pts, a, b, 2) for a, b in segs]
    s_rates = [_rate(pts, a, b, 0) for a, b in segs]
    warm = _warmup(e_rates, s_rates)
    stable = segs[warm:]
    a0, b0 = stable[0][0], stable[-1][1]
    r_e = _rate(pts, a0, b0, 2)
    r_s = _rate(pts, a0, b0, 0)
    h_e = _half_width(pts, stable, e_rates[warm:], r_e, 2, remaining)
    h_s = _half_width(pts, stable, s_rates[warm:], r_s, 0, remaining)
    p.warmup_done, p.warmup_s = pts[a0][1], pts[a0][0]
    p.kwh_per_unit, p.seconds_per_unit = r_e / J_PER_KWH, r_s
    p.segments = len(stable)
    p.energy_kwh = (e_now + remaining * r_e) / J_PER_KWH
    p.energy_kwh_low = (e_now + remaining * max(r_e - h_e, 0.0)) / J_PER_KWH
    p.energy_kwh_high = (e_now + remaining * (r_e + h_e)) / J_PER_KWH
    p.duration_s = t_now + remaining * r_s
    p.duration_s_low = t_now + remaining * max(r_s - h_s, 0.0)
    p.duration_s_high = t_now + remaining * (r_s + h_s)

    if remaining <= 0:
        p.reliable = not problems
        if problems:
            p.reasons.append("bad input (see problems)")
        return p
    if problems:
        p.reasons.append("bad input (see problems)")
    if len(stable) < MIN_STABLE:
        p.reasons.append(f"only {len(stable)} steady segment(s) after warm-up; need {MIN_STABLE}")
    if p.fraction_done < MIN_FRACTION:
        p.reasons.append(f"under {MIN_FRACTION * 100:g} % of the work done")
    if resolution_s > 0 and pts[b0][0] - pts[a0][0] < 5 * resolution_s:
        p.reasons.append("steady part shorter than five sampler intervals")
    width = (p.energy_kwh_high - p.energy_kwh_low) / 2 / p.energy_kwh if p.energy_kwh > 0 else 1.0
    if width > RELIABLE_REL_WIDTH:
        p.reasons.append(f"range +-{width * 100:.0f} % is too wide")
    p.reliable = not p.reasons
    return p


def _warmup(e_rates, s_rates) -> int:
    """Number of leading segments that are warm-up (at most all but MIN_STABLE-1... one)."""
    n = len(e_rates)
    if n < 3:
        return 0
    later = slice(n // 2, n)

    def outlier_test(rates):
        ref = statistics.median(rates[later])
        mad = statistics.median(abs(r - ref) for r in rates[later])
        tol = max(WARMUP_MADS * 1.4826 * mad, WARMUP_MIN_REL * abs(ref))
        return lambda r: abs(r - ref) > tol

    off_e, off_s = outlier_test(e_rates), outlier_test(s_rates)
    # Warm-up ends after the last outlying segment of the earlier half: warm-up is not monotone
    # (a fast segment between compilation and a data-loader refill must not end it early).
    k = 0
    for j in range(n // 2):
        if off_e(e_rates[j]) or off_s(s_rates[j]):
            k = j + 1
    return k


def _half_width(pts, stable, rates, r, k, remaining) -> float:
    n = len(stable)
    if n >= 2:
        w = [pts[b][1] - pts[a][1] for a, b in stable]
        wsum = sum(w)
        var = sum(wi * (x - r) ** 2 for wi, x in zip(w, rates)) / wsum * n / (n - 1)
        # Error of the estimated rate, plus the spread the remaining work will itself show.
        future = max(remaining / (wsum / n), 1.0)
        se = math.sqrt(var * (1.0 / n + 1.0 / future))
        half = stable[len(stable) // 2:]
        drift = abs(_rate(pts, half[0][0], half[-1][1], k) - r)
        h = math.hypot(INTERVAL_T * _t95(n - 1) * se, drift)
    else:
        h = 0.0
    h = max(h, RATE_FLOOR_REL * abs(r))
    if n < MIN_STABLE:
        h = max(h, 0.5 * abs(r))
    return h


# -- footprint of a prediction ------------------------------------------------------------
def add_footprint(p: Prediction, location: dict | None) -> Prediction:
    """Fill CO2e and cost (with ranges) from the run's location, via the footprint model."""
    if p.energy_kwh is None or not location:
        return p
    try:
        from .footprint import for_energy
    except ImportError:
        return p
    try:
        fps = [for_energy(e, (d or 0.0) / S_PER_H, **location) for e, d in (
            (p.energy_kwh, p.duration_s), (p.energy_kwh_low, p.duration_s_low),
            (p.energy_kwh_high, p.duration_s_high))]
    except Exception as e:  # a bad location must not stop the training
        p.reasons.append(f"no CO2e/cost: {e}")
        return p
    mid, low, high = fps
    p.pue = mid.pue
    if mid.co2e_kg is not None:
        p.co2e_kg, p.co2e_kg_low, p.co2e_kg_high = mid.co2e_kg, low.co2e_kg, high.co2e_kg
    if mid.cost_usd_high is not None:  # cloud price per device-hour: the range is the price range
        lo = low.cost_usd_low if low.cost_usd_low is not None else low.cost_usd_high
        p.cost_usd = (mid.cost_usd_high + (mid.cost_usd_low if mid.cost_usd_low is not None
                                           else mid.cost_usd_high)) / 2
        p.cost_usd_low, p.cost_usd_high = lo, high.cost_usd_high
    elif mid.electricity_cost_usd is not None:
        p.cost_usd = mid.electricity_cost_usd
        p.cost_usd_low, p.cost_usd_high = low.electricity_cost_usd, high.electricity_cost_usd
    return p


# -- entry points ---------------------------------------------------------------------------
def predict_run(run, total=None) -> Prediction:
    """``run.predict()``: a live run's prediction from its progress so far."""
    p = extrapolate(run.progress_rows(), total if total is not None else run.total, unit=run.unit,
                 resolution_s=run.interval)
    return add_footprint(p, run.location)


def predict_stored(store, record, total=None) -> Prediction:
    """Prediction for a stored (or running) run, recomputed from its progress rows."""
    rows = store.progress(record.key)
    if total is None:
        total = next((tot for _, _, tot, _ in reversed(rows) if tot is not None), record.total)
    p = extrapolate([(t, d, e) for t, d, _, e in rows], total, unit=record.unit,
                 resolution_s=getattr(record, "interval_s", 0.0) or 0.0)
    return add_footprint(p, record.location)
