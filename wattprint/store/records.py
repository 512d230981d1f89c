"""What a store holds about one run: its record and its per-domain totals (no storage here)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping, NamedTuple

from .. import units

# RunRecord fields kept as run columns, in column order; the JSON ones hold a list or a dict.
RUN_FIELDS = ("id", "project", "tags", "command", "cwd", "host", "pid", "pid_started", "status",
              "exit_code", "started_at", "ended_at", "updated_at", "duration_s", "energy_j",
              "interval_s", "flush_s", "degraded", "total", "unit", "done", "location", "job_id",
              "node", "rank", "meta")
JSON_FIELDS = {"tags": list, "location": dict, "meta": dict}
# a domain row as every backend selects it
DOMAIN_COLS = "idx, name, kind, source, label, method, device, node, energy_j, in_total"
# Columns a backend derives from a record and keeps beside it, so that reading 100,000 runs
# (campaign, project reports, sweeps) parses no JSON: the first five from meta (rewritten
# whenever meta is), gpus from the domains. hosts is NULL in rows written before they existed.
META_FACTS = ("trial", "role", "part_of", "nested_in", "hosts")
FACT_COLS = META_FACTS + ("gpus",)
INSERT_COLS = RUN_FIELDS + FACT_COLS
# a RunLine's columns (tags and location as JSON text), and what deriving its facts needs where
# the row lacks them (hosts NULL): meta and the GPU domains, read in the same query
LINE_COLS = ("key, id, status, started_at, duration_s, energy_j, tags, location, trial, role, part_of, "
             "nested_in, hosts, gpus")
MISSING_COLS = ("CASE WHEN hosts IS NULL THEN meta END, CASE WHEN hosts IS NULL THEN (SELECT count(*) "
                "FROM domains d WHERE d.run = runs.key AND d.kind = 'gpu') END")


def _text(v) -> str | None:
    return v if isinstance(v, str) else None


def parse_meta(text) -> dict:
    """A stored meta column as a dict; unreadable JSON reads as empty (as ``record_from_row``)."""
    try:
        v = json.loads(text) if text else {}
    except ValueError:
        return {}
    return v if isinstance(v, dict) else {}


def meta_facts(meta) -> tuple:
    """(trial, role, part_of, nested_in, hosts) of a run's meta:

    trial      the sweep study when ``meta["sweep"]`` is a dict (a trial recorded by the Optuna
               or Ray Tune integration; '' when it names no study), else None;
    role       'job' for a multi-node job record, 'rank' for one rank's record;
    part_of    the job record a rank's record belongs to; nested_in: the run it ran inside;
    hosts      the hosts it measured: a job record's nodes (at least 1), 0 for a rank that
               left its node to another rank (measures_host false), else 1."""
    meta = meta if isinstance(meta, dict) else {}
    sweep = meta.get("sweep")
    trial = None if not isinstance(sweep, dict) else str(sweep.get("study") or "")
    role = _text(meta.get("role"))
    if role == "job":
        nodes = meta.get("nodes")
        hosts = max(1, len(nodes) if isinstance(nodes, (list, dict)) else 0)  # job records: a dict
    else:
        hosts = 0 if meta.get("measures_host") is False else 1
    return trial, role, _text(meta.get("part_of")), _text(meta.get("nested_in")), hosts


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

    @property
    def gpus(self) -> int:
        """GPU domains measured."""
        return sum(1 for d in self.domains if getattr(d, "kind", None) == "gpu")

    @property
    def trial(self) -> str | None:
        return meta_facts(self.meta)[0]

    @property
    def role(self) -> str | None:
        return meta_facts(self.meta)[1]

    @property
    def part_of(self) -> str | None:
        return meta_facts(self.meta)[2]

    @property
    def nested_in(self) -> str | None:
        return meta_facts(self.meta)[3]

    @property
    def hosts(self) -> int:
        return meta_facts(self.meta)[4]

    def line(self) -> "RunLine":
        """The record as ``Store.run_lines`` reads it (liveness as this record has it)."""
        return RunLine(self.key, self.id, self.status, self.started_at, self.duration_s or 0.0,
                       self.energy_j, tuple(str(t) for t in self.tags or ()),
                       MappingProxyType(dict(self.location or {})),
                       *meta_facts(self.meta), self.gpus)

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


class RunLine(NamedTuple):
    """One run as reading many needs it (``Store.run_lines``): no samples, domains or meta.
    ``tags`` and ``location`` are read-only (rows share them); the facts are ``meta_facts``'."""
    key: int | None
    id: str
    status: str
    started_at: float
    duration_s: float
    energy_j: float
    tags: tuple
    location: Mapping
    trial: str | None
    role: str | None
    part_of: str | None
    nested_in: str | None
    hosts: int
    gpus: int

    @property
    def energy_kwh(self) -> float:
        return self.energy_j / units.J_PER_KWH

    def replaced(self, **changes) -> "RunLine":
        """A copy with ``changes`` (field names)."""
        return self._replace(**changes)


def column_values(fields: dict) -> tuple[list, list]:
    """(columns, values) that set run ``fields``: the JSON ones as text, and the meta facts
    with meta."""
    cols = list(fields)
    values = [json.dumps(v) if c in JSON_FIELDS else v for c, v in fields.items()]
    if "meta" in fields:
        cols += META_FACTS
        values += meta_facts(fields["meta"])
    return cols, values


def record_values(rec: RunRecord) -> list:
    """A record's ``INSERT_COLS`` as column values (JSON as text, ``degraded`` as 0/1)."""
    values = []
    for c in RUN_FIELDS:
        v = getattr(rec, c)
        if c in JSON_FIELDS:
            v = json.dumps(v or JSON_FIELDS[c]())
        elif c == "degraded":
            v = int(bool(v))
        values.append(v)
    return values + list(meta_facts(rec.meta)) + [rec.gpus]


def record_from_row(row, domain_rows) -> RunRecord:
    """A record from its ``("key",) + RUN_FIELDS`` row and its ``DOMAIN_COLS`` rows, in idx
    order; unreadable JSON (or JSON of another type) reads as empty rather than hiding the run."""
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
        if not isinstance(d[c], typ):  # hand-edited: another JSON type reads as empty too
            d[c] = typ()
    d["degraded"] = bool(d["degraded"])
    rec = RunRecord(**d)
    dur = rec.duration_s or 0.0
    rec.domains = [DomainTotal(name=r[1], kind=r[2], source=r[3], label=r[4], method=r[5],
                               device=r[6], node=r[7], energy_j=r[8],
                               avg_power_w=r[8] / dur if dur > 0 else 0.0, idx=r[0],
                               in_total=bool(r[9])) for r in domain_rows]
    return rec
