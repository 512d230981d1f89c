"""Human formatting: plain numbers, one unit per view, wording per interface."""
import math
import random
import re

import pytest

from wattprint import fmt

EXPONENT = re.compile(r"\d[eE][+-]?\d")


@pytest.mark.parametrize("x, text", [
    (0, "0"), (1, "1.00"), (12.345, "12.3"), (999.6, "1,000"), (12345, "12,300"),
    (0.0502, "0.0502"), (8.4e22, "84,000,000,000,000,000,000,000"), (-12345, "-12,300"),
    (99960, "100,000"), (2.34e-5, "0.0000234"), (-0.5, "-0.500"), (1.2e15, "1,200,000,000,000,000"),
])
def test_plain_numbers(x, text):
    assert fmt.plain(x) == text


def test_plain_never_writes_an_exponent_and_keeps_three_figures():
    rng = random.Random(7)
    for _ in range(5000):
        x = rng.choice([-1, 1]) * 10 ** rng.uniform(-12, 18)
        text = fmt.plain(x)
        assert not EXPONENT.search(text), text
        back = float(text.replace(",", ""))
        assert math.isclose(back, x, rel_tol=0.006), (x, text)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_reads_n_a(bad):
    assert fmt.plain(bad) == "n/a"
    assert fmt.energy_scale(1.0)(bad) == "n/a"


def test_one_unit_for_a_view_is_chosen_from_its_largest_value():
    values = [24.3 / 3.6e6, 0.002, 1.5]  # 24.3 J, 2 Wh, 1.5 kWh
    s = fmt.energy_scale(values)
    assert s.unit == "kWh"
    shown = [s(v) for v in values]
    assert all(t.endswith(" kWh") for t in shown)
    assert shown[0] == "<0.001 kWh"  # too small for the view's unit, but never "0.000000"
    assert shown[1] == "0.00200 kWh"
    assert fmt.energy_scale(*values).unit == "kWh"  # values or one iterable


@pytest.mark.parametrize("kwh, unit", [(5e-6, "J"), (0.004, "Wh"), (2.0, "kWh"), (3000, "MWh"), (2e6, "GWh")])
def test_lone_energies_pick_their_own_unit(kwh, unit):
    assert fmt.energy(kwh).endswith(" " + unit)


def test_masses_and_powers():
    assert fmt.mass(5.02e-5) == "50.2 mg"
    assert fmt.mass(0.0502) == "50.2 g"
    s = fmt.mass_scale([5.02e-5, 0.0502])
    assert (s(5.02e-5), s(0.0502)) == ("0.0502 g", "50.2 g")
    assert fmt.power(7.5) == "7.50 W"
    assert fmt.power(0.004) == "4.00 mW"
    assert fmt.power_scale([7.5, 1500]).range(7.5, 1500) == "0.00750 - 1.50 kW"


def test_empty_or_all_zero_view_uses_the_smallest_unit():
    assert fmt.energy_scale([]).unit == "J"
    assert fmt.energy_scale([0, None]).unit == "J"
    assert fmt.energy_scale([0])(0) == "0 J"


@pytest.mark.parametrize("low, high, text", [
    (1.35, 4.5, "$1.35 - $4.50"), (12, 2360, "$12 - $2,360"), (None, 2360, "$2,360"),
    (3.0, None, "$3.00"), (None, None, "n/a"), (5, 5, "$5.00"),
])
def test_money(low, high, text):
    assert fmt.usd(low, high) == text
    assert "?" not in fmt.usd(low, high)


def test_durations():
    assert fmt.duration(42) == "42.0 s"
    assert fmt.duration(192) == "3 min 12 s"
    assert fmt.duration(5 * 3600 + 240) == "5 h 4 min"
    assert fmt.duration(12.5 * 86400) == "12.5 d"


def test_wording_follows_the_interface(monkeypatch):
    monkeypatch.setitem(fmt._INTERFACE, "name", "python")
    assert fmt.opt("pue") == "pue="
    assert fmt.opt("cpu_tdp_w") == "cpu_tdp_w="
    assert fmt.either(python="call run.progress(done)", cli="print 'epoch k/N'") == "call run.progress(done)"
    assert fmt.use("cli") == "python"
    assert fmt.interface() == "cli"
    assert fmt.opt("pue") == "--pue"
    assert fmt.opt("cpu_tdp_w") == "--cpu-tdp-w"
    assert fmt.opt("budget_co2e_kg") == "--budget-co2e-kg"
    assert fmt.either(python="a", cli="b") == "b"


def test_the_cli_speaks_its_language_and_leaves_python_wording_behind(capsys):
    from wattprint.cli import main

    assert fmt.interface() == "python"
    assert main(["estimate", "--hours", "2", "--power", "300W", "--region", "FR"]) == 0
    out = capsys.readouterr().out
    assert "pue=" not in out and "--pue" in out  # the no-PUE note, as typed on the command line
    assert fmt.interface() == "python"  # main() called in-process switched back
    with pytest.raises(ValueError):
        fmt.use("java")


def test_counts_and_values_to_type_back():
    assert fmt.count(12000) == "12,000" and fmt.count(2.5) == "2.50"
    assert fmt.exact(2000, sep=False) == "2000" and fmt.exact(1e-9, sep=False) == "0.000000001"
    assert fmt.exact(2000) == "2,000"
