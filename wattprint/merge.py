"""Job records from per-rank records, for jobs that ran without torch.distributed.

Each rank of a multi-process job stores ``<job>.n<node>.r<rank>`` (``meta.part_of = <job>``),
in a shared store or in one store per node. ``merge`` reads them from any number of stores
(files, or directories of ``*.sqlite``) and writes the job record ``<job>`` with a per-node
breakdown, exactly as rank 0 does when torch.distributed is up.
"""
from __future__ import annotations

import os

from .errors import UsageError
from .plugins.distributed.jobs import job_summary, write_job
from .store import Store, open_store
from .store.fs import stores_in


def store_paths(sources) -> list[str]:
    paths = []
    for s in sources:
        if os.path.isdir(s):
            found = stores_in(s)
            if not found:
                raise UsageError(f"no *.sqlite stores in {s}: point --from at the stores the "
                                 "ranks wrote (WATTPRINT_STORE)")
            paths += found
        elif os.path.isfile(s):
            paths.append(s)
        else:
            raise UsageError(f"{s} does not exist: give a store file or a directory of stores")
    return paths


def part_of(rec) -> dict:
    meta = rec.meta or {}
    return {"run_id": rec.id, "job_id": meta.get("part_of") or rec.job_id,
            "rank": rec.rank if rec.rank is not None else meta.get("rank", 0),
            "node": rec.node or rec.host or "?", "host": rec.host,
            "measures_host": bool(meta.get("measures_host", True)), "status": rec.status,
            "started_at": rec.started_at, "seconds": rec.duration_s, "updated_at": rec.updated_at,
            "energy_j": {d.name: d.energy_j for d in rec.domains},
            "counted": [d.name for d in rec.domains if d.in_total],
            "domains": [{"name": d.name, "kind": d.kind, "source": d.source, "label": d.label,
                         "method": d.method, "device": d.device} for d in rec.domains],
            "_record": rec}


def collect(paths) -> dict[str, list[dict]]:
    """Per-rank parts by job id; the same record seen in two stores counts once."""
    by_id: dict[str, dict] = {}
    for path in paths:
        store = open_store(path, readonly=True)
        try:
            for rec in store.list_runs():
                if (rec.meta or {}).get("role") != "rank":
                    continue
                p = part_of(rec)
                old = by_id.get(rec.id)
                if old is None or p["updated_at"] > old["updated_at"]:
                    by_id[rec.id] = p
        finally:
            store.close()
    jobs: dict[str, list[dict]] = {}
    for p in by_id.values():
        jobs.setdefault(p["job_id"], []).append(p)
    return jobs


def merge(sources, out: Store | None, job_ids=None, *, force: bool = False, write: bool = True) -> list:
    """Build (and store) job records; returns their summaries (``jobs.job_summary``).
    ``out`` None: a destination that does not exist yet (only with ``write=False``)."""
    if out is None and write:
        raise UsageError("no destination store to write the job records to")
    jobs = collect(store_paths(sources))
    if job_ids:
        missing = [j for j in job_ids if j not in jobs]
        if missing:
            known = ", ".join(sorted(jobs)[:5]) or "none"
            raise UsageError(f"no per-rank records of job {missing[0]!r} in the given stores "
                             f"(jobs found: {known})")
        wanted = list(job_ids)
    else:
        existing = {r.id for r in (out.list_runs() if out is not None else [])
                    if (r.meta or {}).get("role") == "job"}
        wanted = sorted(j for j in jobs if force or j not in existing)
    summaries = []
    for job_id in wanted:
        parts = sorted(jobs[job_id], key=lambda p: p["rank"])
        ranks = [p["rank"] for p in parts]
        if len(set(ranks)) != len(ranks):
            raise UsageError(f"job {job_id!r} has two records for one rank: it looks like two "
                             "runs share a job id; give each run its own run_id")
        summary = job_summary(job_id, [{k: v for k, v in p.items() if k != "_record"}
                                       for p in parts])
        summary["missing_ranks"] = _missing(parts)
        if write:
            write_job(out, summary, template=parts[0]["_record"], parts=parts)
        summaries.append(summary)
    return summaries


def _missing(parts) -> list[int]:
    ws = max(((p["_record"].meta or {}).get("world_size") or 0) for p in parts)
    have = {p["rank"] for p in parts}
    return [r for r in range(ws) if r not in have]
