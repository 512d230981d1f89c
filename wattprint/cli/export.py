"""``wattprint export [--run ID...] [--project P] [--what TABLE] --format csv|jsonl|codecarbon --out PATH|-``."""
from __future__ import annotations

import sys

from ..errors import UsageError
from ..units import printable
from ._common import add_store, open_store


def add_arguments(p, name) -> None:
    p.add_argument("--run", "-r", dest="runs", nargs="+", action="extend", default=[], metavar="ID",
                   help="runs to export (ids or unique prefixes; default: all matching runs)")
    p.add_argument("--project", "-p", help="only runs of this project")
    p.add_argument("--tag", "-t", help="only runs with this tag")
    p.add_argument("--since", metavar="DATE", help="only runs started since DATE or an age (7d)")
    p.add_argument("--format", "-f", dest="fmt", choices=("csv", "jsonl", "codecarbon"), default="csv",
                   help="csv (one table), jsonl (every table, one JSON object a line, each with its "
                        "'type') or codecarbon (the runs with CodeCarbon's emissions.csv columns)")
    p.add_argument("--what", "--table", "-w", dest="table", metavar="WHAT",
                   choices=("runs", "domains", "samples", "windows", "progress", "predictions", "all"),
                   help="runs (default for csv/codecarbon), domains, samples, windows (named spans), "
                        "progress (the rows run.progress() stored), predictions, or all (default for "
                        "jsonl)")
    p.add_argument("--out", "-o", required=True, metavar="PATH",
                   help="file to write (written whole or not at all; a device, pipe or /dev/stdout is "
                        "written into), or '-' for stdout")
    p.add_argument("--raw", action="store_true",
                   help="write CSV text cells exactly as stored: by default a cell starting with "
                        "=, +, -, @, tab or CR (and not a number) gets a leading ' so that a "
                        "spreadsheet shows it instead of running it as a formula")
    add_store(p)
    p.epilog = "Columns and the formula rule are documented in docs/export.md."


def run(args) -> int:
    from ..report.export import write
    from ..report.files import check_writable, write_output

    check_writable(args.out)
    store = open_store(args)
    if args.runs:
        if args.project or args.tag or args.since:
            raise UsageError("give --run ids or filters (--project/--tag/--since), not both")
        seen, runs = set(), []
        for rid in args.runs:
            rec = store.get_run(rid)
            if rec.key not in seen:
                seen.add(rec.key)
                runs.append(rec)
    else:
        since = None
        if args.since:
            from .campaign import since_time

            since = since_time(args.since)
        runs = store.list_runs(project=args.project, tag=args.tag, since=since)
        if not runs:
            raise UsageError(f"no runs to export in {store.path}"
                             + (" match the filters" if args.project or args.tag or args.since
                                else " (the store is empty)") + "; 'wattprint runs' lists them")
    # Check the format/table pair before any file is created.
    table = args.table or ("all" if args.fmt == "jsonl" else "runs")
    if args.fmt == "csv" and table == "all":
        raise UsageError("CSV holds one table: give --what runs, domains, samples, windows, progress or "
                         "predictions (or use --format jsonl)")
    if args.fmt == "codecarbon" and table != "runs":
        raise UsageError("--format codecarbon writes the runs table only; drop --what or use csv/jsonl")
    count = [0]

    def fill(f):
        count[0] = write(f, store, runs, fmt=args.fmt, table=table, raw=args.raw)

    write_output(args.out, fill)
    if args.out != "-":
        n = len(runs)
        print(f"wrote {printable(args.out)}: {count[0]:,} row{'s' if count[0] != 1 else ''} from {n:,} "
              f"run{'s' if n != 1 else ''}", file=sys.stderr)
    return 0
