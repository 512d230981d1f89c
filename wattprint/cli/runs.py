"""``wattprint runs`` and ``wattprint show RUN``."""
from __future__ import annotations

import sys
import time

from ..errors import UsageError
from ._common import add_json, add_store, open_store
from ._output import print_json, printable

DEFAULT_LIMIT = 20


def add_arguments(p, name) -> None:
    if name == "show":
        p.add_argument("run_id", metavar="RUN", help="run id (or a unique prefix)")
    else:
        p.add_argument("--project", "-p", help="only runs of this project")
        p.add_argument("--tag", "-t", help="only runs with this tag")
        p.add_argument("--limit", "-n", metavar="N",
                       help=f"show the newest N runs (default: {DEFAULT_LIMIT} in the table, all with "
                            "--json); 0 shows all")
        p.add_argument("--all", "-a", action="store_true", help="show every run (same as --limit 0)")
    add_store(p)
    add_json(p)


def run(args) -> int:
    store = open_store(args)
    if args.command == "show":
        return _show(store, args)
    limit = _limit(args)
    # newest first; with a limit only those runs are read (a lab store holds 100,000)
    shown = store.list_runs(project=args.project, tag=args.tag, newest=limit)[::-1]
    if args.json:
        print_json([r.as_dict() for r in shown])
        return 0
    if not shown:
        filtered = " match the filters" if args.project or args.tag else ""
        print(printable(f"no runs{filtered} in {store.path}"))
        return 0
    print(table(shown))
    total = len(shown) if limit is None or len(shown) < limit else store.count_runs(project=args.project,
                                                                                  tag=args.tag)
    more = total - len(shown)
    if more:
        print(f"{len(shown)} newest of {total} runs shown; {more} older: --limit {total} "
              "or --all lists them")
    return 0


def _limit(args) -> int | None:
    """Rows to show: None for all."""
    if args.all:
        if args.limit not in (None, "0"):
            raise UsageError("give --limit N or --all, not both")
        return None
    if args.limit is None:
        return None if args.json else DEFAULT_LIMIT
    try:
        n = int(args.limit)
    except ValueError:
        n = -1
    if n < 0:
        raise UsageError(f"--limit {args.limit!r}: give a whole number of runs (0 shows all)")
    return n or None


def table(runs) -> str:
    """The runs as a text table: one energy unit and one mass unit for all rows, named in the header."""
    from ..fmt import duration, energy_scale, mass_scale
    from ..report.data import footprint_or_note

    co2: list = []  # kg, or '-' (no grid location stored) or '?' (one that could not be used)
    for r in runs:
        if not any((r.location or {}).get(k) not in (None, "") for k in ("region", "cloud", "intensity")):
            co2.append("-")
            continue
        fp = footprint_or_note(r, [], equivalents=False)
        co2.append(fp.co2e_kg if fp is not None and fp.co2e_kg is not None else "?")
    kg = [c for c in co2 if not isinstance(c, str)]
    es = energy_scale([r.energy_kwh for r in runs])
    ms = mass_scale(kg)
    co2_head = f"CO2e {ms.unit}" if kg else "CO2e"
    head = ["RUN", "PROJECT", "STATUS", "STARTED", "DURATION", f"ENERGY {es.unit}", co2_head,
            "LOCATION", "TAGS"]
    rows = [[r.id, r.project or "-", r.status, _time(r.started_at, "%Y-%m-%d %H:%M"),
             duration(r.duration_s or 0), es.number(r.energy_kwh) if r.energy_j else "0",
             c if isinstance(c, str) else ms.number(c), _location(r.location), ",".join(r.tags) or "-"]
            for r, c in zip(runs, co2)]
    rows = [[printable(str(c)) for c in row] for row in rows]
    caps = [40, 16, 11, 16, 12, 12, 10, 24, 30]
    widths = [min(cap, max(len(x) for x in col)) for cap, col in zip(caps, zip(head, *rows))]
    right = {4, 5, 6}

    def line(cells):
        out = []
        for i, (c, w) in enumerate(zip(cells, widths)):
            c = c if len(c) <= w else c[:w - 1] + "~"
            out.append(c.rjust(w) if i in right else c.ljust(w))
        return "  ".join(out).rstrip()

    text = "\n".join([line(head)] + [line(r) for r in rows])
    if "-" in co2:
        text += "\nCO2e '-': no location stored with the run ('wattprint run --region R' or --cloud)"
    if "?" in co2:
        text += "\nCO2e '?': the stored location could not be used ('wattprint show RUN' says why)"
    return text


def _location(loc: dict) -> str:
    loc = loc or {}
    if loc.get("cloud"):
        return str(loc["cloud"])
    if loc.get("region"):
        return str(loc["region"])
    value = loc.get("intensity")
    if value not in (None, ""):
        if isinstance(value, (int, float)):
            from ..fmt import plain

            return f"{plain(value)} g/kWh"
        return str(value)
    return "-"


def _show(store, args) -> int:
    rec = store.get_run(args.run_id)
    if args.json:
        print_json(rec.as_dict())
        return 0
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


def _time(t, fmt: str) -> str:
    """Local time, or '?' for a time no calendar holds (a damaged record)."""
    try:
        return time.strftime(fmt, time.localtime(t))
    except (OverflowError, OSError, ValueError, TypeError):
        return "?"
