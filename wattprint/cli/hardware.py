"""``wattprint hardware [QUERY]``: accelerators the tables know, with power, memory, source and year."""
from __future__ import annotations

from ._common import add_json
from ._output import print_json, say


def add_arguments(parser, name):
    parser.add_argument("query", nargs="?", help="filter: part of a model or family name or a vendor, e.g. 'A100', 'amd', 'tpu'")
    add_json(parser)


CPU_LINES = 40  # CPUs shown as text; --json lists them all


def run(args) -> int:
    from ..datasets_hw import hardware, hardware_list
    from ..errors import UsageError
    from ..meters import cpu_names

    q = (args.query or "").strip().lower()
    found = [] if q in ("cpu", "cpus") else hardware_list(args.query)
    cpus = cpu_names.search(args.query) if args.query is not None else []
    if not found and not cpus and args.query:
        try:
            found = [hardware(args.query)]  # unknown -> UsageError listing the closest names
        except UsageError as e:
            near = cpu_names.closest(args.query, 3) if args.query.strip() else []
            raise UsageError(f"{e}" + (f"; CPUs closest: {', '.join(near)}" if near else "")) from None
    if not found and not cpus:
        raise UsageError("no accelerators known")
    if args.json:
        print_json(found + [cpu_names.as_dict(r) for r in cpus])
        return 0
    if found:
        _accelerators(found)
    if cpus:
        _cpus([cpu_names.as_dict(r) for r in cpus], bool(found))
    if args.query is None:
        say("CPUs: wattprint hardware CPU (those with core counts), or a name: 'Xeon 8380', 'EPYC'.")
    return 0


def _cpus(rows: list[dict], after: bool) -> None:
    if after:
        say("")
    say(f"{'CPU model':<36} {'TDP W':>6} {'turbo W':>7} {'cores':>5} {'threads':>7}  TDP source")
    for c in rows[:CPU_LINES]:
        shown = [f"{c[k]:g}" if c[k] else "-" for k in ("tdp_w", "max_turbo_w", "cores", "threads")]
        say(f"{c['model'][:36]:<36} {shown[0]:>6} {shown[1]:>7} {shown[2]:>5} {shown[3]:>7}  "
            f"{c['tdp_source'] or 'none published'}")
    more = f"; {len(rows) - CPU_LINES} more: add a model number" if len(rows) > CPU_LINES else ""
    say(f"{len(rows)} CPUs{more}. TDP is base power (data/cpu_tdp.md); a run is charged TDP / "
        "threads per busy thread.")


def _accelerators(found: list[dict]) -> None:
    say(f"{'model':<24} {'family':<12} {'year':>4} {'TDP W':>6} {'meas. W':>7} {'mem GB':>6}  source")
    for h in found:
        tdp = f"{h['tdp_w']:.0f}" if h["tdp_w"] else "-"
        meas = f"{h['measured_avg_w']:.0f}" if h["measured_avg_w"] else "-"
        mem = f"{h['memory_gb']:g}" if h["memory_gb"] else "-"
        flag = "" if h["confidence"] == "datasheet" else f" [{h['confidence']}]"
        say(f"{h['model'][:24]:<24} {h['family']:<12} {h['release_year'] or '':>4} {tdp:>6} {meas:>7} {mem:>6}"
              f"  {h['source']}{flag}")
    say(f"{len(found)} rows. A bare family name (e.g. V100) resolves to its first row (the SXM variant).")
