"""PyTorch Lightning callback.

    from wattprint.integrations.lightning import WattprintCallback
    trainer = Trainer(max_epochs=10, callbacks=[WattprintCallback(project="bert", region="DE")])

Progress is the global (optimizer) step against ``trainer.estimated_stepping_batches``.
Energy and the prediction go to the trainer's loggers at each epoch end (``wattprint/...``
metrics), the final footprint at the end of ``fit``. A budget with ``on_exceed="stop"`` sets
``trainer.should_stop``, so Lightning stops after the current step and runs its teardown; the run
is stored as "stopped". Pass ``run=`` to report into a run you started yourself.
``log_to="mlflow"`` (or "wandb", "tensorboard:DIR", a list) writes energy, power, CO2e and the
prediction at each step to those trackers instead (docs/trackers.md); the trainer's loggers
then get no ``wattprint/...`` metrics, so that each name has one writer.
"""
from __future__ import annotations

import logging
import math

try:
    from lightning.pytorch.callbacks import Callback
except ImportError:  # the older package name
    from pytorch_lightning.callbacks import Callback

from . import _Adapter

log = logging.getLogger("wattprint")


class WattprintCallback(Callback):
    def __init__(self, run=None, *, log_metrics: bool | None = None, **track_options):
        super().__init__()
        self.adapter = _Adapter(run, unit="step", **track_options)
        # log_to writes the same wattprint/ names, per step: the loggers would write them twice
        self.log_metrics = not track_options.get("log_to") if log_metrics is None else log_metrics
        self.footprint = None

    @property
    def run(self):
        return self.adapter.run

    def on_fit_start(self, trainer, pl_module):
        total = trainer.estimated_stepping_batches
        self.adapter.begin(total if isinstance(total, (int, float)) and math.isfinite(total) else None)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if self.adapter.progress(trainer.global_step):
            trainer.should_stop = True

    def on_train_epoch_end(self, trainer, pl_module):
        if self.adapter.flush():
            trainer.should_stop = True
        if not self.log_metrics:
            return
        metrics = self.adapter.metrics()
        if metrics:
            pl_module.log_dict(metrics, on_step=False, on_epoch=True, prog_bar=False, logger=True)

    def on_fit_end(self, trainer, pl_module):
        self._finish(trainer, "finished")

    def on_exception(self, trainer, pl_module, exception):
        self._finish(trainer, "cancelled" if isinstance(exception, KeyboardInterrupt) else "failed")

    def _finish(self, trainer, status):
        self.footprint = self.adapter.end(status)
        if self.footprint is None:
            return
        log.info("wattprint: training footprint\n%s", self.footprint)
        if self.log_metrics:
            for lg in trainer.loggers:
                try:
                    lg.log_metrics(self.adapter.final_metrics(self.footprint), step=trainer.global_step)
                except Exception:
                    log.debug("wattprint: logger %s refused the footprint", lg, exc_info=True)
