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

``Footprints`` gives many runs' footprints fast: at one location a footprint is linear in IT
energy and hours (CO2e, facility energy and electricity are per kWh, cloud cost per hour), so
it evaluates ``footprint.for_energy`` three times per location and the rest is arithmetic. It
checks that the model is linear there and calls the model for every sum where it is not.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

# what a sum of runs takes from a footprint
FIELDS = ("energy_kwh", "co2e_kg", "cost_usd_low", "cost_usd_high", "electricity_cost_usd")


@dataclass(frozen=True)
class Sums:
    """A footprint's additive figures (``FIELDS``; None: not known at that location)."""
    energy_kwh: float
    co2e_kg: float | None
    cost_usd_low: float | None
    cost_usd_high: float | None
    electricity_cost_usd: float | None


def _plus(total: float | None, value: float | None) -> float | None:
    if value is None:
        return total
    return value if total is None else total + value


def accumulate(into, record, fp) -> None:
    """Add one run (a stored ``RunRecord`` and its ``Footprint``, or None) to ``into``."""
    add(into, 1, record.energy_kwh, fp)


def add(into, runs: int, energy_kwh_it: float, fp) -> None:
    """Add ``runs`` runs of one location at once: their IT energy and their summed footprint
    (a ``Footprint`` or ``Sums``; None: energy only), by the rule above."""
    into.runs += runs
    into.energy_kwh_it += energy_kwh_it
    into.energy_kwh += fp.energy_kwh if fp is not None else energy_kwh_it
    if fp is None:
        return
    if fp.co2e_kg is not None:
        into.co2e_runs += runs
        into.co2e_kg = _plus(into.co2e_kg, fp.co2e_kg)
    low = fp.cost_usd_low if fp.cost_usd_low is not None else fp.cost_usd_high  # no spot price: on-demand
    into.cost_usd_low = _plus(into.cost_usd_low, low)
    into.cost_usd_high = _plus(into.cost_usd_high, fp.cost_usd_high)
    into.electricity_cost_usd = _plus(into.electricity_cost_usd, fp.electricity_cost_usd)



class Footprints:
    """Footprints of many runs, computed once per location. ``at(location, kwh_it, hours)``
    gives ``Sums`` for that energy and time there, or raises what ``for_energy`` raises (a
    location it cannot use; a negative or non-finite input); ``sources(location)``."""

    def __init__(self):
        self._linear: dict = {}

    @staticmethod
    def key(location):
        """A location's key in the cache: its items, however they were ordered."""
        items = dict(location or {}).items()
        try:
            return frozenset(items)
        except TypeError:  # a value that cannot be hashed (a dict of prices)
            return repr(sorted(items))

    def _model(self, location):
        k = self.key(location)
        if k not in self._linear:
            try:
                self._linear[k] = _Linear(dict(location or {}))
            except Exception as e:  # kept: every run there gets the same answer
                self._linear[k] = e
        m = self._linear[k]
        if isinstance(m, Exception):
            raise m.with_traceback(None)  # not a traceback that grows with every run there
        return m

    def at(self, location, kwh_it: float, hours: float) -> Sums:
        return self._model(location).at(kwh_it, hours)

    def sources(self, location) -> list:
        return self._model(location).sources

    def linear(self, location) -> bool:
        """Whether sums there may be computed at once (a location the model refuses: yes, as
        every run there gets the same answer)."""
        try:
            return self._model(location).linear
        except Exception:
            return True

    def pue(self, location) -> float:
        """Facility energy per kWh of IT energy there (1 where the location is unusable)."""
        try:
            return self._model(location).per_kwh["energy_kwh"]
        except Exception:
            return 1.0


class _Linear:
    def __init__(self, location: dict):
        from .footprint import for_energy

        self.location = location
        a, b, c = (for_energy(e, h, equivalents=False, **location) for e, h in ((1.0, 1.0), (2.0, 1.0), (1.0, 2.0)))
        self.sources = a.sources
        self.per_kwh, self.per_hour, self.linear = {}, {}, True
        for f in FIELDS:
            va, vb, vc = getattr(a, f), getattr(b, f), getattr(c, f)
            if va is None:
                self.per_kwh[f] = self.per_hour[f] = None
                continue
            self.per_kwh[f], self.per_hour[f] = vb - va, vc - va
            if not math.isclose(va, vb - va + vc - va, rel_tol=1e-9, abs_tol=1e-12):
                self.linear = False  # a model with a fixed part: no shortcut

    def at(self, kwh_it: float, hours: float) -> Sums:
        if not self.linear or not (kwh_it >= 0 and hours >= 0 and math.isfinite(kwh_it + hours)):
            from .footprint import for_energy  # the model itself: its answer, or its error

            fp = for_energy(kwh_it, hours, equivalents=False, **self.location)
            return Sums(*(getattr(fp, f) for f in FIELDS))
        return Sums(*(None if self.per_kwh[f] is None else self.per_kwh[f] * kwh_it + self.per_hour[f] * hours
                      for f in FIELDS))
