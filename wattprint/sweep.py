"""Sweeps: the trials of a hyperparameter search, read back from the store, and the host they share.

A trial is a run whose ``meta["sweep"]`` says which search it belongs to (written by
``wattprint.integrations.optuna`` and ``wattprint.integrations.ray``):
``{"backend", "study", "number", "params", "value", "state", "direction"}``.

**Shared hosts.** A trial measures its whole machine (RAPL packages, GPUs). Trials that run at
once on one machine (Optuna ``n_jobs > 1``, several Optuna processes, Ray Tune trials on one
node) would each count the machine's energy, so the machine would be counted as many times as
trials ran. The rule (``node_share``): over every stretch of time, the machine's energy is split
equally between the sweep trials running on it then. A trial's record keeps the machine's
measured domains as they were, sets ``energy_j`` to its share and says so in
``meta["shared_host"]``. Summed over the trials, the shares add up to the machine's energy over
the union of their spans, once.

**Front and the "within X %" sentence** (``analyse``). A trial is on the Pareto front of objective
against energy when no other trial has a better-or-equal objective with less-or-equal energy (and
one of them strictly). The sentence reads the trials in the order they ran: V is the best
objective of the sweep; the trials "needed" to come within X % of V are those up to and including
the first one whose objective lies within X % of V (relative to abs(V)); their energy is given as
a share of the whole sweep's. It says what stopping the search there would have saved.
"""
from __future__ import annotations

import math

import time
from types import SimpleNamespace

from .errors import UsageError
from .totals import Footprints, accumulate
from .units import J_PER_KWH

SWEEP_STATES = ("COMPLETE", "PRUNED", "FAIL", "RUNNING")


def is_trial(rec) -> bool:
    return isinstance((rec.meta or {}).get("sweep"), dict)


def trials_of(runs, study: str | None = None) -> list:
    """The sweep trials among ``runs`` (of ``study`` when given), in the order they started."""
    out = [r for r in runs if is_trial(r) and (study is None or r.meta["sweep"].get("study") == study)]
    return sorted(out, key=lambda r: (r.started_at, r.meta["sweep"].get("number") or 0))


# -- shared hosts ---------------------------------------------------------------------------------
def _span(rec, now: float) -> tuple[float, float]:
    end = rec.ended_at if rec.ended_at else (now if rec.status == "running" else rec.updated_at)
    return rec.started_at, max(end or rec.started_at, rec.started_at)


def node_share(store, rec, *, now: float | None = None) -> tuple[float, int]:
    """(joules, most trials at once): ``rec``'s share of its machine's energy, by the rule above.

    The machine's energy over time comes from the trial's own stored samples; the other trials
    are the sweep runs of the same host whose spans overlap it (running ones up to ``now``)."""
    now = time.time() if now is None else now
    t0, t1 = _span(rec, now)
    others = []
    for r in store.list_runs(project=rec.project, since=t0 - 7 * 86400, trial=True):
        if r.id != rec.id and is_trial(r) and r.host == rec.host:
            a, b = _span(r, now)
            if a < t1 and b > t0:
                others.append((a, b))
    if not others:
        return rec.energy_j, 1
    counted = {d.idx for d in rec.domains if d.in_total}
    cum: dict = {}
    for t, dom, e, _ in store.iter_samples(rec.key):
        if dom in counted:
            cum.setdefault(t, {})[dom] = e
    points, last = [], {}
    for t in sorted(cum):
        last.update(cum[t])
        points.append((t0 + t, sum(last.values())))
    if len(points) < 2:  # too short to have a time profile: assume steady power
        points = [(t0, 0.0), (t1, rec.energy_j)]
    share, most = 0.0, 1
    for (a, ea), (b, eb) in zip(points, points[1:]):
        mid = (a + b) / 2
        n = 1 + sum(1 for s, e in others if s <= mid < e)
        most = max(most, n)
        share += (eb - ea) / n
    scale = rec.energy_j / points[-1][1] if points[-1][1] > 0 else 1.0  # samples lag the final total
    return share * scale, most


# -- analysis -------------------------------------------------------------------------------------
def pareto(points, direction: str = "minimize") -> list:
    """Keys of the (key, value, energy) points no other point dominates (better value, less energy)."""
    sign = 1 if direction == "minimize" else -1
    pts = [(k, sign * v, e) for k, v, e in points if v is not None]
    front = []
    for k, v, e in pts:
        if not any((v2 <= v and e2 <= e) and (v2 < v or e2 < e) for _, v2, e2 in pts):
            front.append(k)
    return front


def within(trials: list, direction: str, pct: float) -> dict | None:
    """The "within X %" finding: see the module docstring. ``trials`` in running order."""
    scored = [t for t in trials if t["value"] is not None]
    if not scored:
        return None
    pick = min if direction == "minimize" else max
    best = pick(scored, key=lambda t: t["value"])
    v = best["value"]
    tol = abs(v) * pct / 100
    total = sum(t["energy_kwh"] for t in trials)
    needed = []
    for t in trials:
        needed.append(t)
        if t["value"] is not None and abs(t["value"] - v) <= tol:
            break
    used = sum(t["energy_kwh"] for t in needed)
    return {"best_value": v, "best_trial": best["number"], "within_pct": pct,
            "trials": [t["number"] for t in needed], "energy_kwh": used,
            "energy_share": used / total if total > 0 else None,
            "meaning": ("V is the best objective of the sweep; the listed trials are those run up to "
                        "and including the first whose objective came within X % of V (relative to "
                        "|V|), in the order they ran; the share is their energy over the whole sweep's")}


def _listed(fps):
    """A trial's footprint figures (``totals.Sums``) from its location, once per location."""
    def footprint(rec, notes):
        try:
            return fps.at(rec.location, rec.energy_j / J_PER_KWH, (rec.duration_s or 0.0) / 3600.0)
        except UsageError as e:
            notes.append(f"footprint not computed: {e}")
        except Exception as e:  # a broken table or model must not hide the measured energy
            notes.append(f"footprint not computed: {type(e).__name__}: {e}")
        return None
    return footprint


def analyse(runs, *, study: str | None = None, direction: str | None = None, pct: float = 1.0,
            footprint=None) -> dict:
    """Plain data for ``wattprint sweep``: trials, front, totals and the "within X %" finding.
    ``footprint(record, notes)``: a trial's footprint (default: ``totals.Footprints``'s)."""
    if footprint is None:
        footprint = _listed(Footprints())
    recs = trials_of(runs, study)
    studies = sorted({r.meta["sweep"].get("study") or "" for r in recs})
    if direction is None:
        dirs = {r.meta["sweep"].get("direction") for r in recs} - {None}
        direction = dirs.pop() if len(dirs) == 1 else "minimize"
    notes: list = []

    tot = SimpleNamespace(runs=0, co2e_runs=0, energy_kwh_it=0.0, energy_kwh=0.0, co2e_kg=None,  # for
                          cost_usd_low=None, cost_usd_high=None, electricity_cost_usd=None)  # accumulate
    trials = []
    for rec in recs:
        sw = rec.meta["sweep"]
        own: list = []
        fp = footprint(rec, own)
        notes.extend(f"run {rec.id}: {n}" for n in own)
        accumulate(tot, rec, fp)
        value = sw.get("value")
        trials.append({
            "number": sw.get("number"), "study": sw.get("study"), "state": sw.get("state"),
            "value": value if isinstance(value, (int, float)) and math.isfinite(value) else None,
            "params": sw.get("params") or {}, "run_id": rec.id, "host": rec.host,
            "started_at": rec.started_at, "duration_s": rec.duration_s or 0.0,
            "energy_kwh_it": rec.energy_j / J_PER_KWH,
            "energy_kwh": fp.energy_kwh if fp else rec.energy_j / J_PER_KWH,
            "co2e_kg": fp.co2e_kg if fp else None,
            "cost_usd_low": fp.cost_usd_low if fp else None,
            "cost_usd_high": fp.cost_usd_high if fp else None,
            "shared_host": (rec.meta or {}).get("shared_host")})
    cum = 0.0
    for t in trials:
        cum += t["energy_kwh"]
        t["cumulative_energy_kwh"] = cum
    # by run id: trial numbers repeat across studies
    front_ids = pareto([(t["run_id"], t["value"], t["energy_kwh"]) for t in trials], direction)
    by_id = {t["run_id"]: t["number"] for t in trials}
    if len(studies) > 1:
        notes.append(f"{len(studies)} studies mixed: give --study to see one ({', '.join(studies)})")
    return {"studies": studies, "direction": direction, "trials": trials,
            "pareto": [by_id[i] for i in front_ids], "pareto_run_ids": front_ids,
            "total_energy_kwh": tot.energy_kwh, "total_energy_kwh_it": tot.energy_kwh_it,
            "total_co2e_kg": tot.co2e_kg, "co2e_trials": tot.co2e_runs,
            "total_cost_usd_low": tot.cost_usd_low, "total_cost_usd_high": tot.cost_usd_high,
            "within": within(trials, direction, pct), "notes": notes}
