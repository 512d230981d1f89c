"""MLflow: metrics, params and artifacts through ``MlflowClient``, on the active run's id.

The client addresses the run by id, so writes from the writer thread and after the user's run
has ended (Hugging Face's callback ends it at ``on_train_end``) still land in that run, and a
run wattprint starts is never pushed onto the user's active-run stack.
"""
from __future__ import annotations

import os
import time

from .base import Tracker

PARAM_MAX = 6000  # characters MLflow keeps in a param value


class MlflowTracker(Tracker):
    name = "mlflow"

    def open(self, run) -> str:
        import mlflow
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient()  # the tracking URI as MLflow resolves it now
        active = mlflow.active_run()
        if active is not None:
            self.run_id = active.info.run_id
            return f"MLflow's active run {self.run_id}"
        if os.environ.get("MLFLOW_RUN_ID"):  # a run named for this process (as start_run() reads it)
            self.run_id = os.environ["MLFLOW_RUN_ID"]
            return f"MLflow run {self.run_id} ($MLFLOW_RUN_ID)"
        made = self.client.create_run(self._experiment(run), run_name=run.run_id,
                                      tags={"wattprint.run_id": run.run_id})
        self.run_id, self.started = made.info.run_id, True
        return f"a new MLflow run {self.run_id} (none was active)"

    def _experiment(self, run) -> str:
        """As MLflow picks it ($MLFLOW_EXPERIMENT_ID/_NAME), else the project's, else Default."""
        if os.environ.get("MLFLOW_EXPERIMENT_ID"):
            return os.environ["MLFLOW_EXPERIMENT_ID"]
        name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or run.options.project
        if not name:
            return "0"
        found = self.client.get_experiment_by_name(name)
        return found.experiment_id if found else self.client.create_experiment(name)

    def log(self, metrics: dict, step: int) -> None:
        from mlflow.entities import Metric

        # MLflow orders a step's values by timestamp (ms): two points in one ms must not tie
        ms = self._ms = max(int(time.time() * 1000), getattr(self, "_ms", 0) + 1)
        self.client.log_batch(self.run_id, metrics=[Metric(k, float(v), ms, step)
                                                    for k, v in metrics.items()])

    def finish(self, summary: dict, files: list) -> None:
        from mlflow.entities import Param

        self.status = summary.get("wattprint/status")
        for path in files:  # first: a param refused (already set differently) must not lose them
            self.client.log_artifact(self.run_id, path, artifact_path="wattprint")
        self.client.log_batch(self.run_id, params=[Param(k, str(v)[:PARAM_MAX])
                                                   for k, v in summary.items()])

    def close(self) -> None:
        if self.started:
            ok = getattr(self, "status", "finished") == "finished"
            self.client.set_terminated(self.run_id, status="FINISHED" if ok else "FAILED")
