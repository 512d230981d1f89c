"""``wattprint regions [QUERY]``: grids and cloud regions the tables know, with intensity, source and year."""
from __future__ import annotations

from ._common import add_json, print_json


def add_arguments(parser, name):
    parser.add_argument("query", nargs="?", help="filter: part of a name, code or provider, e.g. 'gcp', 'US-', 'france'")
    add_json(parser)


def run(args) -> int:
    from ..datasets import region_list
    from ..errors import UsageError

    found = region_list(args.query)
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
