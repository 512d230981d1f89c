"""How numbers and hints are said to a person: plain numbers, one unit per quantity per view,
and option names in the language of the interface in use.

Numbers. Human output never uses scientific notation: ``plain(0.0000234)`` is ``0.0000234``,
``plain(1.2e15)`` is ``1,200,000,000,000,000``. Three significant figures, thousands separated.

One unit per view. A table or a report shows each quantity in one unit, chosen from the largest
value it shows: ``s = energy_scale(kwh_values)`` then ``s(x)`` gives ``"24.3 Wh"`` for every
row, and ``s.unit`` names the column. A value too small to show in that unit reads
``"<0.001 Wh"``, never ``"0.000000"``. A lone value picks its own unit (``energy(x)``).

Wording. The library and the CLI share messages, but each speaks its own language:
``opt("pue")`` is ``pue=`` in Python and ``--pue`` on the command line (the CLI's ``main()`` switches
with ``use("cli")`` and back when it returns), and ``either(python=..., cli=...)`` picks a whole phrase.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

J_PER_KWH = 3.6e6
SMALLEST = 0.001  # in a view's unit: below it a value reads "<0.001 unit"

ENERGY = ((1e6, "GWh"), (1e3, "MWh"), (1.0, "kWh"), (1e-3, "Wh"), (1 / J_PER_KWH, "J"))
MASS = ((1e3, "t"), (1.0, "kg"), (1e-3, "g"), (1e-6, "mg"))
POWER = ((1e6, "MW"), (1e3, "kW"), (1.0, "W"), (1e-3, "mW"))


def plain(x: float, digits: int = 3) -> str:
    """``x`` to ``digits`` significant figures, thousands separated, never an exponent."""
    x = float(x)
    if x == 0:
        return "0"
    if not math.isfinite(x):
        return "n/a"
    mag = math.floor(math.log10(abs(x)))
    if mag >= digits - 1:  # whole: the significant digits then zeros (a float past 2**53 is noise)
        mantissa, exp = f"{abs(x):.{digits - 1}e}".split("e")
        whole = mantissa.replace(".", "") + "0" * (int(exp) - (digits - 1))
        return ("-" if x < 0 else "") + f"{int(whole):,}"
    return f"{x:,.{digits - 1 - mag}f}"


def count(x) -> str:
    """A count of work: whole numbers in full with separators (``12,000``), others ``plain``."""
    return f"{x:,.0f}" if float(x).is_integer() else plain(x)


def exact(x: float, sep: bool = True) -> str:
    """``x`` as given, all its digits, never an exponent: for limits and echoed input in
    messages (``1e-09`` -> ``0.000000001``, ``1e18`` -> ``1,000,000,000,000,000,000``);
    ``sep=False`` leaves out the separators, for a value to be typed back (``budget_kwh=2000``)."""
    from decimal import Decimal

    x = float(x)
    if not math.isfinite(x):
        return str(x)
    if x != 0 and not 1e-15 <= abs(x) < 1e24:  # an absurd input echoed back: say its size
        mantissa, power = f"{x:.3g}".split("e")
        return f"{mantissa} x 10^{int(power)}"
    text = format(Decimal(repr(x)), "f")
    whole, _, frac = text.partition(".")
    frac = frac.rstrip("0")
    whole = (f"{int(whole):,}" if sep else str(int(whole))) if whole != "-0" else "-0"
    return f"{whole}.{frac}" if frac else whole


@dataclass(frozen=True)
class Scale:
    """A unit chosen for one view: ``scale(x)`` is ``"1.23 kWh"``, ``scale.number(x)`` ``"1.23"``."""

    size: float   # base units (kWh, kg, W) per one of this unit
    unit: str

    def number(self, x) -> str:
        if x is None:
            return "n/a"
        x = float(x)
        if not math.isfinite(x):
            return "n/a"
        v = x / self.size
        if v != 0 and abs(v) < SMALLEST:
            return f"<{SMALLEST:g}" if v > 0 else f">-{SMALLEST:g}"
        return plain(v)

    def __call__(self, x) -> str:
        text = self.number(x)
        return text if text == "n/a" else f"{text} {self.unit}"

    def range(self, low, high) -> str:
        """``"1.2 - 3.4 kWh"``: one unit for both ends."""
        return f"{self.number(low)} - {self.number(high)} {self.unit}"


def _scale(values, steps) -> Scale:
    finite = [abs(float(v)) for v in values if v is not None and math.isfinite(float(v)) and v != 0]
    top = max(finite, default=0.0)
    for size, unit in steps:
        if top >= size:
            return Scale(size, unit)
    return Scale(*steps[-1])


def _values(values) -> list:
    if len(values) == 1 and not isinstance(values[0], (int, float)) and values[0] is not None:
        return list(values[0])  # one iterable given
    return list(values)


def energy_scale(*kwh) -> Scale:
    """The unit for energies (kWh in): ``energy_scale(0.2, 3.1)`` or ``energy_scale(values)``."""
    return _scale(_values(kwh), ENERGY)


def mass_scale(*kg) -> Scale:
    return _scale(_values(kg), MASS)


def power_scale(*w) -> Scale:
    return _scale(_values(w), POWER)


def energy(kwh) -> str:
    """One energy on its own, in the unit that fits it."""
    return energy_scale(kwh)(kwh)


def mass(kg) -> str:
    return mass_scale(kg)(kg)


def power(w) -> str:
    return power_scale(w)(w)


def duration(seconds) -> str:
    """``"42.0 s"``, ``"3 min 12 s"``, ``"5 h 4 min"``, ``"12.5 d"``."""
    s = float(seconds)
    if not math.isfinite(s):
        return "n/a"
    if s < 60:
        return f"{plain(s)} s"
    if s < 3600:
        return f"{int(s // 60)} min {int(s % 60)} s"
    if s < 86400 * 2:
        return f"{int(s // 3600)} h {int(s % 3600 // 60)} min"
    return f"{plain(s / 86400)} d"


def usd(low, high=None) -> str:
    """Money: cents under $100 (``$1.35``), whole dollars above (``$2,360``); a range shares
    its precision (``$1.35 - $4.50``). An unknown end is left out, not shown as ``?``."""
    ends = [v for v in (low, high) if v is not None and math.isfinite(float(v))]
    if not ends:
        return "n/a"
    cents = max(abs(v) for v in ends) < 100
    text = [f"${v:,.2f}" if cents else f"${v:,.0f}" for v in ends]
    if high is None or low is None or len(text) == 1 or text[0] == text[1]:
        return text[-1] if (low is None and high is not None) else text[0]
    return f"{text[0]} - {text[1]}"


# ------------------------------------------------------------------ wording

_INTERFACE = {"name": "python"}
# Python keyword -> CLI option, where the CLI names it differently
_CLI_NAMES = {"hours": "--hours", "days": "--days", "cpu_tdp_w": "--cpu-tdp-w"}


def use(name: str) -> str:
    """Messages from here on speak ``name``'s language ("python" or "cli"); returns the previous
    one, so that an embedding (a test, a notebook calling the CLI) can switch back."""
    if name not in ("python", "cli"):
        raise ValueError(f"interface must be 'python' or 'cli', got {name!r}")
    previous, _INTERFACE["name"] = _INTERFACE["name"], name
    return previous


def interface() -> str:
    return _INTERFACE["name"]


def opt(name: str) -> str:
    """An option as the user gives it: ``pue=`` in Python, ``--pue`` on the command line."""
    if _INTERFACE["name"] == "cli":
        return _CLI_NAMES.get(name, "--" + name.replace("_", "-"))
    return f"{name}="


def name(key: str) -> str:
    """An option's name alone: ``pue`` in Python, ``--pue`` on the command line."""
    return opt(key).rstrip("=")


def either(*, python: str, cli: str) -> str:
    """The phrase for the interface in use."""
    return cli if _INTERFACE["name"] == "cli" else python
