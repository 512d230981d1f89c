"""Fault injection on the real store: real SQLite files, real processes, real signals, real
full and read-only filesystems. Every case ends with ``PRAGMA integrity_check`` and a count of
what was written.

Processes meet through marker files (a writer starts once its reader has read), never through
sleeps, so the cases hold on a loaded machine; their length only sets how much is exercised.
"""
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

import wattprint
from wattprint.store import Store, fs

pytestmark = pytest.mark.faults


def _check(path):
    """integrity_check of the file, read through a connection of its own."""
    immutable = "&immutable=1" if fs.writable(str(path)) else ""  # a read-only filesystem
    db = sqlite3.connect(f"file:{path}?mode=ro{immutable}", uri=True)
    try:
        return db.execute("PRAGMA integrity_check").fetchall()
    finally:
        db.close()


def _spawn(code, *args):
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(p, timeout=120):
    out, err = p.communicate(timeout=timeout)
    assert p.returncode == 0 and "Traceback" not in err, err[-3000:]
    return out


# Opens and closes the store until told to stop, the way `wattprint runs` in another terminal
# does; says "ready" (a file) after its first read. argv: store, ready, stop, mode.
OPENER = r"""
import os, sys, time
from wattprint.store import Store
store, ready, stop, mode = sys.argv[1:5]
opens = 0
while not os.path.exists(stop) or opens == 0:
    st = Store.open(store, readonly=mode == "ro" or (mode == "mixed" and opens % 2 == 1))
    for r in st.list_runs():
        st.count_samples(r.key)
    st.close()
    opens += 1
    if opens == 1:
        open(ready, "w").close()
    time.sleep(0.05 if mode == "rw" else 0.02)
print(opens)
"""

# The first reproducer: a sweep calling a tracked function in a loop.
SWEEP = r"""
import os, sys, time
import wattprint
store, ready, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
while not os.path.exists(ready):
    time.sleep(0.01)

@wattprint.track(store=store, interval=0.02, flush_interval=0.03, project="sweep")
def train(lr):
    for step in range(12):
        time.sleep(0.01)
    return lr

for i in range(n):
    train(i / 10)
    assert train.last_run.record.status == "finished"
print("ok")
"""

# The second reproducer: one process keeping two Store objects alive, creating runs
# and flushing (and opening a third now and then, as a sweep does).
TWO_STORES = r"""
import os, sys, time
from wattprint.store import DomainTotal, RunRecord, Store
store, ready, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
while not os.path.exists(ready):
    time.sleep(0.01)
a, b = Store.open(store), Store.open(store)
runs = samples = 0
end = time.monotonic() + seconds
while time.monotonic() < end or runs == 0:
    for st in (a, b):
        now = time.time()
        key = st.create_run(RunRecord(id=f"r{runs}", status="running", started_at=now,
                                      updated_at=now, domains=[DomainTotal("cpu:0", "cpu",
                                      "rapl", "measured", "t", 0, 0)]))
        for i in range(1, 4):
            st.flush(key, samples=[(i + j / 100, 0, float(i), 1.0) for j in range(50)],
                     domain_energy={0: float(i)},
                     run_fields={"energy_j": float(i), "status": "finished" if i == 3 else "running"})
            samples += 50
        runs += 1
        if runs % 5 == 0:
            c = Store.open(store)
            c.list_runs()
            c.close()
print(runs, samples)
"""


def _markers(tmp_path):
    return tmp_path / "ready", tmp_path / "stop"


@pytest.mark.parametrize("attempt", range(10))
def test_sweep_of_tracked_runs_with_readers(tmp_path, cli, attempt):
    store = tmp_path / "runs.sqlite"
    Store.open(store).close()
    ready, stop = _markers(tmp_path)
    reader = _spawn(OPENER, store, ready, stop, "mixed")
    sweep = _spawn(SWEEP, store, ready, 2)
    while sweep.poll() is None:  # `wattprint runs` in another terminal, as in the issue
        r = cli("runs", "--store", str(store))
        assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert _finish(sweep).strip() == "ok"
    stop.touch()
    assert int(_finish(reader)) >= 1
    assert _check(store) == [("ok",)]
    st = Store.open(store, readonly=True)
    runs = st.list_runs()
    assert [r.status for r in runs] == ["finished"] * 2 and all(r.energy_j > 0 for r in runs)
    assert all(st.count_samples(r.key) >= 2 * len(r.domains) for r in runs)


@pytest.mark.parametrize("attempt", range(10))
def test_two_live_stores_while_another_process_opens_every_50ms(tmp_path, attempt):
    store = tmp_path / "runs.sqlite"
    ready, stop = _markers(tmp_path)
    opener = _spawn(OPENER, store, ready, stop, "rw")
    writer = _spawn(TWO_STORES, store, ready, 0.7)
    runs, samples = map(int, _finish(writer).split())
    stop.touch()
    assert int(_finish(opener)) >= 1
    assert _check(store) == [("ok",)]
    st = Store.open(store, readonly=True)
    stored = st.list_runs()
    assert len(stored) == runs and {r.status for r in stored} == {"finished"}
    assert sum(st.count_samples(r.key) for r in stored) == samples
    assert {r.energy_j for r in stored} == {3.0}


WRITER = r"""
import sys
from wattprint.store import DomainTotal, RunRecord, Store
import time
store, name, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
st = Store.open(store)
for i in range(n):
    now = time.time()
    key = st.create_run(RunRecord(id=f"{name}-{i}", status="running", started_at=now,
                                  updated_at=now, domains=[DomainTotal("cpu:0", "cpu", "x",
                                  "measured", "m", 0, 0)]))
    for f in range(1, 5):
        st.flush(key, samples=[(f + j / 100, 0, float(f), 2.0) for j in range(50)],
                 domain_energy={0: 10.0 * f},
                 run_fields={"energy_j": 10.0 * f, "status": "finished" if f == 4 else "running"})
"""


def test_several_writer_processes_with_readers(tmp_path, cli):
    store = tmp_path / "runs.sqlite"
    Store.open(store).close()
    ready, stop = _markers(tmp_path)
    readers = [_spawn(OPENER, store, ready, stop, "ro" if i else "mixed") for i in range(2)]
    while not ready.exists():
        time.sleep(0.01)
    writers = [_spawn(WRITER, store, f"w{n}", 25) for n in range(4)]
    while any(w.poll() is None for w in writers):
        r = cli("runs", "--json", "--store", str(store))
        assert r.returncode == 0 and isinstance(json.loads(r.stdout), list), r.stderr
    for w in writers:
        _finish(w)
    stop.touch()
    assert all(int(_finish(r)) >= 1 for r in readers)
    assert _check(store) == [("ok",)]
    st = Store.open(store, readonly=True)
    runs = st.list_runs()
    assert len(runs) == 100 and {r.status for r in runs} == {"finished"}
    assert {r.energy_j for r in runs} == {40.0}
    assert sum(st.count_samples(r.key) for r in runs) == 100 * 4 * 50


# Flushes big batches until killed; prints the number of each flush once it has returned.
FLUSHER = r"""
import os, sys, time
import psutil
from wattprint.store import DomainTotal, RunRecord, Store, hostname
store, run_id, batch = sys.argv[1], sys.argv[2], int(sys.argv[3])
st = Store.open(store)
now = time.time()
key = st.create_run(RunRecord(id=run_id, status="running", started_at=now, updated_at=now,
                              host=hostname(), pid=os.getpid(),
                              pid_started=psutil.Process().create_time(),
                              domains=[DomainTotal("cpu:0", "cpu", "x", "measured", "m", 0, 0)]))
print("ready", flush=True)
i = 0
while True:
    i += 1
    st.flush(key, samples=[(i + j / batch, 0, float(i), 1.0) for j in range(batch)],
             domain_energy={0: float(i)}, run_fields={"energy_j": float(i), "duration_s": i,
                                                      "updated_at": time.time()})
    print(i, flush=True)
"""


def test_kill_9_during_flushes_keeps_every_committed_flush(tmp_path):
    store, batch, rng = tmp_path / "runs.sqlite", 4000, random.Random(10)
    for n in range(4):
        p = subprocess.Popen([sys.executable, "-c", FLUSHER, str(store), f"k{n}", str(batch)],
                             stdout=subprocess.PIPE, text=True)
        assert p.stdout.readline().strip() == "ready"
        lines = [p.stdout.readline() for _ in range(rng.randint(3, 12))]  # a few flushes...
        p.send_signal(signal.SIGKILL)  # ...then a kill, most likely inside the next one
        lines += p.stdout.read().split()
        p.wait()
        committed = int(lines[-1])
        assert _check(store) == [("ok",)]
        rec = Store.open(store, readonly=True).get_run(f"k{n}")
        assert rec.status == "interrupted"
        # the kill lands inside a flush or just after one: the store holds all flushes up to
        # the last one that returned, and perhaps the one being printed, never half of one
        assert rec.energy_j in (committed, committed + 1)
        st = Store.open(store, readonly=True)
        assert st.count_samples(rec.key) == batch * rec.energy_j
        assert rec.domains[0].energy_j == rec.energy_j
    assert len(Store.open(store, readonly=True).list_runs()) == 4


# -- full and read-only filesystems ----------------------------------------------------------
@pytest.fixture
def tmpfs(tmp_path):
    """mount(size) -> a fresh tmpfs directory; skips where mounting is not possible."""
    mounted = []

    def mount(size):
        d = tmp_path / f"mnt{len(mounted)}"
        d.mkdir()
        if not sys.platform.startswith("linux") or not shutil.which("mount"):
            pytest.skip("needs Linux mount(8) for a small or read-only filesystem")
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(d)],
                           capture_output=True, text=True)
        if r.returncode:
            pytest.skip(f"cannot mount a tmpfs (needs root): {r.stderr.strip()}")
        mounted.append(d)
        return d

    yield mount
    for d in mounted:
        subprocess.run(["umount", "-l", str(d)], capture_output=True)


def _fill(directory):
    """Fill the filesystem with one file; returns its path."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 65536)
    except OSError:
        pass
    try:
        while True:
            os.write(fd, b"\0" * 512)
    except OSError:
        pass
    os.close(fd)
    return filler


def _until(cond, what, timeout=60.0):
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, f"gave up waiting for {what}"
        time.sleep(0.02)


def _widest_gap(ts):
    return max(b - a for a, b in zip(ts, ts[1:]))


@pytest.mark.parametrize("spare", [0, 48 * 1024], ids=["no-room", "room-for-small-writes"])
def test_disk_full_during_a_run_then_freed(tmpfs, analytic, spare):
    """With some room left, small writes (the run's totals) fit while the rows do not: rows
    must still be kept for later, never set aside as refused."""
    d = tmpfs("16m")
    path = d / "runs.sqlite"
    meter = analytic(lambda t: 100.0, lambda t: 100.0 * t)
    steps = 0
    with wattprint.track(store=str(path), interval=0.02, flush_interval=0.05, meters=[meter],
                         quiet=True, total=10**6) as run:  # the training: it must see nothing
        reader = Store.open(path, readonly=True)
        _until(lambda: reader.count_samples(reader.get_run(run.run_id).key) > 3, "first flushes")
        filler = _fill(d)
        if spare:
            os.truncate(filler, max(0, filler.stat().st_size - spare))

        def step():
            nonlocal steps
            steps += 1
            run.progress(steps)
            return run.degraded

        _until(step, "the run to notice the full disk")
        written = reader.count_samples(reader.get_run(run.run_id).key)
        for _ in range(25):  # several more flushes fail
            step()
            time.sleep(0.03)
        filler.unlink()
        _until(lambda: reader.count_samples(reader.get_run(run.run_id).key) > written + 10,
               "the flushes to catch up")
    rec = Store.open(path, readonly=True).get_run(run.run_id)
    assert rec.status == "finished" and rec.degraded
    assert rec.energy_j == pytest.approx(100.0 * (meter.reads[-1] - meter.reads[0]), rel=1e-6)
    assert rec.done == steps
    # nothing lost while the disk was full: no hole in the stored samples wider than the
    # widest between two meter reads (a lost flush would leave one of 25+ steps)
    ts = [t for t, *_ in Store.open(path, readonly=True).samples(rec.key)]
    assert _widest_gap(ts) < _widest_gap(meter.reads) + 0.2
    # every reading is a stored sample: the start row, one per poll and the final reading
    assert len(ts) == len(meter.reads)
    assert _check(path) == [("ok",)]


MAKE_STORE = r"""
import sys, time
from wattprint.store import DomainTotal, RunRecord, Store
st = Store.open(sys.argv[1])
for i in range(3):
    now = time.time() - 3600 + i
    key = st.create_run(RunRecord(id=f"run-{i}", status="finished", started_at=now,
                                  updated_at=now, ended_at=now + 60, duration_s=60.0,
                                  energy_j=3.6e5, project="ro", total=100.0, done=100.0,
                                  domains=[DomainTotal("cpu:0", "cpu", "rapl", "measured",
                                  "m", 0, 0)]))
    st.flush(key, samples=[(t, 0, 6000.0 * t, 6000.0) for t in range(61)],
             domain_energy={0: 3.6e5}, progress=[(t, t * 100 / 60, 100.0, 6000.0 * t)
                                                 for t in range(0, 61, 10)])
st.close()
"""


@pytest.mark.parametrize("leftover_wal", [False, True], ids=["closed", "wal-left"])
def test_a_read_only_filesystem_is_readable_and_refused_for_writing(tmpfs, cli, leftover_wal):
    d = tmpfs("4m")
    path = d / "runs.sqlite"
    if leftover_wal:  # a writer killed before it could clean up: -wal and -shm stay
        p = subprocess.Popen([sys.executable, "-c", MAKE_STORE.replace("st.close()", "")
                              + "import os, signal; os.kill(os.getpid(), signal.SIGKILL)", path])
        p.wait()
    else:
        subprocess.run([sys.executable, "-c", MAKE_STORE, path], check=True)
    files = sorted(os.listdir(d))
    assert ("runs.sqlite-wal" in files) is leftover_wal
    r = subprocess.run(["mount", "-o", "remount,ro", str(d)], capture_output=True, text=True)
    if r.returncode:
        pytest.skip(f"cannot remount read-only: {r.stderr.strip()}")
    assert fs.writable(str(path)) is not None
    out = d.parent / "out"
    out.mkdir()
    commands = [["show", "run-1"], ["export", "--out", str(out / "runs.csv")]]
    if not leftover_wal:  # every reading command (in one variant: each costs a process)
        commands += [["runs"], ["campaign", "--project", "ro"], ["predict", "run-2"],
                     ["report", "run-0", "--md", str(out / "r.md")],
                     ["estimate", "--from-run", "run-0", "--runs", "2"]]
    for args in commands:
        r = cli(*args, "--store", str(path))
        assert r.returncode == 0 and "Traceback" not in r.stderr, (args, r.stderr)
    assert len(json.loads(cli("runs", "--json", "--store", str(path)).stdout)) == 3
    if not leftover_wal:
        r = cli("run", "--quiet", "--store", str(path), "--", sys.executable, "-c", "pass")
        assert r.returncode == 2 and "read-only" in r.stderr and len(r.stderr.splitlines()) == 1
    with pytest.raises(wattprint.UsageError, match="read-only filesystem"):
        Store.open(path)
    doc = json.loads(cli("doctor", "--json", "--store", str(path)).stdout)["store"]
    assert (doc["state"], doc["writable"], doc["runs"]) == ("read-only", False, 3)
    assert sorted(os.listdir(d)) == files and _check(path) == [("ok",)]
