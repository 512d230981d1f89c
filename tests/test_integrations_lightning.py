"""Lightning callback with the real framework on the CPU."""
import csv
import glob

import pytest

pytestmark = pytest.mark.frameworks
torch = pytest.importorskip("torch")
pl = pytest.importorskip("lightning.pytorch")

import wattprint  # noqa: E402
from wattprint.integrations.lightning import WattprintCallback  # noqa: E402
from wattprint.store import Store  # noqa: E402


class Tiny(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Linear(8, 1)

    def training_step(self, batch, _):
        x, y = batch
        return torch.nn.functional.mse_loss(self.net(x), y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def _loader(n=256, batch=16):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 8, generator=g)
    ds = torch.utils.data.TensorDataset(x, x.sum(1, keepdim=True))
    return torch.utils.data.DataLoader(ds, batch_size=batch)


def _trainer(tmp_path, cb, epochs=3):
    from lightning.pytorch.loggers import CSVLogger

    return pl.Trainer(max_epochs=epochs, accelerator="cpu", devices=1, callbacks=[cb],
                      logger=CSVLogger(str(tmp_path), name="csv"), enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False)


def test_steps_reported_metrics_logged_footprint_at_end(tmp_path):
    cb = WattprintCallback(interval=0.02, project="lightning-test", intensity="300g/kWh")
    _trainer(tmp_path, cb).fit(Tiny(), _loader())
    run = cb.run
    assert run.status == "finished" and run.total == 48 and run.unit == "step"
    rows = Store.open().progress(run.record.key)
    done = [d for _, d, _, _ in rows]
    # Steps under 10 ms apart are reported together; the last one always is.
    assert done[-1] == 48 and done == sorted(set(done)) and len(done) >= 3
    assert cb.footprint is not None and cb.footprint.co2e_kg > 0
    metrics = glob.glob(str(tmp_path / "csv" / "*" / "metrics.csv"))
    with open(metrics[0]) as f:
        cols = next(csv.reader(f))
    assert "wattprint/energy_kwh" in cols and "wattprint/co2e_kg" in cols


def test_budget_stop_ends_training_gracefully(tmp_path):
    cb = WattprintCallback(interval=0.02, budget_kwh=1e-12, on_exceed="stop")
    trainer = _trainer(tmp_path, cb, epochs=50)
    trainer.fit(Tiny(), _loader())  # no exception: Lightning stops on its own flag
    assert trainer.global_step < 50 * 16
    assert cb.run.status == "stopped"


def test_reports_into_a_given_run(tmp_path):
    with wattprint.track(interval=0.02, total=None) as run:
        cb = WattprintCallback(run=run)
        _trainer(tmp_path, cb, epochs=2).fit(Tiny(), _loader())
        assert run.status == "running"  # not ours to stop
        assert run.total == 32 and run.done == 32
    assert run.status == "finished"
