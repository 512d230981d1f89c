import os
import sqlite3
import subprocess
import sys
import time

import pytest
from pg import pg_server, pg_url  # noqa: F401  (fixtures: a real PostgreSQL server)

from wattprint.errors import UsageError
from wattprint.store import SCHEMA_VERSION, DomainTotal, RunIdTaken, RunRecord, Store


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request, store_path):
    """The contract tests below run on both backends: a SQLite path or a PostgreSQL URL."""
    if request.param == "sqlite":
        return store_path
    return request.getfixturevalue("pg_url")


def _backend_module(st):
    from wattprint.store import sqlite as sqlite_store

    if isinstance(st, sqlite_store.SQLiteStore):
        return sqlite_store
    from wattprint.store import postgres

    return postgres


def _rec(run_id, **kw):
    now = time.time()
    return RunRecord(id=run_id, status=kw.pop("status", "finished"), started_at=now, updated_at=now,
                     domains=[DomainTotal("cpu:0", "cpu", "rapl", "measured", "test", 0, 0)], **kw)


def test_schema_is_versioned_and_reopens(store_path):
    st = Store.open(store_path)
    st.create_run(_rec("r1", project="p"))
    st.close()
    st = Store.open(store_path)
    db = sqlite3.connect(store_path)
    assert db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == str(SCHEMA_VERSION)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    assert [r.id for r in st.list_runs(project="p")] == ["r1"]


def test_newer_schema_is_refused_with_a_clear_message(store_path):
    Store.open(store_path).close()
    db = sqlite3.connect(store_path)
    db.execute("UPDATE meta SET value='999' WHERE key='schema_version'")
    db.commit()
    db.close()
    with pytest.raises(UsageError, match="newer wattprint"):
        Store.open(store_path)


def test_not_a_store_and_unwritable_paths(tmp_path):
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(UsageError, match="not a wattprint store"):
        Store.open(str(junk))
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(UsageError, match="cannot write the run store"):
        Store.open(str(a_file / "sub" / "runs.sqlite"))
    with pytest.raises(UsageError, match="no run store"):
        Store.open(str(tmp_path / "missing.sqlite"), create=False)
    assert not (tmp_path / "missing.sqlite").exists()


def test_run_ids_by_prefix_ambiguity_and_unknown(any_store):
    st = Store.open(any_store)
    with pytest.raises(UsageError, match="store is empty"):
        st.get_run("nope")
    st.create_run(_rec("20261127-000001-aaaaaa"))
    st.create_run(_rec("20261127-000001-aabbbb"))
    assert st.get_run("20261127-000001-aab").id == "20261127-000001-aabbbb"
    with pytest.raises(UsageError, match="ambiguous"):
        st.get_run("20261127-000001-aa")
    with pytest.raises(UsageError, match="wattprint runs"):
        st.get_run("zzz")
    with pytest.raises(RunIdTaken, match="already exists"):
        st.create_run(_rec("20261127-000001-aaaaaa"))


def test_flush_writes_samples_totals_and_side_tables(any_store):
    st = Store.open(any_store)
    rec = _rec("r", status="running", host="elsewhere")
    key = st.create_run(rec)
    st.flush(key, samples=[(1.0, 0, 10.0, 10.0), (2.0, 0, 20.0, 10.0)], domain_energy={0: 20.0},
             run_fields={"energy_j": 20.0, "duration_s": 2.0, "updated_at": time.time()},
             progress=[(1.0, 1, 4, 10.0)], windows=[("eval", 0.5, 1.5, {"cpu:0": 10.0})],
             predictions=[(2.0, {"energy_kwh": 1.0})])
    got = st.get_run("r")
    assert got.status == "running"  # another host with a fresh heartbeat
    assert got.energy_j == 20.0 and got.domains[0].energy_j == 20.0
    assert got.domains[0].avg_power_w == pytest.approx(10.0)
    assert st.samples(key) == [(1.0, 0, 10.0, 10.0), (2.0, 0, 20.0, 10.0)]
    assert st.progress(key) == [(1.0, 1.0, 4.0, 10.0)]
    assert st.windows(key) == [("eval", 0.5, 1.5, {"cpu:0": 10.0})]
    assert st.predictions(key) == [(2.0, {"energy_kwh": 1.0})]


def test_dead_local_process_and_stale_heartbeat_read_as_interrupted(any_store):
    import socket

    st = Store.open(any_store)
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    st.create_run(_rec("local", status="running", host=socket.gethostname(), pid=p.pid))
    st.create_run(_rec("remote", status="running", host="other-node"))
    st.update_run(st.get_run("remote").key, updated_at=time.time() - 3600)
    st.create_run(_rec("alive", status="running", host=socket.gethostname(), pid=os.getpid()))
    assert st.get_run("local").status == "interrupted"
    assert st.get_run("remote").status == "interrupted"
    assert st.get_run("alive").status == "running"


WRITER = r"""
import sys, time
from wattprint.store import Store, RunRecord, DomainTotal
st = Store.open(sys.argv[1])
for i in range(int(sys.argv[3])):
    now = time.time()
    rec = RunRecord(id=f"{sys.argv[2]}-{i}", status="finished", started_at=now, updated_at=now,
                    domains=[DomainTotal("cpu:0", "cpu", "x", "measured", "m", 0, 0)])
    key = st.create_run(rec)
    st.flush(key, samples=[(t * 0.1, 0, t * 1.0, 10.0) for t in range(50)], domain_energy={0: 49.0},
             run_fields={"energy_j": 49.0})
"""


def test_concurrent_writers_lose_nothing(any_store):
    Store.open(any_store).close()
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, any_store, f"w{n}", "40"])
             for n in range(3)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    st = Store.open(any_store)
    runs = st.list_runs()
    assert len(runs) == 120
    assert sum(st.count_samples(r.key) for r in runs) == 120 * 50
    assert all(r.energy_j == 49.0 for r in runs)


def test_replace_run_drops_every_row_of_the_old_run(any_store):
    st = Store.open(any_store)
    key = st.create_run(_rec("job", status="running"))
    st.flush(key, samples=[(1.0, 0, 1.0, 1.0)], progress=[(1.0, 1, 2, 1.0)],
             windows=[("old", 0.0, 1.0, {"cpu:0": 1.0})], predictions=[(1.0, {"energy_kwh": 1.0})])
    other = st.create_run(_rec("other"))
    st.flush(other, samples=[(1.0, 0, 1.0, 1.0)])
    new = _rec("job", energy_j=7.0)
    got = st.replace_run(new, windows=[("eval", 1.0, 2.0, {"n0": 3.0})])
    assert got.id == "job" and got.status == "finished" and got.energy_j == 7.0
    assert got.key == new.key != key and [d.name for d in got.domains] == ["cpu:0"]
    assert st.windows(got.key) == [("eval", 1.0, 2.0, {"n0": 3.0})]
    assert (st.count_samples(key), st.progress(key), st.windows(key), st.predictions(key)) == \
        (0, [], [], [])
    assert [r.id for r in st.list_runs()] == ["other", "job"] and st.count_samples(other) == 1
    assert st.count_runs() == 2


def test_streamed_samples_span_and_energy_lookups(any_store, monkeypatch):
    st = Store.open(any_store)
    key = st.create_run(_rec("r"))
    assert st.sample_span(key) is None and list(st.iter_samples(key)) == []
    rows = [(float(t), d, t * 10.0 + d, None) for t in range(20) for d in (1, 0)]
    st.flush(key, samples=rows[::-1] + [(5.0, 0, 50.0, None)] * 4)
    for chunk in (1, 2, 3, 7, 10000):  # pages end inside and between groups of equal t
        monkeypatch.setattr(_backend_module(st), "_SAMPLE_CHUNK", chunk)
        assert list(st.iter_samples(key)) == st.samples(key)
    assert st.sample_span(key) == (0.0, 19.0)
    assert st.energy_at(key, 1, [0.0, 2.5, 19.0, 19.5]) == [(0.0, 1.0), (3.0, 31.0), (19.0, 191.0), None]


def test_open_store_picks_the_backend(tmp_path):
    from wattprint.store import SQLiteStore, open_store

    st = open_store(tmp_path / "s.sqlite")
    assert isinstance(st, SQLiteStore) and isinstance(st, Store) and st.path.endswith("s.sqlite")
    assert isinstance(Store.open(":memory:"), SQLiteStore)
    with pytest.raises(UsageError, match="unsupported store address 'mysql://u:\\*\\*\\*@db"):
        open_store("mysql://u:pw@db.example/runs")
    with pytest.raises(TypeError):
        Store()


def test_newest_reads_only_the_last_runs_and_counts_filter(any_store):
    st = Store.open(any_store)
    t0 = time.time() - 1000
    for i in range(12):
        rec = _rec(f"r{i:02d}", project="a" if i % 3 else "b", tags=["tuning"] if i % 2 else [])
        rec.started_at = t0 + i  # distinct start times: the order is the start order
        st.create_run(rec)
    every = [r.id for r in st.list_runs()]
    assert every == [f"r{i:02d}" for i in range(12)]
    assert [r.id for r in st.list_runs(newest=3)] == every[-3:]  # oldest first, like list_runs
    assert [r.id for r in st.list_runs(newest=50)] == every
    assert st.list_runs(newest=0) == []
    of_a = [r.id for r in st.list_runs(project="a")]
    assert [r.id for r in st.list_runs(project="a", newest=2)] == of_a[-2:]
    tuned = [r.id for r in st.list_runs(tag="tuning")]
    assert [r.id for r in st.list_runs(tag="tuning", newest=2)] == tuned[-2:]
    assert all(r.domains and r.domains[0].name == "cpu:0" for r in st.list_runs(newest=4))
    assert st.count_runs() == 12 and st.count_runs(project="a") == len(of_a) == 8
    assert st.count_runs(tag="tuning") == len(tuned) == 6
    assert st.count_runs(project="b", tag="tuning") == len([r for r in st.list_runs(project="b")
                                                            if "tuning" in r.tags])
    st.close()


def test_both_backends_have_the_same_tables_and_columns(store_path, pg_url):
    """The PostgreSQL schema is written by hand beside SQLite's: they must not drift apart."""
    Store.open(store_path).close()
    db = sqlite3.connect(store_path)
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    lite = {t: {r[1] for r in db.execute(f"PRAGMA table_info({t})")} for t in tables}
    db.close()
    Store.open(pg_url).close()
    import psycopg

    with psycopg.connect(pg_url) as c:
        rows = c.execute("SELECT table_name, column_name FROM information_schema.columns "
                         "WHERE table_schema = 'wattprint'").fetchall()
    pg: dict = {}
    for t, col in rows:
        pg.setdefault(t, set()).add(col)
    assert set(pg) == set(lite), (sorted(pg), sorted(lite))
    for t in lite:
        assert pg[t] - {"owner"} == lite[t], t  # owner: the role that wrote a run (PostgreSQL only)
