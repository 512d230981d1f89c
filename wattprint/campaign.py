"""Campaign accounting: all runs of a project, split like Strubell et al.'s Table 4.

Table 4 sets one model beside the tuning sweep and the whole R&D project. Runs say which they
were by tag (``wattprint run --tag final`` / ``track(tags=["final"])``):

    final                    the final model's training (one model; several runs if it was
                             trained in pieces or over seeds)
    tuning, sweep, hpo       hyperparameter tuning (and, untagged, the trials that
                             wattprint.integrations.optuna / .ray record: meta.sweep)
    anything else / no tag   experimentation

A run tagged both ``final`` and ``tuning`` counts as final. The whole R&D is every run.

Device-hours: GPU-hours are, per run, the number of GPU domains it measured times its wall-clock
duration (a GPU is counted as busy for the whole run, as the paper counts them); host-hours are
run durations × hosts measured (a multi-node job record counts each node; a rank that left its
node to another rank counts none). Per-rank records of a job are replaced by the job's record
(``plugins.distributed.countable``), so a job is never counted twice.
Energy and CO2e come from each run's stored totals and location (``footprint.for_record``); a run
with no location has energy but no CO2e, and the CO2e line says how many runs it covers. Runs are
added up by ``totals.accumulate``, as reports add them (its docstring states the price rule).
"""
from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone

from .errors import UsageError
from .fmt import either, name
from .totals import accumulate
from .units import S_PER_H, parse_duration

FINAL_TAGS = ("final",)
TUNING_TAGS = ("tuning", "sweep", "hpo")
LEVELS = (("final", "one model (tag final)"), ("tuning", "tuning (tag tuning/sweep/hpo)"),
          ("experimentation", "experimentation (other runs)"), ("total", "whole R&D (all runs)"))


def level_of(tags, meta=None) -> str:
    """The level of a run with these tags; ``meta`` with a ``sweep`` entry (a trial recorded by
    the Optuna or Ray Tune integration) makes it tuning without a tag."""
    tags = {str(t).lower() for t in tags or ()}
    if tags & set(FINAL_TAGS):
        return "final"
    if tags & set(TUNING_TAGS) or isinstance((meta or {}).get("sweep"), dict):
        return "tuning"
    return "experimentation"


@dataclass
class Level:
    level: str
    label: str
    runs: int = 0
    gpu_hours: float = 0.0
    host_hours: float = 0.0
    energy_kwh_it: float = 0.0
    energy_kwh: float = 0.0          # PUE included where known
    co2e_kg: float | None = None
    co2e_runs: int = 0               # runs whose CO2e is known (had a location)
    cost_usd_low: float | None = None
    cost_usd_high: float | None = None
    electricity_cost_usd: float | None = None
    run_ids: list = field(default_factory=list)

    def add(self, rec, fp) -> None:
        """Add one run and its footprint (None: energy only), by totals.accumulate()'s rule."""
        self.run_ids.append(rec.id)
        hours = (rec.duration_s or 0.0) / S_PER_H
        self.host_hours += hours * _hosts(rec)
        self.gpu_hours += hours * sum(1 for d in rec.domains if d.kind == "gpu")
        accumulate(self, rec, fp)


def _hosts(rec) -> int:
    """Hosts a record measured: a job record's nodes, 0 for a rank that left its node to another."""
    meta = rec.meta or {}
    if meta.get("role") == "job":
        return max(1, len(meta.get("nodes") or ()))
    if meta.get("measures_host") is False:
        return 0
    return 1


def parse_since(text: str) -> float:
    """'2026-01-31', '2026-01-31T12:00', ISO with zone, or an age such as '7d', '12h', '90m'."""
    t = str(text).strip()
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smhdw])", t)
    if m:
        return time.time() - parse_duration(t, name("since")) * S_PER_H
    try:
        dt = datetime.fromisoformat(t.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"{name('since')} {text!r}: give a date (2026-01-31), a date and time "
                         "(2026-01-31T12:00, local time unless it has a zone) or an age (7d, 12h)") from None
    return dt.timestamp()  # naive datetimes are local time


def _listed_footprint(record, notes: list):
    """A run's footprint in a sum of many: no equivalents (the sum gets its own)."""
    from .report.data import footprint_or_note

    return footprint_or_note(record, notes, equivalents=False)


def account(runs, *, footprint=None) -> dict:
    """Sum ``runs`` (store.RunRecord) into the four levels; plain data for JSON and text.
    ``footprint(record, notes)`` gives a run's footprint (None with a note when it has none)."""
    if footprint is None:
        footprint = _listed_footprint
    from .plugins.distributed import countable

    runs = countable(runs)  # a job record stands for its per-rank records
    levels = {k: Level(k, label) for k, label in LEVELS}
    notes: list[str] = []
    running = 0
    for rec in runs:
        fp_notes: list = []
        fp = footprint(rec, fp_notes)
        for n in fp_notes:
            notes.append(f"run {rec.id}: {n}")
        levels[level_of(rec.tags, rec.meta)].add(rec, fp)
        levels["total"].add(rec, fp)
        running += rec.status == "running"
    tot = levels["total"]
    if tot.co2e_runs < tot.runs:
        notes.append(f"{tot.runs - tot.co2e_runs} of {tot.runs} runs have no location, so no CO2e: "
                     "CO2e covers the other runs only (give " + either(python="region=, cloud= or intensity=",
                                                                      cli="--region, --cloud or --intensity")
                     + " when running)")
    if running:
        notes.append(f"{running} runs are still running: counted up to their last flush")
    if levels["final"].runs == 0:
        notes.append("no run is tagged 'final': tag the final model's training with "
                     + either(python="tags=['final']", cli="--tag final") + " to split it out")
    share = (levels["final"].energy_kwh / tot.energy_kwh) if tot.energy_kwh > 0 and levels["final"].runs else None
    return {"runs": tot.runs, "levels": [asdict(levels[k]) for k, _ in LEVELS],
            "final_share_of_energy": share, "notes": notes,
            "convention": {"final": list(FINAL_TAGS), "tuning": list(TUNING_TAGS),
                           "experimentation": "every other run",
                           "gpu_hours": "GPU domains measured x run duration, summed over runs",
                           "host_hours": "run durations x hosts measured (job records: x nodes)"}}


# -- the project report (wattprint report --project) ----------------------------------------------
WEEKLY_AFTER_DAYS = 62   # a longer span is shown by week, a shorter one by day


def _bucket(t: float, weekly: bool) -> str:
    day = datetime.fromtimestamp(t, timezone.utc).date()
    if weekly:
        day -= timedelta(days=day.weekday())  # weeks start on Monday (ISO)
    return day.isoformat()


def project_report(runs, *, top: int = 10, footprint=None) -> dict:
    """Everything a project report shows, as plain data: the Table 4 levels (``account``), the
    energy and CO2e per day or week (runs by their start, in UTC), the tuning and final shares and
    the ``top`` runs with the most energy (PUE included). Sums go through ``totals.accumulate``."""
    if footprint is None:
        footprint = _listed_footprint
    from .plugins.distributed import countable

    runs = countable(runs)
    fps: dict = {}

    def cached(rec, notes):  # each run's footprint once, for the levels, the buckets and the list
        if rec.key not in fps:
            own: list = []
            fps[rec.key] = (footprint(rec, own), own)
        notes.extend(fps[rec.key][1])
        return fps[rec.key][0]

    acc = account(runs, footprint=cached)
    starts = [r.started_at for r in runs if r.started_at]
    weekly = bool(starts) and (max(starts) - min(starts)) > WEEKLY_AFTER_DAYS * 86400
    buckets: dict = {}
    rows = []
    for rec in runs:
        fp = cached(rec, [])
        if rec.started_at:
            key = _bucket(rec.started_at, weekly)
            buckets.setdefault(key, Level(key, key)).add(rec, fp)
        rows.append({"id": rec.id, "level": level_of(rec.tags, rec.meta), "tags": list(rec.tags), "status": rec.status,
                     "started_at": rec.started_at, "duration_s": rec.duration_s or 0.0,
                     "energy_kwh_it": rec.energy_kwh, "energy_kwh": fp.energy_kwh if fp else rec.energy_kwh,
                     "co2e_kg": fp.co2e_kg if fp else None,
                     "cost_usd_low": fp.cost_usd_low if fp else None, "cost_usd_high": fp.cost_usd_high if fp else None})
    rows.sort(key=lambda r: -r["energy_kwh"])
    lv = {x["level"]: x for x in acc["levels"]}
    tot = lv["total"]
    share = {k: (lv[k]["energy_kwh"] / tot["energy_kwh"] if tot["energy_kwh"] > 0 else None)
             for k in ("final", "tuning", "experimentation")}
    co2_share = None
    if tot["co2e_kg"] and lv["tuning"]["co2e_kg"] is not None:
        co2_share = lv["tuning"]["co2e_kg"] / tot["co2e_kg"]
    sources, seen = [], set()
    for fp, _ in fps.values():
        for s in (fp.sources if fp is not None else []):
            k = (s.get("factor"), s.get("value"), s.get("source"), s.get("name"))
            if s.get("factor") != "equivalent" and k not in seen:
                seen.add(k)
                sources.append(s)
    return {**acc, "by": "week" if weekly else "day",
            "over_time": [asdict(buckets[k]) for k in sorted(buckets)],
            "share_of_energy": share, "tuning_share_of_co2e": co2_share,
            "top": rows[:max(top, 0)], "top_n": top, "sources": sources,
            "first_start": min(starts) if starts else None, "last_start": max(starts) if starts else None}
