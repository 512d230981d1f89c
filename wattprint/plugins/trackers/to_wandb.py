"""Weights & Biases: metrics against ``wattprint/step``, the summary, and the report files in
the run's files folder (uploaded with the run; kept locally in offline mode)."""
from __future__ import annotations

import os
import shutil

from .base import STEP, Tracker


class WandbTracker(Tracker):
    name = "wandb"

    def open(self, run) -> str:
        import wandb

        if wandb.run is not None:
            self.run = wandb.run
            where = f"W&B's active run {self.run.id}"
        else:
            self.run = wandb.init(project=run.options.project or "wattprint", name=run.run_id,
                                  config={"wattprint/run_id": run.run_id})
            self.started = True
            where = f"a new W&B run {self.run.id} (none was active)"
        # Our own x-axis: W&B's step belongs to the user's logging, and a step behind it is dropped.
        self.run.define_metric(STEP)
        self.run.define_metric("wattprint/*", step_metric=STEP)
        return where

    def log(self, metrics: dict, step: int) -> None:
        self.run.log({**metrics, STEP: step})

    def finish(self, summary: dict, files: list) -> None:
        self.status = summary.get("wattprint/status")
        self.run.summary.update(summary)
        for path in files:
            shutil.copy(path, os.path.join(self.run.dir, os.path.basename(path)))

    def close(self) -> None:
        if self.started:
            self.run.finish(exit_code=0 if getattr(self, "status", "finished") == "finished" else 1)
