"""Real torchrun jobs (CPU, gloo on loopback) over fake RAPL trees: each node counted once."""
import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest

from sysfs import FakeRapl
from wattprint.store import Store

pytestmark = pytest.mark.frameworks
pytest.importorskip("torch")
NODE_W = 45.0  # package-0 40 W + dram 5 W
# The fake tree's writer thread runs in the test process and lags while 2-4 ranks load torch on
# two cores, so a rank can read a counter some tens of ms stale at one end of its run. 20 % is
# far tighter than the 100-300 % that counting the node once per rank would add; the 0.5 %
# accuracy of RAPL counting is tested without torchrun (test_meters_rapl, test_tracker).
ONCE = 0.2

WORKER = textwrap.dedent("""
    import json, os, sys, time
    import torch.distributed as dist
    import wattprint

    mode = sys.argv[1]
    if mode == "rank0-only" and os.environ["RANK"] != "0":  # track() on rank 0 alone
        dist.init_process_group("gloo")
        dist.barrier()
        dist.destroy_process_group()
        sys.exit(0)
    if mode in ("init-first", "rank0-only", "asym-window"):
        dist.init_process_group("gloo")
    with wattprint.track(gpus=False, interval=0.05, flush_interval=0.2, project="dist",
                         distributed=True if mode == "forced" else "auto") as run:
        if mode not in ("init-first", "rank0-only", "asym-window"):
            dist.init_process_group("gloo")
        if mode == "asym-window" and run.rank == 0:
            with run.window("eval"):  # on rank 0 only: must not block or corrupt anything
                time.sleep(0.05)
        with run.window("work"):
            time.sleep(0.4)
        dist.barrier()
    plugin = next(p for p in run.plugins if type(p).__name__ == "DistributedPlugin")
    out = {"rank": run.rank, "run_id": run.run_id, "job_id": run.job_id, "node": run.node,
           "measures_host": run.placement.measure_host, "seconds": run.energy().seconds,
           "energy_j": run.energy().total_j, "job": run.job, "gather_s": plugin.gather_s,
           "record_id": run.record.id, "record_energy_j": run.record.energy_j,
           "result_kwh": run.result.energy_kwh_it if run.result is not None else None}
    with open(os.path.join(os.environ["OUT_DIR"], f"rank{run.rank}.json"), "w") as f:
        json.dump(out, f)
    dist.destroy_process_group()
""")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(tmp_path, nproc, *, mode="init-first", nnodes=1, node_rank=0, port=None,
             sysfs=None, env=None):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    full = dict(os.environ, OUT_DIR=str(out), WATTPRINT_SYSFS_ROOT=str(sysfs),
                PYTHONPATH=os.pathsep.join(filter(None, [os.path.dirname(__file__),
                                                         os.environ.get("PYTHONPATH")])),
                OMP_NUM_THREADS="1", **(env or {}))
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}",
           f"--nnodes={nnodes}", f"--node_rank={node_rank}", "--master_addr=127.0.0.1",
           f"--master_port={port or free_port()}", str(script), mode]
    return subprocess.Popen(cmd, env=full, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def finish(proc, timeout=120):
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out[-3000:]
    return out


def results(tmp_path):
    return {int(p.stem[4:]): json.loads(p.read_text())
            for p in (tmp_path / "out").glob("rank*.json")}


@pytest.fixture
def node(tmp_path):
    fake = FakeRapl(tmp_path / "sysfs", {"package-0": 40.0, "dram": 5.0})
    fake.start()
    yield fake
    fake.stop()


def check_job(res, nproc, store_path):
    assert sorted(res) == list(range(nproc))
    job_id = res[0]["job_id"]
    assert all(r["job_id"] == job_id for r in res.values())
    measurers = [r for r in res.values() if r["measures_host"]]
    assert len(measurers) == 1 and measurers[0]["rank"] == 0
    m = measurers[0]
    # The node's energy, once: ≈ 45 W × the measurer's time, not nproc × that.
    assert m["energy_j"] == pytest.approx(NODE_W * m["seconds"], rel=ONCE)
    assert all(r["energy_j"] == 0.0 for r in res.values() if not r["measures_host"])
    job = res[0]["job"]
    assert job["world_size"] == nproc and job["energy_j"] == pytest.approx(m["energy_j"])
    assert list(job["nodes"]) == ["0"] and job["nodes"]["0"]["ranks"] == list(range(nproc))
    assert job["nodes"]["0"]["measured_by"] == [0]
    # Every rank sees the same totals; rank 0's record and result are the job's.
    assert all(r["job"]["energy_j"] == job["energy_j"] for r in res.values())
    assert res[0]["record_id"] == job_id and res[0]["run_id"] == job_id
    assert res[0]["record_energy_j"] == pytest.approx(job["energy_j"])
    assert res[0]["result_kwh"] == pytest.approx(job["energy_j"] / 3.6e6)
    assert res[1]["record_id"] == f"{job_id}.n0.r1"
    # The window was closed on every rank: its job total is the node's window energy.
    (w,) = job["windows"]
    assert w["name"] == "work" and w["energy_j"] == pytest.approx(NODE_W * w["seconds"], rel=ONCE)
    st = Store.open(store_path)
    runs = st.list_runs(job_id=job_id)
    assert len(runs) == nproc + 1
    from wattprint.plugins.distributed import countable

    assert sum(r.energy_j for r in countable(runs)) == pytest.approx(job["energy_j"])
    parts = [r for r in runs if r.meta.get("part_of") == job_id]
    assert sorted(r.rank for r in parts) == list(range(nproc))
    assert sum(r.energy_j for r in parts) == pytest.approx(job["energy_j"])
    return job


def test_torchrun_two_ranks_count_the_node_once(tmp_path, node, store_path):
    finish(torchrun(tmp_path, 2, sysfs=node.root))
    check_job(results(tmp_path), 2, store_path)


@pytest.mark.slow
def test_torchrun_four_ranks_track_before_init(tmp_path, node, store_path):
    # track() starts before init_process_group: the job id is fixed at the end by broadcast.
    finish(torchrun(tmp_path, 4, mode="track-first", sysfs=node.root))
    res = results(tmp_path)
    assert sorted(res) == [0, 1, 2, 3]
    job_id = res[0]["job_id"]
    assert not job_id.startswith("pending-")
    assert all(r["job_id"] == job_id for r in res.values())
    job = res[0]["job"]
    m = res[0]
    assert job["energy_j"] == pytest.approx(NODE_W * m["seconds"], rel=ONCE)
    assert sum(r["energy_j"] for r in res.values()) == pytest.approx(job["energy_j"])
    assert res[0]["gather_s"] < 1.0  # the bench holds the real target (50 ms)


def test_torchrun_single_rank_forced(tmp_path, node, store_path):
    finish(torchrun(tmp_path, 1, mode="forced", sysfs=node.root))
    res = results(tmp_path)
    check = res[0]
    assert check["measures_host"] and check["job"]["world_size"] == 1
    assert check["job"]["energy_j"] == pytest.approx(NODE_W * check["seconds"], rel=ONCE)


@pytest.mark.slow
def test_two_simulated_nodes_give_per_node_sums(tmp_path, store_path):
    """Two torchrun agents (node ranks 0 and 1) on this host, each with its own RAPL tree."""
    a = FakeRapl(tmp_path / "sysfs-a", {"package-0": 40.0, "dram": 5.0}).start()
    b = FakeRapl(tmp_path / "sysfs-b", {"package-0": 100.0, "dram": 10.0}).start()
    port = free_port()
    try:
        pa = torchrun(tmp_path, 2, nnodes=2, node_rank=0, port=port, sysfs=a.root)
        pb = torchrun(tmp_path, 2, nnodes=2, node_rank=1, port=port, sysfs=b.root)
        finish(pa)
        finish(pb)
    finally:
        a.stop()
        b.stop()
    res = results(tmp_path)
    assert sorted(res) == [0, 1, 2, 3]
    job = res[0]["job"]
    nodes = job["nodes"]
    assert sorted(nodes) == ["0", "1"]
    assert nodes["0"]["ranks"] == [0, 1] and nodes["1"]["ranks"] == [2, 3]
    assert nodes["0"]["measured_by"] == [0] and nodes["1"]["measured_by"] == [2]
    assert nodes["0"]["energy_j"] == pytest.approx(45.0 * res[0]["seconds"], rel=ONCE)
    assert nodes["1"]["energy_j"] == pytest.approx(110.0 * res[2]["seconds"], rel=ONCE)
    assert job["energy_j"] == pytest.approx(nodes["0"]["energy_j"] + nodes["1"]["energy_j"])
    assert res[3]["run_id"] == f"{job['job_id']}.n1.r3"
    rec = Store.open(store_path).get_run(job["job_id"])
    assert rec.meta["role"] == "job" and rec.energy_j == pytest.approx(job["energy_j"])
    assert {d.node for d in rec.domains} == {"0", "1"}


@pytest.mark.slow
def test_track_on_rank_zero_only_does_not_stall(tmp_path, node, store_path):
    proc = torchrun(tmp_path, 2, mode="rank0-only", sysfs=node.root,
                    env={"WATTPRINT_JOIN_TIMEOUT": "1"})
    out = finish(proc)
    assert "not running on every rank" in out
    res = results(tmp_path)
    assert list(res) == [0] and res[0]["job"] is None
    assert res[0]["energy_j"] == pytest.approx(NODE_W * res[0]["seconds"], rel=ONCE)
    (rec,) = Store.open(store_path).list_runs()
    assert rec.meta["part_of"] == res[0]["job_id"] and rec.id == res[0]["run_id"]


@pytest.mark.slow
def test_window_closed_on_one_rank_only_blocks_nothing(tmp_path, node, store_path):
    proc = torchrun(tmp_path, 2, mode="asym-window", sysfs=node.root,
                    env={"WATTPRINT_GATHER_TIMEOUT": "5"})
    out = finish(proc, timeout=60)
    assert "was not closed on every rank" in out
    res = results(tmp_path)
    job = res[0]["job"]
    assert job["windows"] == []  # no wrong pairing of rank 0's "eval" with rank 1's "work"
    assert job["energy_j"] == pytest.approx(NODE_W * res[0]["seconds"], rel=ONCE)


PROVISIONAL = textwrap.dedent("""
    import json, os, sys, time
    import torch.distributed as dist
    import wattprint

    rank = int(os.environ["PMI_RANK"])
    with wattprint.track(gpus=False, interval=0.05, project="p") as run:
        dist.init_process_group("gloo", init_method=sys.argv[1], rank=rank, world_size=2)
        time.sleep(0.2)
    print(json.dumps({"run_id": run.run_id, "job_id": run.job_id, "job": run.job["job_id"]}))
    dist.destroy_process_group()
""")


def test_job_id_fixed_at_the_end_reaches_every_rank(tmp_path, store_path):
    # No job id anywhere at the start (no launcher id, no rendezvous address): each rank
    # starts as "pending-..."; the end's gather gives every rank rank 0's id.
    env = {k: v for k, v in os.environ.items() if k not in ("MASTER_ADDR", "MASTER_PORT")}
    env.update(WATTPRINT_STORE=store_path, OMP_NUM_THREADS="1", PMI_SIZE="2")
    rdv = f"file://{tmp_path / 'rendezvous'}"
    procs = [subprocess.Popen([sys.executable, "-c", PROVISIONAL, rdv], text=True,
                              env=dict(env, PMI_RANK=str(r), MPI_LOCALRANKID=str(r)),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for r in range(2)]
    res = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err[-3000:]
        res.append(json.loads(out.strip().splitlines()[-1]))
    job = res[0]["job"]
    assert job.startswith("pending-") and all(r["job"] == job for r in res)
    assert [r["job_id"] for r in res] == [job, job]
    assert res[0]["run_id"] == job and res[1]["run_id"].startswith(job + ".") \
        and res[1]["run_id"].endswith(".r1")
    runs = {r.id: r for r in Store.open(store_path).list_runs(job_id=job)}
    assert job in runs and res[1]["run_id"] in runs
