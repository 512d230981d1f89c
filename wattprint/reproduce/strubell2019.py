"""Strubell, Ganesh & McCallum (2019), ACL, doi:10.18653/v1/P19-1355: Tables 1, 3 and 4.

Inputs are the paper's own (power, hours, units, PUE 1.58, 0.954 lb/kWh, 2019 Google Cloud
prices); every figure goes through ``wattprint.estimate`` so the check covers the library's model.
"""
from __future__ import annotations

from .. import datasets, datasets_hw
from ..footprint import estimate
from ..units import LB_KG
from . import Check

TITLE = "Strubell, Ganesh & McCallum (2019), Energy and Policy Considerations for Deep Learning in NLP"
PUE = "strubell2019"          # 1.58, Uptime Institute 2018 (pue.csv)
INTENSITY = "0.954lb/kWh"     # US EPA 2018, as in the paper's eq. 2
PRICES = "strubell2019"       # prices.csv table

# model, hardware (pricing label), units, measured total power W (None: TPU), hours, published, note
TABLE3 = [
    ("T2T_base", "P100", 8, 1415.78, 12, dict(kwh=27, lbs=26, low=41, high=140), ""),
    ("T2T_big", "P100", 8, 1515.43, 84, dict(kwh=201, lbs=192, low=289, high=981), ""),
    ("ELMo", "P100", 3, 517.66, 336, dict(kwh=275, lbs=262, low=433, high=1472),
     "measured on 3x GTX 1080 Ti; P100 is the pricing label"),
    ("BERT_base", "V100", 64, 12041.51, 79.2, dict(kwh=1507, lbs=1438, low=3751, high=12571),
     "3.3 days = 79.2 h (the table prints 79)"),
    ("BERT_base", "TPUv2", 16, None, 96, dict(low=2074, high=6912), ""),
    ("NAS", "P100", 8, 1515.43, 274120, dict(kwh=656347, lbs=626155, low=942973, high=3201722),
     "979e6 / 300e3 steps x 84 h of the 8-GPU T2T_big server"),
    ("NAS", "TPUv2", 1, None, 32633, dict(low=44055, high=146848),
     "979e6 / 300e3 x 10 h = 32,633.3 h; both printed costs fit 32,633 h (whole hours), "
     "32,633.3 h gives 146,850 (2 USD off); the printed 32,623 h is a typo"),
    ("GPT-2", "TPUv3", 32, None, 168, dict(low=12902, high=43008), ""),
]

# Evidence for the chip counts of the TPU rows (the per-device cost is noted beside the paper's)
TPU_EVIDENCE = {
    "BERT_base": "BERT's 16 chips are 4 Cloud TPUs: 'Training of BERT_BASE was performed on 4 Cloud TPUs in Pod "
                 "configuration (16 TPU chips total)' (Devlin et al. 2019, arXiv:1810.04805, sec. A.2).",
    "GPT-2": "GPT-2's 32 TPUv3 chips (the paper's units, 1 week) are 8 Cloud TPU v3-8 devices.",
    "NAS": "If the paper's 1 TPUv2 is one Cloud TPU (4 chips), its printed figure is the per-device price.",
}

# Table 4: LISA development; cloud cost at P100 prices, electricity at 0.12 USD/kWh.
TABLE4_PRICE = (0.43, 1.46)
TABLE4_TARIFF = 0.12
TABLE4 = [  # models, GPU-hours, published (low, high, electricity), tolerance of the cost columns
    (1, 120, (52, 175, 5), 0.5),
    (24, 2880, (1238, 4205, 118), 0.5),
    (4789, 239942, (103000, 350000, 9870), 500),  # printed as $103k-$350k
]
TABLE1_PIPELINE_TUNED_LBS = 78468  # Table 1: the whole 4789-model campaign


def _lisa_gpu_watts() -> float:
    """Raw GPU-hour power the paper never prints, fitted from Table 1's 78,468 lb for 239,942 GPU-hours."""
    kwh_per_gpu_hour = TABLE1_PIPELINE_TUNED_LBS / 0.954 / TABLE4[-1][1]
    return kwh_per_gpu_hour / 1.58 * 1000.0


def _common():
    return dict(pue=PUE, intensity=INTENSITY)


def _table3() -> list[Check]:
    out = []
    for model, hw, units, watts, hours, pub, note in TABLE3:
        item = f"{model} {hw}x{units}"
        if watts is not None:
            fp = estimate(hardware=hw, count=units, hours=hours, power_w=watts, prices=PRICES, **_common())
            out.append(Check("3", item, "energy kWh (PUE incl.)", fp.energy_kwh, pub["kwh"], 0.5, note=note))
            out.append(Check("3", item, "CO2e lb", fp.co2e_lbs, pub["lbs"], 0.5))
        else:
            spec = datasets_hw.hardware(hw)
            row, _ = datasets_hw.price_row(PRICES, spec)  # the paper priced each chip at a device's price
            fp = estimate(hardware=hw, count=units, hours=hours, device_power_w=spec["measured_avg_w"],
                          price_low=row["preemptible_usd_per_unit_hour"], price_high=row["on_demand_usd_per_unit_hour"],
                          **_common())
            per_device = estimate(hardware=hw, count=units, hours=hours, device_power_w=spec["measured_avg_w"],
                                  prices=PRICES, **_common())
            src = "Patterson et al. 2021 Table 4 (measured average per chip)"
            out.append(Check("3", item, "energy kWh (PUE incl.)", fp.energy_kwh, None, None, kind="ours",
                             note=f"not in the paper: {spec['measured_avg_w']:g} W per chip, {src}"))
            out.append(Check("3", item, "CO2e lb", fp.co2e_lbs, None, None, kind="ours", note="not in the paper"))
        out.append(Check("3", item, "cloud cost USD low", fp.cost_usd_low, pub["low"], 0.5,
                         note=note if watts is None else ""))
        out.append(Check("3", item, "cloud cost USD high", fp.cost_usd_high, pub["high"], 0.5))
        if watts is None:
            chips = int(row["counted_per_unit"])
            for figure, ours in (("low", per_device.cost_usd_low), ("high", per_device.cost_usd_high)):
                out.append(Check("3", item, f"cloud cost USD {figure}, priced per device", ours, pub[figure], None,
                                 kind="ours", note=TPU_EVIDENCE.get(model, "") + f" The 2019 price was per Cloud TPU "
                                 f"device of {chips} chips; the paper charged it per chip: {units} chips = "
                                 f"{units / chips:g} devices, {chips}x less than printed." if figure == "low" else ""))
    return out


def _table4() -> list[Check]:
    watts = _lisa_gpu_watts()
    out = []
    for models, gpu_hours, (low, high, elec), tol in TABLE4:
        fp = estimate(device_power_w=watts, count=1, hours=gpu_hours, price_low=TABLE4_PRICE[0],
                      price_high=TABLE4_PRICE[1], tariff=TABLE4_TARIFF, **_common())
        item = f"{models} model{'s' if models > 1 else ''}, {gpu_hours:,} GPU-h"
        out.append(Check("4", item, "cloud cost USD low", fp.cost_usd_low, low, tol))
        out.append(Check("4", item, "cloud cost USD high", fp.cost_usd_high, high, tol))
        out.append(Check("4", item, "electricity USD", fp.electricity_cost_usd, elec, 0.5,
                         note=f"{watts:.1f} W per GPU fitted from Table 1 (78,468 lb)" if models == 1 else ""))
    return out


def _table1(t3: list[Check]) -> list[Check]:
    watts = _lisa_gpu_watts()
    out = []
    for key in ("air_travel_ny_sf", "human_life_year", "american_life_year", "car_lifetime"):
        e = datasets.equivalent(key)
        out.append(Check("1", e["name"], "CO2e lb", e["value"], e["value"], None, kind="quoted",
                         note="quoted (no inputs to recompute)"))
    one = estimate(device_power_w=watts, count=1, hours=TABLE4[0][1], **_common())
    out.append(Check("1", "NLP pipeline (parsing, SRL)", "CO2e lb", one.co2e_lbs, 39, 0.5,
                     note="120 GPU-h (Table 4, 1 model)"))
    all_ = estimate(device_power_w=watts, count=1, hours=TABLE4[-1][1], **_common())
    out.append(Check("1", "w/ tuning & experimentation", "CO2e lb", all_.co2e_lbs, TABLE1_PIPELINE_TUNED_LBS,
                     0.5, kind="calibration", note="per-GPU power fitted from this figure: not an independent check"))
    for label, model in (("Transformer (big)", "T2T_big P100x8"), ("w/ neural architecture search", "NAS P100x8")):
        c = next(c for c in t3 if c.item == model and c.figure == "CO2e lb")
        out.append(Check("1", label, "CO2e lb", c.ours, c.published, 0.5, note=f"Table 3 {model}"))
    return out


def checks() -> list[Check]:
    t3 = _table3()
    return _table1(t3) + t3 + _table4()


def inputs() -> list[str]:
    pue = datasets.resolve_pue(pue=PUE)
    return [f"PUE {pue.value:g} ({pue.source})",
            f"intensity 0.954 lb/kWh = {0.954 * 1000 * LB_KG:.2f} g/kWh (US EPA 2018, the paper's eq. 2)",
            "cloud prices: table strubell2019 (Google Cloud, U.S., 2019; low = pre-emptible, high = on-demand); "
            "TPU prices were per Cloud TPU device (4 chips): the paper's TPU costs charge each chip a device's "
            "price, as recomputed here; 'priced per device' rows give the same work at the device price",
            "TPU energy: Patterson et al. 2021 (arXiv:2104.10350) Table 4 measured average power per chip"]
