import csv
import io
from importlib import resources

import pytest

from wattprint import datasets
from wattprint.errors import UsageError

DATA = resources.files("wattprint").joinpath("data")
REQUIRED = {"source", "url", "licence", "attribution", "year", "units", "scope"}


def _csv_files():
    return sorted(p.name for p in DATA.iterdir() if p.name.endswith(".csv"))


def test_every_table_has_a_manifest_entry_with_provenance():
    m = datasets.manifest()
    for name in _csv_files():
        assert name in m, f"{name} missing from manifest.json"
        assert REQUIRED <= set(m[name]), f"{name}: missing {REQUIRED - set(m[name])}"
        assert all(m[name][k] not in ("", None) for k in ("source", "licence", "attribution"))
    for name in m:
        if name == "cpu_tdp.csv" and not DATA.joinpath(name).is_file():
            continue  # written by another part of the project; its entry is ready for it
        assert DATA.joinpath(name).is_file(), f"manifest names {name} but the file is not shipped"


def test_odbl_data_is_kept_in_its_own_file():
    m = datasets.manifest()
    odbl = [n for n, e in m.items() if "ODbL" in e["licence"] and "not in this file" not in e["licence"]]
    assert odbl == ["grid_zone_electricitymaps.csv"]
    header = datasets.table("cloud_regions.csv")[0].keys()
    assert not any(k.startswith("em_") for k in header)


def test_tables_parse_and_values_are_plausible():
    for r in datasets.table("grid_country_ember.csv") + datasets.table("grid_zone_electricitymaps.csv"):
        assert 0 <= float(r["gco2e_per_kwh"]) < 1400, r  # Ember gives Turkmenistan 1306 (docs/data.md)
    for r in datasets.table("pue.csv"):
        assert 1.0 <= float(r["pue"]) < 3.0, r
    for r in datasets.table("embodied.csv"):
        assert float(r["value"]) > 0 and float(r["lifetime_years"]) > 0, r
    for r in datasets.table("prices.csv"):
        assert r["date"], r
        if r["preemptible_usd_per_unit_hour"]:
            assert float(r["preemptible_usd_per_unit_hour"]) <= float(r["on_demand_usd_per_unit_hour"]), r


def test_egrid_conversion_from_native_unit():
    for r in datasets.table("grid_us_state_egrid.csv"):
        assert float(r["lb_per_mwh"]) * 0.45359237 == pytest.approx(float(r["gco2e_per_kwh"]), abs=0.01)


def test_namibia_is_not_read_as_missing():
    assert datasets.resolve_intensity(region="NA").name == "NA"
    assert datasets.resolve_intensity(region="NA").value == datasets.resolve_intensity(region="Namibia").value


@pytest.mark.parametrize("a, b", [("FR", "FRA"), ("FR", "France"), ("france", "FRANCE"), ("CA-QC", "Quebec"),
                                  ("CA-QC", "Québec"), ("US-CA", "California")])
def test_region_spellings_agree(a, b):
    assert datasets.resolve_intensity(region=a).value == datasets.resolve_intensity(region=b).value


def test_region_factors_carry_source_year_and_scope():
    state = datasets.resolve_intensity(region="US-CA")
    assert state.scope == "direct" and "eGRID" in state.source and state.year == 2023
    country = datasets.resolve_intensity(region="DE")
    assert country.scope == "lifecycle" and country.year >= 2022 and "Ember" in country.source


def test_unknown_region_lists_closest_matches():
    with pytest.raises(UsageError, match="France"):
        datasets.resolve_intensity(region="Frnace")
    with pytest.raises(UsageError, match="us-central1"):
        datasets.resolve_intensity(cloud="gcp:us-centrl1")


def test_cloud_prefers_provider_published_factor():
    gcp = datasets.resolve_intensity(cloud="gcp:us-central1")
    assert "Google" in gcp.source and gcp.year == 2024
    aws = datasets.resolve_intensity(cloud="aws:us-east-1")
    assert "Electricity Maps" in aws.source  # AWS publishes none: the grid zone stands in, and says so
    assert "publishes no factor" in aws.note


def test_no_location_is_none_and_two_are_an_error():
    assert datasets.resolve_intensity() is None
    with pytest.raises(UsageError):
        datasets.resolve_intensity(region="FR", intensity="50g/kWh")
    with pytest.raises(UsageError):
        datasets.split_cloud("us-central1")


def test_pue_presets_and_defaults():
    assert datasets.resolve_pue(pue="strubell2019").value == 1.58
    industry = datasets.resolve_pue(pue="industry")
    assert industry.year and industry.source and industry.value > 1.0
    assumed = datasets.resolve_pue()
    assert assumed.value == 1.0 and assumed.source.startswith("assumed")
    assert datasets.resolve_pue(pue="1.2").value == 1.2
    region = datasets.resolve_pue(cloud="gcp:us-central1")
    assert region.name == "gcp:us-central1"
    fleet = datasets.resolve_pue(cloud="gcp:asia-south1")  # no per-region PUE: the provider's fleet value
    assert fleet.name == "gcp"
    for bad in ("0.9", "-1", "nan", "fancy"):
        with pytest.raises(UsageError):
            datasets.resolve_pue(pue=bad)


def test_family_name_resolves_to_sxm_and_says_so():
    for fam, form in (("V100", "SXM2"), ("A100", "SXM4"), ("H100", "SXM5"), ("P100", "SXM2")):
        spec = datasets.hardware(fam)
        assert spec["form_factor"] == form and spec["resolved_from"] == fam
    assert "resolved_from" not in datasets.hardware("A100 PCIe 40GB")


@pytest.mark.parametrize("name", ["K80", "Titan X", "GTX 1080 Ti", "B200", "MI250X", "MI300X", "TPU v2", "TPUv3",
                                  "TPU v4", "TPU v5e", "TPU v5p", "TPU v6e", "Gaudi 2", "Gaudi 3"])
def test_required_accelerators_are_known(name):
    spec = datasets.hardware(name)
    assert spec["memory_gb"] > 0 and 2014 <= spec["release_year"] <= 2025
    assert spec["source"].startswith("http")
    assert spec["tdp_w"] or spec["measured_avg_w"] or "not published" in spec["power_note"]


def test_tpu_published_power_names_its_source():
    for name in ("TPU v2", "TPU v3"):
        spec = datasets.hardware(name)
        assert spec["measured_avg_w"] and "Patterson" in spec["power_note"]


def test_unknown_hardware_lists_closest():
    with pytest.raises(UsageError, match="V100"):
        datasets.hardware("V1000")


def test_strubell_price_table_and_stale_snapshots():
    low, high, f = datasets.price("strubell2019", "V100")
    assert (low, high) == (0.74, 2.48) and f.year == 2019
    low, high, f = datasets.price("aws-2023-10", "A100")
    assert high > 0 and f.year == 2023 and "stale" in f.note
    with pytest.raises(UsageError):
        datasets.price("gcp-2031", "V100")


def test_embodied_rows_point_at_known_accelerators():
    models = {r["model"] for r in datasets.table("accelerators.csv")}
    linked = [r["accelerator"] for r in datasets.table("embodied.csv") if r["accelerator"]]
    assert linked and set(linked) <= models
    assert datasets.embodied_default("default_host")[0].value > 0


def test_compare_regions_is_a_fixed_sourced_set():
    rows = datasets.compare_regions()
    assert len(rows) == 8 and len({k for k, _ in rows}) == 8
    assert all(f.source and f.year for _, f in rows)
    values = {k: f.value for k, f in rows}
    assert values["FR"] < values["US"]  # a low-carbon grid against an average one


def test_strubell_table2_is_its_own_dated_table():
    mix = datasets.energy_mix("Germany")  # Table 2 row comes first under its own name
    assert mix["renewable_pct"] == "40" and mix["published"] == "2019"
    assert float(datasets.energy_mix("DEU")["share_coal_pct"]) >= 0
