"""Roles from launcher environments, job ids, and the plugin's choices (no torch needed)."""
import socket

import pytest

import wattprint
from wattprint.errors import UsageError
from wattprint.plugins.distributed import jobs
from wattprint.plugins.distributed import roles as d
from wattprint.store import Store


def test_torchrun_role():
    r = d.detect({"RANK": "5", "WORLD_SIZE": "8", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "4",
                  "GROUP_RANK": "1", "TORCHELASTIC_RUN_ID": "bert-64"})
    assert (r.launcher, r.rank, r.world_size, r.local_rank, r.node, r.job_id) == \
        ("torchrun", 5, 8, 1, "1", "bert-64")
    # torchrun's default rendezvous id is the string "none": not a job id.
    r = d.detect({"RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "0", "TORCHELASTIC_RUN_ID": "none"})
    assert r.job_id is None and r.node == socket.gethostname()


def test_torchrun_under_slurm_takes_the_slurm_job_id():
    r = d.detect({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "GROUP_RANK": "1",
                  "SLURM_JOB_ID": "991", "SLURM_PROCID": "1", "SLURM_STEP_NUM_TASKS": "2"})
    assert r.launcher == "torchrun" and r.job_id == "slurm-991" and r.rank == 3


def test_slurm_role_and_step():
    env = {"SLURM_JOB_ID": "77", "SLURM_STEP_ID": "2", "SLURM_PROCID": "6",
           "SLURM_LOCALID": "2", "SLURM_NODEID": "1", "SLURM_STEP_NUM_TASKS": "8"}
    r = d.detect(env)
    assert (r.launcher, r.rank, r.world_size, r.local_rank, r.node, r.job_id) == \
        ("slurm", 6, 8, 2, "1", "slurm-77.2")
    # The batch script itself (no srun step) is one process, not a distributed job.
    assert d.detect({"SLURM_JOB_ID": "77", "SLURM_PROCID": "0", "SLURM_NTASKS": "8"}) is None
    # The batch pseudo-step id is not a step.
    env["SLURM_STEP_ID"] = str(0xFFFFFFFE)
    assert d.detect(env).job_id == "slurm-77"


@pytest.mark.parametrize("env, launcher, rank, size, local", [
    ({"OMPI_COMM_WORLD_RANK": "3", "OMPI_COMM_WORLD_SIZE": "4",
      "OMPI_COMM_WORLD_LOCAL_RANK": "1", "PMIX_NAMESPACE": "prterun-x-1@1"}, "openmpi", 3, 4, 1),
    ({"PMI_RANK": "2", "PMI_SIZE": "3", "MPI_LOCALRANKID": "0"}, "pmi", 2, 3, 0),
    ({"PMI_RANK": "2", "PMI_SIZE": "3"}, "pmi", 2, 3, None),
    ({"MV2_COMM_WORLD_RANK": "1", "MV2_COMM_WORLD_SIZE": "2",
      "MV2_COMM_WORLD_LOCAL_RANK": "1"}, "mvapich", 1, 2, 1),
])
def test_mpi_roles(env, launcher, rank, size, local):
    r = d.detect(env)
    assert (r.launcher, r.rank, r.world_size, r.local_rank) == (launcher, rank, size, local)


def test_wanted():
    assert d.wanted("auto", {}) is False
    assert d.wanted("auto", {"PMI_RANK": "0", "PMI_SIZE": "1"}) is False  # one process
    assert d.wanted("auto", {"PMI_RANK": "0", "PMI_SIZE": "2"}) is True
    assert d.wanted(True, {}) is True and d.wanted(False, {"PMI_SIZE": "9"}) is False
    with pytest.raises(UsageError, match="distributed must be"):
        d.wanted("sometimes", {})
    with pytest.raises(UsageError, match="distributed must be"):
        wattprint.track(distributed="sometimes")


def test_ids():
    assert d.rank_run_id("slurm-1", "gpu/a01", 7) == "slurm-1.gpu-a01.r7"
    assert d.rank_run_id("slurm-1", "node1", 3) == "slurm-1.node1.r3"
    assert d.rank_run_id("slurm-1", "0", 0) == "slurm-1.n0.r0"
    assert d.safe_id("  my job: 1  ") == "my-job-1"
    a = d.fallback_job_id({"MASTER_ADDR": "10.0.0.1", "MASTER_PORT": "29500"})
    b = d.fallback_job_id({"MASTER_ADDR": "10.0.0.1", "MASTER_PORT": "29501"})
    assert a.startswith("job-") and a != b
    assert d.fallback_job_id({}) is None


def flat(analytic, watts, **kw):
    return analytic(lambda t: watts, lambda t: watts * t, **kw)


def torchrun_env(monkeypatch, rank, local, world=4, node="0", job="j1"):
    for k, v in {"RANK": rank, "LOCAL_RANK": local, "WORLD_SIZE": world, "GROUP_RANK": node,
                 "LOCAL_WORLD_SIZE": 2, "TORCHELASTIC_RUN_ID": job}.items():
        monkeypatch.setenv(k, str(v))


def test_non_measuring_rank_opens_no_host_or_gpu_meter(monkeypatch, store_path, tmp_path):
    # Real discovery: with local rank 1 nothing of the node's is opened, not even the models.
    torchrun_env(monkeypatch, rank=3, local=1, node="1")
    with wattprint.track(store=store_path, interval=0.02) as run:
        pass
    assert run.placement.measure_host is False and run.placement.measure_gpus is False
    assert run.domains == []
    # (the n-th track() of a process is job "<id>-n", so the id depends on the tests before)
    assert run.run_id == f"{run.job_id}.n1.r3" and run.job_id.startswith("j1")
    assert run.node == "1" and run.rank == 3
    rec = Store.open(store_path).get_run(run.run_id)
    assert rec.meta["part_of"] == run.job_id and rec.meta["measures_host"] is False
    assert rec.meta["role"] == "rank" and rec.job_id == run.job_id and rec.energy_j == 0.0
    assert run.job is None  # no torch.distributed here: 'wattprint merge' makes the job


def test_measuring_rank_opens_the_host(monkeypatch, store_path):
    torchrun_env(monkeypatch, rank=2, local=0, node="1")
    with wattprint.track(store=store_path, interval=0.02, gpus=False) as run:
        pass
    assert run.placement.measure_host is True
    assert {x.kind for x in run.domains} >= {"cpu"}  # the CPU model on a VM without RAPL
    assert run.run_id.endswith(".n1.r2")
    assert Store.open(store_path).get_run(run.run_id).meta["measures_host"] is True


def test_gpu_owner_rank_lets_every_rank_measure_its_gpus(monkeypatch, store_path):
    torchrun_env(monkeypatch, rank=1, local=1)
    monkeypatch.setenv("WATTPRINT_GPU_OWNER", "rank")
    run = wattprint.track(store=store_path, interval=0.02)
    run.start()
    run.stop()
    assert run.placement.measure_host is False and run.placement.measure_gpus is True


def test_second_run_in_a_process_gets_its_own_job_id(monkeypatch, store_path, analytic):
    torchrun_env(monkeypatch, rank=0, local=0, job="same")
    with wattprint.track(store=store_path, meters=[flat(analytic, 5.0)], interval=0.02) as a:
        pass
    with wattprint.track(store=store_path, meters=[flat(analytic, 5.0)], interval=0.02) as b:
        pass
    assert a.job_id != b.job_id and b.job_id.startswith("same")
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "2")
    with wattprint.track(store=store_path, meters=[flat(analytic, 5.0)], interval=0.02) as c:
        pass
    assert c.job_id.endswith("-a2")
    assert len({a.run_id, b.run_id, c.run_id}) == 3


def test_explicit_job_id_wins(monkeypatch, store_path, analytic):
    torchrun_env(monkeypatch, rank=1, local=0, job="ignored")
    monkeypatch.setenv("WATTPRINT_JOB_ID", "exp-42")
    with wattprint.track(store=store_path, meters=[flat(analytic, 5.0)], interval=0.02) as run:
        pass
    assert run.run_id.startswith("exp-42") and run.run_id.endswith(".n0.r1")


def test_countable_skips_parts_of_a_job_with_a_job_record(store_path):
    st = Store.open(store_path)
    parts = [{"run_id": f"j.n0.r{r}", "rank": r, "node": "0", "host": "h", "status": "finished",
              "measures_host": r == 0, "started_at": 1.0, "seconds": 10.0,
              "energy_j": {"cpu:0": 100.0} if r == 0 else {}, "domains": []} for r in range(2)]
    from wattprint.store import RunRecord

    for p in parts:
        st.create_run(RunRecord(id=p["run_id"], status="finished", started_at=1.0, updated_at=2.0,
                                energy_j=sum(p["energy_j"].values()), job_id="j", rank=p["rank"],
                                meta={"role": "rank", "part_of": "j"}))
    solo = RunRecord(id="other", status="finished", started_at=1.0, updated_at=2.0, energy_j=7.0)
    st.create_run(solo)
    assert sum(r.energy_j for r in jobs.countable(st.list_runs())) == 107.0  # parts, no job yet
    job = jobs.job_summary("j", parts)
    rec = jobs.write_job(st, job, parts=parts)
    assert rec.energy_j == 100.0 and rec.meta["nodes"]["0"]["measured_by"] == [0]
    assert sum(r.energy_j for r in jobs.countable(st.list_runs())) == 107.0  # job, not parts too
    assert {r.id for r in jobs.countable(st.list_runs())} == {"j", "other"}


def test_job_total_adds_only_what_each_rank_counts(store_path):
    # psys stands for the host where it exists; the RAPL package inside it is not added again.
    parts = [{"run_id": "k.n0.r0", "rank": 0, "node": "0", "host": "h", "status": "finished",
              "measures_host": True, "started_at": 1.0, "seconds": 10.0,
              "energy_j": {"cpu:0": 100.0, "psys": 150.0, "gpu:0": 500.0},
              "counted": ["psys", "gpu:0"],
              "domains": [{"name": "cpu:0", "kind": "cpu", "source": "rapl", "label": "measured",
                           "method": "m", "device": None},
                          {"name": "psys", "kind": "psys", "source": "rapl", "label": "measured",
                           "method": "m", "device": None}]},
             {"run_id": "k.n0.r1", "rank": 1, "node": "0", "host": "h", "status": "failed",
              "measures_host": False, "started_at": 2.0, "seconds": 9.0, "energy_j": {},
              "domains": []}]
    job = jobs.job_summary("k", parts)
    assert job["energy_j"] == 650.0 and job["status"] == "failed" and job["seconds"] == 10.0
    assert job["nodes"]["0"]["by_kind"] == {"psys": 150.0, "other": 500.0}
    rec = jobs.write_job(Store.open(store_path), job, parts=parts)
    assert rec.energy_j == 650.0
    flags = {x.name: getattr(x, "in_total", True) for x in rec.domains}
    assert flags["n0/psys"] and flags["n0/gpu:0"]
    if hasattr(rec.domains[0], "in_total"):
        assert flags["n0/cpu:0"] is False


def test_lock_election_without_a_writable_temp_dir_measures_and_warns(tmp_path, monkeypatch,
                                                                       caplog):
    import tempfile

    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(tmp_path / "missing"))
    with caplog.at_level("WARNING", logger="wattprint"):
        assert d.elect_by_lock("j") is True
    assert "cannot elect" in caplog.text
    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(tmp_path))
    first = d.elect_by_lock("j2")
    assert first not in (None, True)
    assert d.elect_by_lock("j2") is None  # a second process of the job on this host
    first.close()
    again = d.elect_by_lock("j2")
    assert again not in (None, True)
    again.close()
