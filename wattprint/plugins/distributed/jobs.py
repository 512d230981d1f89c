"""Job records: one record per multi-process job, from its ranks' parts.

Shared by the live gather at the end of a torch.distributed job (rank 0 writes it) and by
``wattprint merge`` (jobs that ran without torch.distributed). A *part* is one rank's totals::

    {"run_id", "rank", "node", "host", "measures_host", "status", "started_at", "seconds",
     "energy_j": {domain: J}, "counted": [domains that add up], "domains": [{name, kind, ...}]}
"""
from __future__ import annotations

import time

from ...store import DomainTotal, RunRecord


def job_summary(job_id: str, parts: list[dict], windows=()) -> dict:
    """Totals of a job from its ranks' parts: every domain once, summed per node and overall."""
    nodes: dict[str, dict] = {}
    for p in sorted(parts, key=lambda p: p["rank"]):
        n = nodes.setdefault(p["node"], {"host": p.get("host"), "ranks": [], "energy_j": 0.0,
                                         "seconds": 0.0, "domains": {}, "by_kind": {},
                                         "measured_by": []})
        n["ranks"].append(p["rank"])
        n["seconds"] = max(n["seconds"], p["seconds"])
        if p.get("measures_host"):
            n["measured_by"].append(p["rank"])
        kinds = {d["name"]: d["kind"] for d in p.get("domains", [])}
        counted = set(p.get("counted", p["energy_j"]))  # uncore, or cpu under psys: not added
        for name, j in p["energy_j"].items():
            key = name if name not in n["domains"] else f"{name}@r{p['rank']}"
            n["domains"][key] = j
            if name in counted:
                n["energy_j"] += j
                kind = kinds.get(name, "other")
                n["by_kind"][kind] = n["by_kind"].get(kind, 0.0) + j
            else:
                n.setdefault("not_added", []).append(key)
    statuses = [p.get("status") for p in parts]
    status = next((s for s in ("failed", "interrupted", "cancelled", "stopped", "running")
                   if s in statuses),
                  "finished")
    starts = [p["started_at"] for p in parts if p.get("started_at")]
    return {"job_id": job_id, "world_size": len(parts), "status": status,
            "started_at": min(starts) if starts else time.time(),
            "seconds": max((p["seconds"] for p in parts), default=0.0),
            "energy_j": sum(n["energy_j"] for n in nodes.values()), "nodes": nodes,
            "parts": [p["run_id"] for p in sorted(parts, key=lambda p: p["rank"])],
            "windows": list(windows)}


def write_job(store, job: dict, *, template=None, parts=()) -> RunRecord:
    """Store (or replace) the job record ``job['job_id']``; returns it as read back.

    Replacing, not adding: a merge may be rerun when late parts arrive. ``template`` (a rank's
    record) gives the fields that are the same for the whole job: project, tags, location...
    """
    dom_meta = {}
    for p in parts:
        for d in p.get("domains", []):
            dom_meta[(p["node"], d["name"])] = d
    domains = []
    for node, n in job["nodes"].items():
        for name, j in n["domains"].items():
            d = dom_meta.get((node, name.split("@r")[0]), {})
            domains.append(DomainTotal(
                f"n{node}/{name}", d.get("kind", "other"), d.get("source", "?"),
                d.get("label", "measured"), d.get("method", ""), j,
                j / job["seconds"] if job["seconds"] else 0.0, device=d.get("device"), node=node,
                idx=len(domains), in_total=name not in n.get("not_added", ())))
    nodes_meta = {k: {kk: v for kk, v in n.items() if kk != "domains"}
                  for k, n in job["nodes"].items()}
    meta = {"role": "job", "world_size": job["world_size"], "parts": job["parts"],
            "nodes": nodes_meta}  # window totals go to the windows table
    t = template
    rec = RunRecord(
        id=job["job_id"], status=job["status"], started_at=job["started_at"],
        updated_at=time.time(), ended_at=job["started_at"] + job["seconds"],
        duration_s=job["seconds"], energy_j=job["energy_j"], job_id=job["job_id"], meta=meta,
        domains=domains, project=getattr(t, "project", None),
        tags=list(getattr(t, "tags", []) or []), command=getattr(t, "command", None),
        cwd=getattr(t, "cwd", None), host=getattr(t, "host", None),
        interval_s=getattr(t, "interval_s", None), total=getattr(t, "total", None),
        unit=getattr(t, "unit", None), done=getattr(t, "done", None),
        location=dict(getattr(t, "location", {}) or {}),
        degraded=bool(getattr(t, "degraded", False)))
    windows = [(w["name"], w["start_s"], w["start_s"] + w["seconds"],
                {f"n{k}": v for k, v in w["nodes"].items()}) for w in job["windows"]]
    return store.replace_run(rec, windows=windows)


def countable(records) -> list:
    """Records to add up without counting a job (or a run nested in another) twice.

    A job record stands for its per-rank parts; where no job record exists (no
    torch.distributed and no ``wattprint merge`` yet) the parts are summed instead, which is
    right because each node and GPU is measured by exactly one rank.
    """
    records = list(records)  # RunRecords or RunLines: both have role, part_of and nested_in
    if not any(r.part_of or r.nested_in for r in records):
        return records
    ids = {r.id for r in records}
    jobs = {r.id for r in records if r.role == "job"}
    return [r for r in records
            if (r.part_of not in jobs or r.role == "job")
            and r.nested_in not in ids]  # a nested run is inside its outer
