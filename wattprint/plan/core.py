"""Plan a training before it starts: work -> device-hours -> energy, CO2e, cost and embodied
emissions, for each hardware and place asked about, side by side.

    device-hours = FLOPs / (peak x MFU)              MFU a published range (throughput.py)
    energy (IT)  = device-hours x device power        typical training draw to TDP, as `estimate`
                 + node-hours x host power            datasheet host maximum, low end half of it
    energy       = energy (IT) x PUE                  then CO2e, cloud cost and embodied emissions
                                                      through footprint.for_energy, per location

Every figure is a range; its point value is the middle of the range. Low ends go together (high
MFU, typical draw, spot price), as do high ends (low MFU, TDP, on-demand price).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from .. import datasets, datasets_hw, draw, footprint
from ..errors import UsageError
from ..fmt import opt
from ..units import shown
from .throughput import mfu_range, peak
from .work import LIMITS, Work, number, work

MAX_OPTIONS = 2000


@dataclass
class Plan:
    flops: float | None
    work: dict
    options: list = field(default_factory=list)
    trials: float = 1.0
    trials_basis: str = ""
    marks: dict = field(default_factory=dict)      # cleanest/cheapest/fastest -> index into options
    savings: dict = field(default_factory=dict)    # the marked option against the worst
    sources: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    def as_dict(self) -> dict:
        # shallow copies: dataclasses.asdict deep-copies every option's sources (slow for all-clouds)
        d = {k: getattr(self, k) for k in ("flops", "work", "trials", "trials_basis", "marks", "savings")}
        d.update(options=[dict(o) for o in self.options], sources=list(self.sources), notes=list(self.notes))
        return d


def _split(text) -> list[str]:
    items = text if isinstance(text, (list, tuple)) else str(text).split(",")
    return [str(x).strip() for x in items if str(x).strip()]


def locations(where) -> list[tuple[str, str]]:
    """[(kind, key)]: 'cloud' for PROVIDER:REGION, 'region' for grids; 'all-clouds' expands."""
    out: list[tuple[str, str]] = []
    for w in _split(where) if where not in (None, "") else []:
        if w.lower() in ("all-clouds", "all_clouds", "clouds"):
            out += [("cloud", f"{r['provider']}:{r['region']}") for r in datasets.table("cloud_regions.csv")]
        elif w.lower() in ("aws", "gcp", "azure"):
            out += [("cloud", f"{r['provider']}:{r['region']}") for r in datasets.table("cloud_regions.csv")
                    if r["provider"] == w.lower()]
        elif ":" in w:
            r = datasets.cloud_region(w)  # unknown -> UsageError with the closest names
            out.append(("cloud", f"{r['provider']}:{r['region']}"))
        else:
            datasets.region_intensity(w)
            out.append(("region", w))
    return list(dict.fromkeys(out))


def _device_power(spec: dict) -> tuple[float, float, list, str]:
    """(low W, high W, sources, basis) per device: typical training draw to TDP, as `estimate`."""
    tdp = spec.get("tdp_w")
    tdp_src = {"factor": "device_tdp", "value": tdp, "unit": "W", "source": spec["source"], "url": spec["source"],
               "year": spec["release_year"], "name": spec["model"], "note": spec["power_note"]}
    typ = draw.typical(spec)
    if tdp and typ:
        return typ["watts"], tdp, [typ["source"], tdp_src], f"{typ['basis']} to TDP {tdp:g} W"
    if spec.get("measured_avg_w"):
        w = spec["measured_avg_w"]
        src = {**tdp_src, "factor": "device_power", "value": w, "note": "published measured average (no TDP)"}
        return w, w, [src], f"published measured average {w:g} W (no TDP published)"
    raise UsageError(f"no published power for {spec['model']}: plan with other hardware")


def _host(spec: dict, host_w) -> tuple[float, float, int, dict, str]:
    """(low W, high W, devices per node, source, basis) of one node's host."""
    rows = datasets.table("host_power.csv")
    row = next((r for r in rows if spec["family"] in r["families"].split(";")), None) or \
        next(r for r in rows if r["key"] == "default")
    per = int(row["devices_per_node"])
    if host_w not in (None, ""):
        w = number(host_w, "host_w", allow_zero=True)
        return w, w, per, {"factor": "host_power", "value": w, "unit": "W per node", "source": "given by the user",
                           "url": "", "year": None, "name": "", "note": ""}, f"{w:g} W per node (given)"
    hi = float(row["host_max_w"])
    src = {"factor": "host_power", "value": hi, "unit": "W per node (maximum)", "source": row["source"],
           "url": row["url"], "year": datasets.year_of(row["year"]), "name": row["key"], "note": row["note"]}
    if hi == 0:
        return 0.0, 0.0, per, src, "none added (" + row["note"] + ")"
    return hi / 2, hi, per, src, (f"{hi / 2:g}-{hi:g} W per {per}-device node ({row['key']} datasheet maximum; "
                                  "low end half of it: no measured average published)")


def _count(count, deadline_days, dh_high: float, per_node: int, notes: list) -> int:
    if count not in (None, "") and deadline_days not in (None, ""):
        raise UsageError(f"give {opt('count')} or {opt('deadline_days')}, not both")
    if count not in (None, ""):
        n = number(count, "count")
        if n != int(n):
            raise UsageError(f"{opt('count')}: a whole number of devices up to ten million, got {shown(count)}")
        return int(n)
    if deadline_days not in (None, ""):
        d = number(deadline_days, "deadline_days")
        n = math.ceil(dh_high / (d * 24.0))
        n = max(1, n if n <= per_node else math.ceil(n / per_node) * per_node)
        if n > LIMITS["count"]:
            raise UsageError(f"{opt('deadline_days')} {shown(deadline_days)} needs {n:,} devices, more "
                             f"than wattprint plans for ({int(LIMITS['count']):,}); give a longer deadline")
        return n
    notes.append(f"wall time is for one node of {per_node} devices: pass {opt('count')} N or "
                 f"{opt('deadline_days')} D to size the job")
    return per_node


def _place_kw(kind, key, pue, notes) -> dict:
    kw = {"pue": pue} if pue not in (None, "") else {}
    if kind == "cloud":
        kw["cloud"] = key
    elif kind == "region":
        kw["region"] = key
        if "pue" not in kw:
            kw["pue"] = "industry"
            notes.append(f"{key}: no data centre named, so the industry-average PUE; pass {opt('pue')} for yours")
    else:
        notes.append(f"no place given: CO2e not computed; pass {opt('where')} (clouds, regions or all-clouds)")
        if "pue" not in kw:
            kw["pue"] = "industry"
            notes.append(f"no data centre named, so the industry-average PUE; pass {opt('pue')} for yours")
    return kw


def _label(kind, key, names: dict) -> str | None:
    if kind == "cloud":
        return f"{key} ({names[key]})"
    return key


def plan(*, params=None, tokens=None, flops=None, config=None, samples=None, seq_len=None, epochs=None,
         layers=None, hidden=None, hardware=None, count=None, deadline_days=None, where=None, pue=None,
         precision=None, mfu=None, host_w=None, trials=None, trials_basis=None, from_run=None,
         price_low=None, price_high=None, prices=None) -> Plan:
    """Plan a training: device-hours, wall time, energy, CO2e, cost and embodied emissions for each
    hardware x location, as ranges, with the cleanest, cheapest and fastest marked (see module doc).
    ``hardware`` is a list or a comma-separated text (default H100, or a measured run's own).
    ``from_run`` is a measured run's scaled work (``plan.from_run.scaled``) instead of FLOPs."""
    notes: list[str] = []
    if from_run is None:
        w = work(params=params, tokens=tokens, flops=flops, config=config, samples=samples, seq_len=seq_len,
                 epochs=epochs, layers=layers, hidden=hidden)
    else:
        w = Work(flops=from_run.get("flops"), basis=from_run["basis"], sources=[], notes=list(from_run["notes"]))
    notes += w.notes
    if from_run is not None and mfu not in (None, ""):
        raise UsageError(f"{opt('mfu')} has no effect on a measured run's rate: drop it, or plan from FLOPs")
    names = _split(hardware or (from_run or {}).get("hardware") or "H100")
    if not names:
        raise UsageError(f"{opt('hardware')} {shown(hardware)}: name at least one accelerator, e.g. H100,A100")
    specs = [datasets_hw.hardware(n) for n in names]
    if from_run is not None and from_run["spec"] is None:
        if hardware in (None, ""):
            raise UsageError(f"run {from_run['run']} does not record its accelerator: pass {opt('hardware')} with the "
                             "one it ran on first (others after it are scaled by peak FLOP/s)")
        from_run = dict(from_run, spec=specs[0], hardware=specs[0]["model"])
        notes.append(f"run {from_run['run']} does not record its accelerator: taken to be {specs[0]['model']}, "
                     f"the first {opt('hardware')}")
    if from_run is not None and where in (None, "") and from_run.get("where"):
        where, pue = from_run["where"], pue if pue not in (None, "") else from_run.get("pue")
        notes.append(f"place and PUE of run {from_run['run']}: {where}; pass {opt('where')} to compare others")
    places = locations(where) or [(None, None)]
    if where not in (None, "") and places == [(None, None)]:
        raise UsageError(f"{opt('where')} {shown(where)}: name at least one place, e.g. aws:us-east-1,DE or all-clouds")
    if len(specs) * len(places) > MAX_OPTIONS:
        raise UsageError(f"{len(specs) * len(places)} options asked for, at most {MAX_OPTIONS}: name fewer")
    k = _trials(trials)
    region_names = {f"{r['provider']}:{r['region']}": r["name"] for r in datasets.table("cloud_regions.csv")}
    options = []
    for spec in specs:
        base = _throughput(spec, w, from_run, precision, mfu, params=w.params)
        notes += base.pop("notes_")
        pw_lo, pw_hi, pw_src, pw_basis = _device_power(spec)
        h_lo, h_hi, per_node, h_src, h_basis = _host(spec, host_w)
        n = _count(count if count is not None or from_run is None else from_run.get("devices"),
                   deadline_days, base["device_hours_high"], per_node, notes)
        nodes = math.ceil(n / per_node)
        wall = {e: base[f"device_hours{e}"] / n for e in ("_low", "", "_high")}
        e_it = {"_low": (base["device_hours_low"] * pw_lo + wall["_low"] * nodes * h_lo) / 1000.0,
                "_high": (base["device_hours_high"] * pw_hi + wall["_high"] * nodes * h_hi) / 1000.0}
        if base.get("energy_kwh_it_low") is not None:  # measured on this hardware: the run's own energy
            e_it = {"_low": base["energy_kwh_it_low"], "_high": base["energy_kwh_it_high"]}
        for kind, key in places:
            o = dict(base, hardware=spec["model"], count=n, nodes=nodes, location=_label(kind, key, region_names),
                     location_kind=kind, power_w_low=pw_lo, power_w_high=pw_hi, power_basis=pw_basis,
                     host_w_low=h_lo, host_w_high=h_hi, host_basis=h_basis,
                     wall_hours=wall[""], wall_hours_low=wall["_low"], wall_hours_high=wall["_high"])
            o["notes"] = list(base["notes"])
            fp = footprint.for_energy(1.0, 1.0, hardware=spec["model"], count=n, embodied=True,
                                      price_low=price_low, price_high=price_high, prices=prices,
                                      **_place_kw(kind, key, pue, o["notes"]))
            _fill(o, fp, e_it, wall, k)
            o["sources"] = base["sources"] + pw_src + [h_src] + [s for s in fp.sources if s["factor"] != "equivalent"]
            options.append(o)
    p = Plan(flops=w.flops, work={"basis": w.basis, "params": w.params, "tokens": w.tokens, "layers": w.layers,
                                  "hidden": w.hidden, "seq_len": w.seq_len, "from_run": (from_run or {}).get("run")},
             options=options, trials=k, trials_basis=trials_basis or ("given" if trials not in (None, "") else ""),
             sources=w.sources, notes=list(dict.fromkeys(notes)))
    _mark(p)
    return p


def _trials(trials) -> float:
    if trials in (None, ""):
        return 1.0
    k = number(trials, "trials")
    if k < 1:
        raise UsageError(f"{opt('trials')}: the number of trainings in the campaign, 1 to a million, got {shown(trials)}")
    return k


def _throughput(spec, w: Work, from_run, precision, mfu, params) -> dict:
    if from_run is not None:
        from .from_run import on_hardware

        return on_hardware(from_run, spec, precision)
    pk, used, pk_src = peak(spec, precision)
    m = mfu_range(spec, params, mfu)
    lo = w.flops / (pk * 1e12 * m["high"]) / 3600.0
    hi = w.flops / (pk * 1e12 * m["low"]) / 3600.0
    if used in ("tf32", "fp32"):
        m["notes"].append(f"MFU reports are of bf16/fp16 training; {used} training may reach another fraction of "
                          f"its {used} peak: check with {opt('mfu')}")
    return {"precision": used, "peak_tflops": pk, "mfu_low": m["low"], "mfu_high": m["high"], "mfu_basis": m["basis"],
            "device_hours": (lo + hi) / 2, "device_hours_low": lo, "device_hours_high": hi,
            "notes": [], "notes_": m["notes"], "sources": [pk_src] + m["sources"]}


def _mid(lo, hi):
    return None if lo is None or hi is None else (lo + hi) / 2


def _fill(o: dict, fp, e_it: dict, wall: dict, k: float) -> None:
    """Scale the footprint of 1 kWh IT over 1 wall-hour (all linear) to the option's ranges."""
    o["pue"] = fp.pue
    o["intensity_g_per_kwh"] = fp.inputs.get("intensity_g_per_kwh")
    for e in ("_low", "_high"):
        o[f"energy_kwh_it{e}"] = e_it[e]
        o[f"energy_kwh{e}"] = e_it[e] * fp.pue
        o[f"co2e_kg{e}"] = None if fp.co2e_kg is None else e_it[e] * fp.co2e_kg
        o[f"co2e_net_kg{e}"] = None if fp.co2e_net_kg is None else e_it[e] * fp.co2e_net_kg
        o[f"embodied_kg{e}"] = None if fp.embodied_kg is None else wall[e] * fp.embodied_kg
    spot = fp.cost_usd_low  # per wall-hour of the whole job; None: no spot price known
    od = fp.cost_usd_high
    o["cost_on_demand_usd_low"] = None if od is None else wall["_low"] * od
    o["cost_on_demand_usd_high"] = None if od is None else wall["_high"] * od
    o["cost_spot_usd_low"] = None if spot is None else wall["_low"] * spot
    o["cost_spot_usd_high"] = None if spot is None else wall["_high"] * spot
    o["cost_usd_low"] = o["cost_spot_usd_low"] if spot is not None else o["cost_on_demand_usd_low"]
    o["cost_usd_high"] = o["cost_on_demand_usd_high"]
    for q in ("energy_kwh_it", "energy_kwh", "co2e_kg", "co2e_net_kg", "embodied_kg", "cost_usd"):
        o[q] = _mid(o[f"{q}_low"], o[f"{q}_high"])
    o["notes"] += [n for n in fp.notes if not n.startswith(("no location given", "no data centre given"))]
    if k != 1.0:
        o["campaign"] = {q: (None if o[q] is None else o[q] * k) for q in
                         ("device_hours_low", "device_hours_high", "energy_kwh_low", "energy_kwh_high",
                          "co2e_kg_low", "co2e_kg_high", "cost_usd_low", "cost_usd_high", "embodied_kg_low",
                          "embodied_kg_high")}


def _or_inf(x) -> float:
    return float("inf") if x is None else x


_MARKS = (("cleanest", "co2e_kg", "CO2e"), ("cheapest", "cost_usd", "cloud cost"), ("fastest", "wall_hours", "wall time"))


def _mark(p: Plan) -> None:
    for mark, q, what in _MARKS:
        # ties (same hardware, other places) go to the cleaner, then cheaper option
        have = [(o[q], _or_inf(o.get("co2e_kg")), _or_inf(o.get("cost_usd")), i) for i, o in enumerate(p.options)
                if o.get(q) is not None]
        if not have:
            continue
        best, worst = min(have), max(have)
        best, worst = (best[0], best[-1]), (worst[0], worst[-1])
        p.marks[mark] = best[1]
        if len(have) > 1 and worst[0] > best[0]:
            p.savings[mark] = {"quantity": q, "what": what, "best": best[1], "worst": worst[1],
                               "saves": (worst[0] - best[0]) * (1 if q == "wall_hours" else p.trials),
                               "share": 1 - best[0] / worst[0]}
