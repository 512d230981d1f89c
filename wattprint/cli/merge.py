"""``wattprint merge``: job records from the per-rank records of multi-node jobs."""
from __future__ import annotations

import os

from ._common import add_json, add_store, open_store
from ._output import print_json, say


def add_arguments(p, name) -> None:
    p.add_argument("jobs", nargs="*", metavar="JOB",
                   help="job ids to merge (default: every job with no job record yet)")
    p.add_argument("--from", dest="sources", action="append", metavar="PATH",
                   help="a store, or a directory of *.sqlite stores, holding the ranks' records "
                        "(repeatable; default: the --store itself)")
    p.add_argument("--force", action="store_true", help="rebuild job records that already exist")
    p.add_argument("--dry-run", action="store_true",
                   help="print what would be merged, write nothing (the --store need not exist yet)")
    add_store(p)
    add_json(p)


def run(args) -> int:
    from ..fmt import duration, energy_scale
    from ..merge import merge
    from ..store import default_path

    path = args.store or default_path()
    if args.dry_run and args.sources and not os.path.exists(path):
        out = None  # a new destination: nothing merged there yet
    else:
        out = open_store(args, create=not args.dry_run and bool(args.sources), write=not args.dry_run)
        path = out.path
    sources = args.sources or [path]
    jobs = merge(sources, out, args.jobs, force=args.force, write=not args.dry_run)
    if args.json:
        print_json(jobs)
        return 0
    if not jobs:
        say("nothing to merge: every job already has a job record (--force rebuilds them)")
        return 0
    for j in jobs:
        kwh = [j["energy_j"] / 3.6e6] + [n["energy_j"] / 3.6e6 for n in j["nodes"].values()]
        s = energy_scale(kwh)  # one unit for the job and its nodes
        where = f"would store in {path}" + (" (a new store)" if out is None else "") if args.dry_run \
            else f"stored in {path}"
        say(f"job {j['job_id']}: {j['world_size']} ranks on {len(j['nodes'])} node(s), "
            f"{s(kwh[0])} over {duration(j['seconds'])} ({j['status']}); {where}")
        for node, n in j["nodes"].items():
            say(f"  node {node} ({n['host']}): ranks {_ranges(n['ranks'])}, "
                f"{s(n['energy_j'] / 3.6e6)}, measured by rank "
                f"{', '.join(map(str, n['measured_by'])) or 'none'}")
        if j.get("missing_ranks"):
            say(f"  warning: no record of rank(s) {_ranges(j['missing_ranks'])}: "
                "their energy is not in the total")
    return 0


def _ranges(xs) -> str:
    xs = sorted(xs)
    out, start = [], None
    for i, x in enumerate(xs):
        if start is None:
            start = x
        if i + 1 == len(xs) or xs[i + 1] != x + 1:
            out.append(str(start) if start == x else f"{start}-{x}")
            start = None
    return ",".join(out)
