"""Rebuild the bundled tables from the candidate files in ../shared/data (maintainers only).

Not imported by the library. Run: python wattprint/data/build_tables.py /path/to/shared/data
Every fix applied to a source row is listed in docs/data.md.
"""
from __future__ import annotations

import csv
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent
LB_PER_MWH_TO_G_PER_KWH = 0.45359237


def read(src: Path, name: str) -> list[dict]:
    with open(src / name, newline="", encoding="utf-8") as f:
        return [r for r in csv.DictReader(f) if any(v.strip() for v in r.values() if v)]


def write(name: str, fields: list[str], rows: list[dict]) -> None:
    with open(OUT / name, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in fields})
    print(f"{name}: {len(rows)} rows")


def grid_country(src):
    rows = read(src, "grid_intensity_country_ember.csv")
    out = [dict(iso3=r["iso3"], iso2=r["iso2"], name=r["name"], kind=r["kind"], year=r["year"],
                gco2e_per_kwh=r["gco2e_per_kwh_lifecycle"]) for r in rows]
    for r in out:
        assert 0 <= float(r["gco2e_per_kwh"]) < 1500, r
    write("grid_country_ember.csv", ["iso3", "iso2", "name", "kind", "year", "gco2e_per_kwh"], out)


def grid_us_state(src):
    out = []
    for r in read(src, "grid_intensity_us_state_egrid2023.csv"):
        g = float(r["co2e_lb_per_mwh"]) * LB_PER_MWH_TO_G_PER_KWH
        assert abs(g - float(r["gco2e_per_kwh_direct"])) < 0.01, r  # candidate conversion checked
        out.append(dict(state=r["state_code"], name=r["state_name"], year=r["year"],
                        lb_per_mwh=r["co2e_lb_per_mwh"], gco2e_per_kwh=f"{g:.2f}"))
    write("grid_us_state_egrid.csv", ["state", "name", "year", "lb_per_mwh", "gco2e_per_kwh"], out)


def grid_zone(src, year="2024"):
    # 2025 is provisional upstream; one complete year keeps the table small.
    out = [dict(zone=r["zone_key"], name=r["zone_name"], country_iso2=r["country_iso2"], year=r["year"],
                gco2e_per_kwh=r["gco2e_per_kwh_lifecycle"], renewable_pct=r["renewable_pct"],
                carbon_free_pct=r["carbon_free_pct"])
           for r in read(src, "grid_intensity_zone_electricitymaps.csv") if r["year"] == year]
    write("grid_zone_electricitymaps.csv",
          ["zone", "name", "country_iso2", "year", "gco2e_per_kwh", "renewable_pct", "carbon_free_pct"], out)


def cloud_regions(src):
    # em_* columns are Electricity Maps (ODbL): left out here, looked up through the zone file instead.
    out = []
    for r in read(src, "cloud_regions.csv"):
        out.append(dict(provider=r["provider"], region=r["region"], name=r["display_name"],
                        country_iso2=r["country_iso2"], country_iso3=r["country_iso3"],
                        zone=r["electricitymaps_zone"], status=r["status"],
                        provider_gco2e_per_kwh=r["provider_grid_gco2e_per_kwh"],
                        provider_year=r["provider_year"], provider_cfe_pct=r["provider_cfe_pct"],
                        ccf_gco2e_per_kwh=r["ccf_gco2e_per_kwh"]))
    write("cloud_regions.csv", list(out[0]), out)


def energy_mix(src):
    rows = read(src, "energy_mix_country_owid.csv")
    write("energy_mix_country_owid.csv", list(rows[0]), rows)


GPU_EXTRA = [  # rows the candidate lacked (the paper's own hardware)
    dict(vendor="NVIDIA", model="TITAN X (Pascal)", form_factor="PCIe", architecture="Pascal",
         release_year="2016", tdp_w="250", memory_gb="12", memory_type="GDDR5X", measured_avg_w="",
         power_note="Strubell et al. 2019 measured on this card",
         source="https://www.techpowerup.com/gpu-specs/titan-x-pascal.c2863", confidence="secondary"),
    dict(vendor="NVIDIA", model="GeForce GTX TITAN X", form_factor="PCIe", architecture="Maxwell",
         release_year="2015", tdp_w="250", memory_gb="12", memory_type="GDDR5", measured_avg_w="",
         power_note="the 2015 Maxwell card of the same name",
         source="https://www.techpowerup.com/gpu-specs/geforce-gtx-titan-x.c2632", confidence="secondary"),
]
TPU_V4_SOURCE = "https://doi.org/10.1145/3579371.3589350"  # Jouppi et al. 2023, where the 170 W is printed

# model -> short family name a user types; the first row of a family is what a bare family resolves to.
FAMILY = {
    "Tesla K80": "K80", "Tesla M60": "M60", "Tesla P4": "P4", "Tesla P40": "P40",
    "Tesla P100 SXM2": "P100", "Tesla P100 PCIe 16GB": "P100",
    "Tesla V100 SXM2 16GB": "V100", "Tesla V100 SXM2 32GB": "V100", "Tesla V100 PCIe 16GB": "V100",
    "Tesla V100 PCIe 32GB": "V100", "Tesla V100S PCIe 32GB": "V100S", "T4": "T4",
    "A100 SXM4 80GB": "A100", "A100 SXM4 40GB": "A100", "A100 PCIe 40GB": "A100", "A100 PCIe 80GB": "A100",
    "A10": "A10", "A10G": "A10G", "A30": "A30", "A40": "A40", "RTX A6000": "A6000", "L4": "L4", "L40": "L40",
    "L40S": "L40S", "RTX 6000 Ada": "RTX 6000 Ada", "H100 SXM5": "H100", "H100 PCIe": "H100",
    "H100 NVL": "H100", "H200 SXM": "H200", "H200 NVL": "H200", "GH200": "GH200", "B200 (HGX)": "B200",
    "GeForce GTX 1080 Ti": "GTX 1080 Ti", "GeForce RTX 2080 Ti": "RTX 2080 Ti",
    "GeForce RTX 3090": "RTX 3090", "GeForce RTX 4090": "RTX 4090",
    "TITAN X (Pascal)": "Titan X", "GeForce GTX TITAN X": "Titan X",
    "Instinct MI50 32GB": "MI50", "Instinct MI100": "MI100", "Instinct MI210": "MI210",
    "Instinct MI250": "MI250", "Instinct MI250X": "MI250X", "Instinct MI300X": "MI300X",
    "Instinct MI300A": "MI300A", "Instinct MI325X": "MI325X",
    "TPU v2": "TPUv2", "TPU v3": "TPUv3", "TPU v4": "TPUv4", "TPU v5e": "TPUv5e", "TPU v5p": "TPUv5p",
    "TPU v6e (Trillium)": "TPUv6e", "Gaudi 2": "Gaudi2", "Gaudi 3": "Gaudi3",
}
# SXM first, so that a bare family resolves to the data-centre SXM variant (issue 3).
ORDER = ["Tesla P100 SXM2", "Tesla V100 SXM2 32GB", "A100 SXM4 80GB", "H100 SXM5", "H200 SXM"]


def accelerators(src):
    rows = read(src, "gpu_specs.csv") + GPU_EXTRA
    for r in rows:
        if r["model"] == "TPU v4":
            r["source"] = TPU_V4_SOURCE
        if r["model"] in ("TPU v2", "TPU v3"):
            r["power_note"] = (r["power_note"].split(";")[0] + "; measured_avg_w is the mean system power per chip"
                               " (incl. memory, network, fans, PSU) in Patterson et al. 2021, arXiv:2104.10350, Table 4")
        r["family"] = FAMILY[r["model"]]
    rows.sort(key=lambda r: (r["model"] not in ORDER,))
    fields = ["vendor", "model", "family", "form_factor", "architecture", "release_year", "tdp_w", "memory_gb",
              "memory_type", "measured_avg_w", "power_note", "source", "confidence"]
    write("accelerators.csv", fields, rows)


PRICE_FAMILY = [("Inferentia2", "Inferentia2"), ("Inferentia", "Inferentia"), ("V100", "V100"),
                ("A100", "A100"), ("H100", "H100"), ("A10G", "A10G"), ("A10", "A10"), ("T4G", "T4G"),
                ("T4", "T4"), ("K80", "K80"), ("M60", "M60"), ("P100", "P100"), ("P40", "P40"),
                ("K520", "K520"), ("V520", "Radeon Pro V520")]


_AZ = {  # Azure size -> model (exact names; the NC/NV letters alone do not tell the GPU)
    "NC6s v2": "Tesla P100 PCIe 16GB", "NC12s v2": "Tesla P100 PCIe 16GB", "NC24s v2": "Tesla P100 PCIe 16GB",
    "NC24rs v2": "Tesla P100 PCIe 16GB", "NC6s v3": "Tesla V100 PCIe 16GB", "NC12s v3": "Tesla V100 PCIe 16GB",
    "NC24s v3": "Tesla V100 PCIe 16GB", "NC24rs v3": "Tesla V100 PCIe 16GB", "ND40rs v2": "Tesla V100 SXM2 32GB",
    "ND6s": "Tesla P40", "ND12s": "Tesla P40", "ND24s": "Tesla P40", "ND24rs": "Tesla P40",
    "ND96asr A100 v4": "A100 SXM4 40GB", "ND96amsr A100 v4": "A100 SXM4 80GB", "ND96isr H100 v5": "H100 SXM5",
    "NC4as T4 v3": "T4", "NC8as T4 v3": "T4", "NC16as T4 v3": "T4", "NC64as T4 v3": "T4",
    "NV36ads A10 v5": "A10", "NV36adms A10 v5": "A10", "NV72ads A10 v5": "A10",
    "NC24ads A100 v4": "A100 PCIe 80GB", "NC48ads A100 v4": "A100 PCIe 80GB", "NC96ads A100 v4": "A100 PCIe 80GB",
}
_AZ_HALF_BOARD = {"NC6": "Tesla K80", "NC12": "Tesla K80", "NC24": "Tesla K80", "NC24r": "Tesla K80",
                  "NV6": "Tesla M60", "NV12": "Tesla M60", "NV24": "Tesla M60", "NV12s v3": "Tesla M60",
                  "NV24s v3": "Tesla M60", "NV48s v3": "Tesla M60"}  # one GPU = half a K80/M60 card
_AWS = {"p2.xlarge": ("Tesla K80", "gpu-chip", 1),  # 1 GPU of 12 GB: one GK210, half a K80 board
        "p2.8xlarge": ("Tesla K80", "board", 2), "p2.16xlarge": ("Tesla K80", "board", 2),  # units of 24 GB: boards
        "p3dn.24xlarge": ("Tesla V100 SXM2 32GB", "gpu", 1), "p4de.24xlarge": ("A100 SXM4 80GB", "gpu", 1),
        "p4d.24xlarge": ("A100 SXM4 40GB", "gpu", 1), "p5.48xlarge": ("H100 SXM5", "gpu", 1)}
_AWS_FAMILY = {"p3": ("Tesla V100 SXM2 16GB", "gpu", 1), "g3": ("Tesla M60", "gpu-chip", 1),  # g3: 8 GB units
               "g3s": ("Tesla M60", "gpu-chip", 1), "g4dn": ("T4", "gpu", 1), "g5": ("A10G", "gpu", 1),
               "inf1": ("", "chip", 1), "inf2": ("", "chip", 1), "trn1": ("", "chip", 1), "trn1n": ("", "chip", 1)}


def price_variant(instance: str) -> tuple[str, str, int]:
    """(model in accelerators.csv, unit, NVML-counted devices per unit) of an instance's priced unit.

    unit: gpu (one GPU as NVML counts it), gpu-chip (one GPU of a dual-GPU board: a K80's GK210,
    half an M60), board (a whole dual-GPU board), tpu-device (a Cloud TPU v2-8/v3-8: 4 chips),
    chip (Inferentia/Trainium). Checked against the export's GPU memory per unit (docs/data.md)."""
    if instance in _AWS:
        return _AWS[instance]
    if instance.split(".")[0] in _AWS_FAMILY:
        return _AWS_FAMILY[instance.split(".")[0]]
    if instance in _AZ:
        return _AZ[instance], "gpu", 1
    if instance in _AZ_HALF_BOARD:
        return _AZ_HALF_BOARD[instance], "gpu-chip", 1
    return "", "gpu", 1


def prices(src):
    out = [  # Strubell et al. 2019: Google Cloud, U.S., per unit-hour (see reference YAML)
        dict(table="strubell2019", provider="gcp", region="us", hardware=h, unit=u, counted_per_unit=c, instance="",
             units_per_instance="1", on_demand_usd_per_unit_hour=hi, preemptible_usd_per_unit_hour=lo,
             date="2019", source="Strubell et al. 2019 (ACL), Table 3 and footnotes; Google Cloud pricing 2019",
             note=n)
        for h, u, c, lo, hi, n in [
            ("P100", "gpu", "1", "0.43", "1.46", ""), ("V100", "gpu", "1", "0.74", "2.48", ""),
            ("TPUv2", "tpu-device", "4", "1.35", "4.50", "per Cloud TPU v2 device (v2-8: 4 chips, 8 cores), as Google "
             "priced it in 2019; footnote 7 says 1.46 pre-emptible; Table 3 is only reproduced with 1.35"),
            ("TPUv3", "tpu-device", "4", "2.40", "8.00", "per Cloud TPU v3 device (v3-8: 4 chips, 8 cores), as Google "
             "priced it in 2019")]]
    for r in read(src, "cloud_gpu_instance_prices_snapshot.csv"):
        model = r["gpu_model"]
        if r["instance_type"].startswith("trn1"):
            model = "AWS Trainium"  # candidate mislabelled trn1 as Inferentia
        fam = next((f for k, f in PRICE_FAMILY if k in model), None) if "Trainium" not in model else "Trainium"
        if not r["gpu_count"].isdigit():
            continue  # fractional-GPU VMs: not a price per accelerator
        n = int(r["gpu_count"])
        variant, unit, per = price_variant(r["instance_type"])
        spot = r["spot_usd_per_hour_min"] if r["provider"] == "aws" else ""  # Azure spot values unreliable: dropped
        out.append(dict(table=f"{r['provider']}-{r['price_snapshot']}", provider=r["provider"],
                        region=r["region"].replace(" (assumed)", ""), hardware=fam, model=variant, unit=unit,
                        counted_per_unit=str(per),
                        instance=r["instance_type"], units_per_instance=str(n),
                        on_demand_usd_per_unit_hour=f"{float(r['on_demand_usd_per_hour']) / n:.4f}",
                        preemptible_usd_per_unit_hour=f"{float(spot) / n:.4f}" if spot else "",
                        date=r["price_snapshot"],
                        source="instances.vantage.sh export via boaviztapi 2.5.0 data/utils",
                        note="instance price / accelerators per instance (host included); region assumed; "
                             "stale snapshot: later price cuts not reflected"))
    fields = ["table", "provider", "region", "hardware", "model", "unit", "counted_per_unit", "instance", "units_per_instance",
              "on_demand_usd_per_unit_hour", "preemptible_usd_per_unit_hour", "date", "source", "note"]
    write("prices.csv", fields, out)


EMBODIED_FAMILY = {  # Boavizta item -> accelerators.csv model it stands for
    "NVIDIA GTX 1080 Ti": "GeForce GTX 1080 Ti", "NVIDIA P100": "Tesla P100 SXM2", "NVIDIA L4": "L4",
    "NVIDIA A100 PCIe 40GB": "A100 PCIe 40GB", "NVIDIA A100 SXM4 40GB": "A100 SXM4 40GB",
    "NVIDIA H100 SXM 80GB": "H100 SXM5", "NVIDIA H100 PCIe 80GB": "H100 PCIe", "NVIDIA H100 NVL 94GB": "H100 NVL",
    "NVIDIA H200 SXM 141GB": "H200 SXM", "NVIDIA A100 SXM4 80GB": "A100 SXM4 80GB",
    "NVIDIA A100 PCIe 80GB": "A100 PCIe 80GB", "NVIDIA L40S 48GB": "L40S",
    "NVIDIA Tesla V100 SXM2 16GB": "Tesla V100 SXM2 16GB", "NVIDIA Tesla V100 SXM2 32GB": "Tesla V100 SXM2 32GB",
    "NVIDIA Tesla V100 PCIe 16GB": "Tesla V100 PCIe 16GB", "NVIDIA Tesla V100 PCIe 32GB": "Tesla V100 PCIe 32GB",
    "NVIDIA Tesla V100S PCIe 32GB": "Tesla V100S PCIe 32GB", "NVIDIA T4": "T4", "NVIDIA A10": "A10",
    "NVIDIA B200 180GB": "B200 (HGX)", "AMD Instinct MI300X 192GB": "Instinct MI300X",
    "NVIDIA Tesla P4": "Tesla P4", "NVIDIA Tesla M60": "Tesla M60",
}


def embodied(src):
    out = []
    for r in read(src, "embodied_emissions.csv"):
        key = "default_gpu" if r["item"].startswith("DEFAULT") else (
            "default_host" if r["item"].startswith("8-GPU server host") else "")
        out.append(dict(scope=r["scope"], item=r["item"], accelerator=EMBODIED_FAMILY.get(r["item"], ""),
                        default=key, memory_gb=r["memory_gb"], value=r["value"], unit=r["unit"],
                        lifetime_years=r["lifetime_years"], method=r["method"], source=r["source"], note=r["note"]))
    write("embodied.csv", list(out[0]), out)


def main(src: str) -> None:
    s = Path(src)
    grid_country(s); grid_us_state(s); grid_zone(s); cloud_regions(s); energy_mix(s)
    accelerators(s); prices(s); embodied(s)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
