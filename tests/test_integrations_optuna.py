"""Optuna: real studies over a fake RAPL machine (tests/sysfs.py) at a known power."""
import logging
import os
import subprocess
import sys
import textwrap
import time

import pytest

from sysfs import FakeRapl
from wattprint.errors import UsageError
from wattprint.store import Store

optuna = pytest.importorskip("optuna")
from wattprint.integrations.optuna import tracked  # noqa: E402

WATTS = {"package-0": 40.0, "dram": 5.0}  # both count: 45 W for the machine
POWER_W = sum(WATTS.values())


@pytest.fixture
def rapl(tmp_path):
    fake = FakeRapl(tmp_path / "sysfs", WATTS).start()
    yield str(tmp_path / "sysfs")
    fake.stop()


@pytest.fixture(autouse=True)
def _quiet_optuna():
    optuna.logging.set_verbosity(optuna.logging.WARNING)


def _opts(rapl, store_path):
    return dict(project="sweep-test", sysfs_root=rapl, store=store_path, gpus=False,
                interval=0.05, flush_interval=0.2, quiet=True, region="FR")


def _objective(seconds=0.6):
    def objective(trial):
        x = trial.suggest_float("x", -2.0, 2.0)
        time.sleep(seconds)  # the trial's "training": the machine draws 45 W meanwhile
        return (x - 0.5) ** 2
    return objective


def test_each_trial_is_one_run_with_its_energy_within_a_few_percent(rapl, store_path):
    study = optuna.create_study(study_name="s1", sampler=optuna.samplers.RandomSampler(seed=1))
    study.optimize(tracked(_objective(), **_opts(rapl, store_path)), n_trials=3)
    runs = Store.open(store_path).list_runs(project="sweep-test")
    assert len(runs) == 3
    by_id = {r.id: r for r in runs}
    for t in study.trials:
        rec = by_id[t.user_attrs["wattprint_run_id"]]
        sw = rec.meta["sweep"]
        assert rec.tags == ["tuning"] and rec.status == "finished"
        assert (sw["study"], sw["number"], sw["state"]) == ("s1", t.number, "COMPLETE")
        assert sw["params"] == t.params and sw["value"] == pytest.approx(t.value)
        assert rec.duration_s > 0.5
        assert rec.energy_j == pytest.approx(POWER_W * rec.duration_s, rel=0.04)
        assert t.user_attrs["energy_kwh"] == pytest.approx(rec.energy_j / 3.6e6, rel=1e-6)
        assert t.user_attrs["co2e_kg"] > 0  # region FR given
        assert "shared_host" not in rec.meta  # one at a time: nothing shared


def test_study_budget_of_three_trials_stops_after_at_most_four(rapl, store_path, caplog):
    one_trial_kwh = POWER_W * 0.4 / 3.6e6
    study = optuna.create_study(study_name="budgeted")
    with caplog.at_level(logging.WARNING, logger="wattprint"):
        study.optimize(tracked(_objective(0.4), budget_kwh=3.2 * one_trial_kwh,
                               **_opts(rapl, store_path)), n_trials=20)
    ran = [t for t in study.trials if "wattprint_run_id" in t.user_attrs]
    assert 2 <= len(ran) <= 4
    assert len(Store.open(store_path).list_runs(project="sweep-test")) == len(ran)
    said = [r for r in caplog.records if "stopped" in r.getMessage() and "budgeted" in r.getMessage()]
    assert len(said) == 1 and "budget_kwh=" in said[0].getMessage()


def test_trial_budget_prunes_in_the_trials_thread(rapl, store_path):
    def objective(trial):
        trial.suggest_float("x", 0, 1)
        for step in range(1, 40):
            time.sleep(0.05)
            trial.report(0.0, step)
        return 1.0

    study = optuna.create_study()
    # 45 W for 2 s is 25 µWh; a budget of about 0.5 s of it is passed early
    study.optimize(tracked(objective, trial_budget_kwh=POWER_W * 0.5 / 3.6e6,
                           **_opts(rapl, store_path)), n_trials=2)
    assert [t.state.name for t in study.trials] == ["PRUNED", "PRUNED"]
    recs = Store.open(store_path).list_runs(project="sweep-test")
    assert {r.status for r in recs} == {"stopped"}
    assert {r.meta["sweep"]["state"] for r in recs} == {"PRUNED"}
    assert all(r.duration_s < 1.8 for r in recs)


def test_n_jobs_two_shares_the_machine_between_concurrent_trials(rapl, store_path):
    study = optuna.create_study(study_name="par")
    t0 = time.time()
    study.optimize(tracked(_objective(0.8), **_opts(rapl, store_path)), n_trials=4, n_jobs=2)
    wall = time.time() - t0
    recs = Store.open(store_path).list_runs(project="sweep-test")
    assert len(recs) == 4 and len({r.meta["sweep"]["number"] for r in recs}) == 4
    assert any(r.meta.get("shared_host", {}).get("most_trials_at_once") == 2 for r in recs)
    # the machine counted once: the trials' shares add up to 45 W x the time any trial ran
    total_j = sum(r.energy_j for r in recs)
    assert total_j <= POWER_W * wall * 1.03
    assert total_j == pytest.approx(POWER_W * _union([(r.started_at, r.started_at + r.duration_s)
                                                      for r in recs]), rel=0.05)
    assert total_j < sum(r.meta.get("shared_host", {}).get("host_energy_j", r.energy_j) for r in recs)


def _union(spans):
    out, end = 0.0, float("-inf")
    for a, b in sorted(spans):
        if b > end:
            out += b - max(a, end)
            end = b
    return out


def test_processes_sharing_one_optuna_storage_and_one_store(rapl, store_path, tmp_path):
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    optuna.create_study(study_name="shared", storage=storage)
    script = textwrap.dedent(f"""
        import time, optuna
        from wattprint.integrations.optuna import tracked
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        def objective(trial):
            x = trial.suggest_float("x", -1, 1)
            time.sleep(0.3)
            return x * x
        study = optuna.load_study(study_name="shared", storage={storage!r})
        study.optimize(tracked(objective, project="sweep-test", sysfs_root={rapl!r},
                               store={store_path!r}, gpus=False, interval=0.05, quiet=True), n_trials=3)
    """)
    env = {**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(os.path.abspath(__file__)))}
    procs = [subprocess.Popen([sys.executable, "-c", script], env=env, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    study = optuna.load_study(study_name="shared", storage=storage)
    assert len(study.trials) == 6
    recs = Store.open(store_path).list_runs(project="sweep-test")
    assert sorted(r.meta["sweep"]["number"] for r in recs) == list(range(6))
    assert {r.id for r in recs} == {t.user_attrs["wattprint_run_id"] for t in study.trials}


def test_bad_use_is_refused_before_any_trial():
    with pytest.raises(UsageError, match="project"):
        tracked(_objective())
    with pytest.raises(UsageError, match="budget_kwh"):
        tracked(_objective(), project="p", budget_kwh=-1)


def test_trial_budget_prunes_on_the_live_prediction_before_it_is_spent(rapl, store_path):
    steps, per_step = 40, 0.05  # about 2 s and 90 J a trial; the budget is about 60 % of that

    def objective(trial):
        trial.suggest_float("x", 0, 1)
        for step in range(1, steps + 1):
            time.sleep(per_step)
            trial.report(0.0, step)
        return 1.0

    budget_kwh = 0.6 * POWER_W * steps * per_step / 3.6e6
    study = optuna.create_study()
    study.optimize(tracked(objective, trial_budget_kwh=budget_kwh, total=steps,
                           **_opts(rapl, store_path)), n_trials=1)
    (rec,) = Store.open(store_path).list_runs(project="sweep-test")
    assert study.trials[0].state.name == "PRUNED" and rec.status == "stopped"
    assert rec.done < steps
    assert rec.energy_j / 3.6e6 < budget_kwh  # stopped on the prediction, not on what was spent


def test_a_nan_objective_is_stored_without_a_value(rapl, store_path):
    study = optuna.create_study()
    study.optimize(tracked(lambda trial: float("nan"), **_opts(rapl, store_path)), n_trials=1)
    (rec,) = Store.open(store_path).list_runs(project="sweep-test")
    assert study.trials[0].state.name == "FAIL"  # Optuna's own verdict on a NaN
    assert rec.meta["sweep"]["value"] is None and rec.meta["sweep"]["state"] == "FAIL"


def test_a_run_id_for_every_trial_is_refused_at_once(store_path):
    from wattprint.errors import UsageError
    from wattprint.integrations.optuna import tracked

    with pytest.raises(UsageError, match="each trial gets its own run id"):
        tracked(lambda trial: 0.0, project="p", store=store_path, run_id="same")
