"""Experiment trackers with the real libraries, offline: MLflow on a local SQLite store read back
through MlflowClient, and the checks of ``log_to``.

The run's clock is a test clock (tests/clock.py): each step advances it past the trackers' rate
limit, so every reported step gets a point whatever the load, and the figures are exact.
"""
import logging

import pytest

import wattprint
from clock import ManualClock
from test_trackers_helpers import POWER_W, _python_wording, tracked, train  # noqa: F401
from wattprint.errors import UsageError

mlflow = pytest.importorskip("mlflow")
from mlflow.tracking import MlflowClient  # noqa: E402

ENERGY = "wattprint/energy_kwh"


@pytest.fixture
def mlflow_uri(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # MLflow's default artifact root is ./mlruns
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


def test_mlflow_active_run_gets_a_point_per_step_the_summary_and_the_report(mlflow_uri, store_path):
    clock = ManualClock()
    with mlflow.start_run() as active:
        with tracked(clock, store_path, log_to="mlflow", region="FR", total=5) as run:
            train(clock, run, 5)
    client = MlflowClient()
    history = client.get_metric_history(active.info.run_id, ENERGY)
    assert sorted({m.step for m in history}) == [1, 2, 3, 4, 5]
    by_step = {m.step: m.value for m in sorted(history, key=lambda m: m.timestamp)}
    assert by_step[3] == pytest.approx(3 * 2.0 * POWER_W / 3.6e6, rel=1e-6)  # the energy at step 3
    record = run.record
    last = max(history, key=lambda m: (m.step, m.timestamp))
    assert last.value == pytest.approx(record.energy_kwh, rel=1e-9)
    assert record.energy_kwh == pytest.approx(10 * POWER_W / 3.6e6)
    data = client.get_run(active.info.run_id).data
    assert data.metrics[ENERGY] == pytest.approx(record.energy_kwh, rel=1e-9)
    assert data.metrics["wattprint/power_w"] == pytest.approx(POWER_W)
    assert data.metrics["wattprint/co2e_kg"] == pytest.approx(
        record.energy_kwh * run.result.co2e_kg / run.result.energy_kwh_it, rel=1e-6)
    params = data.params
    assert params["wattprint/run_id"] == run.run_id
    assert float(params["wattprint/component/gpu:0/energy_kwh"]) == pytest.approx(record.energy_kwh)
    assert params["wattprint/component/gpu:0/label"] == "measured (analytic)"
    assert "Ember" in params["wattprint/intensity_source"] and "2024" in params["wattprint/intensity_source"]
    assert params["wattprint/location"] == "region=FR"
    artifacts = {a.path for a in client.list_artifacts(active.info.run_id, "wattprint")}
    assert artifacts == {f"wattprint/wattprint-{run.run_id}.html", f"wattprint/wattprint-{run.run_id}.md"}
    html = open(mlflow.artifacts.download_artifacts(
        run_id=active.info.run_id, artifact_path=f"wattprint/wattprint-{run.run_id}.html")).read()
    assert html.lstrip().lower().startswith("<!doctype html") and run.run_id in html
    assert run.record.meta["trackers"] == {"mlflow": f"MLflow's active run {active.info.run_id}"}


def test_a_fast_loop_is_rate_limited_to_a_point_a_second(mlflow_uri, store_path):
    clock = ManualClock()
    with mlflow.start_run() as active:
        with tracked(clock, store_path, log_to="mlflow", predict_every=None) as run:
            train(clock, run, 10_000, gap=0.001)  # 1 kHz for 10 s of the run's clock
    history = MlflowClient().get_metric_history(active.info.run_id, ENERGY)
    assert 5 <= len(history) <= 12  # ~1 a second, and the final one
    assert max(m.step for m in history) == 10_000


def test_a_tracker_that_fails_mid_run_is_logged_once_and_marked(mlflow_uri, store_path, caplog):
    clock = ManualClock()
    client = MlflowClient()
    made = client.create_run("0")
    with mlflow.start_run(run_id=made.info.run_id):
        with tracked(clock, store_path, log_to="mlflow") as run:
            train(clock, run, 2)
            client.delete_run(made.info.run_id)  # MLflow refuses writes to a deleted run
            with caplog.at_level(logging.WARNING, logger="wattprint"):
                train(clock, run, 3, first=3)
        assert run.status == "finished"
        client.restore_run(made.info.run_id)  # so that MLflow itself can end it
    failures = [r for r in caplog.records if "logging to mlflow failed" in r.getMessage()]
    assert len(failures) == 1
    assert run.record.meta["trackers"]["mlflow"].startswith("failed: ")
    assert run.record.energy_j == pytest.approx(10 * POWER_W)  # the run itself is whole


def test_no_active_run_starts_one_in_the_projects_experiment(mlflow_uri, store_path):
    clock = ManualClock()
    with tracked(clock, store_path, log_to=["mlflow"], project="energy-demo") as run:
        train(clock, run, 3)
    assert mlflow.active_run() is None  # never pushed onto the user's stack
    said = run.record.meta["trackers"]["mlflow"]
    assert said.startswith("a new MLflow run ") and said.endswith("(none was active)")
    client = MlflowClient()
    found = client.search_runs([client.get_experiment_by_name("energy-demo").experiment_id])
    assert [r.info.run_name for r in found] == [run.run_id]
    assert found[0].info.status == "FINISHED"
    assert found[0].data.metrics[ENERGY] == pytest.approx(run.record.energy_kwh, rel=1e-9)


@pytest.mark.parametrize("value, message", [
    ("mlfow", "unknown tracker 'mlfow'; choose from mlflow, wandb, tensorboard:DIR"),
    ("tensorboard", "say where TensorBoard's event files go"),
    ("mlflow,comet", "unknown tracker 'comet'"),
    (42, "cannot log to 'int' objects"),
])
def test_log_to_is_checked_before_training(value, message, store_path):
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        wattprint.track(log_to=value, store=store_path)


def test_log_to_accepts_lists_and_commas():
    from wattprint.run.options import options

    assert options(log_to="mlflow, tensorboard:tb").log_to == ("mlflow", "tensorboard:tb")
    assert options(log_to=["wandb", "mlflow,wandb"]).log_to == ("wandb", "mlflow")
    assert options().log_to == ()
