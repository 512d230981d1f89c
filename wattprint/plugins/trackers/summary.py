"""The end of a run for a tracker: its footprint as flat summary fields, and the report files
(the HTML report and the Markdown statement, rendered by the report modules from the store)."""
from __future__ import annotations

import os

from ...units import J_PER_KWH

PREFIX = "wattprint/"


def fields(record, footprint) -> dict:
    """Flat ``wattprint/...`` name -> number or text; a figure that is not known is left out."""
    from ...report.data import source_text

    out = {"run_id": record.id, "status": record.status, "energy_kwh_it": record.energy_kwh,
           "duration_s": record.duration_s,
           "location": ", ".join(f"{k}={v}" for k, v in sorted(record.location.items()))
           or "not given"}
    for d in record.domains:
        # e.g. component/gpu:0/energy_kwh = 0.42, component/gpu:0/label = "measured (nvml)"
        key = f"component/{d.name}/"
        out[key + "energy_kwh"] = d.energy_j / J_PER_KWH
        out[key + "label"] = f"{d.label} ({d.source})" + ("" if d.in_total else ", not in the total")
    if footprint is not None:
        f = footprint
        src = {s["factor"]: s for s in f.sources}
        out.update(energy_kwh=f.energy_kwh, pue=f.pue, pue_source=source_text(src.get("pue")))
        if "intensity" in src:
            out["intensity_g_per_kwh"] = src["intensity"]["value"]
            out["intensity_source"] = source_text(src["intensity"])
        for name in ("co2e_kg", "co2e_net_kg", "cost_usd_low", "cost_usd_high",
                     "electricity_cost_usd", "embodied_kg"):
            if getattr(f, name) is not None:
                out[name] = getattr(f, name)
    return {PREFIX + k: v for k, v in out.items()}


def files(store, run_id: str, directory: str) -> list:
    """Write ``wattprint-<run>.html`` and ``wattprint-<run>.md`` into ``directory``; their paths."""
    from ...report.data import load
    from ...report.html import render
    from ...report.markdown import markdown

    runs = load(store, [run_id])
    base = os.path.join(directory, f"wattprint-{run_id}")  # ids are file-name safe (check_run_id)
    paths = []
    for suffix, text in ((".html", render(runs)), (".md", markdown(runs))):
        with open(base + suffix, "w", encoding="utf-8") as f:
            f.write(text)
        paths.append(base + suffix)
    return paths
