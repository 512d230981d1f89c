"""Parse and format quantities with units: intensity, duration, power, energy, mass.

Internal units: g CO2e/kWh for intensity, hours for duration, watts for power, kWh, kg.
Every parser raises ``UsageError`` with a one-line hint on bad input.
"""
from __future__ import annotations

import math
import re
import time

from .errors import UsageError
from .fmt import exact

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
_WATTS = {"w": 1.0, "kw": 1e3, "mw": 1e6, "gw": 1e9}

# The largest values wattprint accepts: far above any real training, far below float overflow,
# so that every product of them (hours x watts x devices x runs x PUE x intensity) stays finite.
MAX_HOURS = 1e8            # 11,000 years: device-hours of the largest trainings, given as hours
MAX_POWER_W = 1e10         # 10 GW, ten of the largest data centres
MAX_INTENSITY = 1e6        # g CO2e/kWh: a tonne, a thousand times the dirtiest grids
MAX_COUNT = 1e7            # devices in one job
MAX_RUNS = 1e6             # trainings in one estimate
MAX_PUE = 10.0             # the worst data centres measured are near 3
MAX_WORK = 1e18            # units of work in a total (steps, tokens, samples)
TINY = 1e-100              # below this a nonzero input is a typo, not a measurement


def _split(text, what: str, example: str) -> tuple[float, str]:
    if isinstance(text, bool):
        raise UsageError(f"{what}: expected a number, got {text!r} (e.g. {example})")
    if isinstance(text, (int, float)):
        return float(text), ""
    m = _NUM.match(str(text))
    if not m:
        raise UsageError(f"{what}: cannot read {shown(text)}; write it like {example}")
    return float(m.group(1)), m.group(2).replace(" ", "")


def check_positive(value: float, what: str, *, allow_zero: bool = False) -> float:
    """Reject NaN, infinity, negatives (and zero unless allowed), and absurdly small values."""
    if isinstance(value, bool):
        raise UsageError(f"{what}: expected a number, got {value!r}")
    try:
        value = float(value)
    except (TypeError, ValueError, OverflowError):
        raise UsageError(f"{what}: expected a number, got {shown(value)}") from None
    if math.isnan(value) or math.isinf(value):
        raise UsageError(f"{what}: must be a finite number, got {value}")
    if value < 0 or (value == 0 and not allow_zero):
        raise UsageError(f"{what}: must be {'zero or more' if allow_zero else 'more than zero'}, got {exact(value)}")
    if 0 < value < TINY:
        raise UsageError(f"{what}: {exact(value)} is too small to be meant (the least is {exact(TINY)}); check the value")
    return value + 0.0  # -0.0 becomes 0.0


def check_range(value: float, what: str, highest: float, unit: str = "", *, lowest: float | None = None,
                allow_zero: bool = False, whole: bool = False, why: str = "") -> float:
    """``check_positive`` plus an upper bound (``why`` says what the bound stands for), an
    optional lower bound, and whole numbers when ``whole``."""
    v = check_positive(value, what, allow_zero=allow_zero)
    u = f" {unit}" if unit else ""
    if v > highest:
        raise UsageError(f"{what}: {exact(v)}{u} is more than {exact(highest)}{u}, the most wattprint accepts"
                         + (f" ({why})" if why else "") + "; check the value")
    if lowest is not None and v < lowest and not (allow_zero and v == 0):
        raise UsageError(f"{what}: must be at least {exact(lowest)}{u}, got {exact(v)}")
    if whole and v != int(v):
        raise UsageError(f"{what}: expected a whole number, got {exact(v)}")
    return v


def check_finite_tree(obj, what: str = "result") -> None:
    """Refuse a result holding a non-finite number (before any of it is printed)."""
    stack = [(what, obj)]
    while stack:
        path, o = stack.pop()
        if isinstance(o, float) and not math.isfinite(o):
            raise UsageError(f"{path} is not a finite number ({o}): an input is too large; use smaller values")
        if isinstance(o, dict):
            stack.extend((f"{path}.{k}" if path else str(k), v) for k, v in o.items())
        elif isinstance(o, (list, tuple)):
            stack.extend((f"{path}[{i}]", v) for i, v in enumerate(o))


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
            raise UsageError(f"{what}: unknown unit {shown(unit)}; use g/kWh, kg/kWh, t/kWh, lb/kWh or lb/MWh")
        value = value * _MASS_G[mass] / _ENERGY_KWH[energy]
    return check_range(value, what, MAX_INTENSITY, "g/kWh", allow_zero=True,
                       why="a thousand times the dirtiest grids")


def parse_duration(text, what: str = "duration") -> float:
    """'3.3d', '79.2h', '90m', '45s', bare number = hours -> hours."""
    value, unit = _split(text, what, "79.2h or 3.3d")
    if unit:
        factor = _HOURS.get(unit.lower())
        if factor is None:
            raise UsageError(f"{what}: unknown unit {shown(unit)}; use s, m, h, d, w or y")
        value *= factor
    return check_range(value, what, MAX_HOURS, "h", why="11,000 years")


def parse_power(text, what: str = "power") -> float:
    """'1.5kW', '250W', bare number = watts -> watts."""
    value, unit = _split(text, what, "250W or 1.5kW")
    if unit:
        factor = _WATTS.get(unit.lower())
        if factor is None:
            raise UsageError(f"{what}: unknown unit {shown(unit)}; use W, kW, MW or GW")
        value *= factor
    return check_range(value, what, MAX_POWER_W, "W", why="10 GW, ten of the largest data centres")


# ------------------------------------------------------------------ user strings

_CONTROLS = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def printable(text) -> str:
    """``text`` safe for a terminal: C0/C1 control characters (ESC, BEL, newline, ...),
    bidirectional overrides and undecodable bytes (lone surrogates) become visible escapes such
    as ``\\x1b``; tab and all else stay."""
    s = "" if text is None else str(text)
    return _CONTROLS.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                         else f"\\u{ord(m.group()):04x}", s)


def shown(value, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters for an error message (its length said)."""
    r = repr(value)
    if len(r) <= limit:
        return r
    n = len(value) if isinstance(value, str) else len(r)
    return f"{r[:limit - 20]}...{r[-8:]} ({n:,} characters)"


RUN_ID_MAX = 128
_RUN_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def check_run_id(value, what: str = "run id") -> str:
    """A run id a user gives: letters, digits, '-', '_' and '.', not starting with '.' or '-', at
    most RUN_ID_MAX characters (it becomes part of file names, URLs and terminal lines)."""
    if not isinstance(value, str):
        raise UsageError(f"{what}: expected text, got {type(value).__name__}")
    if not value:
        raise UsageError(f"{what}: empty; give letters, digits, '-', '_' or '.', or leave it out for a new id")
    if len(value) > RUN_ID_MAX:
        raise UsageError(f"{what}: {len(value)} characters, at most {RUN_ID_MAX}; choose a shorter id")
    if not _RUN_ID.fullmatch(value):
        bad = next((c for c in value if not (c.isascii() and (c.isalnum() or c in "_.-"))), value[0])
        where = "start with" if bad == value[0] and bad in ".-" else "contain"
        raise UsageError(f"{what} {shown(value)} may not {where} {bad!r}: use letters, digits, '-', '_' "
                         "and '.' (not first)")
    return value


def check_url(value, what: str = "URL") -> str:
    """An http(s) URL a user gives (e.g. a Pushgateway); 'host:9091' means http://host:9091."""
    from urllib.parse import urlsplit

    text = str(value or "").strip()
    if not text:
        raise UsageError(f"{what}: empty; give a URL such as http://pushgateway:9091")
    full = text if "://" in text else "http://" + text
    try:
        u = urlsplit(full)
        u.port  # noqa: B018 - raises on a port that is not a number 0-65535
    except ValueError as e:
        raise UsageError(f"{what} {shown(value)} is not a URL ({e}); write it like http://pushgateway:9091") from None
    if u.scheme not in ("http", "https") or not u.hostname or any(c.isspace() or not c.isprintable() for c in full):
        raise UsageError(f"{what} {shown(value)} is not an http(s) URL with a host; write it like "
                         "http://pushgateway:9091")
    return full
