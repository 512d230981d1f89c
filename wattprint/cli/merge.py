"""``wattprint merge``: job records from the per-rank records of multi-node jobs."""
from __future__ import annotations

from ..units import J_PER_KWH
from ._common import add_json, add_store, open_store
from ._output import print_json, say


def add_arguments(p, name) -> None:
    p.add_argument("jobs", nargs="*", metavar="JOB",
                   help="job ids to merge (default: every job with no job record yet)")
    p.add_argument("--from", dest="sources", action="append", metavar="PATH",
                   help="a store, or a directory of *.sqlite stores, holding the ranks' records "
                        "(repeatable; default: the --store itself)")
    p.add_argument("--force", action="store_true", help="rebuild job records that already exist")
    p.add_argument("--dry-run", action="store_true", help="print the totals, write nothing")
    add_store(p)
    add_json(p)


def run(args) -> int:
    from ..merge import merge

    out = open_store(args, create=not args.dry_run and bool(args.sources), write=not args.dry_run)
    sources = args.sources or [out.path]
    jobs = merge(sources, out, args.jobs, force=args.force, write=not args.dry_run)
    if args.json:
        print_json(jobs)
        return 0
    if not jobs:
        say("nothing to merge: every job already has a job record (--force rebuilds them)")
        return 0
    for j in jobs:
        verb = "would store" if args.dry_run else "stored"
        say(f"job {j['job_id']}: {j['world_size']} ranks on {len(j['nodes'])} node(s), "
              f"{j['energy_j'] / J_PER_KWH:.6f} kWh over {j['seconds']:.1f} s ({j['status']}); "
              f"{verb} in {out.path}")
        for node, n in j["nodes"].items():
            say(f"  node {node} ({n['host']}): ranks {_ranges(n['ranks'])}, "
                  f"{n['energy_j'] / J_PER_KWH:.6f} kWh, measured by rank "
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
