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
Energy and CO2e come from each run's stored totals and location (``footprint.for_energy``, once
per location: ``totals.Footprints``); a run with no location has energy but no CO2e, and the CO2e
line says how many runs it covers. Runs are added up by ``totals.add``, as reports add them (its
docstring states the price rule). Reading a store, pass ``Store.run_lines()``: one query, no
meta parsed, so 100,000 runs add up in about a second.
"""
from __future__ import annotations

import heapq
import re
import time
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta, timezone

from .errors import UsageError
from .fmt import either, name
from .totals import Footprints, add
from .units import J_PER_KWH, S_PER_H, parse_duration

FINAL_TAGS = ("final",)
TUNING_TAGS = ("tuning", "sweep", "hpo")
_INF = float("inf")
LEVELS = (("final", "one model (tag final)"), ("tuning", "tuning (tag tuning/sweep/hpo)"),
          ("experimentation", "experimentation (other runs)"), ("total", "whole R&D (all runs)"))


def level_of(tags, meta=None, *, trial: bool = False) -> str:
    """The level of a run with these tags; a trial (``meta`` with a ``sweep`` entry, recorded by
    the Optuna or Ray Tune integration) is tuning without a tag."""
    tags = {str(t).lower() for t in tags or ()}
    if tags & set(FINAL_TAGS):
        return "final"
    if tags & set(TUNING_TAGS) or trial or isinstance((meta or {}).get("sweep"), dict):
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


def _fold(into: Level, cells, places: dict, fps: Footprints, failed: dict) -> None:
    """Add cells [(place key, [runs, joules, seconds, GPU-seconds, host-seconds])] into a level,
    by totals.add()'s rule."""
    for pk, (runs, joules, secs, gpu_s, host_s) in cells:
        kwh, hours = joules / J_PER_KWH, secs / S_PER_H
        try:
            sums = fps.at(places[pk], kwh, hours)
        except Exception as e:  # a broken table or model must not hide the measured energy
            sums = None
            failed[pk] = e
        into.gpu_hours += gpu_s / S_PER_H
        into.host_hours += host_s / S_PER_H
        add(into, runs, kwh, sums)


def _as_dict(level: Level) -> dict:
    return {f.name: getattr(level, f.name) for f in fields(level)}  # asdict would copy every id


def _lines(runs) -> list:
    """RunLines of ``runs`` (store.RunRecord or RunLine), without a job counted twice."""
    from .plugins.distributed import countable

    return countable(r.line() if hasattr(r, "line") else r for r in runs)


class _Tally:
    """One pass over the lines: sums per (level, place, UTC day), run ids per level and day."""

    def __init__(self, lines, fps: Footprints, *, by_day: bool = True):
        self.lines = lines
        self.places: dict = {}          # place key -> location
        self.place_of: dict = {}        # id(line.location) -> place key
        self.cells: dict = {}           # (level, place key, day number or None) -> sums
        self.ids = {k: [] for k, _ in LEVELS}
        self.day_ids: dict = {}
        self.running = 0
        self.alone: set = set()         # runs in a cell of their own
        keys, levels, cells, linear = self.place_of, {}, self.cells, {}
        for x in lines:
            pk = keys.get(id(x.location))
            if pk is None:
                pk = keys[id(x.location)] = Footprints.key(x.location)
                self.places.setdefault(pk, x.location)
            if pk not in linear:
                linear[pk] = fps.linear(x.location)
            if not (linear[pk] and 0.0 <= x.energy_j < _INF and 0.0 <= x.duration_s < _INF):
                pk = ("run", x.id)  # a cell of its own: the model gives its footprint, or its note
                self.places[pk] = x.location
                self.alone.add(x.id)
            lk = (x.tags, x.trial is not None)
            lv = levels.get(lk)
            if lv is None:
                lv = levels[lk] = level_of(x.tags, trial=lk[1])
            day = int(x.started_at // 86400) if by_day and x.started_at else None
            c = cells.get((lv, pk, day))
            if c is None:
                c = cells[(lv, pk, day)] = [0, 0.0, 0.0, 0.0, 0.0]
            secs = x.duration_s
            c[0] += 1
            c[1] += x.energy_j
            c[2] += secs
            c[3] += secs * x.gpus
            c[4] += secs * x.hosts
            self.ids[lv].append(x.id)
            if day is not None:
                ids = self.day_ids.get(day)
                if ids is None:
                    ids = self.day_ids[day] = []
                ids.append(x.id)
            if x.status == "running":
                self.running += 1
        self.ids["total"] = [x.id for x in lines]
        starts = [x.started_at for x in lines if x.started_at]
        self.first, self.last = (min(starts), max(starts)) if starts else (None, None)

    def by(self, pick) -> dict:
        """{group: [(place key, sums)]}, the cells summed by ``pick(level, day)`` (None: skip)."""
        out: dict = {}
        for (lv, pk, day), c in self.cells.items():
            g = pick(lv, day)
            if g is None:
                continue
            at = out.setdefault(g, {}).setdefault(pk, [0, 0.0, 0.0, 0.0, 0.0])
            for i, v in enumerate(c):
                at[i] += v
        return {g: list(v.items()) for g, v in out.items()}

    def ids_at(self, pk) -> list:
        if isinstance(pk, tuple) and pk[0] == "run":
            return [pk[1]]
        return [x.id for x in self.lines if self.place_of[id(x.location)] == pk and x.id not in self.alone]


def _failure_notes(failed: dict, t: _Tally) -> list:
    notes = []
    for pk, e in failed.items():
        ids = t.ids_at(pk)
        why = str(e) if isinstance(e, UsageError) else f"{type(e).__name__}: {e}"
        who = f"run {ids[0]}" if len(ids) == 1 else \
            f"{len(ids):,} runs ({', '.join(ids[:3])}{' and more' if len(ids) > 3 else ''})"
        notes.append(f"{who}: footprint not computed: {why}")
    return notes


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


def account(runs, *, fps: Footprints | None = None) -> dict:
    """Sum ``runs`` (store.RunRecord or store.RunLine, e.g. ``Store.run_lines``) into the four
    levels; plain data for JSON and text."""
    fps = fps or Footprints()
    return _account(_Tally(_lines(runs), fps, by_day=False), fps)


def _account(t: _Tally, fps: Footprints) -> dict:
    levels = {k: Level(k, label, run_ids=t.ids[k]) for k, label in LEVELS}
    failed: dict = {}
    for k, cells in t.by(lambda lv, day: lv).items():
        _fold(levels[k], cells, t.places, fps, failed)
    _fold(levels["total"], t.by(lambda lv, day: "total").get("total", []), t.places, fps, failed)
    notes = _failure_notes(failed, t)
    tot = levels["total"]
    if tot.co2e_runs < tot.runs:
        notes.append(f"{tot.runs - tot.co2e_runs:,} of {tot.runs:,} runs have no location, so no CO2e: "
                     "CO2e covers the other runs only (give " + either(python="region=, cloud= or intensity=",
                                                                      cli="--region, --cloud or --intensity")
                     + " when running)")
    if t.running:
        notes.append(f"{t.running:,} runs are still running: counted up to their last flush")
    if levels["final"].runs == 0:
        notes.append("no run is tagged 'final': tag the final model's training with "
                     + either(python="tags=['final']", cli="--tag final") + " to split it out")
    share = (levels["final"].energy_kwh / tot.energy_kwh) if tot.energy_kwh > 0 and levels["final"].runs else None
    return {"runs": tot.runs, "levels": [_as_dict(levels[k]) for k, _ in LEVELS],
            "final_share_of_energy": share, "notes": notes,
            "convention": {"final": list(FINAL_TAGS), "tuning": list(TUNING_TAGS),
                           "experimentation": "every other run",
                           "gpu_hours": "GPU domains measured x run duration, summed over runs",
                           "host_hours": "run durations x hosts measured (job records: x nodes)"}}


# -- the project report (wattprint report --project) ----------------------------------------------
WEEKLY_AFTER_DAYS = 62   # a longer span is shown by week, a shorter one by day


def _bucket(day: int, weekly: bool) -> str:
    """A UTC day number's bucket: the day, or the Monday that starts its ISO week."""
    if weekly:
        day -= (day + 3) % 7  # 1970-01-01 (day 0) was a Thursday
    return (datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(days=day)).date().isoformat()


def project_report(runs, *, top: int = 10) -> dict:
    """Everything a project report shows, as plain data: the Table 4 levels (``account``), the
    energy and CO2e per day or week (runs by their start, in UTC), the tuning and final shares and
    the ``top`` runs with the most energy (PUE included). Sums go through ``totals.add``."""
    lines = _lines(runs)
    fps = Footprints()
    t = _Tally(lines, fps)
    acc = _account(t, fps)
    weekly = t.first is not None and (t.last - t.first) > WEEKLY_AFTER_DAYS * 86400
    buckets: dict = {}
    for day in sorted(t.day_ids):
        key = _bucket(day, weekly)
        if key not in buckets:
            buckets[key] = Level(key, key)
        buckets[key].run_ids.extend(t.day_ids[day])
    for key, cells in t.by(lambda lv, day: None if day is None else _bucket(day, weekly)).items():
        _fold(buckets[key], cells, t.places, fps, {})
    pue = {pk: fps.pue(loc) for pk, loc in t.places.items()}
    ranked = heapq.nlargest(max(top, 0), lines, key=lambda x: x.energy_j * pue[t.place_of[id(x.location)]])
    rows = []
    for x in ranked:
        try:
            fp = fps.at(x.location, x.energy_kwh, x.duration_s / S_PER_H)
        except Exception:
            fp = None
        rows.append({"id": x.id, "level": level_of(x.tags, trial=x.trial is not None),
                     "tags": list(x.tags), "status": x.status, "started_at": x.started_at,
                     "duration_s": x.duration_s, "energy_kwh_it": x.energy_kwh,
                     "energy_kwh": fp.energy_kwh if fp else x.energy_kwh, "co2e_kg": fp.co2e_kg if fp else None,
                     "cost_usd_low": fp.cost_usd_low if fp else None, "cost_usd_high": fp.cost_usd_high if fp else None})
    lv = {x["level"]: x for x in acc["levels"]}
    tot = lv["total"]
    share = {k: (lv[k]["energy_kwh"] / tot["energy_kwh"] if tot["energy_kwh"] > 0 else None)
             for k in ("final", "tuning", "experimentation")}
    co2_share = None
    if tot["co2e_kg"] and lv["tuning"]["co2e_kg"] is not None:
        co2_share = lv["tuning"]["co2e_kg"] / tot["co2e_kg"]
    sources, seen = [], set()
    for loc in t.places.values():
        try:
            found = fps.sources(loc)
        except Exception:
            continue
        for s in found:
            k = (s.get("factor"), s.get("value"), s.get("source"), s.get("name"))
            if s.get("factor") != "equivalent" and k not in seen:
                seen.add(k)
                sources.append(s)
    return {**acc, "by": "week" if weekly else "day",
            "over_time": [_as_dict(buckets[k]) for k in sorted(buckets)],
            "share_of_energy": share, "tuning_share_of_co2e": co2_share,
            "top": rows, "top_n": top, "sources": sources,
            "first_start": t.first, "last_start": t.last}
