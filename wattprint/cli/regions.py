"""``wattprint regions [QUERY]``: grids and cloud regions the tables know, with intensity, source and year."""
from __future__ import annotations

import re

from ..errors import UsageError
from ._common import add_json
from ._output import print_json, printable, say


def add_arguments(parser, name):
    parser.add_argument("query", nargs="?",
                        help="filter: the start of a code ('US-' lists US sub-regions, 'gcp:europe'), "
                             "a word of a name ('france', 'new'), a kind (zone, cloud) or a provider (gcp)")
    add_json(parser)


def matches(row: dict, query: str) -> bool:
    """Whether a ``region_list()`` row answers ``query``: codes match from their start ('US-' is
    the US's sub-regions, not Australia or Russia), names at the start of a word, and a kind or
    provider by its whole name."""
    from ..datasets import norm

    q = query.strip()
    key = row["key"].lower()
    provider, _, region = key.partition(":") if row["kind"] == "cloud" else ("", "", key)
    if norm(q) and norm(q) in (norm(row["kind"]), provider):
        return True
    if key.startswith(q.lower()) or region.startswith(q.lower()):
        return True
    if q.isalnum() and norm(q) and (norm(key).startswith(norm(q)) or norm(region).startswith(norm(q))):
        return True  # 'uscentral1' for 'us-central1'
    folded = _fold(q)
    return bool(folded) and re.search(r"(?<![a-z0-9])" + re.escape(folded), _fold(row["name"])) is not None


def _fold(text: str) -> str:
    import unicodedata

    return unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode().lower().strip()


def run(args) -> int:
    from ..datasets import closest, region_list, region_names
    from ..units import shown

    rows = region_list()
    found = [r for r in rows if matches(r, args.query)] if args.query is not None else rows
    if not found:
        near = closest(args.query, region_names() + [r["key"] for r in rows])
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
