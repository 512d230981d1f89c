"""``wattprint runs`` and ``wattprint show RUN``."""
from __future__ import annotations

import sys
import time

from ._common import add_json, add_store, open_store
from ._output import print_json, printable


def add_arguments(p, name) -> None:
    if name == "show":
        p.add_argument("run_id", metavar="RUN", help="run id (or a unique prefix)")
    else:
        p.add_argument("--project", "-p", help="only runs of this project")
        p.add_argument("--tag", "-t", help="only runs with this tag")
    add_store(p)
    add_json(p)


def run(args) -> int:
    store = open_store(args)
    if args.command == "show":
        rec = store.get_run(args.run_id)
        if args.json:
            print_json(rec.as_dict())
        else:
            from ..report.data import footprint_or_note
            from ..report.terminal import summary

            notes: list = []
            fp = footprint_or_note(rec, notes)
            for n in notes:  # a bad stored location: say so, show the energy anyway
                print(printable(f"wattprint: {n}"), file=sys.stderr)
            print(summary(rec, fp, store=store))
            print(printable(f"  project {rec.project or '-'} · tags {', '.join(rec.tags) or '-'} · "
                            f"host {rec.host} · started {_time(rec.started_at, '%Y-%m-%d %H:%M:%S')}"))
            if rec.command:
                print(printable(f"  command: {rec.command}"))
        return 0
    runs = store.list_runs(project=args.project, tag=args.tag)
    if args.json:
        print_json([r.as_dict() for r in runs])
        return 0
    if not runs:
        print(printable(f"no runs in {store.path}"))
        return 0
    print(f"{'RUN':<23} {'PROJECT':<14} {'STATUS':<11} {'STARTED':<16} {'DURATION':>9} "
          f"{'ENERGY kWh':>11} {'AVG W':>8}")
    for r in runs:
        print(f"{printable(r.id):<23} {printable(r.project or '-')[:14]:<14} {printable(r.status):<11} "
              f"{_time(r.started_at, '%Y-%m-%d %H:%M'):<16} "
              f"{r.duration_s or 0:>8.1f}s {r.energy_kwh or 0:>11.6f} {r.avg_power_w or 0:>8.1f}")
    return 0


def _time(t, fmt: str) -> str:
    """Local time, or '?' for a time no calendar holds (a damaged record)."""
    try:
        return time.strftime(fmt, time.localtime(t))
    except (OverflowError, OSError, ValueError, TypeError):
        return "?"

