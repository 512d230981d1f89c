"""Hugging Face Trainer callback with the real framework on the CPU (tiny BERT from a config)."""
import os

import pytest

pytestmark = pytest.mark.frameworks
torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from wattprint.integrations.huggingface import WattprintCallback  # noqa: E402
from wattprint.store import Store  # noqa: E402


class _Data(torch.utils.data.Dataset):
    def __init__(self, n=64, seq=12):
        g = torch.Generator().manual_seed(0)
        self.ids = torch.randint(5, 100, (n, seq), generator=g)
        self.labels = (self.ids[:, 0] > 50).long()

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, i):
        return {"input_ids": self.ids[i], "attention_mask": torch.ones_like(self.ids[i]),
                "labels": self.labels[i]}


def _trainer(tmp_path, cb, epochs=2):
    os.environ["HF_HUB_OFFLINE"] = "1"
    cfg = transformers.BertConfig(vocab_size=100, hidden_size=16, num_hidden_layers=1,
                                  num_attention_heads=2, intermediate_size=32,
                                  max_position_embeddings=32, num_labels=2)
    model = transformers.BertForSequenceClassification(cfg)
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path / "out"), num_train_epochs=epochs, per_device_train_batch_size=8,
        logging_steps=4, save_strategy="no", report_to="none", use_cpu=True, disable_tqdm=True)
    return transformers.Trainer(model=model, args=args, train_dataset=_Data(), callbacks=[cb])


def test_steps_reported_and_footprint_in_log_history(tmp_path):
    cb = WattprintCallback(interval=0.02, intensity="300g/kWh")
    trainer = _trainer(tmp_path, cb)
    trainer.train()
    run = cb.run
    assert run.status == "finished" and run.total == 16
    rows = Store.open().progress(run.record.key)
    done = [d for _, d, _, _ in rows]
    # Steps under 10 ms apart are reported together; the last one always is.
    assert done[-1] == 16 and done == sorted(set(done)) and len(done) >= 3
    last = trainer.state.log_history[-1]
    assert last["wattprint_co2e_kg"] > 0 and last["wattprint_energy_kwh"] > 0
    assert any("wattprint_energy_kwh" in e for e in trainer.state.log_history[:-1])


def test_budget_stop(tmp_path):
    cb = WattprintCallback(interval=0.02, budget_kwh=1e-12, on_exceed="stop")
    trainer = _trainer(tmp_path, cb, epochs=20)
    trainer.train()
    assert trainer.state.global_step < 160
    assert cb.run.status == "stopped"
