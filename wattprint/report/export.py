"""Export runs, domains, samples, windows, progress and predictions as CSV or JSON Lines, and runs
as CodeCarbon's ``emissions.csv``.

The schema is documented in docs/export.md; change both together. Samples are streamed from the
store row by row, so exporting a week-long run does not load millions of rows into memory.
"""
from __future__ import annotations

import csv
import json
import time

from ..errors import UsageError
from ..meters.base import KINDS
from ..units import J_PER_KWH, iso_time
from .data import footprint_or_note

FORMATS = ("csv", "jsonl", "codecarbon")
TABLES = ("runs", "domains", "samples", "windows", "progress", "predictions", "all")

RUN_COLUMNS = [
    "run_id", "project", "tags", "status", "exit_code", "started_at", "ended_at", "duration_s",
    "energy_j", "energy_kwh", "avg_power_w",
    *[f"energy_j_{k}" for k in KINDS],
    "labels", "pue", "energy_kwh_facility", "region", "cloud", "intensity_g_per_kwh",
    "intensity_source", "intensity_year", "co2e_kg", "co2e_net_kg", "cost_usd_low", "cost_usd_high",
    "electricity_cost_usd", "gpu_count", "host", "node", "job_id", "rank", "command", "interval_s",
    "degraded", "total", "unit", "done", "samples",
]
DOMAIN_COLUMNS = ["run_id", "idx", "name", "kind", "source", "label", "method", "device", "node",
                  "energy_j", "avg_power_w", "in_total"]
SAMPLE_COLUMNS = ["run_id", "t_s", "time", "domain", "kind", "energy_j", "power_w"]

# CodeCarbon's EmissionsData fields in its order (codecarbon 3.3.2, output_methods/emissions_data.py),
# the order its emissions.csv has (it checks a file's header as a set).
CODECARBON_COLUMNS = [
    "timestamp", "project_name", "run_id", "experiment_id", "duration", "emissions", "emissions_rate",
    "cpu_power", "gpu_power", "ram_power", "cpu_energy", "gpu_energy", "ram_energy", "energy_consumed",
    "water_consumed", "country_name", "country_iso_code", "region", "cloud_provider", "cloud_region",
    "os", "python_version", "codecarbon_version", "cpu_count", "cpu_model", "gpu_count", "gpu_model",
    "longitude", "latitude", "ram_total_size", "tracking_mode", "cpu_utilization_percent",
    "gpu_utilization_percent", "ram_utilization_percent", "ram_used_gb", "on_cloud", "pue", "wue",
]
WINDOW_COLUMNS = ["run_id", "name", "start_s", "end_s", "duration_s", "start_time", "energy_j",
                  "energy_kwh", "avg_power_w", "energy_j_by_domain"]
PROGRESS_COLUMNS = ["run_id", "t_s", "time", "done", "total", "unit", "energy_j"]


def prediction_columns() -> list[str]:
    """run_id, t_s, time, then every field of ``Prediction`` (its ``t`` is ``t_s``), then a budget
    that the prediction found exceeded."""
    from dataclasses import fields

    from ..predict import Prediction

    return ["run_id", "t_s", "time"] + [f.name for f in fields(Prediction) if f.name != "t"] + ["budget_exceeded"]


def _intensity(fp) -> dict:
    return next((s for s in (fp.sources if fp else []) if s.get("factor") == "intensity"), {})


def run_row(rec, fp, n_samples: int | None = None) -> dict:
    """One run as a flat dict of RUN_COLUMNS (JSON types; None = unknown)."""
    by_kind = {k: None for k in KINDS}
    for d in rec.domains:
        k = d.kind if d.kind in by_kind else "other"
        by_kind[k] = (by_kind[k] or 0.0) + d.energy_j
    ci = _intensity(fp)
    return {
        "run_id": rec.id, "project": rec.project, "tags": list(rec.tags), "status": rec.status,
        "exit_code": rec.exit_code, "started_at": iso_time(rec.started_at), "ended_at": iso_time(rec.ended_at),
        "duration_s": rec.duration_s, "energy_j": rec.energy_j, "energy_kwh": rec.energy_kwh,
        "avg_power_w": rec.avg_power_w, **{f"energy_j_{k}": v for k, v in by_kind.items()},
        "labels": {d.name: d.label for d in rec.domains},
        "pue": fp.pue if fp else None, "energy_kwh_facility": fp.energy_kwh if fp else None,
        "region": rec.location.get("region"), "cloud": rec.location.get("cloud"),
        "intensity_g_per_kwh": ci.get("value"), "intensity_source": ci.get("source"),
        "intensity_year": ci.get("year"), "co2e_kg": fp.co2e_kg if fp else None,
        "co2e_net_kg": fp.co2e_net_kg if fp else None, "cost_usd_low": fp.cost_usd_low if fp else None,
        "cost_usd_high": fp.cost_usd_high if fp else None,
        "electricity_cost_usd": fp.electricity_cost_usd if fp else None,
        "gpu_count": sum(1 for d in rec.domains if d.kind == "gpu"), "host": rec.host, "node": rec.node,
        "job_id": rec.job_id, "rank": rec.rank, "command": rec.command, "interval_s": rec.interval_s,
        "degraded": bool(rec.degraded), "total": rec.total, "unit": rec.unit, "done": rec.done,
        "samples": n_samples,
    }


def domain_rows(rec):
    for d in rec.domains:
        yield {"run_id": rec.id, "idx": d.idx, "name": d.name, "kind": d.kind, "source": d.source,
               "label": d.label, "method": d.method, "device": d.device, "node": d.node,
               "energy_j": d.energy_j, "avg_power_w": d.avg_power_w,
               "in_total": bool(d.in_total)}


def _sample_tuples(store, rec):
    """(run_id, t_s, time, domain, kind, energy_j, power_w) in time order, streamed."""
    names = {d.idx: (d.name, d.kind) for d in rec.domains}
    t0 = rec.started_at
    last_sec, prefix = None, ""
    for t, idx, e, w in store.iter_samples(rec.key):
        wall = t0 + t
        sec = int(wall)
        if sec != last_sec:  # the date part changes once a second at most
            last_sec, prefix = sec, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
        name, kind = names.get(idx, (str(idx), "other"))
        yield (rec.id, t, f"{prefix}.{min(int((wall - sec) * 1000), 999):03d}Z", name, kind, e, w)


def _at(rec, t) -> str | None:
    """Wall-clock time of ``t`` seconds into the run, UTC, to the millisecond."""
    try:
        wall = rec.started_at + float(t)
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(wall)) + f".{int(wall * 1000) % 1000:03d}Z"
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def window_rows(store, rec):
    counted = {d.name for d in rec.domains if d.in_total}
    for name, start, end, by_domain in store.windows(rec.key):
        joules = sum(v for k, v in (by_domain or {}).items() if k in counted)
        seconds = end - start if end is not None and start is not None else None
        yield {"run_id": rec.id, "name": name, "start_s": start, "end_s": end, "duration_s": seconds,
               "start_time": _at(rec, start), "energy_j": joules, "energy_kwh": joules / J_PER_KWH,
               "avg_power_w": joules / seconds if seconds else None, "energy_j_by_domain": by_domain}


def progress_rows(store, rec):
    for t, done, total, joules in store.progress(rec.key):
        yield {"run_id": rec.id, "t_s": t, "time": _at(rec, t), "done": done, "total": total,
               "unit": rec.unit, "energy_j": joules}


def prediction_rows(store, rec):
    cols = prediction_columns()[3:]
    for t, data in store.predictions(rec.key):
        yield {"run_id": rec.id, "t_s": t, "time": _at(rec, t), **{k: (data or {}).get(k) for k in cols}}


def sample_rows(store, rec):
    """Samples of one run in time order as dicts, streamed (never all in memory)."""
    for row in _sample_tuples(store, rec):
        yield dict(zip(SAMPLE_COLUMNS, row))


def codecarbon_row(rec, fp) -> dict:
    """One run as CodeCarbon's ``EmissionsData``, each field with CodeCarbon's meaning; a field
    wattprint does not know is empty (never a guess)."""
    def kind_sum(kind, attr):
        vals = [getattr(d, attr) for d in rec.domains if d.kind == kind]
        return sum(vals) if vals else 0.0

    place = place_of(rec.location or {})
    system = (rec.meta or {}).get("system") or {}
    cpu_model = system.get("cpu_model") or next(
        (d.device for d in rec.domains if d.source == "cpu-model" and d.device), "")
    co2 = fp.co2e_kg if fp else None
    dur = rec.duration_s or 0.0
    gpus = [d for d in rec.domains if d.kind == "gpu"]
    return {
        "timestamp": (iso_time(rec.ended_at or rec.updated_at) or "")[:-1],
        "project_name": rec.project or "", "run_id": rec.id, "experiment_id": rec.job_id or "",
        "duration": dur, "emissions": co2 if co2 is not None else "",
        "emissions_rate": (co2 / dur) if co2 is not None and dur > 0 else "",
        "cpu_power": kind_sum("cpu", "avg_power_w"), "gpu_power": kind_sum("gpu", "avg_power_w"),
        "ram_power": kind_sum("dram", "avg_power_w"),
        "cpu_energy": kind_sum("cpu", "energy_j") / J_PER_KWH,
        "gpu_energy": kind_sum("gpu", "energy_j") / J_PER_KWH, "ram_energy": kind_sum("dram", "energy_j") / J_PER_KWH,
        "energy_consumed": fp.energy_kwh if fp else rec.energy_kwh, "water_consumed": "",
        **place, "os": system.get("os") or "", "python_version": system.get("python") or "",
        "codecarbon_version": "", "cpu_count": system.get("cpu_count") or "", "cpu_model": cpu_model,
        "gpu_count": len(gpus), "gpu_model": _gpu_model(system.get("gpu_models") or []),
        "longitude": "", "latitude": "", "ram_total_size": system.get("ram_total_gb") or "",
        "tracking_mode": "process" if (rec.meta or {}).get("scope") == "process" else "machine",
        "cpu_utilization_percent": "", "gpu_utilization_percent": "", "ram_utilization_percent": "",
        "ram_used_gb": "", "on_cloud": "Y" if place["cloud_provider"] else "N",
        "pue": fp.pue if fp else 1.0, "wue": "",
    }


def _gpu_model(models: list) -> str:
    """CodeCarbon's form: '4 x NVIDIA A100-SXM4-80GB' (models joined with ', ' when mixed)."""
    counts: dict = {}
    for m in models:
        counts[m] = counts.get(m, 0) + 1
    return ", ".join(f"{n} x {m}" for m, n in counts.items())


def place_of(location: dict) -> dict:
    """CodeCarbon's location fields for a stored location: ``country_name`` ('France'),
    ``country_iso_code`` (ISO 3166 alpha-3, 'FRA'), ``region`` (the sub-national region or the
    cloud site, lower-case as CodeCarbon writes it: 'california'; empty for a whole country),
    ``cloud_provider`` and ``cloud_region``. Empty where the location does not say."""
    from ..datasets import cloud_region, norm, table

    out = {"country_name": "", "country_iso_code": "", "region": "", "cloud_provider": "", "cloud_region": ""}
    countries = {r["iso2"]: r for r in table("grid_country_ember.csv") if r["iso2"]}

    def country(iso2):
        row = countries.get(iso2 or "")
        if row:
            out.update(country_name=row["name"], country_iso_code=row["iso3"])

    if location.get("cloud"):
        try:
            r = cloud_region(location["cloud"])
        except UsageError:  # a region the tables do not know: still on that cloud
            provider, _, region = str(location["cloud"]).partition(":")
            out.update(cloud_provider=provider.strip().lower(), cloud_region=region.strip())
            return out
        out.update(cloud_provider=r["provider"], cloud_region=r["region"])
        country(r["country_iso2"])
        if r["name"] and norm(r["name"]) != norm(out["country_name"]):
            out["region"] = _lower(r["name"])
        return out
    region = str(location.get("region") or "")
    key = norm(region)
    if not key:
        return out
    for r in table("grid_us_state_egrid.csv"):
        if key in (norm("US-" + r["state"]), norm(r["name"])):
            country("US")
            out["region"] = _lower(r["name"])
            return out
    for r in table("grid_country_ember.csv"):
        if key in (norm(r["iso2"]), norm(r["iso3"]), norm(r["name"])):
            out.update(country_name=r["name"], country_iso_code=r["iso3"])
            return out
    for r in table("grid_zone_electricitymaps.csv"):
        if key in (norm(r["zone"]), norm(r["name"])):
            country(r["country_iso2"])
            if r["zone"] != r["country_iso2"]:  # a part of a country: its name is the region
                out["region"] = _lower(r["name"])
            return out
    return out


def _lower(name: str) -> str:
    """A place name as CodeCarbon writes a region: lower-case ASCII ('Québec' -> 'quebec')."""
    import unicodedata

    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower().strip()


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(v):
    """A CSV cell a spreadsheet will not run as a formula (OWASP's rule): text starting with
    '=', '+', '-', '@', tab or CR gets a leading "'", unless it is a plain number such as -1.5."""
    if not isinstance(v, str) or not v.startswith(_FORMULA_START):
        return v
    try:
        float(v)
        return v if v.strip() == v else "'" + v
    except ValueError:
        return "'" + v


def _csv_value(v, raw: bool = False):
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        v = ";".join(str(x) for x in v)
    elif isinstance(v, dict):
        v = json.dumps(v, separators=(",", ":"), sort_keys=True)
    return v if raw else safe_cell(v)


def _json(obj) -> str:
    return json.dumps(obj, separators=(",", ":"), default=str, allow_nan=False)


def write(f, store, runs, *, fmt: str, table: str | None = None, raw: bool = False) -> int:
    """Write ``runs`` to the open text file ``f``; returns the number of data rows written.

    CSV text cells that a spreadsheet would run as a formula are neutralised (``safe_cell``)
    unless ``raw``; JSON Lines are exact."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}: choose csv, jsonl or codecarbon")
    table = table or ("all" if fmt == "jsonl" else "runs")
    if table not in TABLES:
        raise UsageError(f"unknown table {table!r}: choose {', '.join(TABLES)}")
    if fmt == "codecarbon" and table != "runs":
        raise UsageError("--format codecarbon writes the runs table only; drop --what or use csv/jsonl")
    if fmt == "csv" and table == "all":
        raise UsageError("CSV holds one table: give --what runs, domains, samples, windows, progress or "
                         "predictions (or use --format jsonl)")
    n = 0
    if fmt == "codecarbon":
        w = csv.DictWriter(f, fieldnames=CODECARBON_COLUMNS, lineterminator="\n")
        w.writeheader()
        for rec in runs:
            w.writerow({k: _csv_value(v, raw) for k, v in codecarbon_row(rec, footprint_or_note(rec, [])).items()})
            n += 1
        return n
    if fmt == "csv" and table == "samples":  # the big table: plain tuples, no dicts
        w = csv.writer(f, lineterminator="\n")
        w.writerow(SAMPLE_COLUMNS)
        for rec in runs:
            for row in _sample_tuples(store, rec):
                row = row if row[6] is not None else row[:6] + ("",)
                w.writerow(row if raw else (safe_cell(row[0]),) + row[1:3] + (safe_cell(row[3]),) + row[4:])
                n += 1
        return n
    if fmt == "csv":
        cols = columns(table)
        w = csv.DictWriter(f, fieldnames=cols, lineterminator="\n")
        w.writeheader()
        for row in _rows(store, runs, table):
            w.writerow({k: _csv_value(v, raw) for k, v in row.items()})
            n += 1
        return n
    tables = TABLES[:-1] if table == "all" else (table,)
    for rec in runs:  # jsonl: each run's rows together, the run first
        for t in tables:
            for row in _rows(store, [rec], t):
                f.write(_json({"type": TYPES[t], **row}) + "\n")
                n += 1
    return n


TYPES = {"runs": "run", "domains": "domain", "samples": "sample", "windows": "window",
         "progress": "progress", "predictions": "prediction"}


def columns(table: str) -> list[str]:
    """The CSV columns of ``table``."""
    if table == "predictions":
        return prediction_columns()
    return {"runs": RUN_COLUMNS, "domains": DOMAIN_COLUMNS, "samples": SAMPLE_COLUMNS,
            "windows": WINDOW_COLUMNS, "progress": PROGRESS_COLUMNS}[table]


def _rows(store, runs, table):
    for rec in runs:
        if table == "runs":
            yield run_row(rec, footprint_or_note(rec, [], equivalents=False), store.count_samples(rec.key))
        elif table == "domains":
            yield from domain_rows(rec)
        elif table == "windows":
            yield from window_rows(store, rec)
        elif table == "progress":
            yield from progress_rows(store, rec)
        elif table == "predictions":
            yield from prediction_rows(store, rec)
        else:
            yield from sample_rows(store, rec)
