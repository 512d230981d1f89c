"""``wattprint regions [QUERY]``: grids and cloud regions the tables know, with intensity, source and year."""
from __future__ import annotations

from ..errors import UsageError
from ._common import add_json
from ._output import print_json, printable, say


def add_arguments(parser, name):
    parser.add_argument("query", nargs="?", help="filter: part of a name, code or provider, e.g. 'gcp', 'US-', 'france'")
    add_json(parser)


def run(args) -> int:
    from ..datasets import closest, region_list, region_names
    from ..units import shown

    found = region_list(args.query)
    if not found:
        near = closest(args.query, region_names() + [r["key"] for r in region_list()])
        raise UsageError(f"no region matches {shown(args.query)}" + (f"; close: {', '.join(near)}" if near else "")
                         + "; try a country name, an ISO code or a provider (gcp, aws, azure)")
    if args.json:
        print_json(found)
        return 0
    say(f"{'kind':<9} {'key':<28} {'name':<34} {'g/kWh':>7}  source (year, scope)")
    for r in found:
        say(f"{r['kind']:<9} {printable(r['key'])[:28]:<28} {printable(r['name'])[:34]:<34} {r['gco2e_per_kwh']:>7.0f}  "
              f"{r['source']} ({r['year'] or '?'}, {r['scope'] or '?'})")
    say(f"{len(found)} rows. Use a key with --region (or --cloud for cloud rows).")
    return 0
