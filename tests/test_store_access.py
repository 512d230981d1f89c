"""How the store is opened: one shared connection per process and file, readers that never
write, and the paths a writer refuses (network filesystems, server addresses)."""
import gc
import json
import os
import sqlite3
import sys
import time

import pytest

from wattprint.errors import UsageError
from wattprint.store import DomainTotal, RunRecord, Store, connections, fs, open_store


def _rec(run_id, **kw):
    now = time.time()
    return RunRecord(id=run_id, status=kw.pop("status", "finished"), started_at=now,
                     updated_at=now, energy_j=kw.pop("energy_j", 5.0),
                     domains=[DomainTotal("cpu:0", "cpu", "rapl", "measured", "test", 0, 0)], **kw)


def _tables(path):
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        db.close()


# -- one connection per process and file ----------------------------------------------------
def test_stores_of_one_file_share_one_connection_until_the_last_closes(store_path):
    before = connections.open_count()
    a, b = Store.open(store_path), Store.open(store_path)
    assert connections.open_count() == before + 1
    key = a.create_run(_rec("r1"))
    a.close()
    a.close()  # twice is harmless
    b.flush(key, samples=[(1.0, 0, 1.0, 1.0)])  # b's connection survived a's close
    assert b.count_samples(key) == 1
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        a.list_runs()
    reader = Store.open(store_path, readonly=True)  # a reader has its own, read-only one
    assert connections.open_count() == before + 2
    assert [r.id for r in reader.list_runs()] == ["r1"]
    b.close()
    reader.close()
    assert connections.open_count() == before


def test_garbage_collected_stores_give_their_connection_back(tmp_path):
    before = connections.open_count()
    for i in range(30):
        Store.open(tmp_path / f"s{i}.sqlite").list_runs()  # never closed
    gc.collect()
    assert connections.open_count() <= before  # (an earlier test's may go too)


def test_a_forked_child_opens_its_own_connection(store_path):
    st = Store.open(store_path)
    st.create_run(_rec("parent"))
    pid = os.fork()
    if pid == 0:  # the child: the inherited store must work, on a connection of its own
        code = 1
        try:
            st.create_run(_rec("child"))
            code = 0 if len(st.list_runs()) == 2 else 3
        finally:
            os._exit(code)
    end = time.monotonic() + 60
    while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < end:
        time.sleep(0.01)
    if done[0] == 0:  # never hang the suite: a stuck child is a failure
        os.kill(pid, 9)
        done = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(done[1]) == 0
    st.create_run(_rec("parent-after"))
    assert sorted(r.id for r in st.list_runs()) == ["child", "parent", "parent-after"]
    db = sqlite3.connect(store_path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()


# -- readers never write -----------------------------------------------------------------
def test_reading_an_empty_file_writes_nothing(tmp_path, cli):
    empty = tmp_path / "empty.sqlite"
    empty.write_bytes(b"")
    st = Store.open(empty, readonly=True)
    assert st.list_runs() == [] and st._count_runs() == 0
    with pytest.raises(UsageError, match="store is empty"):
        st.get_run("x")
    r = cli("runs", "--store", str(empty))
    assert r.returncode == 0 and "no runs" in r.stdout
    assert empty.stat().st_size == 0 and sorted(os.listdir(tmp_path)) == ["empty-sysfs", "empty.sqlite"]


def test_a_sqlite_file_without_a_schema_reads_as_empty_and_keeps_its_tables(tmp_path, cli):
    other = tmp_path / "other.sqlite"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE notes (x)")
    db.commit()
    db.close()
    r = cli("runs", "--json", "--store", str(other))
    assert r.returncode == 0 and json.loads(r.stdout) == []
    assert _tables(other) == {"notes"}


def test_a_reader_refuses_to_write(store_path):
    Store.open(store_path).create_run(_rec("r1"))
    ro = open_store(store_path, readonly=True)
    with pytest.raises(UsageError, match="read-only"):
        ro.create_run(_rec("r2"))
    with pytest.raises(UsageError, match="read-only"):
        ro.update_run(1, status="failed")
    assert [r.status for r in ro.list_runs()] == ["finished"]


def test_readers_never_create_a_missing_store(tmp_path, cli):
    missing = tmp_path / "nowhere" / "runs.sqlite"
    with pytest.raises(UsageError, match="no run store"):
        open_store(missing, readonly=True)
    for args in (["runs"], ["show", "x"], ["export"], ["report", "x"], ["campaign"],
                 ["predict", "x"]):
        r = cli(*args, "--store", str(missing))
        assert r.returncode == 2 and "Traceback" not in r.stderr, (args, r.stderr)
    assert not (tmp_path / "nowhere").exists()


def test_a_damaged_store_is_one_line_for_readers(store_path, cli):
    st = Store.open(store_path)
    for i in range(50):
        st.create_run(_rec(f"r{i}", project="x" * 200))
    st.close()
    data = bytearray(open(store_path, "rb").read())
    data[4096 * 3:4096 * 3 + 64] = b"\xff" * 64  # the runs table's first page
    with open(store_path, "wb") as f:
        f.write(bytes(data))
    r = cli("runs", "--store", store_path)
    assert r.returncode == 2 and "damaged" in r.stderr and "Traceback" not in r.stderr


# -- paths a writer refuses --------------------------------------------------------------
@pytest.mark.parametrize("url", ["postgresql://db.example/runs", "postgres://u@h:5432/x",
                                 "mysql://h/db"])
def test_server_addresses_never_become_local_directories(tmp_path, monkeypatch, cli, url):
    monkeypatch.chdir(tmp_path)
    # no server answers at these addresses: a one-line refusal, never a local directory
    with pytest.raises(UsageError, match="cannot connect to the run store|unsupported store address"):
        open_store(url)
    with pytest.raises(UsageError):
        Store.open(url, readonly=True)
    from wattprint.store import SQLiteStore

    with pytest.raises(UsageError):
        SQLiteStore(url)
    r = cli("run", "--quiet", "--store", url, "--", sys.executable, "-c", "pass", cwd=tmp_path)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    r = cli("doctor", "--json", "--store", url, cwd=tmp_path)
    assert r.returncode == 0 and json.loads(r.stdout)["store"]["writable"] is False
    assert sorted(os.listdir(tmp_path)) == ["empty-sysfs"]


def _mountinfo(tmp_path, *mounts):
    lines = [f"{20 + i} 1 0:{i} / {point} rw,relatime - {fstype} src rw"
             for i, (point, fstype) in enumerate([("/", "ext4"), *mounts])]
    p = tmp_path / "mountinfo"
    p.write_text("\n".join(lines) + "\n")
    return str(p)


def test_network_filesystems_are_refused_for_writing(tmp_path, monkeypatch):
    nfs, local, sshfs = tmp_path / "nfs", tmp_path / "nfs" / "scratch", tmp_path / "my mnt"
    for d in (local, sshfs, tmp_path / "nfsdata"):
        d.mkdir(parents=True)
    monkeypatch.setattr(fs, "MOUNTINFO", _mountinfo(
        tmp_path, (str(nfs), "nfs4"), (str(local), "xfs"),
        (str(sshfs).replace(" ", "\\040"), "fuse.sshfs")))
    with pytest.raises(UsageError) as e:
        open_store(nfs / "sub" / "runs.sqlite")
    msg = str(e.value)
    assert "nfs4" in msg and fs.ALLOW_NETWORK_ENV in msg
    # the way out: a PostgreSQL server shared by the machines, or local stores copied together
    assert "WATTPRINT_STORE=postgresql://user@host/db" in msg and "wattprint store copy" in msg
    assert "\n" not in msg and not (nfs / "sub").exists()
    with pytest.raises(UsageError, match="fuse.sshfs"):
        open_store(sshfs / "runs.sqlite")
    open_store(local / "runs.sqlite").close()  # a local mount inside the NFS one
    open_store(tmp_path / "nfsdata" / "runs.sqlite").close()  # a name that only starts alike
    monkeypatch.setenv(fs.ALLOW_NETWORK_ENV, "1")
    open_store(nfs / "runs.sqlite").create_run(_rec("ok"))
    monkeypatch.delenv(fs.ALLOW_NETWORK_ENV)
    assert [r.id for r in open_store(nfs / "runs.sqlite", readonly=True).list_runs()] == ["ok"]


def test_network_filesystem_types(tmp_path):
    for fstype, network in [("nfs", True), ("cifs", True), ("smb3", True), ("lustre", True),
                            ("gpfs", True), ("9p", True), ("fuse.gcsfuse", True), ("fuse", True),
                            ("ext4", False), ("xfs", False), ("tmpfs", False), ("overlay", False),
                            ("btrfs", False), ("zfs", False)]:
        info = _mountinfo(tmp_path, (str(tmp_path), fstype))
        assert (fs.network_fs(str(tmp_path / "runs.sqlite"), info) is not None) is network, fstype
    assert fs.mount_of("/", str(tmp_path / "no-such-table")) is None


# -- doctor --------------------------------------------------------------------------------
def test_doctor_tells_what_a_store_path_holds(tmp_path, store_path, cli):
    Store.open(store_path).create_run(_rec("r1"))
    (tmp_path / "text.sqlite").write_text("hello")
    (tmp_path / "empty.sqlite").write_bytes(b"")
    (tmp_path / "adir").mkdir()
    cases = {store_path: ("store", True), str(tmp_path / "text.sqlite"): ("not-sqlite", False),
             str(tmp_path / "empty.sqlite"): ("empty", True), str(tmp_path / "adir"):
             ("directory", False), str(tmp_path / "new" / "runs.sqlite"): ("new", True)}
    for path, (state, writable) in cases.items():
        out = json.loads(cli("doctor", "--json", "--store", path).stdout)["store"]
        assert (out["state"], out["writable"]) == (state, writable), (path, out)
    assert json.loads(cli("doctor", "--json", "--store", store_path).stdout)["store"]["runs"] == 1
    assert not (tmp_path / "new").exists() and (tmp_path / "empty.sqlite").stat().st_size == 0
    text = cli("doctor", "--store", str(tmp_path / "adir")).stdout
    assert "NOT writable: a directory" in text


def test_transient_errors_are_told_from_refused_rows(store_path):
    st = Store.open(store_path)
    key = st.create_run(_rec("r1"))
    refused = []
    for rows in ({"progress": [(1.0, None, 2.0, 1.0)]},  # NOT NULL
                 {"samples": [(1.0, 0, object(), None)]},  # a type SQLite cannot bind
                 {"samples": [(1.0, 0, 2 ** 70, None)]}):  # an integer too large
        with pytest.raises(Exception) as e:
            st.flush(key, **rows)
        refused.append(e.value)
    assert not any(st.transient(e) for e in refused)
    full = sqlite3.connect(":memory:")
    full.execute("CREATE TABLE t (x)")
    full.execute("PRAGMA max_page_count=2")
    with pytest.raises(sqlite3.OperationalError) as e:
        full.executemany("INSERT INTO t VALUES (?)", [("x" * 4000,)] * 10)
    busy = sqlite3.connect(store_path, timeout=0, isolation_level=None)
    holder = sqlite3.connect(store_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    with pytest.raises(sqlite3.OperationalError) as locked:
        busy.execute("BEGIN IMMEDIATE")
    holder.execute("ROLLBACK")
    assert st.transient(e.value) and st.transient(locked.value) and st.transient(OSError(28, "x"))
    assert st.count_samples(key) == 0 and st.progress(key) == []  # nothing half-written


def test_a_store_file_made_anew_is_not_served_by_the_old_connection(store_path):
    old = Store.open(store_path)  # kept open, as a notebook would
    old.create_run(_rec("old"))
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(store_path + suffix):
            os.remove(store_path + suffix)
    new = Store.open(store_path)
    assert new.list_runs() == []
    new.create_run(_rec("new"))
    assert [r.id for r in Store.open(store_path, readonly=True).list_runs()] == ["new"]
    assert [r.id for r in old.list_runs()] == ["old"]  # its users keep the file they had
