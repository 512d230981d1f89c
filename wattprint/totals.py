"""Adding up runs: the one rule by which `wattprint campaign` and reports total several runs.

``accumulate(into, record, fp)`` adds one run to a total: campaign's ``Level`` or the report's
``Totals``, or any object with their fields runs, energy_kwh_it, energy_kwh, co2e_kg, co2e_runs,
cost_usd_low, cost_usd_high and electricity_cost_usd (the money ones start as None: unknown):

- runs, IT energy (``record.energy_kwh``) and facility energy (the footprint's, PUE included;
  the IT energy when the run has no footprint) are always added;
- CO2e is added for runs that have it, and ``co2e_runs`` counts them, so a total can say how
  many runs its CO2e covers; it stays None while no run has one;
- cloud cost is a range. The high end adds each run's on-demand price. The low end adds each
  run's pre-emptible/spot price, and **a run with no spot price adds its on-demand price to the
  low end too**: the cheapest way known to buy that run is on demand. (Leaving it out would
  make the low end claim the run was free.) A run with no price at all adds to neither end;
- electricity cost is added for runs that have a tariff.
"""
from __future__ import annotations


def _plus(total: float | None, value: float | None) -> float | None:
    if value is None:
        return total
    return value if total is None else total + value


def accumulate(into, record, fp) -> None:
    """Add one run (a stored ``RunRecord`` and its ``Footprint``, or None) to ``into``."""
    into.runs += 1
    into.energy_kwh_it += record.energy_kwh
    into.energy_kwh += fp.energy_kwh if fp is not None else record.energy_kwh
    if fp is None:
        return
    if fp.co2e_kg is not None:
        into.co2e_runs += 1
        into.co2e_kg = _plus(into.co2e_kg, fp.co2e_kg)
    low = fp.cost_usd_low if fp.cost_usd_low is not None else fp.cost_usd_high  # no spot price: on-demand
    into.cost_usd_low = _plus(into.cost_usd_low, low)
    into.cost_usd_high = _plus(into.cost_usd_high, fp.cost_usd_high)
    into.electricity_cost_usd = _plus(into.electricity_cost_usd, fp.electricity_cost_usd)

