"""``wattprint estimate``: energy, CO2e, cost and embodied emissions without running anything."""
from __future__ import annotations

from ._common import add_store, print_json

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


def _kwargs(args) -> dict:
    return {k: getattr(args, k) for k in _PASS if getattr(args, k, None) not in (None, "")}


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
    if args.json:
        d = fp.as_dict()
        d["comparisons"] = comparisons
        print_json(d)
        return 0
    _print(fp, comparisons)
    return 0


def _comparisons(fp) -> list[dict]:
    from ..report.data import regions

    return [{"where": r["name"], "intensity_g_per_kwh": r["intensity_g_per_kwh"], "co2e_kg": r["co2e_kg"],
             "source": r["source"], "year": r["year"]} for r in regions(fp.energy_kwh)]


def _print(fp, comparisons) -> None:
    from ..units import fmt_mass, fmt_number, fmt_power

    i = fp.inputs
    what = f"{i['count']} x {i['hardware']}" if i.get("hardware") else f"{i['count']} device(s)"
    power = f", {fmt_power(i['power_w'])}" if i.get("power_w") else ""
    print(f"{what}, {fmt_number(fp.hours)} h{power} ({i.get('power_basis', '')})")
    print(fp)
    for lv in fp.levels:
        co2 = f", CO2e {fmt_mass(lv['co2e_kg'])}" if "co2e_kg" in lv else ""
        cost = f", cost ${lv['cost_usd_high']:,.0f}" if "cost_usd_high" in lv else ""
        print(f"  {lv['runs']:>6} run{'s' if lv['runs'] > 1 else ' '}: {lv['energy_kwh']:,.1f} kWh{co2}{cost}")
    if fp.equivalents:
        print("as much CO2e as:")
        for e in fp.equivalents:
            print(f"  {fmt_number(e['value']):>12} x {e['name']} ({e['source']}, {e['year']})")
    if comparisons:
        print("the same energy elsewhere:")
        for c in comparisons:
            print(f"  {c['where']:<16} {c['intensity_g_per_kwh']:>6.0f} g/kWh -> {fmt_mass(c['co2e_kg'])}"
                  f" ({c['source']})")
    print("sources:")
    for s in fp.sources:
        if s["factor"] == "equivalent":
            continue
        year = f", {s['year']}" if s.get("year") else ""
        note = f" ({s['note']})" if s.get("note") and s["factor"] in ("intensity", "pue", "price_per_unit_hour") else ""
        print(f"  {s['factor']:<20} {s['value']:g} {s['unit']}: {s['source']}{year}{note}")
