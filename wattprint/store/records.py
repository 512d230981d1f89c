"""What a store holds about one run: its record and its per-domain totals (no storage here)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from .. import units

# RunRecord fields kept as run columns, in column order; the JSON ones hold a list or a dict.
RUN_FIELDS = ("id", "project", "tags", "command", "cwd", "host", "pid", "pid_started", "status",
              "exit_code", "started_at", "ended_at", "updated_at", "duration_s", "energy_j",
              "interval_s", "flush_s", "degraded", "total", "unit", "done", "location", "job_id",
              "node", "rank", "meta")
JSON_FIELDS = {"tags": list, "location": dict, "meta": dict}
# a domain row as every backend selects it
DOMAIN_COLS = "idx, name, kind, source, label, method, device, node, energy_j, in_total"


@dataclass
class DomainTotal:
    name: str
    kind: str
    source: str
    label: str
    method: str
    energy_j: float
    avg_power_w: float
    device: str | None = None
    node: str | None = None
    idx: int = 0
    in_total: bool = True

    def as_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "source": self.source, "label": self.label,
                "method": self.method, "device": self.device, "node": self.node,
                "energy_j": self.energy_j, "avg_power_w": self.avg_power_w,
                "in_total": self.in_total}


@dataclass
class RunRecord:
    id: str
    status: str
    started_at: float
    updated_at: float
    duration_s: float = 0.0
    energy_j: float = 0.0
    project: str | None = None
    tags: list = field(default_factory=list)
    command: str | None = None
    cwd: str | None = None
    host: str | None = None
    pid: int | None = None
    pid_started: float | None = None
    exit_code: int | None = None
    ended_at: float | None = None
    interval_s: float | None = None
    flush_s: float | None = None
    degraded: bool = False
    total: float | None = None
    unit: str | None = None
    done: float | None = None
    location: dict = field(default_factory=dict)
    job_id: str | None = None
    node: str | None = None
    rank: int | None = None
    meta: dict = field(default_factory=dict)
    domains: list = field(default_factory=list)
    key: int | None = None

    @property
    def energy_kwh(self) -> float:
        return self.energy_j / units.J_PER_KWH

    @property
    def avg_power_w(self) -> float:
        return self.energy_j / self.duration_s if self.duration_s > 0 else 0.0

    def as_dict(self) -> dict:
        return {
            "run_id": self.id, "project": self.project, "tags": list(self.tags),
            "status": self.status, "exit_code": self.exit_code,
            "started_at": units.iso_time(self.started_at),
            "ended_at": units.iso_time(self.ended_at),
            "duration_s": round(self.duration_s, 3), "energy_j": self.energy_j,
            "energy_kwh": self.energy_kwh, "avg_power_w": self.avg_power_w,
            "degraded": bool(self.degraded), "command": self.command, "host": self.host,
            "node": self.node, "job_id": self.job_id, "interval_s": self.interval_s,
            "total": self.total, "unit": self.unit, "done": self.done,
            "location": self.location, "meta": self.meta,
            "domains": [d.as_dict() for d in self.domains],
        }


def column_values(fields: dict) -> list:
    """Run fields as column values: the JSON ones as text."""
    return [json.dumps(v) if c in JSON_FIELDS else v for c, v in fields.items()]


def record_values(rec: RunRecord) -> list:
    """A record's ``RUN_FIELDS`` as column values (JSON as text, ``degraded`` as 0/1)."""
    values = []
    for c in RUN_FIELDS:
        v = getattr(rec, c)
        if c in JSON_FIELDS:
            v = json.dumps(v or JSON_FIELDS[c]())
        elif c == "degraded":
            v = int(bool(v))
        values.append(v)
    return values


def record_from_row(row, domain_rows) -> RunRecord:
    """A record from its ``("key",) + RUN_FIELDS`` row and its ``DOMAIN_COLS`` rows, in idx
    order; unreadable JSON reads as empty rather than hiding the run."""
    d = dict(zip(("key",) + RUN_FIELDS, row))
    for c, typ in JSON_FIELDS.items():
        v = d[c]
        if not v or v in ("[]", "{}"):  # most tags and many locations: no parsing
            d[c] = typ()
            continue
        try:
            d[c] = json.loads(v)
        except ValueError:
            d[c] = typ()
    d["degraded"] = bool(d["degraded"])
    rec = RunRecord(**d)
    dur = rec.duration_s or 0.0
    rec.domains = [DomainTotal(name=r[1], kind=r[2], source=r[3], label=r[4], method=r[5],
                               device=r[6], node=r[7], energy_j=r[8],
                               avg_power_w=r[8] / dur if dur > 0 else 0.0, idx=r[0],
                               in_total=bool(r[9])) for r in domain_rows]
    return rec
