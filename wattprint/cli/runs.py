"""``wattprint runs`` and ``wattprint show RUN``."""
from __future__ import annotations

import sys
import time

from ._common import add_json, add_store, open_store, print_json


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
                print(f"wattprint: {n}", file=sys.stderr)
            print(summary(rec, fp, store=store))
            print(f"  project {rec.project or '-'} · tags {', '.join(rec.tags) or '-'} · "
                  f"host {rec.host} · started {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(rec.started_at))}")
            if rec.command:
                print(f"  command: {rec.command}")
        return 0
    runs = store.list_runs(project=args.project, tag=args.tag)
    if args.json:
        print_json([r.as_dict() for r in runs])
        return 0
    if not runs:
        print(f"no runs in {store.path}")
        return 0
    print(f"{'RUN':<23} {'PROJECT':<14} {'STATUS':<11} {'STARTED':<16} {'DURATION':>9} "
          f"{'ENERGY kWh':>11} {'AVG W':>8}")
    for r in runs:
        started = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.started_at))
        print(f"{r.id:<23} {(r.project or '-')[:14]:<14} {r.status:<11} {started:<16} "
              f"{r.duration_s:>8.1f}s {r.energy_kwh:>11.6f} {r.avg_power_w:>8.1f}")
    return 0

