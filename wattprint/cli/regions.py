"""``wattprint regions [QUERY]``: grids and cloud regions the tables know, with intensity, source and year."""
from __future__ import annotations

from ._common import add_json, print_json


def add_arguments(parser, name):
    parser.add_argument("query", nargs="?", help="filter: part of a name, code or provider, e.g. 'gcp', 'US-', 'france'")
    add_json(parser)


def rows(query: str | None = None) -> list[dict]:
    from ..datasets import cloud_intensity, norm, table

    q = norm(query) if query else ""
    out = []

    def add(kind, key, name, g, source, year, scope):
        if not q or q in norm(key) or q in norm(name) or q == norm(kind):
            out.append({"kind": kind, "key": key, "name": name, "gco2e_per_kwh": g, "source": source,
                        "year": year, "scope": scope})

    for r in table("grid_country_ember.csv"):
        add("country", r["iso2"] or r["iso3"], r["name"], float(r["gco2e_per_kwh"]), "Ember", r["year"], "lifecycle")
    for r in table("grid_us_state_egrid.csv"):
        add("us-state", "US-" + r["state"], r["name"], float(r["gco2e_per_kwh"]), "US EPA eGRID", r["year"], "direct")
    for r in table("grid_zone_electricitymaps.csv"):
        add("zone", r["zone"], r["name"], float(r["gco2e_per_kwh"]), "Electricity Maps (ODbL)", r["year"], "lifecycle")
    for r in table("cloud_regions.csv"):
        key = f"{r['provider']}:{r['region']}"
        if q and not (q in norm(key) or q in norm(r["name"]) or q == norm(r["provider"]) or q == "cloud"):
            continue
        f = cloud_intensity(key)
        out.append({"kind": "cloud", "key": key, "name": r["name"], "gco2e_per_kwh": f.value,
                    "source": f.source, "year": f.year, "scope": f.scope})
    return out


def run(args) -> int:
    from ..errors import UsageError

    found = rows(args.query)
    if not found:
        raise UsageError(f"no region matches {args.query!r}; try a country name, an ISO code or a provider (gcp, aws, azure)")
    if args.json:
        print_json(found)
        return 0
    print(f"{'kind':<9} {'key':<28} {'name':<34} {'g/kWh':>7}  source (year, scope)")
    for r in found:
        print(f"{r['kind']:<9} {r['key'][:28]:<28} {r['name'][:34]:<34} {r['gco2e_per_kwh']:>7.0f}  "
              f"{r['source']} ({r['year'] or '?'}, {r['scope'] or '?'})")
    print(f"{len(found)} rows. Use a key with --region (or --cloud for cloud rows).")
    return 0
