"""Typical training draw of an accelerator: the low end of a hardware estimate's range.

A hardware estimate from TDP alone is an upper bound. Its low end is a published measured average
over a training, as a fraction of TDP: the accelerator's own measured average where the table of
accelerators has one (TPU v2, v3: Patterson et al. 2021), else its generation's row of
``data/typical_draw.csv``, else that file's ``default`` row (the lowest fraction published). The
result says which is which.
"""
from __future__ import annotations

from . import datasets


def typical(hw: dict) -> dict | None:
    """{'fraction', 'watts', 'basis', 'source'} for one device of ``hw``; None without a TDP."""
    tdp = hw.get("tdp_w")
    if not tdp:
        return None
    if hw.get("measured_avg_w"):
        w = hw["measured_avg_w"]
        return {"fraction": w / tdp, "watts": w, "key": hw["model"],
                "basis": f"published measured average {w:g} W of {hw['model']} ({w / tdp:.0%} of TDP)",
                "source": {"factor": "device_typical_power", "value": w, "unit": "W", "source": hw["power_note"]
                           or hw["source"], "url": hw["source"], "year": None, "name": hw["model"],
                           "note": "measured average (low end of the range)"}}
    rows = {r["key"]: r for r in datasets.table("typical_draw.csv")}
    row = next((r for r in rows.values() if r["key"] != "default" and
                ({hw["model"], hw["family"]} & set(filter(None, r["applies_to"].split(";"))))), rows["default"])
    f = float(row["fraction"])
    return {"fraction": f, "watts": f * tdp, "key": row["key"],
            "basis": f"typical training draw {f:.0%} of TDP ({row['key']}: {row['what']})",
            "source": {"factor": "device_typical_fraction", "value": f, "unit": "fraction of TDP",
                       "source": row["source"], "url": row["url"], "year": int(row["year"]), "name": row["key"],
                       "note": row["note"]}}


_SCALED = ("energy_kwh", "energy_kwh_it", "co2e_kg", "co2e_net_kg", "electricity_cost_usd")


def with_range(fp):
    """Fill a footprint's ``*_low`` figures from ``inputs['power_range_w']`` (energy-proportional
    figures only: cloud cost and embodied emissions depend on hours, not on power)."""
    rng = fp.inputs.get("power_range_w")
    if not rng or not rng["high"]:
        return fp
    ratio = rng["low"] / rng["high"]
    for k in _SCALED:
        v = getattr(fp, k)
        if v is not None:
            setattr(fp, k + "_low", v * ratio)
    for level in fp.levels:
        for k in _SCALED:
            if level.get(k) is not None:
                level[k + "_low"] = level[k] * ratio
    return fp
