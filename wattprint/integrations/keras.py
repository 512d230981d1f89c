"""Keras 3 callback (any backend).

    from wattprint.integrations.keras import WattprintCallback
    model.fit(x, y, epochs=10, callbacks=[WattprintCallback(project="cnn")])

Progress is the global batch count against epochs x steps per epoch (or, when Keras does not
know the steps, epochs). The energy so far is added to each epoch's ``logs`` as ``energy_kwh``
(so it shows in the progress bar, and ``History`` has one value per epoch, beside ``loss``).
The prediction is not put into ``History``: it exists only once reliable, and a list that
starts late would not line up with the epochs. ``callback.predictions`` holds it instead, one
entry per epoch (``None`` where not yet reliable; ``print()`` one to read it). The final
footprint is logged at the end of ``fit``. A budget with ``on_exceed="stop"`` sets
``model.stop_training``; the run is stored as "stopped". Pass ``run=`` to report into a run you
started yourself. ``log_to="mlflow"`` (or "wandb", "tensorboard:DIR", a list) also writes the
energy at each step, the footprint and the reports to those trackers (docs/trackers.md).
"""
from __future__ import annotations

import logging

import keras

from . import _Adapter

log = logging.getLogger("wattprint")


class WattprintCallback(keras.callbacks.Callback):
    def __init__(self, run=None, *, log_metrics: bool = True, **track_options):
        super().__init__()
        self.adapter = _Adapter(run, **track_options)
        self.log_metrics = log_metrics
        self.footprint = None
        self.predictions: list = []  # per epoch: the reliable Prediction, or None
        self.global_step = 0
        self.per_step = True

    @property
    def run(self):
        return self.adapter.run

    def on_train_begin(self, logs=None):
        params = self.params or {}
        epochs, steps = params.get("epochs"), params.get("steps")
        self.per_step = bool(steps)
        self.adapter.unit = "step" if self.per_step else "epoch"
        total = epochs * steps if (epochs and steps) else epochs
        self.global_step = 0
        self.predictions = []
        self.adapter.begin(total)

    def on_train_batch_end(self, batch, logs=None):
        if not self.per_step:
            return
        self.global_step += 1
        if self.adapter.progress(self.global_step):
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        stop = self.adapter.progress(epoch + 1, force=True) if not self.per_step else self.adapter.flush()
        if stop:
            self.model.stop_training = True
        run = self.run
        if run is None or run.status != "running":
            self.predictions.append(None)
            return
        try:
            p = run.predict()
        except Exception:
            p = None
        self.predictions.append(p if p is not None and p.reliable else None)
        if self.log_metrics and logs is not None:
            logs["energy_kwh"] = run.energy().energy_kwh

    def on_train_end(self, logs=None):
        self.footprint = self.adapter.end("finished")
        if self.footprint is not None:
            log.info("wattprint: training footprint\n%s", self.footprint)
