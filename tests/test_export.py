"""Export: CSV and JSON Lines schemas, CodeCarbon columns, stdout, atomic files, bad input."""
import csv
import io
import json
import os

import pytest

from test_report import WATTS, make_run, wp
from wattprint.report import export
from wattprint.store import Store


def test_csv_runs_table_matches_the_documented_schema(store_path):
    energy = make_run(store_path, "r1", tags=["final", "seed=1"], command='python "a,b".py')
    r = wp("export", "--out", "-")
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert list(rows[0]) == export.RUN_COLUMNS
    row = rows[0]
    assert row["run_id"] == "r1" and row["tags"] == "final;seed=1" and row["command"] == 'python "a,b".py'
    assert float(row["energy_j"]) == pytest.approx(sum(energy.values()))
    assert float(row["energy_j_gpu"]) == pytest.approx(energy["gpu:0"])
    assert row["energy_j_psys"] == ""  # unknown, not zero
    assert json.loads(row["labels"]) == {"cpu:0": "measured", "dram:0": "modelled", "gpu:0": "measured"}
    assert float(row["co2e_kg"]) == pytest.approx(float(row["energy_kwh_facility"]) * float(row["intensity_g_per_kwh"]) / 1000)
    assert row["intensity_year"] == "2024" and row["samples"] == str(3600 * 3)
    doc = open(os.path.join(os.path.dirname(__file__), "..", "docs", "export.md")).read()
    for col in export.RUN_COLUMNS + export.DOMAIN_COLUMNS + export.SAMPLE_COLUMNS:
        assert f"`{col}`" in doc, col


def test_samples_csv_and_jsonl_stream_every_row(store_path, tmp_path):
    make_run(store_path, "r1", n=500)
    make_run(store_path, "r2", n=200, project="other")
    out = tmp_path / "s.csv"
    r = wp("export", "--run", "r1", "--table", "samples", "--out", str(out))
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(open(out)))
    assert len(rows) == 500 * len(WATTS) and list(rows[0]) == export.SAMPLE_COLUMNS
    gpu = [x for x in rows if x["domain"] == "gpu:0"]
    assert [float(x["t_s"]) for x in gpu] == [float(i) for i in range(1, 501)]
    assert all(float(b["energy_j"]) >= float(a["energy_j"]) for a, b in zip(gpu, gpu[1:]))
    assert rows[0]["time"].endswith("Z") and rows[0]["kind"] == "cpu"

    out = tmp_path / "all.jsonl"
    r = wp("export", "--format", "jsonl", "--project", "other", "--out", str(out))
    assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in open(out)]
    types = [x["type"] for x in lines]
    assert types[0] == "run" and types.count("domain") == 3 and types.count("sample") == 200 * 3
    assert {x["run_id"] for x in lines} == {"r2"}
    assert lines[0]["tags"] == ["final"] and lines[1]["in_total"] is True


def test_codecarbon_columns_and_values(store_path):
    energy = make_run(store_path, "r1", location={"cloud": "gcp:us-central1", "pue": "1.1"})
    r = wp("export", "--format", "codecarbon", "--out", "-")
    assert r.returncode == 0, r.stderr
    reader = csv.DictReader(io.StringIO(r.stdout))
    # CodeCarbon's EmissionsData field order.
    assert reader.fieldnames[:7] == ["timestamp", "project_name", "run_id", "experiment_id", "duration",
                                     "emissions", "emissions_rate"]
    assert reader.fieldnames[-4:] == ["tracking_mode", "on_cloud", "pue", "wue"]
    row = next(reader)
    assert row["project_name"] == "bert" and row["cloud_provider"] == "gcp" and row["cloud_region"] == "us-central1"
    assert row["on_cloud"] == "Y" and float(row["pue"]) == pytest.approx(1.1)
    assert float(row["gpu_energy"]) == pytest.approx(energy["gpu:0"] / 3.6e6)
    assert float(row["energy_consumed"]) == pytest.approx(sum(energy.values()) / 3.6e6 * 1.1)
    assert float(row["emissions"]) / float(row["duration"]) == pytest.approx(float(row["emissions_rate"]))
    assert "T" in row["timestamp"] and not row["timestamp"].endswith("Z")


@pytest.mark.parametrize("args, message", [
    (["--run", "nope"], "no run 'nope'"),
    (["--table", "all"], "CSV holds one table"),
    (["--format", "codecarbon", "--table", "samples"], "runs table only"),
    (["--project", "none"], "no runs to export"),
    (["--run", "r1", "--project", "bert"], "not both"),
])
def test_export_bad_input(store_path, tmp_path, args, message):
    make_run(store_path, "r1", n=10)
    out = tmp_path / "x.csv"
    r = wp("export", *args, "--out", str(out))
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr
    assert not out.exists()


def test_export_empty_store(store_path, tmp_path):
    Store.open(store_path).close()
    r = wp("export", "--out", str(tmp_path / "x.csv"))
    assert r.returncode == 2 and "store is empty" in r.stderr
