"""Lightning with ``TensorBoardLogger``: ``WattprintCallback(log_to=logger.experiment)`` writes the
energy into the logger's own event files, once per name (the loggers get no wattprint/ metrics)."""
import pytest

from test_trackers_helpers import _python_wording  # noqa: F401

pytestmark = pytest.mark.frameworks
torch = pytest.importorskip("torch")
pl = pytest.importorskip("lightning.pytorch")
pytest.importorskip("tensorboard")

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

import test_integrations_lightning as integration_tests  # noqa: E402  (its tiny module)
from wattprint.integrations.lightning import WattprintCallback  # noqa: E402


class Tiny(integration_tests.Tiny):
    def training_step(self, batch, i):
        loss = super().training_step(batch, i)
        self.log("loss", loss)  # the logger gets the loss, and wattprint's energy beside it
        return loss


def test_lightning_log_to_the_loggers_summary_writer(tmp_path, store_path):
    from lightning.pytorch.loggers import TensorBoardLogger

    g = torch.Generator().manual_seed(0)
    x = torch.randn(256, 8, generator=g)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, x.sum(1, keepdim=True)),
                                         batch_size=16)
    logger = TensorBoardLogger(str(tmp_path), name="tb")
    cb = WattprintCallback(log_to=logger.experiment, store=store_path, interval=0.02)
    trainer = pl.Trainer(max_epochs=2, accelerator="cpu", devices=1, callbacks=[cb], logger=logger,
                         enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, log_every_n_steps=4)
    trainer.fit(Tiny(), loader)
    logger.experiment.flush()
    acc = EventAccumulator(logger.log_dir, size_guidance={"scalars": 0})
    acc.Reload()
    points = acc.Scalars("wattprint/energy_kwh")
    assert points and points[-1].step == 32
    assert points[-1].value == pytest.approx(cb.run.record.energy_kwh, rel=1e-6)
    assert "loss" in acc.Tags()["scalars"]
    assert "wattprint/hours" not in acc.Tags()["scalars"]  # the loggers' copy is left out
