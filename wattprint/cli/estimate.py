"""``wattprint estimate``: energy, CO2e, cost and embodied emissions without running anything."""
from __future__ import annotations

from ..errors import UsageError
from ..units import MAX_COUNT, MAX_HOURS, MAX_RUNS, check_finite_tree, check_range, parse_duration, shown
from ._common import add_store
from ._output import print_json, say

# CLI option -> estimate() keyword, passed through when given
_PASS = ("hardware", "count", "hours", "days", "power_w", "device_power_w", "utilization", "pue", "provider",
         "region", "cloud", "intensity", "net_intensity", "price_low", "price_high", "prices", "tariff",
         "embodied_kg_per_device", "host_embodied_kg", "devices_per_host", "lifetime_years", "usage", "runs")


def add_arguments(parser, name):
    a = parser.add_argument
    a("--hardware", metavar="NAME", help="accelerator, e.g. V100, 'A100 PCIe 40GB', TPUv3 (see 'wattprint hardware')")
    a("--count", metavar="N", help="number of devices (default 1)")
    a("--hours", metavar="H", help="training time per run, e.g. 79.2 or 79.2h")
    a("--days", metavar="D", help="training time per run in days, e.g. 3.3")
    a("--power-w", metavar="TOTAL_W", help="measured total power of the whole job, e.g. 12041 or 12kW")
    a("--device-power-w", metavar="W", help="average power per device (multiplied by --count)")
    a("--utilization", metavar="U", help="fraction of TDP drawn, 0-1 (default 1.0: an upper bound)")
    a("--pue", metavar="P", help="data-centre PUE: a number or a preset (strubell2019, industry)")
    a("--provider", metavar="NAME", help="cloud provider whose fleet PUE to use: gcp, aws, azure")
    a("--region", metavar="R", help="grid: ISO2/ISO3/country name, US state 'US-CA', zone 'CA-QC' (see 'wattprint regions')")
    a("--cloud", metavar="PROVIDER:REGION", help="cloud region, e.g. gcp:us-central1 (sets intensity and PUE)")
    a("--intensity", metavar="Q", help="grid intensity, e.g. 429g/kWh or 0.954lb/kWh (bare number: g/kWh)")
    a("--net-intensity", metavar="Q", help="market-based (net) intensity, for a net CO2e")
    a("--price-low", metavar="USD", help="price per device-hour, pre-emptible/spot")
    a("--price-high", metavar="USD", help="price per device-hour, on-demand")
    a("--prices", metavar="TABLE", help="price table: strubell2019, aws-2023-10, azure-2024-03")
    a("--tariff", metavar="USD_PER_KWH", help="electricity price, for the electricity cost")
    a("--embodied", action="store_true", help="add the hardware's manufacturing emissions (table defaults)")
    a("--embodied-kg-per-device", metavar="KG")
    a("--host-embodied-kg", metavar="KG", help="per host server, excluding its accelerators")
    a("--devices-per-host", metavar="N")
    a("--lifetime-years", metavar="Y")
    a("--usage", metavar="U", help="fraction of the hardware's life it is in use (default 1.0)")
    a("--runs", metavar="N", help="number of trainings (tuning sweep, whole R&D): reported per run and in total")
    a("--from-run", metavar="RUN_ID", help="use the average power of a stored run (the paper's method)")
    add_store(parser)
    a("--json", action="store_true", help="print one JSON object")


# option -> (highest, unit, why, lowest, allow zero, whole): absurd magnitudes are refused with
# the bound, so that no product of the inputs overflows (see units.MAX_*)
_BOUNDS = {
    "count": (MAX_COUNT, "devices", "ten million", None, False, True),
    "runs": (MAX_RUNS, "runs", "a million trainings", None, False, True),
    "days": (MAX_HOURS / 24, "d", "11,000 years", None, False, False),
    "price_low": (1e5, "USD/h", "per device-hour", None, True, False),
    "price_high": (1e5, "USD/h", "per device-hour", None, True, False),
    "tariff": (1e3, "USD/kWh", "electricity costs well under 1 USD/kWh", None, True, False),
    "embodied_kg_per_device": (1e6, "kg", "a thousand tonnes per device", None, True, False),
    "host_embodied_kg": (1e6, "kg", "a thousand tonnes per server", None, True, False),
    "devices_per_host": (1e4, "devices", "", None, False, True),
    "lifetime_years": (100, "years", "", 0.1, False, False),
    "usage": (1, "", "a fraction of the hardware's life", 0.001, False, False),
    "utilization": (1, "", "a fraction of TDP", None, False, False),
}


def _kwargs(args) -> dict:
    kw = {k: getattr(args, k) for k in _PASS if getattr(args, k, None) is not None}
    for k, (high, unit, why, low, zero, whole) in _BOUNDS.items():
        if k in kw:
            what = "--" + k.replace("_", "-")
            if k == "days" and not _is_number(kw[k]):
                parse_duration(kw[k], what)  # '3.3d': its own unit, bounded there
                continue
            check_range(_number(kw[k], what), what, high, unit, lowest=low, allow_zero=zero, whole=whole,
                        why=why)
    return kw


def _is_number(text) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _number(text, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise UsageError(f"{what}: expected a number, got {shown(text)}") from None


def run(args) -> int:
    from .. import footprint

    kw = _kwargs(args)
    if args.from_run:
        from ._common import open_store

        rec = open_store(args, create=False).get_run(args.from_run)
        fp = footprint.from_run(rec, embodied=args.embodied, **kw)
    else:
        fp = footprint.estimate(embodied=args.embodied, **kw)
    comparisons = _comparisons(fp) if fp.co2e_kg is not None else []
    d = fp.as_dict()
    d["comparisons"] = comparisons
    check_finite_tree(d)  # refused before anything is printed
    if args.json:
        print_json(d)
        return 0
    _print(fp, comparisons)
    return 0


def _comparisons(fp) -> list[dict]:
    from ..report.data import regions

    return [{"where": r["name"], "intensity_g_per_kwh": r["intensity_g_per_kwh"], "co2e_kg": r["co2e_kg"],
             "source": r["source"], "year": r["year"], "scope": r.get("scope_text")} for r in regions(fp.energy_kwh)]


def _print(fp, comparisons) -> None:
    """One view: each quantity in one unit throughout, every input with where it came from."""
    from ..fmt import energy_scale, mass_scale, plain, power, power_scale, usd
    from ..footprint import span
    from ..report.data import scope_text

    i = fp.inputs
    levels = fp.levels
    e = energy_scale([fp.energy_kwh, fp.energy_kwh_it, fp.energy_kwh_low]
                     + [lv.get(k) for lv in levels for k in ("energy_kwh", "energy_kwh_low")])
    m = mass_scale([fp.co2e_kg, fp.co2e_kg_low, fp.co2e_net_kg, fp.embodied_kg]
                   + [lv.get(k) for lv in levels for k in ("co2e_kg", "co2e_kg_low")]
                   + [c["co2e_kg"] for c in comparisons])
    run = i.get("from_run")
    what = f"{i['count']} x {i['hardware']}" if i.get("hardware") else f"{i['count']} device(s)"
    if run and not run["run_gpus"] and not i.get("hardware"):
        what = f"{i['count']} machine{'s' if i['count'] > 1 else ''} (no GPU)"
    rng = i.get("power_range_w")  # a hardware estimate: typical training draw to TDP
    watts = power_scale(rng["low"], rng["high"]).range(rng["low"], rng["high"]) if rng else (
        power_scale(i["power_w"])(i["power_w"]) if i.get("power_w") else "")
    runs = int(i.get("runs") or 1)
    hours = span(fp.hours) + (f" per run x {runs:,} runs = {span(fp.hours * runs)}" if runs > 1 else "")
    say(f"{what}, {watts} ({i.get('power_basis', '')}), {hours}")
    if run:
        say(f"from run {run['run']}: measured mean power {power(run['run_avg_power_w'])} over "
            f"{span(run['run_duration_s'] / 3600)}; " + (", ".join(
                f"{k}: {v} (stored with run {run['run']})" for k, v in run["stored"].items())
                or "no location stored with the run") + (f"; duration: {run['hours']}" if run.get("hours") else ""))
    say("\n".join(fp.lines(e, m)))
    for lv in levels:
        co2 = f", CO2e {m(lv['co2e_kg'])}" if "co2e_kg" in lv else ""
        cost = f", cloud cost {usd(lv.get('cost_usd_low'), lv['cost_usd_high'])}" if "cost_usd_high" in lv else ""
        label = f"{lv['runs']:,} run{'s' if lv['runs'] > 1 else ''}"
        say(f"  {label:>10}: {e(lv['energy_kwh'])}{co2}{cost}")
    if fp.equivalents:
        say("as much CO2e as:")
        for q in fp.equivalents:
            say(f"  {q['text']} ({q['source']}, {q['year']})")
    if comparisons:
        say("the same energy elsewhere:")
        width = max(len(c["where"]) for c in comparisons)
        for c in comparisons:
            say(f"  {c['where']:<{width}} {plain(c['intensity_g_per_kwh']):>5} g/kWh -> {m(c['co2e_kg'])}"
                f" ({c['source']}; {c.get('scope') or 'scope not stated'})")
    say("sources:")
    for s in fp.sources:
        if s["factor"] == "equivalent":
            continue
        year = f", {s['year']}" if s.get("year") else ""
        note = f" ({s['note']})" if s.get("note") and s["factor"] in ("intensity", "pue", "price_per_unit_hour") else ""
        scope = f" [scope: {scope_text(s.get('scope'))}]" if s["factor"] in ("intensity", "net_intensity") else ""
        where = f" for {s['name']}" if s.get("name") and s["factor"] in ("intensity", "pue") and s["name"] != "none" else ""
        origin = f" ({s['origin']})" if s.get("origin") else ""
        say(f"  {s['factor']:<24} {plain(s['value'])} {s['unit']}{where}{origin}: {s['source']}{year}{note}{scope}")
