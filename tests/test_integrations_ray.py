"""Ray Tune on a real local cluster (``ray.init(num_cpus=2)``), trials over a fake RAPL machine."""
import logging
import os
import signal
import time

import pytest

from sysfs import FakeRapl
from wattprint.errors import UsageError
from wattprint.store import Store

ray = pytest.importorskip("ray")
from ray import tune  # noqa: E402

from wattprint.integrations.ray import WattprintCallback, tracked  # noqa: E402

pytestmark = pytest.mark.slow
WATTS = {"package-0": 40.0, "dram": 5.0}
POWER_W = sum(WATTS.values())


@pytest.fixture(scope="module")
def cluster():
    # the workers import this module (the trainable lives here) and wattprint from this checkout
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.pathsep.join([here, os.path.dirname(here), os.environ.get("PYTHONPATH", "")])
    # ray.init installs its own SIGTERM (and SIGINT) handlers and shutdown leaves them: put the
    # test process's back, or later tests of wattprint's signal handling see Ray's
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
             runtime_env={"env_vars": {"PYTHONPATH": path}})
    try:
        yield
    finally:
        ray.shutdown()
        for s, handler in saved.items():
            signal.signal(s, handler)


@pytest.fixture
def rapl(tmp_path):
    fake = FakeRapl(tmp_path / "sysfs", WATTS).start()
    yield str(tmp_path / "sysfs")
    fake.stop()


def train(config):
    time.sleep(config.get("seconds", 0.8))  # the trial's "training": the machine draws 45 W
    tune.report({"loss": (config["x"] - 0.3) ** 2})


def _tuner(fn_opts, cb, tmp_path, space, **tune_config):
    return tune.Tuner(
        tracked(train, **fn_opts), param_space=space,
        tune_config=tune.TuneConfig(metric="loss", mode="min", **tune_config),
        run_config=tune.RunConfig(callbacks=[cb], stop=cb.stopper, storage_path=str(tmp_path / "ray"),
                                  verbose=0))


def _opts(rapl, store_path):
    return dict(project="ray-test", store=store_path, sysfs_root=rapl, gpus=False, interval=0.05,
                flush_interval=0.2, quiet=True)


def test_every_trial_recorded_once_and_concurrent_trials_share_the_node(cluster, rapl, store_path, tmp_path):
    cb = WattprintCallback(project="ray-test", store=store_path, metric="loss")
    t0 = time.time()
    results = _tuner(_opts(rapl, store_path), cb, tmp_path,
                     {"x": tune.grid_search([0.0, 0.25, 0.5, 0.75])}).fit()
    wall = time.time() - t0
    assert not results.errors
    recs = Store.open(store_path).list_runs(project="ray-test")
    ids = sorted(r.id for r in recs)
    assert ids == sorted(f"ray-{r.metrics['trial_id']}" for r in results)  # each trial once
    assert len(ids) == 4 and len(set(ids)) == 4
    losses = {f"ray-{r.metrics['trial_id']}": r.metrics["loss"] for r in results}
    for rec in recs:
        sw = rec.meta["sweep"]
        assert rec.tags == ["tuning"] and rec.status == "finished"
        assert sw["backend"] == "ray" and sw["state"] == "TERMINATED"
        assert sw["value"] == pytest.approx(losses[rec.id])
        assert sw["params"]["x"] in (0.0, 0.25, 0.5, 0.75)
    assert sorted(r.meta["sweep"]["number"] for r in recs) == [0, 1, 2, 3]
    # two CPUs: two trials at a time on this one node, whose energy is counted once
    shared = [r for r in recs if "shared_host" in r.meta]
    assert shared and all(r.meta["shared_host"]["most_trials_at_once"] == 2 for r in shared)
    total_j = sum(r.energy_j for r in recs)
    assert total_j <= POWER_W * wall * 1.03
    host_j = sum(r.meta.get("shared_host", {}).get("host_energy_j", r.energy_j) for r in recs)
    assert total_j < host_j  # each trial alone would have counted the overlaps twice
    for r in shared:
        assert r.energy_j < r.meta["shared_host"]["host_energy_j"]


def test_search_budget_stops_the_experiment(cluster, rapl, store_path, tmp_path, caplog):
    one_trial_kwh = POWER_W * 0.5 / 3.6e6
    cb = WattprintCallback(project="ray-test", store=store_path, metric="loss", budget_kwh=3.2 * one_trial_kwh)
    space = {"x": tune.uniform(0, 1), "seconds": 0.5}
    with caplog.at_level(logging.WARNING, logger="wattprint"):
        _tuner(_opts(rapl, store_path), cb, tmp_path, space, num_samples=12, max_concurrent_trials=1).fit()
    recs = Store.open(store_path).list_runs(project="ray-test")
    assert 2 <= len(recs) <= 5  # three trials' worth, at most one more started meanwhile
    assert sum("search stopped" in r.getMessage() for r in caplog.records) == 1


def test_bad_use_is_refused_in_the_driver():
    with pytest.raises(UsageError, match="project"):
        tracked(train)
    with pytest.raises(UsageError, match="budget_kwh"):
        WattprintCallback(project="p", budget_kwh=0)


def steps(config):
    for i in range(40):
        time.sleep(0.1)
        tune.report({"loss": 1.0 / (i + 1)})


def test_trial_budget_stops_a_trial_at_a_report(cluster, rapl, store_path, tmp_path):
    cb = WattprintCallback(project="ray-test", store=store_path, metric="loss",
                           trial_budget_kwh=POWER_W * 1.0 / 3.6e6)  # about 1 s of the 4 s trial
    results = tune.Tuner(
        tracked(steps, **_opts(rapl, store_path)), param_space={"x": 1},
        tune_config=tune.TuneConfig(metric="loss", mode="min"),
        run_config=tune.RunConfig(callbacks=[cb], stop=cb.stopper, storage_path=str(tmp_path / "ray"),
                                  verbose=0)).fit()
    reports = results[0].metrics["training_iteration"]
    assert 5 <= reports < 40
    (rec,) = Store.open(store_path).list_runs(project="ray-test")
    # Tune ends the trial in the driver first; its worker thread then unwinds and stops the run
    deadline = time.monotonic() + 120
    while rec.status == "running" and time.monotonic() < deadline:
        time.sleep(0.2)
        rec = Store.open(store_path).get_run(rec.id)
    assert rec.status == "stopped" and rec.meta["sweep"]["state"] == "TERMINATED"
    assert rec.meta["sweep"]["value"] == pytest.approx(1.0 / reports)
    assert rec.energy_j / 3.6e6 >= POWER_W * 1.0 / 3.6e6 * 0.9
