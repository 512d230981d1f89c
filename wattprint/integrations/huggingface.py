"""Hugging Face ``transformers.Trainer`` callback.

    from wattprint.integrations.huggingface import WattprintCallback
    trainer = Trainer(model, args, train_dataset=ds, callbacks=[WattprintCallback(region="FR")])

Progress is ``state.global_step`` against ``state.max_steps``. At each logging step the energy
so far and the prediction are added to the logged dict; at the end the footprint is appended to
``trainer.state.log_history`` (so it lands in ``trainer_state.json``) and logged through
transformers' logger. A budget with ``on_exceed="stop"`` sets ``control.should_training_stop``;
the run is stored as "stopped". Pass ``run=`` to report into a run you started yourself.
``WattprintCallback(log_to="mlflow")`` (or "wandb", "tensorboard:DIR", a list) also writes the
energy at each step, the footprint and the reports into the run that ``report_to`` opened
(docs/trackers.md).
"""
from __future__ import annotations

from transformers import TrainerCallback
from transformers.utils import logging as hf_logging

from . import _Adapter

logger = hf_logging.get_logger("wattprint")


class WattprintCallback(TrainerCallback):
    def __init__(self, run=None, **track_options):
        self.adapter = _Adapter(run, unit="step", **track_options)
        self.footprint = None

    @property
    def run(self):
        return self.adapter.run

    def on_train_begin(self, args, state, control, **kwargs):
        self.adapter.begin(state.max_steps or None)

    def on_step_end(self, args, state, control, **kwargs):
        if self.adapter.progress(state.global_step):
            control.should_training_stop = True
        return control

    def on_epoch_end(self, args, state, control, **kwargs):
        if self.adapter.flush():
            control.should_training_stop = True
        return control

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs is None:
            return
        extra = {k.replace("/", "_"): v for k, v in self.adapter.metrics().items()}
        logs.update(extra)  # seen by the callbacks after this one (printer, reporters)
        hist = state.log_history
        if hist and hist[-1].get("step") == state.global_step:  # the copy Trainer just stored
            hist[-1].update(extra)

    def on_train_end(self, args, state, control, **kwargs):
        self.footprint = self.adapter.end("finished")
        if self.footprint is None:
            return
        entry = {k.replace("/", "_"): v for k, v in self.adapter.final_metrics(self.footprint).items()}
        entry["step"] = state.global_step
        state.log_history.append(entry)
        logger.info("wattprint: training footprint\n%s", self.footprint)
