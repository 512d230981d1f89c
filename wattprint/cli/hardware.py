"""``wattprint hardware [QUERY]``: accelerators the tables know, with power, memory, source and year."""
from __future__ import annotations

from ._common import add_json
from ._output import print_json, say


def add_arguments(parser, name):
    parser.add_argument("query", nargs="?", help="filter: part of a model or family name or a vendor, e.g. 'A100', 'amd', 'tpu'")
    add_json(parser)


def run(args) -> int:
    from ..datasets_hw import hardware, hardware_list
    from ..errors import UsageError

    found = hardware_list(args.query)
    if not found and args.query:
        found = [hardware(args.query)]  # unknown -> UsageError listing the closest names
    if not found:
        raise UsageError("no accelerators known")
    if args.json:
        print_json(found)
        return 0
    say(f"{'model':<24} {'family':<12} {'year':>4} {'TDP W':>6} {'meas. W':>7} {'mem GB':>6}  source")
    for h in found:
        tdp = f"{h['tdp_w']:.0f}" if h["tdp_w"] else "-"
        meas = f"{h['measured_avg_w']:.0f}" if h["measured_avg_w"] else "-"
        mem = f"{h['memory_gb']:g}" if h["memory_gb"] else "-"
        flag = "" if h["confidence"] == "datasheet" else f" [{h['confidence']}]"
        say(f"{h['model'][:24]:<24} {h['family']:<12} {h['release_year'] or '':>4} {tdp:>6} {meas:>7} {mem:>6}"
              f"  {h['source']}{flag}")
    say(f"{len(found)} rows. A bare family name (e.g. V100) resolves to its first row (the SXM variant).")
    return 0
