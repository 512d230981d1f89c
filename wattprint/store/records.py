"""What a store holds about one run: its record and its per-domain totals (no storage here)."""
from __future__ import annotations

from dataclasses import dataclass, field

from .. import units

# RunRecord fields kept as run columns, in column order; the JSON ones hold a list or a dict.
RUN_FIELDS = ("id", "project", "tags", "command", "cwd", "host", "pid", "pid_started", "status",
              "exit_code", "started_at", "ended_at", "updated_at", "duration_s", "energy_j",
              "interval_s", "flush_s", "degraded", "total", "unit", "done", "location", "job_id",
              "node", "rank", "meta")
JSON_FIELDS = {"tags": list, "location": dict, "meta": dict}


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
