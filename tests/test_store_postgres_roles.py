"""docs/store.md's roles and grants, run as written on a real server: a read-only role runs
every reading command; writers change only their own runs."""
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pg import pg_server, pg_url  # noqa: F401  (fixtures)

from wattprint.store import DomainTotal, RunRecord, Store, open_store

DOCS = Path(__file__).resolve().parent.parent / "docs" / "store.md"
ROLES = ("alice", "bob", "viewer", "nosy", "wattprint_writer", "wattprint_reader")
CLI = "import sys; from wattprint import cli; sys.exit(cli.main(sys.argv[1:]))"


def wp(*args):
    return subprocess.run([sys.executable, "-c", CLI, *map(str, args)], capture_output=True,
                          text=True, timeout=120, env=dict(os.environ))


def _grants_sql(db: str) -> list[str]:
    text = DOCS.read_text()
    block = re.search(r"```sql\n(.*?)```", text, re.S).group(1).replace("DATABASE lab", f"DATABASE {db}")
    body = "\n".join(line for line in block.splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in body.split(";") if s.strip()]


def _as(url: str, role: str) -> str:
    return url.replace("postgres@", f"{role}@")


def _drop_roles(server):
    for role in ROLES:
        try:
            server.sql(f"DROP ROLE IF EXISTS {role}")
        except Exception:
            pass


@pytest.fixture
def lab(pg_server, pg_url):
    db = pg_url.rsplit("/", 1)[1]
    r = wp("store", "init", pg_url)
    assert r.returncode == 0 and "ready" in r.stdout, r.stderr
    _drop_roles(pg_server)
    try:
        for stmt in _grants_sql(db):
            pg_server.sql(stmt, db)
        yield pg_url
    finally:
        pg_server.drop_database(db)  # the roles' privileges go with it
        _drop_roles(pg_server)


def _write_run(url, run_id, project="lab"):
    st = Store.open(url)
    now = time.time() - 100
    key = st.create_run(RunRecord(id=run_id, status="finished", started_at=now, updated_at=now,
                                  duration_s=60.0, energy_j=3600.0, project=project, total=100.0,
                                  unit="step", done=100.0,
                                  domains=[DomainTotal("cpu:0", "cpu", "rapl", "measured", "m",
                                                       3600.0, 60.0)]))
    st.flush(key, samples=[(float(t), 0, 60.0 * t, 60.0) for t in range(61)],
             progress=[(float(t), t * 100 / 60, 100.0, 60.0 * t) for t in range(0, 61, 6)],
             windows=[("eval", 30.0, 40.0, {"cpu:0": 600.0})],
             predictions=[(30.0, {"energy_kwh": 0.001})])
    st.close()
    return key


@pytest.mark.slow
def test_a_read_only_role_runs_every_reading_command(lab, tmp_path):
    _write_run(_as(lab, "alice"), "alice-1")
    _write_run(_as(lab, "alice"), "alice-2")
    viewer = _as(lab, "viewer")
    out = tmp_path / "out"
    out.mkdir()
    commands = [["runs"], ["runs", "--json"], ["show", "alice-1"], ["show", "alice-2", "--json"],
                ["campaign", "--project", "lab"], ["campaign", "--project", "lab", "--json"],
                ["predict", "alice-1"], ["report", "alice-1", "--md", out / "r.md"],
                ["report", "--project", "lab"], ["export", "--out", out / "runs.csv"],
                ["export", "--run", "alice-1", "--table", "samples", "--out", out / "s.csv"],
                ["estimate", "--from-run", "alice-1", "--runs", "2"], ["doctor", "--json"]]
    for args in commands:
        r = wp(*args, "--store", viewer)
        assert r.returncode == 0 and "Traceback" not in r.stderr, (args, r.stderr)
    r = wp("store", "copy", viewer, tmp_path / "mine.sqlite", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["copied"] == 2, r.stderr
    r = wp("run", "--quiet", "--store", viewer, "--", sys.executable, "-c", "pass")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "permission denied" in r.stderr
    assert len(open_store(viewer, readonly=True).list_runs()) == 2  # nothing written


def test_writers_add_runs_and_change_only_their_own(lab):
    alice_key = _write_run(_as(lab, "alice"), "alice-1")
    bob = Store.open(_as(lab, "bob"))
    bob_key = _write_run(_as(lab, "bob"), "bob-1")
    bob.update_run(alice_key, energy_j=0.0, status="failed")  # row-level security: no effect
    bob.update_run(bob_key, energy_j=1.0)
    everyone = open_store(_as(lab, "viewer"), readonly=True)
    assert (everyone.get_run("alice-1").energy_j, everyone.get_run("alice-1").status) == \
        (3600.0, "finished")
    assert everyone.get_run("bob-1").energy_j == 1.0
    owners = dict(_owners(lab))
    assert owners == {"alice-1": "alice", "bob-1": "bob"}


def _owners(url):
    import psycopg

    with psycopg.connect(url) as c:
        return c.execute("SELECT id, owner FROM wattprint.runs").fetchall()


def test_a_role_that_may_not_read_the_runs_gets_one_line_not_a_crash(lab, pg_server):
    db = lab.rsplit("/", 1)[1]
    pg_server.sql("CREATE ROLE nosy LOGIN", db)
    pg_server.sql(f"GRANT CONNECT ON DATABASE {db} TO nosy", db)
    pg_server.sql("GRANT USAGE ON SCHEMA wattprint TO nosy", db)
    pg_server.sql("GRANT SELECT ON wattprint.meta TO nosy", db)  # the schema version, not the runs
    for args in (["runs"], ["campaign", "--project", "p"], ["show", "x"]):
        r = wp(*args, "--store", _as(lab, "nosy"))
        assert r.returncode == 2 and r.stdout == "", (args, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1 and "cannot read the run store" in r.stderr
        assert "permission denied" in r.stderr and "internal error" not in r.stderr


def test_an_older_schema_is_upgraded_by_its_owner_and_read_by_everyone_meanwhile(lab):
    """After a wattprint upgrade: writers that do not own the tables get one line naming the
    fix, readers read as before, and 'wattprint store init' by the owner upgrades it."""
    from test_store_lines import _drop_facts_pg

    _write_run(_as(lab, "alice"), "alice-1")
    _drop_facts_pg(lab)  # as a schema-1 store (wattprint 0.1) left it
    r = wp("run", "--quiet", "--store", _as(lab, "alice"), "--", sys.executable, "-c", "pass")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "has schema 1" in r.stderr and "'wattprint store init'" in r.stderr
    r = wp("campaign", "--project", "lab", "--store", _as(lab, "viewer"))
    assert r.returncode == 0 and "campaign lab: 1 run\n" in r.stdout, r.stderr
    r = wp("store", "init", lab)
    assert r.returncode == 0, r.stderr
    _write_run(_as(lab, "alice"), "alice-2")
    lines = Store.open(_as(lab, "viewer"), readonly=True).run_lines(project="lab")
    assert [x.id for x in lines] == ["alice-1", "alice-2"] and all(x.hosts == 1 for x in lines)
