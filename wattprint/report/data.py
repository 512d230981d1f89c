"""What a report shows, read from the store as plain data (no formatting here).

Totals come from the stored domain totals, never from plot points. Plot series are read by
looking up the cumulative energy of each domain at a few hundred evenly spaced times through the
(run, t) index, so a week-long run with millions of sample rows costs a few thousand index
lookups, not a full scan; the power drawn between two lookups is their energy difference over
their time difference, so each plotted point is the exact average over its bucket.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import UsageError
from ..totals import accumulate
from ..units import J_PER_KWH

PLOT_POINTS = 400


@dataclass
class RunData:
    record: object                      # store.RunRecord
    footprint: object | None            # footprint.Footprint, None when it could not be computed
    series: dict = field(default_factory=dict)  # domain name -> [(t_s, watts)], bucket averages
    bucket_s: float = 0.0
    predictions: list = field(default_factory=list)  # [(t_s, dict)] as stored
    windows: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    samples: int = 0


def source_text(s: dict | None, unknown: str = "source unknown") -> str:
    """'Ember (2025), Yearly Electricity Data, 2024': a factor's source with its year."""
    if not s:
        return unknown
    text = s.get("source") or unknown
    if s.get("year") and str(s["year"]) not in text:
        text += f", {s['year']}"
    elif s.get("factor") == "pue" and not s.get("year") and not text.startswith(("given", "assumed")):
        text += ", year not stated"
    return text


def factor_value(v) -> str:
    """A factor's value as published, in plain digits: 1.1, 342, 0.00822 (never an exponent)."""
    from ..fmt import plain

    if not isinstance(v, (int, float)):
        return str(v)
    text = plain(v, 4)
    return text.rstrip("0").rstrip(".") if "." in text else text


def source_line(s: dict) -> str:
    """'intensity: 44.18 g/kWh (FR) - Ember (2025), Yearly Electricity Data, 2024': one factor
    for a text list of sources (Markdown, LaTeX, the project report)."""
    value = factor_value(s.get("value"))
    line = f"{s.get('factor')}: {value} {s.get('unit') or ''}".rstrip()
    name = s.get("name")
    if name and str(name) not in (str(s.get("value")), value, "none"):
        line += f" ({name})"
    return line + f" - {source_text(s)}"


def footprint_or_note(record, notes: list, *, equivalents: bool = True):
    """The run's footprint, or None with the reason in ``notes`` (a report never fails on it).
    ``equivalents=False`` for lists of many runs: the equivalents are half of the work."""
    try:
        from ..footprint import for_record  # imported when needed: reports are drawn after a run

        return for_record(record, equivalents=equivalents)
    except UsageError as e:
        notes.append(f"footprint not computed: {e}")
    except Exception as e:  # a broken table or model must not hide the measured energy
        notes.append(f"footprint not computed: {type(e).__name__}: {e}")
    return None


def power_series(store, record, points: int = PLOT_POINTS) -> tuple[dict, float]:
    """Per-domain average power in ``points`` equal buckets over the run's sampled span."""
    span_t = store.sample_span(record.key)
    if span_t is None:
        return {}, 0.0
    t0, t1 = span_t
    span = max(t1 - t0, 0.0)
    n = max(1, points) if span > 0 else 1
    step = span / n if n else 0.0
    times = [t0 + k * step for k in range(n + 1)]
    out = {}
    for d in record.domains:
        # The first sample at or after each edge (the last edge is the last sample).
        edges = []
        for r in store.energy_at(record.key, d.idx, times):
            if r is not None and (not edges or r[0] > edges[-1][0]):
                edges.append(r)
        if len(edges) < 2:
            if edges:
                out[d.name] = []
            continue
        pts = []
        for (ta, ea), (tb, eb) in zip(edges, edges[1:]):
            pts.append(((ta + tb) / 2, max(eb - ea, 0.0) / (tb - ta)))
        out[d.name] = pts
    # buckets shorter than the sampling interval hold one sample each: say what a point really is
    return out, max(step, record.interval_s or 0.0)


def load(store, run_ids, *, points: int = PLOT_POINTS, need_samples: bool = True) -> list[RunData]:
    """Every run named (ids or unique prefixes), with its footprint, plot series and predictions."""
    if not run_ids:
        raise UsageError("name at least one run id ('wattprint runs' lists them)")
    seen, runs = set(), []
    for rid in run_ids:
        rec = store.get_run(rid)
        if rec.key in seen:
            continue
        seen.add(rec.key)
        n = store.count_samples(rec.key)
        if n == 0 and need_samples:
            raise UsageError(f"run {rec.id} has no samples (nothing was measured; "
                             "'wattprint doctor' says which meters this machine has)")
        notes: list = []
        fp = footprint_or_note(rec, notes)
        series, bucket = power_series(store, rec, points) if n else ({}, 0.0)
        runs.append(RunData(record=rec, footprint=fp, series=series, bucket_s=bucket,
                            predictions=store.predictions(rec.key), windows=store.windows(rec.key),
                            notes=notes, samples=n))
    return runs


@dataclass
class Totals:
    runs: int
    duration_s: float
    energy_kwh_it: float
    energy_kwh: float                    # with PUE, where a footprint exists (else IT energy)
    co2e_kg: float | None
    co2e_runs: int                       # runs whose CO2e is known
    cost_usd_low: float | None           # a run with no spot price adds its on-demand price here
    cost_usd_high: float | None
    electricity_cost_usd: float | None
    by_kind: dict                        # kind -> kWh (IT)


def totals(runs: list[RunData]) -> Totals:
    """The runs added up by totals.accumulate(), as `wattprint campaign` adds them."""
    t = Totals(0, 0.0, 0.0, 0.0, None, 0, None, None, None, {})
    for r in runs:
        rec = r.record
        t.duration_s += rec.duration_s or 0.0
        for d in rec.domains:
            if d.in_total:  # a domain inside another (cpu under psys) is not added twice
                t.by_kind[d.kind] = t.by_kind.get(d.kind, 0.0) + d.energy_j / J_PER_KWH
        accumulate(t, rec, r.footprint)
    return t


# a factor's scope (Factor.scope) in words: short for a line, long for a sentence
SCOPES = {"lifecycle": ("life-cycle", "life-cycle (upstream fuel and plant emissions included)"),
          "direct": ("combustion only", "combustion only (eGRID: no upstream emissions; life-cycle factors are higher)"),
          "operational": ("operational", "operational (Google's location-based grid factor, no upstream)"),
          "mixed": ("mixed", "mixed (Cloud Carbon Footprint: eGRID combustion-only in the US, others life-cycle)"),
          "market-based": ("market-based", "market-based (net of the provider's carbon-free energy)")}


def scope_text(scope, long: bool = False) -> str:
    """'life-cycle', 'combustion only', 'operational', ...; 'scope not stated' when unknown."""
    return SCOPES.get(scope, ("scope not stated", "scope not stated (given by the user or unknown upstream)"))[long]


def regions(energy_kwh: float, n: int = 8) -> list[dict]:
    """CO2e of this energy (PUE included) on other grids: 'had you trained in ...'. All in one scope
    (life-cycle): a cloud region whose provider factor has another scope is shown with its grid
    zone's life-cycle factor (Electricity Maps), and says so; each row carries its scope."""
    try:
        from ..datasets import cloud_region, compare_regions, region_intensity

        found = compare_regions(n)
    except Exception:
        return []
    out = []
    for name, f in found:
        label = name
        if f.scope != "lifecycle" and ":" in name:
            try:
                zone = cloud_region(name)["zone"]
                f, label = region_intensity(zone), f"{name} (grid zone {zone})"
            except Exception:
                pass
        out.append({"name": label, "intensity_g_per_kwh": f.value, "co2e_kg": energy_kwh * f.value / 1000.0,
                    "source": f.source, "url": f.url, "year": f.year, "note": f.note, "scope": f.scope,
                    "scope_text": scope_text(f.scope)})
    return out


def equivalents(co2e_kg: float | None, energy_kwh: float | None = None) -> list[dict]:
    """At most three everyday items that fit the magnitude, each with a plain-number ``text``."""
    if co2e_kg is None:
        return []
    try:
        from ..footprint import equivalents_for

        return equivalents_for(co2e_kg, energy_kwh)
    except Exception:
        return []


def sources(runs: list[RunData], compared: list | None = None) -> list[dict]:
    """Every factor used, once (same factor, value and source); with ``compared`` (rows of
    ``regions()``), every compared grid's intensity too: a report shows no number without its source."""
    out, seen = [], set()
    for r in runs:
        for s in (r.footprint.sources if r.footprint is not None else []):
            key = (s.get("factor"), s.get("value"), s.get("source"), s.get("name"))
            if key not in seen:
                seen.add(key)
                out.append(s)
    for row in compared or []:
        key = ("intensity", row["intensity_g_per_kwh"], row["source"], row["name"])
        if key not in seen:
            seen.add(key)
            out.append({"factor": "intensity (compared)", "name": row["name"], "value": row["intensity_g_per_kwh"],
                        "unit": "g/kWh", "source": row["source"], "year": row["year"], "url": row.get("url"),
                        "note": row.get("note"), "scope": row.get("scope")})
    return out


def window_groups(windows) -> list[dict]:
    """Windows (name, start s, end s, {domain: J}) by name, in order of first appearance: how
    many, their seconds and IT energy (kWh) in total and on average."""
    groups: dict = {}
    for name, a, b, e in windows:
        g = groups.setdefault(name, {"name": name, "count": 0, "seconds": 0.0, "energy_kwh": 0.0})
        g["count"] += 1
        g["seconds"] += max(b - a, 0.0)
        g["energy_kwh"] += sum(e.values()) / J_PER_KWH
    for g in groups.values():
        g["mean_seconds"] = g["seconds"] / g["count"]
        g["mean_energy_kwh"] = g["energy_kwh"] / g["count"]
    return list(groups.values())


def warmup_s(predictions) -> float | None:
    """Where the warm-up ended (s since the start), as the last prediction that found one says."""
    for _, p in reversed(predictions or []):
        if isinstance(p, dict) and (p.get("warmup_s") or 0) > 0:
            return float(p["warmup_s"])
    return None


def share_modelled(runs: list[RunData]) -> float:
    """The share of the counted IT energy that was modelled rather than measured (0 to 1)."""
    total = modelled = 0.0
    for r in runs:
        for d in r.record.domains:
            if d.in_total:
                total += d.energy_j
                modelled += d.energy_j if d.label != "measured" else 0.0
    return modelled / total if total > 0 else 0.0


def measured_modelled(runs: list[RunData]) -> tuple[list, list]:
    """Domains (name, method) that were measured, and those that were modelled."""
    measured, modelled, seen = [], [], set()
    for r in runs:
        for d in r.record.domains:
            key = (d.kind, d.label, d.method)
            if key in seen:
                continue
            seen.add(key)
            (measured if d.label == "measured" else modelled).append(d)
    return measured, modelled

