import math

import pytest

from wattprint.errors import UsageError
from wattprint.fmt import duration as fmt_duration
from wattprint.fmt import energy as fmt_energy
from wattprint.fmt import mass as fmt_mass
from wattprint.fmt import power as fmt_power
from wattprint.units import parse_duration, parse_intensity, parse_power


@pytest.mark.parametrize("text", ["429g/kWh", "0.429kg/kWh", "0.000429t/kWh", "429", 429, "429 gCO2e/kWh",
                                  "429kg/MWh"])
def test_intensity_forms_agree(text):
    assert parse_intensity(text) == pytest.approx(429.0)


def test_intensity_pounds():
    # 1 lb = 453.59237 g exactly (international avoirdupois pound)
    assert parse_intensity("1lb/kWh") == pytest.approx(453.59237)
    assert parse_intensity("0.954lb/kWh") == pytest.approx(0.954 * 453.59237)
    assert parse_intensity("954lb/MWh") == pytest.approx(parse_intensity("0.954lb/kWh"))


def test_intensity_zero_is_allowed():
    assert parse_intensity("0g/kWh") == 0.0


@pytest.mark.parametrize("text, hours", [("3.3d", 79.2), ("79.2h", 79.2), ("90m", 1.5), ("45s", 0.0125),
                                         ("2", 2.0), ("1w", 168.0)])
def test_duration(text, hours):
    assert parse_duration(text) == pytest.approx(hours)


@pytest.mark.parametrize("text, watts", [("1.5kW", 1500), ("250W", 250), ("250", 250), ("0.5 MW", 5e5)])
def test_power(text, watts):
    assert parse_power(text) == pytest.approx(watts)


@pytest.mark.parametrize("fn, text", [
    (parse_intensity, "-5g/kWh"), (parse_intensity, "nan"), (parse_intensity, "abc"),
    (parse_intensity, "5furlongs/kWh"), (parse_intensity, "5g/fortnight"), (parse_intensity, True),
    (parse_duration, "0h"), (parse_duration, "-1d"), (parse_duration, "3 parsecs"), (parse_duration, ""),
    (parse_power, "0W"), (parse_power, "inf"), (parse_power, "12 horses"), (parse_power, float("nan")),
])
def test_bad_input_is_a_usage_error(fn, text):
    with pytest.raises(UsageError) as e:
        fn(text)
    assert "\n" not in str(e.value)


def test_formatting_picks_a_readable_unit():
    assert fmt_energy(1500) == "1.50 MWh"
    assert fmt_energy(0.25) == "250 Wh"
    assert fmt_mass(0.5) == "500 g"
    assert fmt_mass(2500) == "2.50 t"
    assert fmt_power(12041.51) == "12.0 kW"
    assert fmt_duration(90) == "1 min 30 s"
    assert fmt_duration(3.3 * 86400) == "3.30 d"
    assert not math.isnan(parse_intensity("1e2"))
