import json
from importlib import resources

import pytest

from wattprint import datasets, datasets_hw
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
        spec = datasets_hw.hardware(fam)
        assert spec["form_factor"] == form and spec["resolved_from"] == fam
    assert "resolved_from" not in datasets_hw.hardware("A100 PCIe 40GB")


@pytest.mark.parametrize("name", ["K80", "Titan X", "GTX 1080 Ti", "B200", "MI250X", "MI300X", "TPU v2", "TPUv3",
                                  "TPU v4", "TPU v5e", "TPU v5p", "TPU v6e", "Gaudi 2", "Gaudi 3"])
def test_required_accelerators_are_known(name):
    spec = datasets_hw.hardware(name)
    assert spec["memory_gb"] > 0 and 2014 <= spec["release_year"] <= 2025
    assert spec["source"].startswith("http")
    assert spec["tdp_w"] or spec["measured_avg_w"] or "not published" in spec["power_note"]


def test_tpu_published_power_names_its_source():
    for name in ("TPU v2", "TPU v3"):
        spec = datasets_hw.hardware(name)
        assert spec["measured_avg_w"] and "Patterson" in spec["power_note"]


def test_unknown_hardware_lists_closest():
    with pytest.raises(UsageError, match="V100"):
        datasets_hw.hardware("V1000")


def test_strubell_price_table_and_stale_snapshots():
    low, high, f = datasets_hw.price("strubell2019", "V100")
    assert (low, high) == (0.74, 2.48) and f.year == 2019
    low, high, f = datasets_hw.price("aws-2023-10", "A100")
    assert high > 0 and f.year == 2023 and "stale" in f.note
    with pytest.raises(UsageError):
        datasets_hw.price("gcp-2031", "V100")


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


# -- accelerator names as drivers report them (issue 11, item 1) --------------------------------
DRIVER_NAMES = [  # (name as NVML / nvidia-smi / amdsmi / rocm-smi / JAX / hl-smi report it, model, exact?)
    ("NVIDIA H100 80GB HBM3", "H100 SXM5", True), ("NVIDIA H100 PCIe", "H100 PCIe", True),
    ("NVIDIA H100 NVL", "H100 NVL", True), ("NVIDIA H200", "H200 SXM", True), ("NVIDIA H200 NVL", "H200 NVL", True),
    ("NVIDIA B200", "B200 (HGX)", True), ("NVIDIA A100 80GB PCIe", "A100 PCIe 80GB", True),
    ("NVIDIA A100-PCIE-40GB", "A100 PCIe 40GB", True), ("NVIDIA A100-SXM4-40GB", "A100 SXM4 40GB", True),
    ("NVIDIA A100-SXM4-80GB", "A100 SXM4 80GB", True), ("NVIDIA A100-SXM-80GB", "A100 SXM4 80GB", True),
    ("Tesla V100-SXM2-16GB", "Tesla V100 SXM2 16GB", True), ("Tesla V100-SXM2-32GB", "Tesla V100 SXM2 32GB", True),
    ("Tesla V100-PCIE-16GB", "Tesla V100 PCIe 16GB", True), ("Tesla V100-PCIE-32GB", "Tesla V100 PCIe 32GB", True),
    ("Tesla V100S-PCIE-32GB", "Tesla V100S PCIe 32GB", True), ("Tesla P100-PCIE-16GB", "Tesla P100 PCIe 16GB", True),
    ("Tesla P100-SXM2-16GB", "Tesla P100 SXM2", True), ("Tesla P4", "Tesla P4", True), ("Tesla P40", "Tesla P40", True),
    ("Tesla K80", "Tesla K80", True), ("Tesla M60", "Tesla M60", True), ("Tesla T4", "T4", True),
    ("NVIDIA L4", "L4", True), ("NVIDIA L40", "L40", True), ("NVIDIA L40S", "L40S", True), ("NVIDIA A10G", "A10G", True),
    ("NVIDIA A10", "A10", True), ("NVIDIA A30", "A30", True), ("NVIDIA A40", "A40", True),
    ("NVIDIA RTX A6000", "RTX A6000", True), ("NVIDIA RTX 6000 Ada Generation", "RTX 6000 Ada", True),
    ("NVIDIA GeForce RTX 4090", "GeForce RTX 4090", True), ("NVIDIA GeForce RTX 3090", "GeForce RTX 3090", True),
    ("NVIDIA GeForce RTX 2080 Ti", "GeForce RTX 2080 Ti", True), ("NVIDIA GeForce GTX 1080 Ti", "GeForce GTX 1080 Ti", True),
    ("NVIDIA TITAN X (Pascal)", "TITAN X (Pascal)", True), ("NVIDIA GeForce GTX TITAN X", "GeForce GTX TITAN X", True),
    ("AMD Instinct MI250X", "Instinct MI250X", True), ("AMD Instinct MI250", "Instinct MI250", True),
    ("AMD Instinct MI210", "Instinct MI210", True), ("AMD Instinct MI100", "Instinct MI100", True),
    ("AMD Instinct MI300X", "Instinct MI300X", True), ("AMD Instinct MI300X OAM", "Instinct MI300X", True),
    ("AMD Instinct MI300A", "Instinct MI300A", True), ("AMD Instinct MI325X", "Instinct MI325X", True),
    ("AMD Radeon Instinct MI50 32GB", "Instinct MI50 32GB", True), ("gfx908", "Instinct MI100", True),
    ("TPU v2", "TPU v2", True), ("TPU v3", "TPU v3", True), ("TPU v4", "TPU v4", True),
    ("TPU v5 lite", "TPU v5e", True), ("TPU v5", "TPU v5p", True), ("TPU v6 lite", "TPU v6e (Trillium)", True),
    ("HL-225", "Gaudi 2", True), ("NVIDIA A100-SXM4-40GB MIG 1g.5gb", "A100 SXM4 40GB", True),
    ("NVIDIA H100 80GB HBM3 MIG 1g.10gb", "H100 SXM5", True), ("nvidia a100-sxm4-80gb", "A100 SXM4 80GB", True),
    ("NVIDIA H200 141GB HBM3e", "H200 SXM", True), ("AMD Instinct MI300X VF", "Instinct MI300X", True),
    ("Intel Gaudi 2", "Gaudi 2", True), ("HL-325L", "Gaudi 3", True), ("TPU v6e", "TPU v6e (Trillium)", True),
    ("NVIDIA T4", "T4", True),
    # only the family is certain: resolved, and said so
    ("Aldebaran/MI200 [Instinct MI250X/MI250]", "Instinct MI250X", False),
    ("Tesla V100-FHHL-16GB", "Tesla V100 PCIe 16GB", False),
    ("NVIDIA H100", "H100 SXM5", False), ("NVIDIA A100 80GB", "A100 SXM4 80GB", False),
    ("Tesla V100-DGXS-32GB", "Tesla V100 SXM2 32GB", False), ("Tesla P100-PCIE-12GB", "Tesla P100 PCIe 16GB", False),
    ("NVIDIA GH200 480GB", "GH200", False), ("AMD Instinct MI250X / MI250", "Instinct MI250X", False),
]


@pytest.mark.parametrize("name,model,exact", DRIVER_NAMES)
def test_driver_names_resolve_to_their_exact_variant(name, model, exact):
    spec = datasets_hw.hardware(name)
    assert spec["model"] == model
    if name == model:
        assert "resolved_from" not in spec
        return
    assert spec["resolved_from"] == name and model in spec["resolution_note"]
    assert spec["resolution"] == ("exact" if exact else "family")
    assert ("only the family" in spec["resolution_note"]) == (not exact)


@pytest.mark.parametrize("name,listed", [
    ("NVIDIA H800 80GB HBM3", "H100"), ("NVIDIA GeForce RTX 4090 Laptop GPU", "RTX 4090"),
    ("Quadro RTX 8000", "RTX"), ("gfx90a", "MI250X"), ("gfx942", "MI300X"), ("V1000", "V100"),
    ("NVIDIA GeForce RTX 3090 Ti", "not RTX 3090"), ("TPU v4 lite", "not TPUv4"), ("NVIDIA GeForce GTX 1080", "1080 Ti"),
    ("NVIDIA TITAN Xp", "TITAN X"), ("Quadro RTX 6000", "RTX 6000 Ada"), ("NVIDIA GB200", "B200"),
])
def test_unknown_or_ambiguous_driver_names_are_refused_with_closest(name, listed):
    with pytest.raises(UsageError, match=listed) as e:
        datasets_hw.hardware(name)
    assert "\n" not in str(e.value)


def test_estimate_json_keeps_the_canonical_model(capsys):
    from wattprint.cli import main

    assert main(["estimate", "--hardware", "NVIDIA A100 80GB PCIe", "--hours", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["inputs"]["hardware"] == "A100 PCIe 80GB"
    assert any("resolved to A100 PCIe 80GB" in n for n in out["notes"])


# -- price variants and units (issue 11, items 2, 4, 5) -----------------------------------------
@pytest.mark.parametrize("table,name,instance,high", [
    ("aws-2023-10", "NVIDIA A100-SXM4-80GB", "p4de.24xlarge", 5.1207),
    ("aws-2023-10", "A100", "p4de.24xlarge", 5.1207),  # the family's first row is the 80 GB SXM4
    ("aws-2023-10", "NVIDIA A100-SXM4-40GB", "p4d.24xlarge", 4.0966),
    ("aws-2023-10", "NVIDIA A100 80GB PCIe", "p4de.24xlarge", 5.1207),  # no PCIe instance: same memory
    ("azure-2024-03", "NVIDIA A100-SXM4-80GB", "ND96amsr A100 v4", 4.0963),
    ("azure-2024-03", "NVIDIA A100-SXM4-40GB", "ND96asr A100 v4", 3.3996),
    ("azure-2024-03", "NVIDIA A100 80GB PCIe", "NC96ads A100 v4", 3.6730),
    ("aws-2023-10", "Tesla V100-SXM2-32GB", "p3dn.24xlarge", 3.9015),
    ("aws-2023-10", "Tesla V100-PCIE-32GB", "p3dn.24xlarge", 3.9015),
    ("aws-2023-10", "Tesla V100-SXM2-16GB", "p3.16xlarge", 3.06),
    ("azure-2024-03", "Tesla V100-SXM2-32GB", "ND40rs v2", 2.754),
    ("azure-2024-03", "Tesla V100-PCIE-16GB", "NC24s v3", 3.06),
    ("aws-2023-10", "NVIDIA H100 80GB HBM3", "p5.48xlarge", 12.29),
])
def test_price_rows_match_the_exact_variant(table, name, instance, high):
    _, got, f = datasets_hw.price(table, name)
    assert got == pytest.approx(high) and f.note.startswith(instance + " ")
    exact = datasets_hw.hardware(name)["model"] == datasets_hw.price_row(table, datasets_hw.hardware(name))[0]["model"]
    assert ("no " in f.note and "price in" in f.note) == (not exact)


def test_every_price_row_says_what_one_unit_is():
    models = {r["model"]: r for r in datasets.table("accelerators.csv")}
    per = {"gpu": 1, "gpu-chip": 1, "board": 2, "tpu-device": 4, "chip": 1}
    for r in datasets.table("prices.csv"):
        assert r["unit"] in per and int(r["counted_per_unit"]) == per[r["unit"]], r
        if r["model"]:
            assert models[r["model"]]["family"] == r["hardware"], r
    units = {(r["instance"] or r["hardware"]): r["unit"] for r in datasets.table("prices.csv")}
    assert units["p2.xlarge"] == "gpu-chip" and units["p2.16xlarge"] == "board" and units["NC6"] == "gpu-chip"
    assert units["TPUv2"] == units["TPUv3"] == "tpu-device" and units["g3.16xlarge"] == "gpu-chip"


@pytest.mark.parametrize("table", ["aws-2023-10", "azure-2024-03"])
def test_dual_gpu_boards_cost_the_same_per_counted_gpu_whatever_the_row_unit(table):
    # NVML counts a K80 board as two GPUs; p2.16xlarge is priced per board, p2.xlarge and Azure NC per GK210
    low, high, f = datasets_hw.price(table, "Tesla K80")
    assert high == pytest.approx(0.90) and f.unit == "USD/GPU-hour"
    assert datasets_hw.price(table, "Tesla M60")[1] == pytest.approx(1.14)


def test_tpu_2019_prices_are_per_device_of_four_chips():
    for name, (lo, hi) in (("TPU v2", (1.35, 4.50)), ("TPU v3", (2.40, 8.00))):
        low, high, f = datasets_hw.price("strubell2019", name)
        assert (low * 4, high * 4) == (pytest.approx(lo), pytest.approx(hi)) and f.unit == "USD/chip-hour"
        assert "Cloud TPU device (4 chips)" in f.note


def test_latest_table_per_provider():
    assert datasets_hw.latest_table("aws") == "aws-2023-10"
    assert datasets_hw.latest_table("azure") == "azure-2024-03"
    assert datasets_hw.latest_table("gcp") == "strubell2019"


@pytest.mark.parametrize("name,board_w", [("Tesla K80", 300), ("Tesla M60", 300), ("AMD Instinct MI250X", 500),
                                          ("AMD Instinct MI250", 500)])
def test_dual_device_boards_give_power_per_device_as_drivers_count_them(name, board_w):
    spec = datasets_hw.hardware(name)
    assert spec["devices_per_board"] == 2 and spec["board_tdp_w"] == board_w and spec["tdp_w"] == board_w / 2
    assert "per device" in spec["power_note"]
    from wattprint.footprint import estimate

    fp = estimate(hardware=name, count=2, hours=1, utilization=1, pue=1.0)  # two NVML devices = one board
    assert fp.energy_kwh_it == pytest.approx(board_w / 1000)


def test_a_dual_gpu_cards_embodied_figure_is_split_per_device():
    from wattprint.footprint import estimate

    card, _ = datasets.embodied_for("Tesla M60")
    fp = estimate(hardware="Tesla M60", count=2, hours=1, utilization=1, pue=1.0, embodied=True)
    assert fp.inputs["embodied"]["kg_per_device"] == pytest.approx(card.value / 2)


@pytest.mark.parametrize("query, vendor", [("amd", "AMD"), ("NVIDIA", "NVIDIA"), ("intel", "Intel")])
def test_a_brand_alone_lists_that_vendors_accelerators_only(query, vendor):
    from wattprint.datasets_hw import hardware_list

    found = hardware_list(query)
    assert found and {r["vendor"] for r in found} == {vendor}
