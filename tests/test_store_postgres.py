"""The PostgreSQL store against a real server (tests/pg.py): many writers, a killed writer, a
dropped connection, schema creation races, copying SQLite stores in and out, passwords."""
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from pg import SECRET, pg_server, pg_url  # noqa: F401  (fixtures)
from sysfs import FakeRapl

import wattprint
from wattprint.errors import UsageError
from wattprint.store import DomainTotal, RunRecord, Store, open_store

# `wattprint store ...` before the command table lists it (the lead adds it at integration).
CLI = "import sys; from wattprint import cli; sys.exit(cli.main(sys.argv[1:]))"


def wp(*args, env=None, timeout=120):
    full = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-c", CLI, *map(str, args)], capture_output=True,
                          text=True, env=full, timeout=timeout)


def ok(*args, **kw) -> str:
    r = wp(*args, **kw)
    assert r.returncode == 0 and "Traceback" not in r.stderr, (args, r.stderr)
    return r.stdout


WRITER = textwrap.dedent("""
    import sys, time
    import wattprint
    for i in range(int(sys.argv[2])):
        with wattprint.track(gpus=False, interval=0.05, flush_interval=0.2, project="lab",
                             tags=[sys.argv[1]]) as run:
            for step in range(3):
                time.sleep(0.1)
                run.progress(step + 1, total=3)
        print(run.run_id, flush=True)
""")

KILLED = textwrap.dedent("""
    import time
    import wattprint
    run = wattprint.track(gpus=False, interval=0.05, flush_interval=0.2, project="lab").start()
    print(run.run_id, flush=True)
    while True:
        time.sleep(0.05)
""")


def _energy(url, run_id) -> float:
    try:
        return open_store(url, readonly=True).get_run(run_id).energy_j
    except UsageError:
        return 0.0


@pytest.mark.slow
def test_writers_and_a_killed_one_while_runs_reads_then_same_answers_as_sqlite(
        pg_url, tmp_path, monkeypatch):
    fake = FakeRapl(tmp_path / "sysfs", {"package-0": 40.0, "dram": 5.0}).start()
    env = dict(os.environ, WATTPRINT_STORE=pg_url, WATTPRINT_SYSFS_ROOT=str(fake.root))
    try:
        killed = subprocess.Popen([sys.executable, "-c", KILLED], env=env, text=True,
                                  stdout=subprocess.PIPE)
        writers = [subprocess.Popen([sys.executable, "-c", WRITER, f"w{n}", "3"], env=env,
                                    text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                   for n in range(2)]
        killed_id = killed.stdout.readline().strip()
        reads = []
        deadline = time.monotonic() + 120
        while (any(w.poll() is None for w in writers) or _energy(pg_url, killed_id) <= 0) \
                and time.monotonic() < deadline:
            r = wp("runs", "--json", "--store", pg_url)  # reads while they write
            assert r.returncode == 0, r.stderr
            reads.append(len(json.loads(r.stdout)))
            r = wp("campaign", "--json", "--store", pg_url)  # and adds them up (run_lines)
            assert r.returncode in (0, 2), r.stderr  # 2: no run yet
            if r.returncode == 0:
                assert json.loads(r.stdout)["runs"] >= reads[-1]  # runs only come
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=60)
        outs = [w.communicate(timeout=120) for w in writers]
    finally:
        fake.stop()
        if killed.poll() is None:
            killed.kill()
    assert [w.returncode for w in writers] == [0, 0], [o[1] for o in outs]
    ids = [i for o in outs for i in o[0].split()]
    assert len(ids) == len(set(ids)) == 6 and reads and reads == sorted(reads)

    runs = json.loads(ok("runs", "--json", "--store", pg_url))
    by_id = {r["run_id"]: r for r in runs}
    assert set(by_id) == set(ids) | {killed_id}
    assert all(by_id[i]["status"] == "finished" and by_id[i]["energy_j"] > 0 for i in ids)
    dead = by_id[killed_id]
    assert dead["status"] == "interrupted" and dead["energy_j"] > 0  # up to its last flush

    # The same runs in SQLite (copied out of PostgreSQL) answer the same, to the byte.
    lite = str(tmp_path / "copy.sqlite")
    ok("store", "copy", pg_url, lite)
    for args in (["runs"], ["runs", "--json"], ["runs", "--project", "lab", "--tag", "w1"],
                 ["show", killed_id], ["show", ids[0], "--json"], ["show", ids[-1]],
                 ["campaign", "--project", "lab"], ["campaign", "--project", "lab", "--json"]):
        from_pg, from_lite = ok(*args, "--store", pg_url), ok(*args, "--store", lite)
        assert from_pg.replace(pg_url, "STORE") == from_lite.replace(lite, "STORE"), args
    assert killed_id in ok("runs", "--store", lite)


def _rec(run_id, **kw):
    now = kw.pop("now", time.time())
    return RunRecord(id=run_id, status=kw.pop("status", "finished"), started_at=now,
                     updated_at=now, duration_s=10.0, energy_j=100.0, project="p",
                     domains=[DomainTotal("cpu:0", "cpu", "rapl", "measured", "m", 100.0, 10.0)],
                     **kw)


def _sqlite_store(path, names, now):
    st = Store.open(str(path))
    for n in names:
        key = st.create_run(_rec(n, now=now))
        st.flush(key, samples=[(t / 10, 0, t * 1.0, 10.0) for t in range(101)],
                 progress=[(5.0, 1, 2, 50.0), (10.0, 2, 2, 100.0)],
                 windows=[("eval", 2.0, 3.0, {"cpu:0": 10.0})],
                 predictions=[(5.0, {"energy_kwh": 0.1})])
    st.close()


def _everything(url):
    st = open_store(url, readonly=True)
    return {r.id: (r.as_dict(), st.samples(r.key), st.progress(r.key), st.windows(r.key),
                   st.predictions(r.key)) for r in st.list_runs()}


def test_sqlite_stores_copied_in_add_their_runs_exactly_once(pg_url, tmp_path):
    nodes = tmp_path / "nodes"
    nodes.mkdir()
    now = time.time()
    _sqlite_store(nodes / "node0.sqlite", ["a", "b"], now)
    _sqlite_store(nodes / "node1.sqlite", ["b", "c"], now)  # 'b' in both: copied once
    out = json.loads(ok("store", "copy", nodes, pg_url, "--json"))
    assert (out["copied"], out["updated"], out["unchanged"], out["samples"]) == (3, 0, 0, 303)
    first = _everything(pg_url)
    again = json.loads(ok("store", "copy", nodes / "node0.sqlite", nodes / "node1.sqlite",
                          pg_url, "--json"))
    assert (again["copied"], again["updated"], again["unchanged"]) == (0, 0, 3)
    assert _everything(pg_url) == first and sorted(first) == ["a", "b", "c"]
    assert first == _everything(str(nodes / "node0.sqlite")) | _everything(str(nodes / "node1.sqlite"))
    # a run that went on after the copy: the next copy replaces it whole
    st = Store.open(str(nodes / "node1.sqlite"))
    c = st.get_run("c")
    st.flush(c.key, samples=[(10.1, 0, 101.0, 10.0)], run_fields={"updated_at": now + 5})
    st.close()
    text = ok("store", "copy", nodes, pg_url)
    assert "0 run(s) copied, 1 updated, 2 already there" in text
    got = open_store(pg_url, readonly=True)
    assert got.count_samples(got.get_run("c").key) == 102 and got.count_runs() == 3


def test_copy_refuses_bad_arguments_in_one_line(pg_url, tmp_path):
    for args in (["store", "copy", pg_url], ["store", "copy", tmp_path / "missing.sqlite", pg_url],
                 ["store", "copy", pg_url, pg_url]):
        r = wp(*args)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, (args, r.stderr)


def test_a_dropped_connection_loses_no_row_and_never_stops_the_training(
        pg_url, pg_server, tmp_path, monkeypatch, caplog):
    fake = FakeRapl(tmp_path / "sysfs", {"package-0": 40.0}).start()
    monkeypatch.setenv("WATTPRINT_SYSFS_ROOT", str(fake.root))
    db = pg_url.rsplit("/", 1)[1]
    terminate = ("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                 f"WHERE datname='{db}' AND application_name='wattprint'")
    dropped = 0
    try:
        with caplog.at_level(logging.WARNING), wattprint.track(
                gpus=False, interval=0.05, flush_interval=0.2, store=pg_url) as run:
            for step in range(1, 13):
                with run.window(f"step{step}"):
                    time.sleep(0.15)
                run.progress(step, total=12)
                if step in (3, 7):
                    dropped += pg_server.sql(terminate)[0][0]
    finally:
        fake.stop()
    assert dropped == 2 and "retrying" in caplog.text
    st = open_store(pg_url, readonly=True)
    rec = st.get_run(run.run_id)
    # (the record says degraded, as after any store failure: the recorder's rule, not lost rows)
    assert rec.status == "finished"
    assert [w[0] for w in st.windows(rec.key)] == [f"step{i}" for i in range(1, 13)]
    assert [p[1] for p in st.progress(rec.key)] == list(range(1, 13))
    assert rec.energy_j == pytest.approx(run.energy().total_j, rel=1e-9)


def test_store_level_reconnect_after_termination(pg_url, pg_server):
    st = Store.open(pg_url)
    key = st.create_run(_rec("r", status="running", host="elsewhere"))
    pg_server.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                  "WHERE application_name='wattprint' AND datname='" + pg_url.rsplit("/", 1)[1] + "'")
    with pytest.raises(Exception) as e:
        st.flush(key, samples=[(1.0, 0, 1.0, 1.0)])
    assert st.transient(e.value)
    deadline = time.monotonic() + 60
    while True:  # the store waits out its backoff, then reconnects
        try:
            st.flush(key, samples=[(1.0, 0, 1.0, 1.0)])
            break
        except Exception as err:
            assert st.transient(err) and time.monotonic() < deadline
            time.sleep(0.2)
    assert st.count_samples(key) == 1


SCHEMA_RACE = textwrap.dedent("""
    import sys, time
    from wattprint.store import DomainTotal, RunRecord, Store
    while not __import__("os").path.exists(sys.argv[2]):
        time.sleep(0.01)
    st = Store.open(sys.argv[1])
    now = time.time()
    st.create_run(RunRecord(id=sys.argv[3], status="finished", started_at=now, updated_at=now,
                            domains=[DomainTotal("cpu:0", "cpu", "x", "measured", "m", 0, 0)]))
""")


def test_processes_creating_the_schema_at_once(pg_url, tmp_path):
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", SCHEMA_RACE, pg_url, str(go), f"r{n}"],
                              stderr=subprocess.PIPE, text=True) for n in range(4)]
    go.touch()  # all four start creating at once
    errs = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, errs
    st = open_store(pg_url, readonly=True)
    assert sorted(r.id for r in st.list_runs()) == ["r0", "r1", "r2", "r3"]


def test_passwords_come_from_pgpass_or_env_and_are_never_shown(pg_url, pg_server, tmp_path,
                                                                monkeypatch):
    pg_server.sql(f"GRANT ALL ON DATABASE {pg_url.rsplit('/', 1)[1]} TO secretive")
    pg_server.sql("ALTER DATABASE " + pg_url.rsplit("/", 1)[1] + " OWNER TO secretive")
    url = pg_url.replace("postgres@", "secretive@")
    wrong = url.replace("secretive@", "secretive:wrong-pw@")
    r = wp("runs", "--store", wrong)
    assert r.returncode == 2 and "wrong-pw" not in r.stderr and "***" in r.stderr
    with pytest.raises(UsageError) as e:
        open_store(wrong)
    assert "wrong-pw" not in str(e.value)
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"127.0.0.1:{pg_server.port}:*:secretive:{SECRET}\n")
    pgpass.chmod(0o600)
    r = wp("run", "--quiet", "--store", url, "--", sys.executable, "-c", "pass",
           env={"PGPASSFILE": str(pgpass)})
    assert r.returncode == 0, r.stderr
    runs = json.loads(ok("runs", "--json", "--store", url, env={"PGPASSWORD": SECRET}))
    assert len(runs) == 1 and SECRET not in json.dumps(runs)
    with_pw = url.replace("secretive@", f"secretive:{SECRET}@")
    st = open_store(with_pw)
    assert SECRET not in st.path and "***" in st.path
    doc = json.loads(ok("doctor", "--json", "--store", with_pw))["store"]
    assert doc["state"] == "server" and doc["runs"] == 1 and SECRET not in json.dumps(doc)
    text = ok("doctor", "--store", with_pw)  # the text report names the store too
    assert "Store: postgresql://" in text and SECRET not in text and "***" in text


def test_a_forked_child_uses_its_own_connection_and_leaves_the_parents(pg_url):
    st = Store.open(pg_url)
    key = st.create_run(_rec("parent", status="running", host="elsewhere"))
    pid = os.fork()
    if pid == 0:  # the child writes through the same store object, then exits normally
        code = 1
        try:
            st.flush(key, samples=[(1.0, 0, 1.0, 1.0)])
            st.close()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    st.flush(key, samples=[(2.0, 0, 2.0, 1.0)])  # the parent's connection still works
    assert [s[0] for s in st.samples(key)] == [1.0, 2.0]


def test_a_server_gone_for_a_while_costs_the_training_nothing_and_loses_no_row(
        pg_url, pg_server, tmp_path, monkeypatch):
    fake = FakeRapl(tmp_path / "sysfs", {"package-0": 40.0}).start()
    monkeypatch.setenv("WATTPRINT_SYSFS_ROOT", str(fake.root))
    db = pg_url.rsplit("/", 1)[1]
    steps = []
    try:
        with wattprint.track(gpus=False, interval=0.05, flush_interval=0.2, store=pg_url,
                             quiet=True) as run:
            for step in range(1, 17):
                t = time.monotonic()
                with run.window(f"step{step}"):
                    time.sleep(0.1)
                run.progress(step, total=16)
                steps.append(time.monotonic() - t)
                if step == 4:  # nobody can connect (superusers neither) until step 14
                    pg_server.sql(f"ALTER DATABASE {db} ALLOW_CONNECTIONS false")
                    pg_server.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                  f"WHERE datname='{db}'")
                if step == 14:
                    pg_server.sql(f"ALTER DATABASE {db} ALLOW_CONNECTIONS true")
    finally:
        fake.stop()
        pg_server.sql(f"ALTER DATABASE {db} ALLOW_CONNECTIONS true")
    # the training thread never waited on the store (writes happen on the sampler's thread)
    assert max(steps) < 5.0, steps
    st = open_store(pg_url, readonly=True)
    rec = st.get_run(run.run_id)
    assert rec.status == "finished" and rec.ended_at is not None
    assert [w[0] for w in st.windows(rec.key)] == [f"step{i}" for i in range(1, 17)]
    assert [p[1] for p in st.progress(rec.key)] == list(range(1, 17))


def test_copy_shows_a_progress_bar_on_a_terminal_only(pg_url, tmp_path):
    import pty

    _sqlite_store(tmp_path / "a.sqlite", ["a", "b", "c"], time.time())
    master, slave = pty.openpty()
    try:
        p = subprocess.run([sys.executable, "-c", CLI, "store", "copy", str(tmp_path / "a.sqlite"),
                            pg_url], stdout=subprocess.PIPE, stderr=slave, text=True, timeout=120)
        os.close(slave)
        seen = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the terminal's other end is closed: all read
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(master)
    assert p.returncode == 0 and "3 run(s) copied" in p.stdout
    assert "copying runs [" in seen.decode() and "3/3" in seen.decode()
    r = wp("store", "copy", tmp_path / "a.sqlite", pg_url)  # not a terminal: the summary alone
    assert r.returncode == 0 and r.stderr == "" and "3 already there" in r.stdout


def test_copy_into_a_store_in_the_searched_directory_can_run_again(tmp_path):
    nodes = tmp_path / "nodes"
    nodes.mkdir()
    for name, run_id in (("node0.sqlite", "a"), ("node1.sqlite", "b")):
        st = Store.open(str(nodes / name))
        st.create_run(_rec(run_id))
        st.close()
    dst = nodes / "all.sqlite"
    first = json.loads(ok("store", "copy", str(nodes), str(dst), "--json"))
    assert first["copied"] == 2
    again = json.loads(ok("store", "copy", str(nodes) + "/", f"{nodes}/./all.sqlite", "--json"))
    assert (again["copied"], again["updated"], again["unchanged"]) == (0, 0, 2)
    r = wp("store", "copy", str(dst), f"{nodes}/../nodes/all.sqlite")  # named as both: refused
    assert r.returncode == 2 and "both a source and the destination" in r.stderr
    assert sorted(x.id for x in open_store(str(dst), readonly=True).list_runs()) == ["a", "b"]


def test_a_reader_opened_before_any_writer_sees_the_runs_written_after(pg_url):
    reader = open_store(pg_url, readonly=True)
    assert reader.list_runs() == [] and reader.count_runs() == 0
    writer = Store.open(pg_url)
    writer.create_run(_rec("later"))
    assert [r.id for r in reader.list_runs()] == ["later"] and reader.count_runs() == 1
    writer.close()
    reader.close()
