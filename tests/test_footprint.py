import json

import pytest

import wattprint
from wattprint import datasets, datasets_hw
from wattprint.errors import UsageError
from wattprint.footprint import Footprint, estimate, for_energy


@pytest.fixture(autouse=True)
def _python_wording(monkeypatch):
    """The CLI's main(), run in-process by other tests, switches hints to CLI wording for good."""
    from wattprint import fmt

    monkeypatch.setitem(fmt._INTERFACE, "name", "python")

LB = 0.45359237


def test_public_name_is_the_function():
    assert wattprint.estimate is estimate


def test_strubell_equations():
    # Strubell et al. eq. 1 and 2 written out: p_t = 1.58 t p / 1000 ; CO2e = 0.954 p_t (lb)
    fp = estimate(power_w=12041.51, hours=79.2, pue="strubell2019", intensity="0.954lb/kWh")
    p_t = 1.58 * 79.2 * 12041.51 / 1000
    assert fp.energy_kwh == pytest.approx(p_t)
    assert fp.energy_kwh_it == pytest.approx(79.2 * 12041.51 / 1000)
    assert fp.co2e_lbs == pytest.approx(0.954 * p_t)
    assert fp.co2e_kg == pytest.approx(0.954 * p_t * LB)


def test_bloom_operational_and_embodied_within_two_percent():
    # Luccioni, Viguier & Ligozat 2023 (JMLR), BLOOM: 433,196 kWh dynamic energy at 57 g/kWh -> 24.69 t;
    # embodied: 150 kg per GPU, 2,500 kg per 8-GPU server, 6-year life, 85 % use, 1,082,990 GPU-hours -> 11.2 t
    op = for_energy(433196, 118 * 24, pue=1.0, intensity="57g/kWh")
    assert op.co2e_kg / 1000 == pytest.approx(24.69, rel=0.02)
    emb = estimate(device_power_w=400, count=1, hours=1082990, embodied_kg_per_device=150, host_embodied_kg=2500,
                   devices_per_host=8, lifetime_years=6, usage=0.85)
    assert emb.embodied_kg / 1000 == pytest.approx(11.2, rel=0.02)


def test_no_location_leaves_co2e_unknown_and_says_so():
    fp = estimate(power_w=1000, hours=10)
    assert fp.co2e_kg is None and fp.co2e_lbs is None and fp.equivalents == []
    assert any("no location" in n for n in fp.notes)
    pue = next(s for s in fp.sources if s["factor"] == "pue")
    assert pue["value"] == 1.0 and pue["source"].startswith("assumed")


def test_cloud_sets_provider_pue_and_intensity_with_sources():
    fp = estimate(power_w=1000, hours=10, cloud="gcp:us-central1")
    pue = datasets.resolve_pue(cloud="gcp:us-central1").value
    ci = datasets.resolve_intensity(cloud="gcp:us-central1").value
    assert fp.pue == pue > 1.0
    assert fp.co2e_kg == pytest.approx(10 * pue * ci / 1000)
    factors = {s["factor"]: s for s in fp.sources}
    assert factors["intensity"]["year"] == 2024 and factors["pue"]["source"]


def test_tdp_times_utilization_times_count():
    tdp = datasets_hw.hardware("A100 SXM4 80GB")["tdp_w"]
    fp = estimate(hardware="A100 SXM4 80GB", count=2, hours=10, utilization=0.5, pue=1.0)
    assert fp.energy_kwh_it == pytest.approx(tdp * 0.5 * 2 * 10 / 1000)
    assert any(s["factor"] == "device_tdp" and s["value"] == tdp for s in fp.sources)


def test_power_precedence_is_exclusive():
    for extra in ({"device_power_w": 300}, {"utilization": 0.5}):
        with pytest.raises(UsageError):
            estimate(hardware="V100", power_w=1000, hours=1, **extra)
    with pytest.raises(UsageError):
        estimate(hours=1)  # nothing to get a power from
    with pytest.raises(UsageError):
        estimate(hardware="V100", hours=1, utilization=1.5)


def test_device_power_scales_with_count():
    one = estimate(device_power_w="250W", count=1, hours=4)
    eight = estimate(device_power_w="250W", count=8, hours=4)
    assert eight.energy_kwh == pytest.approx(8 * one.energy_kwh) == pytest.approx(8.0)


def test_hours_or_days():
    assert estimate(power_w=100, days=2).hours == 48
    assert estimate(power_w=100, days="36h").hours == 36
    with pytest.raises(UsageError):
        estimate(power_w=100, hours=1, days=1)
    for bad in (0, -2, float("nan"), "soon"):
        with pytest.raises(UsageError):
            estimate(power_w=100, hours=bad)


def test_costs_gross_and_net():
    fp = estimate(hardware="V100", count=4, hours=10, power_w=1200, prices="strubell2019", tariff=0.2,
                  intensity="400g/kWh", net_intensity="0", pue=1.5)
    assert fp.cost_usd_low == pytest.approx(4 * 10 * 0.74)
    assert fp.cost_usd_high == pytest.approx(4 * 10 * 2.48)
    assert fp.electricity_cost_usd == pytest.approx(12 * 1.5 * 0.2)
    assert fp.co2e_net_kg == 0.0 and fp.co2e_kg == pytest.approx(12 * 1.5 * 0.4)


def test_price_inputs_are_checked():
    with pytest.raises(UsageError):
        estimate(hardware="V100", power_w=1, hours=1, prices="strubell2019", price_high=2)
    with pytest.raises(UsageError):
        estimate(power_w=1, hours=1, price_low=3, price_high=2)
    with pytest.raises(UsageError):
        estimate(power_w=1, hours=1, prices="strubell2019")  # which hardware?


def test_embodied_defaults_come_from_the_tables():
    fp = estimate(hardware="H100", count=8, hours=24, embodied=True)
    dev, life = datasets.embodied_for("H100 SXM5")
    host, _ = datasets.embodied_default("default_host")
    expected = (8 * dev.value + host.value) * 24 / (life * 8760)
    assert fp.embodied_kg == pytest.approx(expected)
    factors = {s["factor"] for s in fp.sources}
    assert {"embodied_per_device", "embodied_per_host"} <= factors


def test_runs_multiply_and_report_each_level():
    one = estimate(power_w=1000, hours=10, region="DE")
    many = estimate(power_w=1000, hours=10, region="DE", runs=24)
    assert many.co2e_kg == pytest.approx(24 * one.co2e_kg)
    assert [lv["runs"] for lv in many.levels] == [1, 24]
    assert many.levels[0]["co2e_kg"] == pytest.approx(one.co2e_kg)


def test_every_factor_is_sourced_and_json_keys_are_present():
    fp = estimate(hardware="V100", count=8, hours=10, cloud="gcp:us-central1", prices="strubell2019", tariff=0.1,
                  net_intensity="100g/kWh", embodied=True)
    factors = {s["factor"] for s in fp.sources}
    assert {"pue", "intensity", "net_intensity", "device_tdp", "price_per_unit_hour", "tariff",
            "embodied_per_device", "embodied_per_host", "equivalent"} <= factors
    assert all(s["source"] and s["value"] is not None for s in fp.sources)
    d = json.loads(json.dumps(fp.as_dict()))
    for key in ("energy_kwh", "co2e_kg", "co2e_lbs", "co2e_net_kg", "embodied_kg", "cost_usd_low",
                "cost_usd_high", "electricity_cost_usd", "equivalents", "inputs", "sources"):
        assert d[key] is not None, key
    assert d["inputs"]["hours"] == 10 and d["inputs"]["hardware"] == "Tesla V100 SXM2 32GB"


def test_equivalents_match_table1():
    # 1,984 lb is one New York <-> San Francisco passenger flight (Table 1)
    fp = estimate(power_w=1000, hours=1, intensity=f"{1984 * LB * 1000}g/kWh", pue=1.0)
    flight = next(e for e in fp.equivalents if "New York" in e["name"])
    assert flight["value"] == pytest.approx(1.0) and flight["year"] == 2019


def test_for_energy_uses_measured_energy():
    fp = for_energy(10.0, 5.0, cloud="gcp:us-central1", hardware="A100", count=8, prices="aws-2023-10")
    assert fp.energy_kwh_it == 10.0 and fp.energy_kwh == pytest.approx(10.0 * fp.pue)
    assert fp.inputs["power_w"] == pytest.approx(2000.0)
    assert fp.cost_usd_high > 0
    assert isinstance(fp, Footprint) and "kWh" in str(fp)
    with pytest.raises(UsageError):
        for_energy(-1, 1)


def test_given_power_is_listed_as_a_source():
    fp = estimate(device_power_w=250, count=4, hours=1)
    power = next(s for s in fp.sources if s["factor"] == "device_power")
    assert power["value"] == 250 and power["source"] == "given by the user (device_power_w)"


def test_provider_must_match_the_cloud():
    with pytest.raises(UsageError):
        estimate(power_w=1000, hours=1, cloud="gcp:us-central1", provider="aws")
    assert estimate(power_w=1000, hours=1, cloud="gcp:us-central1", provider="google").pue > 1.0


# -- equivalents that fit the magnitude (issue 11, item 11) -------------------------------------
def _no_sci(text):
    import re

    assert not re.search(r"\d[eE][-+]?\d", text), text
    assert "0.0 " not in text and not text.startswith("0 "), text


def test_a_tiny_run_shows_at_most_three_plain_equivalents():
    fp = estimate(power_w=1e-3, hours=1, region="US", pue=1.0)  # 1e-6 kWh
    assert fp.energy_kwh == pytest.approx(1e-6)
    texts = [e["text"] for e in fp.equivalents]
    assert 1 <= len(texts) <= 3
    for t in texts:
        _no_sci(t)
    # 1e-6 kWh at 384 g/kWh is 0.38 mg: 1.5 mm by car (0.2485 kg/km), 0.0047 % of a phone charge
    car = next(e for e in fp.equivalents if e["key"] == "car_km")
    assert car["text"] == "1.54 mm by car"
    phone = next(e for e in fp.equivalents if e["key"] == "smartphone_charge")
    assert phone["text"] == "0.0047 % of a smartphone charge"
    assert {s["factor"] for s in fp.sources if s["factor"] == "equivalent"} and \
        sum(s["factor"] == "equivalent" for s in fp.sources) == len(fp.equivalents)


@pytest.mark.parametrize("kwh", [1e-9, 1e-6, 1e-3, 0.05, 1, 30, 1000, 1e5, 1e7, 1e9])
def test_equivalents_fit_every_magnitude(kwh):
    fp = estimate(power_w=kwh, hours=1000, region="US", pue=1.0)
    assert fp.energy_kwh == pytest.approx(kwh) and 1 <= len(fp.equivalents) <= 3
    for e in fp.equivalents:
        _no_sci(e["text"])
        assert e["source"] and e["url"] and e["year"]
    if kwh >= 1:  # something fits at least once: counts of 1 or more, largest items first
        assert all(e["value"] >= 1 for e in fp.equivalents)


def test_large_footprints_use_the_papers_table1_items():
    # NAS (Table 1): 626,155 lb -> about 5 car lifetimes (126,000 lb each)
    fp = estimate(power_w=1e6, hours=1, intensity=f"{626155 * LB}g/kWh", pue=1.0)
    keys = [e["key"] for e in fp.equivalents]
    assert keys[0] == "car_lifetime" and fp.equivalents[0]["text"] == "4.97 car lifetimes, fuel included"
    assert "american_life_year" in keys


def test_kettle_and_car_km_factors_are_what_their_sources_give():
    from wattprint import datasets

    assert datasets.equivalent("car_km")["value"] == pytest.approx(0.400 / 1.609344, rel=1e-3)
    assert datasets.equivalent("kettle_boil")["value"] == pytest.approx(4.184 * 85 / 3600, rel=1e-3)
    fp = estimate(power_w=1000, hours=1, intensity="0.001g/kWh", pue=1.0)  # 1 kWh, almost no CO2e
    kettle = next(e for e in fp.equivalents if e["key"] == "kettle_boil")
    assert kettle["text"] == "10.1 kettle boils (1 litre)"


def test_text_output_of_a_tiny_footprint_has_no_exponent():
    text = str(estimate(power_w=0.001, hours=1, region="US", pue=1.0))
    assert "CO2e        0.384 mg at 384 g/kWh" in text  # 1 Wh x 384 g/kWh, in one unit
    assert "e-0" not in text and " lb" not in text  # one mass unit per view


# -- hardware estimates as a range (issue 11, item 10) ------------------------------------------
def test_v100_bert_range_contains_the_papers_figure_and_tops_out_at_tdp():
    # Strubell et al. 2019 Table 3: BERT base, 64 V100, 79.2 h, 1,507 kWh-PUE (12,041.51 W)
    fp = estimate(hardware="V100", count=64, hours=79.2, pue="strubell2019")
    assert fp.energy_kwh == pytest.approx(64 * 300 * 79.2 / 1000 * 1.58)  # 2.40 MWh: TDP, the high end
    assert fp.energy_kwh == pytest.approx(2402.6, abs=0.1)
    assert fp.energy_kwh_low < 1507 < fp.energy_kwh
    assert fp.energy_kwh_low == pytest.approx(1507, rel=0.01)
    rng = fp.inputs["power_range_w"]
    assert rng["high"] == 64 * 300 and "TDP" in rng["high_basis"] and "typical" in rng["low_basis"]
    typ = next(s for s in fp.sources if s["factor"] == "device_typical_fraction")
    assert typ["value"] == pytest.approx(12041.51 / 64 / 300, abs=0.001) and "Strubell" in typ["source"]
    assert "range" in str(fp) and "typical training draw" in str(fp) and "TDP" in str(fp)
    assert any("power is a range" in n for n in fp.notes)


def test_range_scales_co2e_and_electricity_but_not_cloud_cost_or_embodied():
    fp = estimate(hardware="V100", count=8, hours=10, region="US", tariff=0.1, prices="strubell2019",
                  embodied=True, runs=3)
    ratio = fp.energy_kwh_low / fp.energy_kwh
    assert ratio == pytest.approx(0.627)
    assert fp.co2e_kg_low == pytest.approx(fp.co2e_kg * ratio)
    assert fp.electricity_cost_usd_low == pytest.approx(fp.electricity_cost_usd * ratio)
    assert fp.cost_usd_high == pytest.approx(8 * 10 * 2.48 * 3)  # hours, not power
    assert fp.levels[1]["energy_kwh_low"] == pytest.approx(fp.energy_kwh_low)
    d = json.loads(json.dumps(fp.as_dict()))
    assert d["energy_kwh_low"] < d["energy_kwh"] and d["co2e_kg_low"] < d["co2e_kg"]


def test_pascal_and_tpu_use_their_own_measured_averages():
    p100 = estimate(hardware="P100", count=8, hours=1, pue=1.0)
    assert p100.energy_kwh_low / p100.energy_kwh == pytest.approx(0.719)
    tpu = estimate(hardware="TPUv2", count=4, hours=1, pue=1.0)  # Patterson et al. 2021: 221 W, TDP 280 W
    assert tpu.energy_kwh_low == pytest.approx(4 * 221 / 1000) and tpu.energy_kwh == pytest.approx(4 * 280 / 1000)
    h100 = estimate(hardware="H100", count=1, hours=1, pue=1.0)  # no published average: the lowest fraction
    assert h100.energy_kwh_low / h100.energy_kwh == pytest.approx(0.627)
    assert "no measured training average" in next(s for s in h100.sources
                                                   if s["factor"] == "device_typical_fraction")["note"]


def test_utilization_or_power_given_gives_one_value():
    for kw in ({"utilization": 0.5}, {"power_w": 12041.51}, {"device_power_w": 200}):
        fp = estimate(hardware="V100", count=64, hours=79.2, pue="strubell2019", **kw)
        assert fp.energy_kwh_low is None and "power_range_w" not in fp.inputs
    fp = estimate(power_w=12041.51, hours=79.2, pue="strubell2019")
    assert fp.energy_kwh == pytest.approx(1507, abs=0.5)  # the paper's figure, to its rounding


# -- every intensity carries its scope (issue 11, item 7) ---------------------------------------
@pytest.mark.parametrize("where,scope", [({"region": "US-WY"}, "direct"), ({"region": "FR"}, "lifecycle"),
                                         ({"region": "CA-QC"}, "lifecycle"), ({"cloud": "gcp:europe-west1"}, "operational"),
                                         ({"cloud": "azure:westeurope"}, "lifecycle")])
def test_every_intensity_factor_carries_its_scope(where, scope):
    fp = estimate(power_w=1000, hours=1, **where)
    ci = next(s for s in fp.sources if s["factor"] == "intensity")
    assert ci["scope"] == scope


# -- PUE presets carry their year (issue 11, item 9) --------------------------------------------
@pytest.mark.parametrize("provider,pue,year", [("gcp", 1.10, 2021), ("aws", 1.15, 2024), ("azure", 1.18, 2024)])
def test_fleet_pue_is_the_providers_published_value_with_its_year(provider, pue, year):
    fp = estimate(power_w=1000, hours=1, provider=provider, region="FR")
    src = next(s for s in fp.sources if s["factor"] == "pue")
    assert fp.pue == pytest.approx(pue) and src["year"] == year and src["url"].startswith("https://")
    older = [n for n in fp.notes if "PUE" in n and "grid intensity is from" in n]
    assert bool(older) == (year <= 2022), fp.notes  # a 2021 PUE beside Ember's 2024 intensity is said


def test_every_named_pue_has_a_year_or_says_it_has_none():
    from wattprint import datasets

    for row in datasets.table("pue.csv"):
        assert row["year"] or "year not stated" in row["note"], row["key"]


# -- net CO2e from Google's carbon-free energy share (issue 11, item 8) ---------------------------
def test_net_co2e_from_the_regions_carbon_free_share_is_market_based_and_not_the_default():
    from wattprint import datasets

    fp = estimate(power_w=1000, hours=10, cloud="gcp:us-central1")
    row = datasets.cloud_region("gcp:us-central1")
    gross = float(row["provider_gco2e_per_kwh"])
    assert fp.co2e_kg == pytest.approx(fp.energy_kwh * gross / 1000)  # location-based stays the headline
    assert fp.co2e_net_kg == pytest.approx(fp.co2e_kg * (1 - float(row["provider_cfe_pct"]) / 100))
    net = next(s for s in fp.sources if s["factor"] == "net_intensity")
    assert net["scope"] == "market-based" and "carbon-free energy" in net["source"] and "Patterson" in net["source"]
    assert "market-based" in str(fp)


def test_every_google_region_with_a_share_gets_net_co2e_and_others_do_not():
    from wattprint import datasets

    with_share = 0
    for row in datasets.table("cloud_regions.csv"):
        fp = estimate(power_w=1000, hours=1, cloud=f"{row['provider']}:{row['region']}")
        if row["provider_gco2e_per_kwh"] and row["provider_cfe_pct"]:
            with_share += 1
            assert 0 <= fp.co2e_net_kg <= fp.co2e_kg
        else:
            assert fp.co2e_net_kg is None  # AWS, Azure: no published share in these tables
    assert with_share >= 30


def test_a_given_net_intensity_still_wins():
    fp = estimate(power_w=1000, hours=1, cloud="gcp:us-central1", net_intensity="10g/kWh")
    assert fp.co2e_net_kg == pytest.approx(fp.energy_kwh * 10 / 1000)
    assert next(s for s in fp.sources if s["factor"] == "net_intensity")["source"] == "given by the user (net_intensity)"
