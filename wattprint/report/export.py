"""Export runs, domains and samples as CSV, JSON Lines, or CodeCarbon's ``emissions.csv``.

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
TABLES = ("runs", "domains", "samples", "all")

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

# CodeCarbon's EmissionsData fields, in its order (codecarbon/output_methods/emissions_data.py).
CODECARBON_COLUMNS = [
    "timestamp", "project_name", "run_id", "experiment_id", "duration", "emissions", "emissions_rate",
    "cpu_utilization_percent", "ram_utilization_percent", "ram_used_gb", "cpu_power", "gpu_power",
    "ram_power", "cpu_energy", "gpu_energy", "ram_energy", "energy_consumed", "water_consumed",
    "country_name", "country_iso_code", "region", "cloud_provider", "cloud_region", "os",
    "python_version", "codecarbon_version", "cpu_count", "cpu_model", "gpu_count", "gpu_model",
    "longitude", "latitude", "ram_total_size", "tracking_mode", "on_cloud", "pue", "wue",
]


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


def sample_rows(store, rec):
    """Samples of one run in time order as dicts, streamed (never all in memory)."""
    for row in _sample_tuples(store, rec):
        yield dict(zip(SAMPLE_COLUMNS, row))


def codecarbon_row(rec, fp) -> dict:
    def kind_sum(kind, attr):
        vals = [getattr(d, attr) for d in rec.domains if d.kind == kind]
        return sum(vals) if vals else 0.0

    cloud = rec.location.get("cloud") or ""
    provider, _, region = cloud.partition(":") if ":" in cloud else ("", "", "")
    co2 = fp.co2e_kg if fp else None
    dur = rec.duration_s or 0.0
    return {
        "timestamp": (iso_time(rec.ended_at or rec.updated_at) or "")[:-1],
        "project_name": rec.project or "", "run_id": rec.id, "experiment_id": rec.job_id or "",
        "duration": dur, "emissions": co2 if co2 is not None else "",
        "emissions_rate": (co2 / dur) if co2 is not None and dur > 0 else "",
        "cpu_utilization_percent": "", "ram_utilization_percent": "", "ram_used_gb": "",
        "cpu_power": kind_sum("cpu", "avg_power_w"), "gpu_power": kind_sum("gpu", "avg_power_w"),
        "ram_power": kind_sum("dram", "avg_power_w"),
        "cpu_energy": kind_sum("cpu", "energy_j") / J_PER_KWH,
        "gpu_energy": kind_sum("gpu", "energy_j") / J_PER_KWH, "ram_energy": kind_sum("dram", "energy_j") / J_PER_KWH,
        "energy_consumed": fp.energy_kwh if fp else rec.energy_kwh, "water_consumed": "",
        "country_name": "", "country_iso_code": "", "region": rec.location.get("region") or "",
        "cloud_provider": provider, "cloud_region": region, "os": "", "python_version": "",
        "codecarbon_version": "", "cpu_count": "", "cpu_model": "",
        "gpu_count": sum(1 for d in rec.domains if d.kind == "gpu"), "gpu_model": "",
        "longitude": "", "latitude": "", "ram_total_size": "", "tracking_mode": "machine",
        "on_cloud": "Y" if cloud else "N", "pue": fp.pue if fp else 1.0, "wue": "",
    }


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
        raise UsageError(f"unknown table {table!r}: choose runs, domains, samples or all")
    if fmt == "codecarbon" and table != "runs":
        raise UsageError("--format codecarbon writes the runs table only; drop --table or use csv/jsonl")
    if fmt == "csv" and table == "all":
        raise UsageError("CSV holds one table: give --table runs, domains or samples (or use --format jsonl)")
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
        cols = {"runs": RUN_COLUMNS, "domains": DOMAIN_COLUMNS, "samples": SAMPLE_COLUMNS}[table]
        w = csv.DictWriter(f, fieldnames=cols, lineterminator="\n")
        w.writeheader()
        for row in _rows(store, runs, table):
            w.writerow({k: _csv_value(v, raw) for k, v in row.items()})
            n += 1
        return n
    tables = ("runs", "domains", "samples") if table == "all" else (table,)
    for rec in runs:  # jsonl: each run's rows together, the run first
        for t in tables:
            for row in _rows(store, [rec], t):
                f.write(_json({"type": t[:-1], **row}) + "\n")
                n += 1
    return n


def _rows(store, runs, table):
    for rec in runs:
        if table == "runs":
            yield run_row(rec, footprint_or_note(rec, []), store.count_samples(rec.key))
        elif table == "domains":
            yield from domain_rows(rec)
        else:
            yield from sample_rows(store, rec)
