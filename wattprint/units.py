"""Parse and format quantities with units: intensity, duration, power, energy, mass.

Internal units: g CO2e/kWh for intensity, hours for duration, watts for power, kWh, kg.
Every parser raises ``UsageError`` with a one-line hint on bad input.
"""
from __future__ import annotations

import math
import re
import time

from .errors import UsageError

LB_KG = 0.45359237
J_PER_KWH = 3.6e6
J_PER_WH = 3600.0
S_PER_H = 3600.0

_NUM = re.compile(r"^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*(.*?)\s*$")

# mass unit -> grams (per kWh in intensity strings)
_MASS_G = {"g": 1.0, "kg": 1e3, "t": 1e6, "tonne": 1e6, "lb": LB_KG * 1e3, "lbs": LB_KG * 1e3, "mg": 1e-3}
_ENERGY_KWH = {"kwh": 1.0, "mwh": 1e3, "wh": 1e-3, "gwh": 1e6}
_HOURS = {"s": 1 / 3600, "sec": 1 / 3600, "m": 1 / 60, "min": 1 / 60, "h": 1.0, "hr": 1.0, "hours": 1.0,
          "d": 24.0, "day": 24.0, "days": 24.0, "w": 168.0, "wk": 168.0, "y": 8760.0, "yr": 8760.0}
_WATTS = {"w": 1.0, "kw": 1e3, "mw": 1e6}


def _split(text, what: str, example: str) -> tuple[float, str]:
    if isinstance(text, bool):
        raise UsageError(f"{what}: expected a number, got {text!r} (e.g. {example})")
    if isinstance(text, (int, float)):
        return float(text), ""
    m = _NUM.match(str(text))
    if not m:
        raise UsageError(f"{what}: cannot read {text!r}; write it like {example}")
    return float(m.group(1)), m.group(2).replace(" ", "")


def check_positive(value: float, what: str, *, allow_zero: bool = False) -> float:
    """Reject NaN, infinity, negatives (and zero unless allowed)."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise UsageError(f"{what}: expected a number, got {value!r}") from None
    if math.isnan(value) or math.isinf(value):
        raise UsageError(f"{what}: must be a finite number, got {value}")
    if value < 0 or (value == 0 and not allow_zero):
        raise UsageError(f"{what}: must be {'zero or more' if allow_zero else 'more than zero'}, got {value:g}")
    return value


def positive_or_none(name: str, value) -> float | None:
    """An optional option: None passes, anything else must be a finite number above zero."""
    if value is None:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise UsageError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v) or v <= 0:
        raise UsageError(f"{name} must be a positive number, got {value!r}")
    return v


def positive(value) -> float | None:
    """``value`` as a float if it is a finite number above zero, else None (never raises):
    for values from a running training, which are warned about, not raised on."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) and v > 0 else None


def iso_time(t: float | None) -> str | None:
    """Epoch seconds as 'YYYY-MM-DDTHH:MM:SSZ' (UTC); the one ISO format of stored and exported times."""
    if t is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def parse_intensity(text, what: str = "intensity") -> float:
    """'0.954lb/kWh', '429g/kWh', '0.429kg/kWh', '0.000429t/kWh', '429' -> g CO2e/kWh."""
    value, unit = _split(text, what, "429g/kWh or 0.954lb/kWh")
    if unit:
        u = unit.lower().replace("co2e", "").replace("co2", "")
        mass, _, energy = u.partition("/")
        if mass not in _MASS_G or energy not in _ENERGY_KWH:
            raise UsageError(f"{what}: unknown unit {unit!r}; use g/kWh, kg/kWh, t/kWh, lb/kWh or lb/MWh")
        value = value * _MASS_G[mass] / _ENERGY_KWH[energy]
    return check_positive(value, what, allow_zero=True)


def parse_duration(text, what: str = "duration") -> float:
    """'3.3d', '79.2h', '90m', '45s', bare number = hours -> hours."""
    value, unit = _split(text, what, "79.2h or 3.3d")
    if unit:
        factor = _HOURS.get(unit.lower())
        if factor is None:
            raise UsageError(f"{what}: unknown unit {unit!r}; use s, m, h, d, w or y")
        value *= factor
    return check_positive(value, what)


def parse_power(text, what: str = "power") -> float:
    """'1.5kW', '250W', bare number = watts -> watts."""
    value, unit = _split(text, what, "250W or 1.5kW")
    if unit:
        factor = _WATTS.get(unit.lower())
        if factor is None:
            raise UsageError(f"{what}: unknown unit {unit!r}; use W, kW or MW")
        value *= factor
    return check_positive(value, what)


def _sig(x: float) -> str:
    """Three significant figures, no exponent for everyday sizes."""
    if x == 0:
        return "0"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    digits = max(0, 2 - int(math.floor(math.log10(abs(x)))))
    return f"{x:.{digits}f}"


def fmt_number(x: float) -> str:
    """Three significant figures, thousands separated."""
    return _sig(x)


def _scaled(x: float, steps: list[tuple[float, str]]) -> str:
    for size, unit in steps:
        if abs(x) >= size:
            return f"{_sig(x / size)} {unit}"
    size, unit = steps[-1]
    return f"{_sig(x / size)} {unit}"


def fmt_energy(kwh: float) -> str:
    return _scaled(kwh, [(1e6, "GWh"), (1e3, "MWh"), (1.0, "kWh"), (1e-3, "Wh"), (1e-3 / 3600, "J")])


def fmt_mass(kg: float) -> str:
    return _scaled(kg, [(1e3, "t"), (1.0, "kg"), (1e-3, "g")])


def fmt_power(w: float) -> str:
    return _scaled(w, [(1e6, "MW"), (1e3, "kW"), (1.0, "W"), (1e-3, "mW")])


def fmt_duration(seconds: float) -> str:
    s = float(seconds)
    if s < 60:
        return f"{_sig(s)} s"
    if s < 3600:
        return f"{int(s // 60)} min {int(s % 60)} s"
    if s < 86400 * 2:
        return f"{int(s // 3600)} h {int(s % 3600 // 60)} min"
    return f"{_sig(s / 86400)} d"
