"""Reading many runs: ``Store.run_lines`` and the columns derived from meta (schema 2).

Campaign, project reports and sweeps read 100,000 runs through ``run_lines``: one query, no
meta parsed. These tests hold it to what reading full records gives, on both backends, through
meta rewrites, rows whose facts are missing, stores of the older schema and their upgrade.
"""
import json
import math
import os
import random
import sqlite3
import time

import pytest

from pg import pg_server, pg_url  # noqa: F401  (fixtures: a real PostgreSQL server)
from wattprint.campaign import account, project_report
from wattprint.footprint import for_record
from wattprint.store import DomainTotal, RunRecord, Store
from wattprint.store.records import meta_facts
from wattprint.totals import Footprints


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request, store_path):
    if request.param == "sqlite":
        return store_path
    return request.getfixturevalue("pg_url")


PLACES = [{"region": "FR"}, {"cloud": "aws:us-east-1", "hardware": "A100 80GB"}, {},
          {"region": "US-CA", "pue": "industry", "tariff": 0.2}, {"prices": "aws"}]  # the last: no row


def _rec(i, rng, t0, **kw):
    gpus = rng.randrange(0, 3)
    doms = [DomainTotal("cpu:0", "cpu", "rapl", "measured", "test", 0, 0, idx=0)]
    doms += [DomainTotal(f"gpu:{k}", "gpu", "nvml", "measured", "test", 0, 0, idx=k + 1) for k in range(gpus)]
    dur = rng.uniform(1, 5000)
    return RunRecord(id=kw.pop("id", f"r{i:04d}"), status=kw.pop("status", "finished"),
                     started_at=t0 + i * rng.uniform(100, 30000), updated_at=kw.pop("updated_at", time.time()),
                     duration_s=dur,
                     energy_j=rng.uniform(0, 3e7), project=kw.pop("project", "lab"),
                     tags=kw.pop("tags", rng.choice([[], ["final"], ["Tuning"], ["x", "hpo"], ["ablation"]])),
                     location=kw.pop("location", rng.choice(PLACES)), domains=doms, **kw)


def _fill(st, seed=7, n=120):
    """Runs of every kind that changes a sum: trials, jobs and their ranks, nested runs, runs with
    no location or a broken one, a dead 'running' run, another project."""
    rng = random.Random(seed)
    t0 = time.time() - 120 * 86400
    for i in range(n):
        meta = {"system": {"os": "Linux"}}
        if i % 7 == 3:
            meta["sweep"] = {"study": rng.choice(["s1", "s2", None]), "number": i, "value": rng.random()}
        st.create_run(_rec(i, rng, t0, meta=meta))
    st.create_run(_rec(n, rng, t0, id="job1", meta={"role": "job", "nodes": {"0": {}, "1": {}, "2": {}}}))
    for k in range(3):
        st.create_run(_rec(n + 1 + k, rng, t0, id=f"job1.r{k}",
                           meta={"role": "rank", "part_of": "job1", "measures_host": k != 1}))
    st.create_run(_rec(n + 5, rng, t0, id="lonely.r0", meta={"role": "rank", "part_of": "nojob"}))
    st.create_run(_rec(n + 6, rng, t0, id="outer"))
    st.create_run(_rec(n + 7, rng, t0, id="inner", meta={"nested_in": "outer"}))
    st.create_run(_rec(n + 8, rng, t0, id="ghost", status="running", pid=2 ** 22 + 12345, host="elsewhere",
                       flush_s=1.0, updated_at=time.time() - 3600))  # its heartbeat stopped an hour ago
    st.create_run(_rec(n + 9, rng, t0, id="elsewhere", project="other"))


def _per_run(records):
    """The old way, one run at a time: each run's own footprint through the model."""
    from wattprint.plugins.distributed import countable

    out = {"runs": 0, "kwh": 0.0, "co2e": 0.0, "high": 0.0}
    for r in countable(records):
        out["runs"] += 1
        try:
            fp = for_record(r, equivalents=False)
        except Exception:
            out["kwh"] += r.energy_kwh
            continue
        out["kwh"] += fp.energy_kwh
        out["co2e"] += fp.co2e_kg or 0.0
        out["high"] += fp.cost_usd_high or 0.0
    return out


def _same(a, b, path="") -> None:
    """Equal, floats to 1e-9 relative (sums in another order)."""
    if isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12), (path, a, b)
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            _same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{path}[{i}]")
    else:
        assert a == b, (path, a, b)


@pytest.mark.parametrize("filters", [{}, {"project": "lab"}, {"tag": "final"}, {"since": "60d"}])
def test_lines_sum_exactly_as_records(any_store, filters):
    st = Store.open(any_store)
    _fill(st)
    if "since" in filters:
        filters = {"since": time.time() - 60 * 86400}
    records = st.list_runs(**filters)
    lines = st.run_lines(**filters)
    assert [x.id for x in lines] == [r.id for r in records]
    assert [x.status for x in lines] == [r.status for r in records]
    assert "ghost" not in [x.id for x in lines] or \
        next(x for x in lines if x.id == "ghost").status == "interrupted"  # its process is gone
    _same(account(lines), account(records))
    _same(project_report(lines, top=7), project_report(records, top=7))
    acc = account(lines)
    tot = acc["levels"][-1]
    old = _per_run(records)
    assert tot["runs"] == old["runs"]
    assert tot["energy_kwh"] == pytest.approx(old["kwh"], rel=1e-9)
    assert (tot["co2e_kg"] or 0.0) == pytest.approx(old["co2e"], rel=1e-9)
    assert (tot["cost_usd_high"] or 0.0) == pytest.approx(old["high"], rel=1e-9)


def test_campaign_counts_jobs_nested_runs_and_trials(any_store):
    st = Store.open(any_store)
    _fill(st)
    acc = account(st.run_lines(project="lab"))
    lv = {x["level"]: x for x in acc["levels"]}
    ids = set(lv["total"]["run_ids"])
    assert "job1" in ids and not {"job1.r0", "job1.r1", "job1.r2", "inner"} & ids
    assert {"lonely.r0", "outer"} <= ids  # its job has no record here; the outer run stands
    trials = {r.id for r in st.list_runs(project="lab", trial=True)}
    assert len(trials) == len(range(3, 120, 7))
    assert trials <= set(lv["tuning"]["run_ids"]) | set(lv["final"]["run_ids"])
    job = st.get_run("job1")
    assert job.hosts == 3 and lv["total"]["host_hours"] >= 3 * job.duration_s / 3600
    assert any("footprint not computed" in n and "runs (" in n for n in acc["notes"])  # one note, not one per run
    assert not any("still running" in n for n in acc["notes"])  # the ghost is dead


def test_trial_filter_and_study(any_store):
    st = Store.open(any_store)
    _fill(st)
    every = [r for r in st.list_runs(project="lab") if isinstance(r.meta.get("sweep"), dict)]
    assert [r.id for r in st.list_runs(project="lab", trial=True)] == [r.id for r in every]
    s1 = [r.id for r in every if r.meta["sweep"].get("study") == "s1"]
    assert s1 and [r.id for r in st.list_runs(project="lab", trial="s1")] == s1
    assert [r.id for r in st.list_runs(project="lab", trial="")] == \
        [r.id for r in every if not r.meta["sweep"].get("study")]
    assert st.list_runs(project="other", trial=True) == []


def test_facts_follow_meta_rewrites(any_store):
    st = Store.open(any_store)
    rng = random.Random(1)
    rec = _rec(0, rng, time.time(), meta={})
    st.create_run(rec)
    assert st.run_lines()[0].trial is None and st.run_lines()[0].hosts == 1
    st.update_run(rec.key, meta={"sweep": {"study": "late"}, "role": "job", "nodes": ["a", "b"]})
    line = st.run_lines()[0]
    assert (line.trial, line.role, line.hosts) == ("late", "job", 2)
    assert [r.id for r in st.list_runs(trial="late")] == [rec.id]
    st.flush(rec.key, run_fields={"meta": {"measures_host": False}})
    line = st.run_lines()[0]
    assert (line.trial, line.role, line.hosts) == (None, None, 0)
    assert line.gpus == rec.gpus


@pytest.mark.parametrize("meta, facts", [
    ({}, (None, None, None, None, 1)),
    ({"sweep": {"study": "s"}}, ("s", None, None, None, 1)),
    ({"sweep": {}}, ("", None, None, None, 1)),
    ({"sweep": "not a dict"}, (None, None, None, None, 1)),
    ({"sweep": {"study": 7}}, ("7", None, None, None, 1)),
    ({"role": "job", "nodes": {"0": {}, "1": {}}}, (None, "job", None, None, 2)),
    ({"role": "job", "nodes": ["a", "b", "c"]}, (None, "job", None, None, 3)),
    ({"role": "job"}, (None, "job", None, None, 1)),
    ({"role": "rank", "part_of": "j", "measures_host": False}, (None, "rank", "j", None, 0)),
    ({"role": 5, "part_of": ["j"], "nested_in": "o"}, (None, None, None, "o", 1)),
    ("not a dict", (None, None, None, None, 1)),
])
def test_meta_facts(meta, facts):
    assert meta_facts(meta) == facts


def _drop_facts_sqlite(path):
    db = sqlite3.connect(path)
    db.execute("DROP INDEX runs_trial")
    db.execute("DROP INDEX runs_no_facts")
    db.execute("DROP INDEX runs_running")
    for col in ("trial", "role", "part_of", "nested_in", "hosts", "gpus"):
        db.execute(f"ALTER TABLE runs DROP COLUMN {col}")
    db.execute("UPDATE meta SET value='1' WHERE key='schema_version'")
    db.commit()
    db.close()


def _drop_facts_pg(url):
    import psycopg

    with psycopg.connect(url, autocommit=True) as db:
        db.execute("DROP INDEX wattprint.runs_trial")
        db.execute("DROP INDEX wattprint.runs_no_facts")
        db.execute("DROP INDEX wattprint.runs_running")
        db.execute("ALTER TABLE wattprint.runs DROP COLUMN trial, DROP COLUMN role, DROP COLUMN part_of, "
                   "DROP COLUMN nested_in, DROP COLUMN hosts, DROP COLUMN gpus")
        db.execute("UPDATE wattprint.meta SET value='1' WHERE key='schema_version'")


def test_a_store_of_schema_1_is_read_as_it_is_then_upgraded(any_store):
    st = Store.open(any_store)
    _fill(st, n=40)
    want = account(st.list_runs())
    want_trials = [r.id for r in st.list_runs(trial=True)]
    st.close()
    (_drop_facts_pg if "://" in any_store else _drop_facts_sqlite)(any_store)
    ro = Store.open(any_store, readonly=True)  # a reader does not upgrade: it reads the older schema
    _same(account(ro.run_lines()), want)
    assert [r.id for r in ro.list_runs(trial=True)] == want_trials
    ro.close()
    rw = Store.open(any_store)  # a writer upgrades, deriving the columns from every run's meta
    _same(account(rw.run_lines()), want)
    assert [r.id for r in rw.list_runs(trial=True)] == want_trials
    for r in rw.list_runs():
        line = next(x for x in rw.run_lines() if x.id == r.id)
        assert (line.trial, line.role, line.part_of, line.nested_in, line.hosts, line.gpus) == \
            (*meta_facts(r.meta), r.gpus)


def test_rows_without_facts_are_derived_when_read(any_store, capsys):
    """A writer of an older wattprint still running leaves the derived columns empty."""
    st = Store.open(any_store)
    _fill(st, n=30)
    want = account(st.list_runs())
    if "://" in any_store:
        import psycopg

        with psycopg.connect(any_store, autocommit=True) as db:
            db.execute("UPDATE wattprint.runs SET trial=NULL, role=NULL, part_of=NULL, nested_in=NULL, "
                       "hosts=NULL, gpus=NULL")
    else:
        db = sqlite3.connect(any_store)
        db.execute("UPDATE runs SET trial=NULL, role=NULL, part_of=NULL, nested_in=NULL, hosts=NULL, gpus=NULL")
        db.commit()
        db.close()
    _same(account(st.run_lines()), want)
    assert len(st.list_runs(trial=True)) == len(range(3, 30, 7))
    assert [r.id for r in st.list_runs(trial="s1")] == [r.id for r in st.list_runs() if r.trial == "s1"]
    assert [r.id for r in st.list_runs(trial=True, newest=2)] == [r.id for r in st.list_runs(trial=True)][-2:]
    from wattprint.cli import main

    assert main(["store", "init", any_store]) == 0  # fills them in the store
    assert "derived columns filled for" in capsys.readouterr().out
    assert st.fill_derived() == 0
    for line in st.run_lines():
        rec = st.get_run(line.id)
        assert (line.trial, line.role, line.part_of, line.nested_in, line.hosts, line.gpus) == \
            (*meta_facts(rec.meta), rec.gpus)
    _same(account(st.run_lines()), want)


def test_a_store_filled_by_hand_reads_lines_without_whole_records(store_path, monkeypatch):
    """Rows inserted with SQL alone (no derived columns): lines still come without loading
    records, from their meta."""
    st = Store.open(store_path)
    _fill(st, n=30)
    want = account(st.list_runs())
    db = sqlite3.connect(store_path)
    db.execute("UPDATE runs SET trial=NULL, role=NULL, part_of=NULL, nested_in=NULL, hosts=NULL, gpus=NULL")
    db.execute("UPDATE runs SET status='interrupted' WHERE status='running'")
    db.commit()
    db.close()
    from wattprint.store import sqlite as backend

    monkeypatch.setattr(backend.SQLiteStore, "_find_runs", lambda *a, **k: (_ for _ in ()).throw(AssertionError))
    lines = st.run_lines()
    _same(account(lines), want)


def test_unreadable_json_columns_read_as_empty(store_path):
    st = Store.open(store_path)
    _fill(st, n=10)
    db = sqlite3.connect(store_path)
    db.execute("UPDATE runs SET tags='[broken', location='{\"region\": ' WHERE id='r0001'")
    db.execute("UPDATE runs SET tags='[[\"a\"], 5, \"final\"]', location='[1, 2]', meta='\"text\"' WHERE id='r0002'")
    db.commit()
    db.close()
    line = next(x for x in st.run_lines() if x.id == "r0001")
    rec = st.get_run("r0001")
    assert line.tags == () and dict(line.location) == {} and rec.tags == [] and rec.location == {}
    odd = next(x for x in st.run_lines() if x.id == "r0002")
    assert odd.tags == ("['a']", "5", "final") and dict(odd.location) == {} and st.get_run("r0002").location == {}
    _same(account(st.run_lines()), account(st.list_runs()))
    assert "r0002" in account(st.run_lines(tag="final"))["levels"][0]["run_ids"]


LOCATIONS = [{}, {"region": "FR"}, {"region": "DE", "hardware": "H100 SXM"}, {"cloud": "aws:us-east-1"},
             {"cloud": "aws:us-east-1", "hardware": "A100 80GB", "count": 8}, {"cloud": "gcp:us-central1", "hardware": "V100"},
             {"intensity": 300, "pue": 1.5, "tariff": 0.2}, {"region": "US-CA", "pue": "industry"},
             {"region": "FR", "net_intensity": 20}]


@pytest.mark.parametrize("location", LOCATIONS, ids=lambda x: json.dumps(x))
def test_footprints_equal_the_model_at_every_location(location):
    from wattprint.footprint import for_energy

    fps = Footprints()
    rng = random.Random(3)
    for _ in range(20):
        kwh, hours = rng.uniform(0, 5000), rng.uniform(0, 10000)
        got, fp = fps.at(location, kwh, hours), for_energy(kwh, hours, equivalents=False, **location)
        for f in ("energy_kwh", "co2e_kg", "cost_usd_low", "cost_usd_high", "electricity_cost_usd"):
            want = getattr(fp, f)
            assert (getattr(got, f) is None) == (want is None), f
            if want is not None:
                assert getattr(got, f) == pytest.approx(want, rel=1e-9, abs=1e-12), f


def test_footprints_call_the_model_where_it_is_not_linear(monkeypatch):
    from types import SimpleNamespace

    import wattprint.footprint as footprint

    calls = []

    def affine(kwh, hours, **kw):  # a fixed part per run: sums would be wrong by the shortcut
        calls.append((kwh, hours))
        return SimpleNamespace(energy_kwh=kwh + 1.0, co2e_kg=None, cost_usd_low=None, cost_usd_high=2 * hours + 5,
                               electricity_cost_usd=None, sources=[])

    monkeypatch.setattr(footprint, "for_energy", affine)
    got = Footprints().at({"region": "FR"}, 10.0, 3.0)
    assert got.energy_kwh == 11.0 and got.cost_usd_high == 11.0 and calls[-1] == (10.0, 3.0)


def test_footprints_refuse_what_the_model_refuses():
    from wattprint.errors import UsageError

    fps = Footprints()
    with pytest.raises(UsageError):
        fps.at({"region": "FR"}, -1.0, 1.0)
    with pytest.raises(UsageError):
        fps.at({"region": "FR"}, float("nan"), 1.0)
    with pytest.raises(UsageError):
        fps.at({"prices": "aws"}, 1.0, 1.0)


def test_the_reading_commands_read_only_what_they_show(any_store, monkeypatch, tmp_path, capsys):
    """README's promise (about a second on 100,000 runs) rests on this: campaign and report
    --project read lines, never whole records; sweep --study reads that study's trials; runs
    reads the rows it shows. (Times are measured by bench/bench_store_postgres.py.)"""
    st = Store.open(any_store)
    _fill(st, n=80)
    _raw(any_store, "UPDATE runs SET status='interrupted' WHERE status='running'")  # no liveness reads
    s1 = [r.key for r in st.list_runs(project="lab", trial="s1")]
    backend = type(st)
    real = backend._find_runs
    reads = []

    def spy(self, **kw):
        rows = real(self, **kw)
        reads.append(len(rows))
        return rows

    monkeypatch.setattr(backend, "_find_runs", spy)
    from wattprint.cli import main

    assert main(["campaign", "--project", "lab", "--store", any_store]) == 0
    assert main(["report", "--project", "lab", "--store", any_store, "--md", str(tmp_path / "p.md")]) == 0
    assert reads == []
    assert main(["sweep", "--project", "lab", "--study", "s1", "--store", any_store]) == 0
    assert reads == [len(s1)]
    reads.clear()
    assert main(["runs", "--project", "lab", "--limit", "5", "--store", any_store]) == 0
    assert main(["runs", "--project", "lab", "--tag", "final", "--limit", "2", "--store", any_store]) == 0
    assert reads == [5, 2]
    capsys.readouterr()


def test_writers_upgrading_at_once_upgrade_once(any_store):
    """Ranks of a job starting together on a store of schema 1: one upgrades, all write."""
    import subprocess
    import sys

    st = Store.open(any_store)
    _fill(st, n=40)
    want = account(st.list_runs(project="lab"))
    st.close()
    (_drop_facts_pg if "://" in any_store else _drop_facts_sqlite)(any_store)
    code = ("import sys, time; from wattprint.store import Store, RunRecord\n"
            "st = Store.open(sys.argv[1]); now = time.time()\n"
            "st.create_run(RunRecord(id=sys.argv[2], status='finished', started_at=now, updated_at=now,"
            " project='late', meta={'role': 'job', 'nodes': ['a', 'b']}))\n")
    procs = [subprocess.Popen([sys.executable, "-c", code, any_store, f"w{k}"], stderr=subprocess.PIPE, text=True)
             for k in range(4)]
    for p in procs:
        assert p.wait(timeout=120) == 0, p.stderr.read()
    st = Store.open(any_store, readonly=True)
    lab = account(st.run_lines(project="lab"))
    _same(lab, account(st.list_runs(project="lab")))
    _same(lab["levels"], want["levels"])
    late = st.run_lines(project="late")
    assert sorted(x.id for x in late) == ["w0", "w1", "w2", "w3"] and {x.hosts for x in late} == {2}


def test_long_json_lists_are_one_item_per_line_and_still_refuse_nan():
    from wattprint.cli._output import LONG_LIST, json_text
    from wattprint.errors import UsageError

    items = [{"run_id": f"r{i}", "energy_j": i * 0.5, "tags": ["a", "b"]} for i in range(LONG_LIST + 1)]
    text = json_text(items)
    assert json.loads(text) == items and len(text.splitlines()) == len(items) + 2
    assert json.loads(json_text(items[:3])) == items[:3] and len(json_text(items[:3]).splitlines()) > 5
    items[700]["energy_j"] = float("nan")
    with pytest.raises(UsageError, match=r"\[700\]\.energy_j is not a finite number"):
        json_text(items)


def _ten_in_france(st, bad=None):
    rng = random.Random(5)
    t0 = time.time() - 86400
    for i in range(10):
        kw = {"energy_j": -5e6} if i == bad else {}
        rec = _rec(i, rng, t0, location={"region": "FR"}, tags=[], meta={})
        for k, v in kw.items():
            setattr(rec, k, v)
        st.create_run(rec)


def test_a_run_the_model_refuses_is_left_out_alone(store_path):
    """One run with a negative energy (a hand-edited store) loses its own CO2e, not its place's."""
    st = Store.open(store_path)
    _ten_in_france(st, bad=4)
    acc = account(st.run_lines())
    tot = acc["levels"][-1]
    old = _per_run(st.list_runs())
    assert tot["runs"] == 10 and tot["co2e_runs"] == 9
    assert tot["co2e_kg"] == pytest.approx(old["co2e"], rel=1e-9)
    assert [n for n in acc["notes"] if "footprint not computed" in n] == \
        [n for n in acc["notes"] if n.startswith("run r0004: footprint not computed")]
    assert len([n for n in acc["notes"] if "footprint not computed" in n]) == 1
    _same(account(st.run_lines()), account(st.list_runs()))


def test_a_model_with_a_fixed_part_per_run_is_summed_run_by_run(store_path, monkeypatch):
    from types import SimpleNamespace

    import wattprint.footprint as footprint

    st = Store.open(store_path)
    _ten_in_france(st)
    real = footprint.for_energy

    def with_fixed_part(kwh, hours, **kw):  # 1 kg per run whatever its size: not linear
        fp = real(kwh, hours, **kw)
        return SimpleNamespace(**{f: getattr(fp, f) for f in ("energy_kwh", "cost_usd_low", "cost_usd_high",
                                                               "electricity_cost_usd", "sources")},
                               co2e_kg=fp.co2e_kg + 1.0)

    monkeypatch.setattr(footprint, "for_energy", with_fixed_part)
    runs = st.list_runs()
    want = sum(with_fixed_part(r.energy_kwh, r.duration_s / 3600, **r.location).co2e_kg for r in runs)
    assert account(st.run_lines())["levels"][-1]["co2e_kg"] == pytest.approx(want, rel=1e-9)
    rep = project_report(st.run_lines())
    assert sum(b["co2e_kg"] for b in rep["over_time"]) == pytest.approx(want, rel=1e-9)


def _raw(store, sql):
    if "://" in store:
        import psycopg

        with psycopg.connect(store, autocommit=True) as db:
            db.execute(sql.replace("runs", "wattprint.runs", 1))
    else:
        db = sqlite3.connect(store)
        db.execute(sql)
        db.commit()
        db.close()


def test_a_running_run_whose_older_writer_rewrites_meta_is_read_by_its_meta(any_store):
    """An older wattprint still writing during an upgrade changes meta without the columns."""
    st = Store.open(any_store)
    rng = random.Random(2)
    rec = _rec(0, rng, time.time() - 60, status="running", pid=os.getpid(), meta={})
    st.create_run(rec)
    from wattprint.store.base import _pid_alive, hostname

    import psutil

    rec.host, rec.pid_started = hostname(), psutil.Process().create_time()
    st.update_run(rec.key, host=rec.host, pid_started=rec.pid_started)
    assert _pid_alive(rec.pid, rec.pid_started)
    _raw(any_store, "UPDATE runs SET meta='{\"sweep\": {\"study\": \"late\"}}'")
    line = st.run_lines()[0]
    assert line.status == "running" and line.trial == "late"
    assert [r.id for r in st.list_runs(trial="late")] == [rec.id]
    assert account(st.run_lines())["levels"][1]["runs"] == 1  # tuning
    assert st.fill_derived() == 0  # a running run is left to be read by its meta


def test_runs_with_a_tag_load_only_the_runs_shown(store_path, monkeypatch):
    st = Store.open(store_path)
    _fill(st, n=60)
    want = [r.id for r in st.list_runs() if "final" in r.tags]
    calls = []
    from wattprint.store import sqlite as backend

    real = backend.SQLiteStore._find_runs

    def spy(self, **kw):
        calls.append(kw)
        return real(self, **kw)

    monkeypatch.setattr(backend.SQLiteStore, "_find_runs", spy)
    assert [r.id for r in st.list_runs(tag="final", newest=3)] == want[-3:]
    assert calls and all(c.get("keys") is not None and len(c["keys"]) <= 3 for c in calls)
    assert st.count_runs(tag="final") == len(want)
    assert [r.id for r in st.list_runs(tag="final")] == want


def test_the_tag_filter_is_the_same_on_both_reading_paths(store_path):
    st = Store.open(store_path)
    _fill(st, n=10)
    _raw(store_path, "UPDATE runs SET tags='[5, \"x\"]' WHERE id='r0003'")
    for tag in ("5", "x"):
        assert [x.id for x in st.run_lines(tag=tag)] == [r.id for r in st.list_runs(tag=tag)]
        assert st.count_runs(tag=tag) == len(st.list_runs(tag=tag))


def test_projects_are_listed_in_one_query(any_store):
    st = Store.open(any_store)
    assert st.projects() == []
    _fill(st, n=5)
    rng = random.Random(9)
    for i, name in enumerate(("", "B", "_x", "a")):
        st.create_run(_rec(100 + i, rng, time.time(), id=f"p{i}", project=name))
    assert st.projects() == ["B", "_x", "a", "lab", "other"]  # one order on both backends, no ''


def test_a_run_alone_in_its_cell_is_named_once(store_path):
    """At a place the model refuses, a run with a refused energy too: one note each, no run twice."""
    st = Store.open(store_path)
    rng = random.Random(4)
    for i in range(3):
        rec = _rec(i, rng, time.time() - 3600, location={"prices": "aws"}, tags=[], meta={})
        rec.energy_j = -5.0 if i == 2 else rec.energy_j
        st.create_run(rec)
    notes = [n for n in account(st.run_lines())["notes"] if "footprint not computed" in n]
    assert len(notes) == 2 and notes[0].startswith("2 runs (r0000, r0001)") and notes[1].startswith("run r0002")


def test_the_newest_trials_are_read_as_n_where_the_columns_hold(any_store, monkeypatch):
    st = Store.open(any_store)
    _fill(st, n=60)
    _raw(any_store, "UPDATE runs SET status='interrupted' WHERE status='running'")
    every = [r.id for r in st.list_runs(trial=True)]
    backend = type(st)
    real, sizes = backend._find_runs, []

    def spy(self, **kw):
        rows = real(self, **kw)
        sizes.append(len(rows))
        return rows

    monkeypatch.setattr(backend, "_find_runs", spy)
    assert [r.id for r in st.list_runs(trial=True, newest=2)] == every[-2:] and sizes == [2]
    monkeypatch.setattr(backend, "_find_runs", real)
    (_drop_facts_pg if "://" in any_store else _drop_facts_sqlite)(any_store)
    ro = Store.open(any_store, readonly=True)  # schema 1: no column to pick trials by, still right
    assert [r.id for r in ro.list_runs(trial=True, newest=2)] == every[-2:]
