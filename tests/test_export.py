"""Export: CSV and JSON Lines schemas, CodeCarbon columns, stdout, atomic files, bad input."""
import csv
import io
import json
import os
import subprocess
import sys

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
    for col in (export.RUN_COLUMNS + export.DOMAIN_COLUMNS + export.SAMPLE_COLUMNS + export.WINDOW_COLUMNS
                + export.PROGRESS_COLUMNS + export.prediction_columns()):
        assert f"`{col}`" in doc, col
    for col in export.CODECARBON_COLUMNS:
        assert col in doc, col


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


def _codecarbon_emissions_data():
    """CodeCarbon 3.3.2's own ``EmissionsData`` (tests/data/codecarbon, MIT), loaded by path so
    that neither CodeCarbon nor its dependencies need installing."""
    import importlib.util

    path = os.path.join(os.path.dirname(__file__), "data", "codecarbon", "emissions_data.py")
    spec = importlib.util.spec_from_file_location("codecarbon_emissions_data", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.EmissionsData


def _as_codecarbon(row: dict):
    """A CSV row as CodeCarbon's EmissionsData, each non-empty cell converted to the field's type."""
    import dataclasses

    cls = _codecarbon_emissions_data()
    types = {f.name: f.type for f in dataclasses.fields(cls)}
    assert set(row) == set(types)  # CodeCarbon checks an emissions.csv header as a set
    conv = {"float": float, "str": str, float: float, str: str}
    return cls(**{k: conv[types[k]](v) if v != "" else v for k, v in row.items()})


SYSTEM = {"os": "Linux-6.8.0-x86_64-with-glibc2.39", "python": "3.12.3", "cpu_model": "AMD EPYC 7B13",
          "cpu_count": 16, "gpu_models": ["NVIDIA A100-SXM4-40GB"] * 2, "ram_total_gb": 125.8}


def test_codecarbon_export_reads_as_codecarbons_own_emissions_data(store_path):
    energy = make_run(store_path, "r1", location={"cloud": "gcp:europe-west9", "pue": "1.1"})
    st = Store.open(store_path)
    st.update_run(st.get_run("r1").key, meta={"system": SYSTEM})
    st.close()
    r = wp("export", "--format", "codecarbon", "--out", "-")
    assert r.returncode == 0, r.stderr
    reader = csv.DictReader(io.StringIO(r.stdout))
    fields = [f for f in _codecarbon_emissions_data().__dataclass_fields__]
    assert reader.fieldnames == fields == export.CODECARBON_COLUMNS  # CodeCarbon's order too
    cc = _as_codecarbon(next(reader))
    assert cc.project_name == "bert" and cc.run_id == "r1"
    assert (cc.cloud_provider, cc.cloud_region, cc.on_cloud) == ("gcp", "europe-west9", "Y")
    # CodeCarbon's meanings: country by name and ISO 3166 alpha-3, region the site in lower case
    assert (cc.country_name, cc.country_iso_code, cc.region) == ("France", "FRA", "paris")
    assert (cc.os, cc.python_version, cc.cpu_model, cc.cpu_count) == (
        SYSTEM["os"], SYSTEM["python"], SYSTEM["cpu_model"], SYSTEM["cpu_count"])
    assert cc.gpu_model == "2 x NVIDIA A100-SXM4-40GB" and cc.ram_total_size == SYSTEM["ram_total_gb"]
    assert cc.pue == pytest.approx(1.1) and cc.gpu_count == 1
    assert cc.gpu_energy == pytest.approx(energy["gpu:0"] / 3.6e6)
    assert cc.energy_consumed == pytest.approx(sum(energy.values()) / 3.6e6 * 1.1)
    assert cc.emissions / cc.duration == pytest.approx(cc.emissions_rate)
    assert "T" in cc.timestamp and not cc.timestamp.endswith("Z")
    assert cc.codecarbon_version == "" and cc.water_consumed == ""  # not CodeCarbon; not known


@pytest.mark.parametrize("location, country, iso, region", [
    ({"region": "FR"}, "France", "FRA", ""),  # a whole country has no region (it was 'FR')
    ({"region": "US-CA"}, "United States", "USA", "california"),
    ({"region": "CA-QC"}, "Canada", "CAN", "quebec"),
    ({"region": "DEU"}, "Germany", "DEU", ""),
    ({"cloud": "aws:eu-west-3"}, "France", "FRA", "paris"),
    ({"intensity": "300g/kWh"}, "", "", ""),
    ({"cloud": "aws:xx-nowhere-9"}, "", "", ""),  # unknown to the tables: provider and region kept
])
def test_codecarbon_location_fields(location, country, iso, region):
    place = export.place_of(location)
    assert (place["country_name"], place["country_iso_code"], place["region"]) == (country, iso, region)
    assert place["cloud_provider"] == (location.get("cloud") or ":").split(":")[0]
    assert place["cloud_region"] == (location.get("cloud") or ":").split(":")[1]


def test_codecarbon_export_of_a_real_run_fills_what_the_run_stored(store_path):
    import wattprint

    with wattprint.track(store=store_path, gpus=False, interval=0.02, region="US-CA", quiet=True) as run:
        sum(range(200_000))
    r = wp("export", "--format", "codecarbon", "--out", "-", "--store", store_path)
    assert r.returncode == 0, r.stderr
    cc = _as_codecarbon(next(csv.DictReader(io.StringIO(r.stdout))))
    assert (cc.run_id, cc.country_iso_code, cc.region, cc.on_cloud) == (run.run_id, "USA", "california", "N")
    stored = Store.open(store_path).get_run(run.run_id)
    system = stored.meta.get("system") or {}
    cpu = system.get("cpu_model") or next(d.device for d in stored.domains if d.source == "cpu-model")
    assert cc.cpu_model == cpu and cc.cpu_energy > 0
    assert cc.os == system.get("os", "") and cc.python_version == system.get("python", "")


@pytest.mark.parametrize("args, message", [
    (["--run", "nope"], "no run 'nope'"),
    (["--table", "all"], "CSV holds one table"),
    (["--what", "all"], "CSV holds one table"),
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


# -- spreadsheet formulas ----------------------------------------------------------------------
HOSTILE = {"project": "=HYPERLINK(\"http://evil/\",\"click\")", "tags": ("+1+1", "@SUM(A1:A9)", "-2+3", "-1.5"),
           "command": "\tcmd"}


def test_csv_cells_a_spreadsheet_would_run_are_neutralised_and_raw_opts_out(store_path):
    make_run(store_path, "r1", n=5, project=HOSTILE["project"], tags=HOSTILE["tags"], command=HOSTILE["command"])
    row = next(csv.DictReader(io.StringIO(wp("export", "--out", "-").stdout)))
    assert row["project"] == "'" + HOSTILE["project"]
    assert row["tags"] == "'+1+1;@SUM(A1:A9);-2+3;-1.5"  # one cell: neutralised once, as a whole
    assert row["command"] == "'" + HOSTILE["command"]
    assert float(row["energy_j"]) > 0  # numbers stay numbers
    cc = next(csv.DictReader(io.StringIO(wp("export", "--format", "codecarbon", "--out", "-").stdout)))
    assert cc["project_name"] == "'" + HOSTILE["project"]
    raw = next(csv.DictReader(io.StringIO(wp("export", "--raw", "--out", "-").stdout)))
    assert raw["project"] == HOSTILE["project"] and raw["command"] == HOSTILE["command"]
    # JSON Lines are data for programs: exact
    first = json.loads(wp("export", "--format", "jsonl", "--out", "-").stdout.splitlines()[0])
    assert first["project"] == HOSTILE["project"] and first["tags"] == list(HOSTILE["tags"])
    assert "formula" in wp("export", "--help").stdout


@pytest.mark.parametrize("cell, safe", [
    ("=1+1", "'=1+1"), ("+1", "+1"), ("-1.5", "-1.5"), ("-1e5", "-1e5"), ("+A1", "'+A1"), ("@x", "'@x"),
    ("-", "'-"), ("\t1", "'\t1"), ("\r=x", "'\r=x"), ("a=b", "a=b"), ("", ""), (" =x", " =x"), (3.5, 3.5),
    (-2, -2), ("- 1", "'- 1"),
])
def test_safe_cell(cell, safe):
    assert export.safe_cell(cell) == safe


def test_export_doc_states_the_formula_rule():
    doc = open(os.path.join(os.path.dirname(__file__), "..", "docs", "export.md")).read()
    assert "--raw" in doc and "formula" in doc and "OWASP" in doc


# -- output files: regular files replaced whole, special files written into ----------------------
def _main(capsys, *argv):
    from wattprint.cli import main

    try:
        rc = main(list(argv))
    except SystemExit as e:
        rc = e.code
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture
def nodes(tmp_path):
    from test_bad_inputs import device_nodes

    return device_nodes(tmp_path)


def test_fifo_is_written_into_not_replaced(store_path, tmp_path, capsys):
    import stat
    import threading

    make_run(store_path, "r1", n=5)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(open(fifo).read()), daemon=True)
    reader.start()
    rc, _, err = _main(capsys, "export", "--out", str(fifo))
    reader.join(10)
    assert rc == 0, err
    assert got and got[0].startswith("run_id,") and "r1" in got[0]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_character_devices_are_written_into_and_a_full_one_is_one_line(store_path, nodes, capsys):
    import stat

    null, full = nodes  # the machine's null and full devices (private nodes of them as root)
    make_run(store_path, "r1", n=5)
    rc, _, err = _main(capsys, "export", "--out", null)
    assert rc == 0 and "wrote" in err
    rc, _, err = _main(capsys, "report", "r1", "--html", full)
    assert rc == 2 and len(err.strip().splitlines()) == 1
    assert "no space left" in err and "Traceback" not in err
    for node in nodes:
        assert stat.S_ISCHR(os.stat(node).st_mode)
    assert not [p for p in os.listdir(os.path.dirname(null)) if p.endswith(".tmp")]


def test_symlink_to_a_file_keeps_the_link_and_replaces_the_file(store_path, tmp_path, capsys):
    make_run(store_path, "r1", n=5)
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "out.csv"
    target.write_text("old\n")
    os.chmod(target, 0o600)
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    dangling = tmp_path / "dangling.csv"
    dangling.symlink_to(tmp_path / "real" / "new.csv")
    for path in (link, dangling):
        rc, _, err = _main(capsys, "export", "--out", str(path))
        assert rc == 0, err
        assert os.path.islink(path)
    assert target.read_text().startswith("run_id,") and (tmp_path / "real" / "new.csv").exists()
    assert os.stat(target).st_mode & 0o777 == 0o600  # the file keeps its permissions
    assert sorted(os.listdir(tmp_path / "real")) == ["new.csv", "out.csv"]


def test_symlink_to_stdout_is_written_through(store_path, tmp_path):
    make_run(store_path, "r1", n=5)
    link = tmp_path / "to-stdout"
    link.symlink_to("/proc/self/fd/1")
    outfile = tmp_path / "captured.csv"
    with open(outfile, "w") as f:
        r = subprocess.run([sys.executable, "-m", "wattprint", "export", "--out", str(link)], stdout=f,
                           stderr=subprocess.PIPE, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert outfile.read_text().startswith("run_id,")
    assert os.path.islink(link) and os.readlink(link) == "/proc/self/fd/1"
    r = subprocess.run([sys.executable, "-m", "wattprint", "export", "--out", str(link)], capture_output=True,
                       text=True, timeout=60)  # a pipe this time
    assert r.returncode == 0 and r.stdout.startswith("run_id,") and os.path.islink(link)


@pytest.mark.parametrize("path, words", [
    ("", "empty"), ("{tmp}/no/such/dir/x.csv", "does not exist"), ("{tmp}", "is a directory"),
    ("/proc/x", "/proc"), ("/proc/self/status", "/proc"), ("{tmp}/" + "a" * 300, "too long"),
])
def test_unwritable_paths_are_one_line_and_leave_nothing(store_path, tmp_path, capsys, path, words):
    make_run(store_path, "r1", n=5)
    before = sorted(os.listdir(tmp_path))
    rc, out, err = _main(capsys, "export", "--out", path.format(tmp=tmp_path))
    assert rc == 2 and len(err.strip().splitlines()) == 1 and words in err, err
    assert sorted(os.listdir(tmp_path)) == before


@pytest.mark.parametrize("errno_, words", [(28, "no space left"), (13, "permission denied"),
                                           (30, "read-only file system"), (122, "quota")])
def test_write_errors_remove_the_temporary_file(tmp_path, monkeypatch, errno_, words):
    from wattprint.errors import UsageError
    from wattprint.report import files

    (tmp_path / "w").mkdir()
    target = tmp_path / "w" / "out.csv"
    target.write_text("old")

    def failing_fsync(fd):
        raise OSError(errno_, os.strerror(errno_))

    monkeypatch.setattr(files.os, "fsync", failing_fsync)
    with pytest.raises(UsageError, match=words):
        files.write_output(str(target), lambda f: f.write("new"))
    assert target.read_text() == "old" and os.listdir(tmp_path / "w") == ["out.csv"]


def test_windows_progress_and_predictions_of_a_real_run(store_path, tmp_path):
    import wattprint

    windows = []
    with wattprint.track(store=store_path, gpus=False, interval=0.02, flush_interval=0.1, total=6,
                         unit="epoch", region="FR", quiet=True) as run:
        for i in range(6):
            with run.window("epoch") as m:
                sum(range(100_000))
            windows.append(m)
            with run.window("eval") as m:
                sum(range(20_000))
            windows.append(m)
            run.progress(i + 1)
    out = {}
    for what in ("windows", "progress", "predictions"):
        path = tmp_path / f"{what}.csv"
        r = wp("export", "--what", what, "--out", str(path), "--store", store_path)
        assert r.returncode == 0, r.stderr
        reader = csv.DictReader(open(path))
        assert reader.fieldnames == export.columns(what)
        out[what] = list(reader)
    rows = out["windows"]
    assert [x["name"] for x in rows] == [m.name for m in windows]
    for row, m in zip(rows, windows):
        assert float(row["energy_j"]) == pytest.approx(m.total_j)
        assert float(row["duration_s"]) == pytest.approx(m.seconds, abs=1e-6)
        assert float(row["energy_kwh"]) == pytest.approx(m.total_j / 3.6e6)
        assert json.loads(row["energy_j_by_domain"]) == pytest.approx(m.energy_j)
        assert row["start_time"].endswith("Z") and row["run_id"] == run.run_id
    progress = run.progress_rows()
    assert [float(x["done"]) for x in out["progress"]] == [float(p[1]) for p in progress] == [1, 2, 3, 4, 5, 6]
    assert {x["unit"] for x in out["progress"]} == {"epoch"} and {x["total"] for x in out["progress"]} == {"6.0"}
    preds = Store.open(store_path).predictions(Store.open(store_path).get_run(run.run_id).key)
    assert len(out["predictions"]) == len(preds) >= 1
    for row, (t, data) in zip(out["predictions"], preds):
        assert float(row["t_s"]) == pytest.approx(t) and row["reliable"] == str(data["reliable"]).lower()
        if data["energy_kwh"] is not None:
            assert float(row["energy_kwh"]) == pytest.approx(data["energy_kwh"])
    # JSON Lines: every table, each row saying which.
    r = wp("export", "--format", "jsonl", "--out", "-", "--store", store_path)
    types = [json.loads(x)["type"] for x in r.stdout.splitlines()]
    assert types.count("window") == 12 and types.count("progress") == 6
    assert types.count("prediction") == len(preds) and types[0] == "run"
    r = wp("export", "--format", "jsonl", "--what", "windows", "--out", "-", "--store", store_path)
    assert {json.loads(x)["type"] for x in r.stdout.splitlines()} == {"window"}
