"""The Hugging Face Trainer with ``report_to="mlflow"``: one argument to the callback puts the
energy in the same MLflow run as the loss (real Trainer, tiny BERT, SQLite MLflow store)."""
import os

import pytest

from test_trackers_helpers import _python_wording  # noqa: F401

pytestmark = pytest.mark.frameworks
torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
mlflow = pytest.importorskip("mlflow")

from mlflow.tracking import MlflowClient  # noqa: E402

from test_integrations_huggingface import _Data  # noqa: E402  (the same tiny dataset)
from wattprint.integrations.huggingface import WattprintCallback  # noqa: E402

ENERGY = "wattprint/energy_kwh"


def test_trainer_report_to_mlflow_gets_the_energy_in_its_run(tmp_path, monkeypatch, store_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "hf-demo")
    cfg = transformers.BertConfig(vocab_size=100, hidden_size=16, num_hidden_layers=1,
                                  num_attention_heads=2, intermediate_size=32,
                                  max_position_embeddings=32, num_labels=2)
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path / "out"), num_train_epochs=2, per_device_train_batch_size=8,
        logging_steps=4, save_strategy="no", report_to="mlflow", use_cpu=True, disable_tqdm=True)
    cb = WattprintCallback(log_to="mlflow", store=store_path, interval=0.02)
    trainer = transformers.Trainer(model=transformers.BertForSequenceClassification(cfg), args=args,
                                   train_dataset=_Data(), callbacks=[cb])
    trainer.train()
    client = MlflowClient()
    (hf_run,) = client.search_runs([client.get_experiment_by_name("hf-demo").experiment_id])
    run = cb.run
    assert run.record.meta["trackers"] == {"mlflow": f"MLflow's active run {hf_run.info.run_id}"}
    assert "loss" in hf_run.data.metrics  # the Trainer's own logging, in the same run
    history = client.get_metric_history(hf_run.info.run_id, ENERGY)
    assert history and max(m.step for m in history) == 16
    last = max(history, key=lambda m: (m.step, m.timestamp))
    assert last.value == pytest.approx(run.record.energy_kwh, rel=1e-9)
    artifacts = {a.path for a in client.list_artifacts(hf_run.info.run_id, "wattprint")}
    assert f"wattprint/wattprint-{run.run_id}.html" in artifacts
