"""Jobs without torch.distributed: real processes with SLURM / PMI roles, merged afterwards."""
import json
import os
import subprocess
import sys
import textwrap

import pytest

from sysfs import FakeRapl
from wattprint.plugins.distributed import countable
from wattprint.store import Store

WORKER = textwrap.dedent("""
    import json, sys, time
    import wattprint
    with wattprint.track(gpus=False, interval=0.05, flush_interval=0.2, project="m") as run:
        time.sleep(float(sys.argv[1]))
    print(json.dumps({"rank": run.rank, "id": run.run_id, "job": run.job_id, "node": run.node,
                      "host": run.placement.measure_host, "j": run.energy().total_j,
                      "s": run.energy().seconds}))
""")


def launch(env, store, sysfs, seconds=0.6):
    full = dict(os.environ, WATTPRINT_STORE=str(store), WATTPRINT_SYSFS_ROOT=str(sysfs), **env)
    return subprocess.Popen([sys.executable, "-c", WORKER, str(seconds)], env=full,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_all(procs):
    out = []
    for p in procs:
        o, e = p.communicate(timeout=60)
        assert p.returncode == 0, e
        out.append(json.loads(o.strip().splitlines()[-1]))
    return sorted(out, key=lambda r: r["rank"])


def slurm_env(rank, node, local, ntasks=4):
    return {"SLURM_JOB_ID": "4242", "SLURM_STEP_ID": "0", "SLURM_PROCID": str(rank),
            "SLURM_LOCALID": str(local), "SLURM_NODEID": str(node), "SLURM_NNODES": "2",
            "SLURM_STEP_NUM_TASKS": str(ntasks), "SLURM_STEP_TASKS_PER_NODE": "2"}


@pytest.mark.slow
def test_slurm_two_nodes_one_store_each_then_merge(tmp_path, cli):
    trees = {0: FakeRapl(tmp_path / "a", {"package-0": 40.0, "dram": 5.0}).start(),
             1: FakeRapl(tmp_path / "b", {"package-0": 100.0, "dram": 10.0}).start()}
    stores = tmp_path / "stores"
    try:
        procs = [launch(slurm_env(r, r // 2, r % 2), stores / f"node{r // 2}.sqlite",
                        trees[r // 2].root) for r in range(4)]
        res = wait_all(procs)
    finally:
        for t in trees.values():
            t.stop()
    assert {r["job"] for r in res} == {"slurm-4242.0"}
    assert [r["id"] for r in res] == [f"slurm-4242.0.n{r // 2}.r{r}" for r in range(4)]
    assert [r["host"] for r in res] == [True, False, True, False]
    assert res[1]["j"] == 0 and res[3]["j"] == 0

    out = tmp_path / "job.sqlite"
    r = cli("merge", "--from", str(stores), "--store", str(out))
    assert r.returncode == 0, r.stderr
    assert "job slurm-4242.0: 4 ranks on 2 node(s)" in r.stdout
    assert "node 1" in r.stdout and "measured by rank 2" in r.stdout
    rec = Store.open(out).get_run("slurm-4242.0")
    nodes = rec.meta["nodes"]
    # 20 %: the fake trees' writer threads lag under load; 45 W vs 110 W nodes stay told apart
    assert nodes["0"]["energy_j"] == pytest.approx(45.0 * res[0]["s"], rel=0.2)
    assert nodes["1"]["energy_j"] == pytest.approx(110.0 * res[2]["s"], rel=0.2)
    assert rec.energy_j == pytest.approx(res[0]["j"] + res[2]["j"])
    assert rec.meta["parts"] == [x["id"] for x in res]
    assert {d.node for d in rec.domains} == {"0", "1"}
    assert all(d.name.startswith(("n0/", "n1/")) for d in rec.domains)

    # Merging again finds nothing new; --force rebuilds the same record, no duplicates.
    r = cli("merge", "--from", str(stores), "--store", str(out))
    assert r.returncode == 0 and "nothing to merge" in r.stdout
    r = cli("merge", "slurm-4242.0", "--from", str(stores), "--store", str(out), "--json")
    assert r.returncode == 0, r.stderr
    (job,) = json.loads(r.stdout)
    assert job["energy_j"] == pytest.approx(rec.energy_j) and job["missing_ranks"] == []
    assert len(Store.open(out).list_runs()) == 1

    # A shared store holding parts and the job record: the job counts once.
    shared = Store.open(stores / "node0.sqlite")
    r = cli("merge", "--store", str(stores / "node0.sqlite"))
    assert r.returncode == 0 and "2 ranks on 1 node(s)" in r.stdout  # only node 0's parts there
    assert "no record of rank(s) 2-3" in r.stdout
    runs = shared.list_runs()
    assert len(runs) == 3
    assert sum(x.energy_j for x in countable(runs)) == pytest.approx(res[0]["j"])


def test_pmi_ranks_without_local_rank_elect_one_measurer(tmp_path):
    fake = FakeRapl(tmp_path / "sysfs", {"package-0": 40.0}).start()
    try:
        env = {"PMI_SIZE": "3", "WATTPRINT_JOB_ID": f"pmi-{os.getpid()}"}
        procs = [launch({**env, "PMI_RANK": str(r)}, tmp_path / "s.sqlite", fake.root, 1.5)
                 for r in range(3)]
        res = wait_all(procs)
    finally:
        fake.stop()
    assert sum(r["host"] for r in res) == 1
    st = Store.open(tmp_path / "s.sqlite")
    parts = st.list_runs(job_id=f"pmi-{os.getpid()}")
    assert len(parts) == 3 and sum(p.energy_j > 0 for p in parts) == 1


@pytest.mark.parametrize("args, msg", [
    (["--from", "/nonexistent/x.sqlite"], "does not exist"),
    (["nosuchjob", "--from", "{empty}"], "no per-rank records of job 'nosuchjob'"),
])
def test_merge_bad_input_is_one_line(cli, tmp_path, args, msg):
    empty = tmp_path / "empty.sqlite"
    Store.open(empty).close()
    args = [a.replace("{empty}", str(empty)) for a in args]
    r = cli("merge", *args, "--store", str(tmp_path / "out.sqlite"))
    assert r.returncode == 2 and msg in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_many_ranks_starting_on_a_fresh_shared_store_all_start(tmp_path):
    # Every rank creates the same new store at once; none may fail with "database is locked".
    fake = FakeRapl(tmp_path / "sysfs", {"package-0": 40.0}).start()
    try:
        env = {"OMPI_COMM_WORLD_SIZE": "6", "PMIX_NAMESPACE": f"ns-{os.getpid()}"}
        procs = [launch({**env, "OMPI_COMM_WORLD_RANK": str(r),
                         "OMPI_COMM_WORLD_LOCAL_RANK": str(r)}, tmp_path / "fresh.sqlite",
                        fake.root, 0.3) for r in range(6)]
        res = wait_all(procs)
    finally:
        fake.stop()
    assert [r["rank"] for r in res] == list(range(6)) and sum(r["host"] for r in res) == 1
    assert len(Store.open(tmp_path / "fresh.sqlite").list_runs()) == 6


def test_dry_run_into_a_new_store_says_what_would_be_merged_and_writes_nothing(tmp_path, cli):
    fake = FakeRapl(tmp_path / "sysfs", {"package-0": 40.0}).start()
    stores = tmp_path / "stores"
    try:
        procs = [launch({**slurm_env(r, r, 0, ntasks=2), "SLURM_STEP_TASKS_PER_NODE": "1"},
                        stores / f"node{r}.sqlite", fake.root, 0.3) for r in range(2)]
        wait_all(procs)
    finally:
        fake.stop()
    new = tmp_path / "new" / "job.sqlite"
    r = cli("merge", "--dry-run", "--from", str(stores), "--store", str(new))
    assert r.returncode == 0, r.stderr
    assert "job slurm-4242.0: 2 ranks on 2 node(s)" in r.stdout
    assert f"would store in {new} (a new store)" in r.stdout
    assert "e-0" not in r.stdout and "0.000000" not in r.stdout
    assert not new.parent.exists()  # nothing created, not even the directory
    r = cli("merge", "--dry-run", "--from", str(stores), "--store", str(new), "--json")
    assert r.returncode == 0 and [j["job_id"] for j in json.loads(r.stdout)] == ["slurm-4242.0"]
    # Without --from there is nothing to read the ranks from: the missing store is the error.
    r = cli("merge", "--dry-run", "--store", str(new))
    assert r.returncode == 2 and "no run store" in r.stderr
