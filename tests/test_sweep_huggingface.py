"""``Trainer.hyperparameter_search``'s Optuna loop through wattprint: a tiny BERT on the CPU."""
import json

import pytest

pytestmark = [pytest.mark.frameworks, pytest.mark.slow]
torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
optuna = pytest.importorskip("optuna")

from test_integrations_huggingface import _Data  # noqa: E402
from test_sweep import sweep_cli  # noqa: E402,F401 (a fixture)
from wattprint.integrations.optuna import hyperparameter_search  # noqa: E402
from wattprint.store import Store  # noqa: E402


def _trainer(tmp_path):
    cfg = transformers.BertConfig(vocab_size=100, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                  intermediate_size=32, max_position_embeddings=32, num_labels=2)
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path / "out"), num_train_epochs=1, per_device_train_batch_size=8,
        eval_strategy="epoch", save_strategy="no", report_to="none", use_cpu=True, disable_tqdm=True)
    return transformers.Trainer(model_init=lambda: transformers.BertForSequenceClassification(cfg), args=args,
                                train_dataset=_Data(), eval_dataset=_Data(n=16))


def test_each_trial_of_the_search_is_a_tuning_run(tmp_path, store_path, sweep_cli, monkeypatch):  # noqa: F811
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    trainer = _trainer(tmp_path)
    study = hyperparameter_search(
        trainer, hp_space=lambda t: {"learning_rate": t.suggest_float("learning_rate", 1e-4, 1e-2, log=True)},
        n_trials=3, project="hf", store=store_path, interval=0.02, quiet=True,
        study=optuna.create_study(study_name="hf", sampler=optuna.samplers.RandomSampler(seed=0)))
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 3
    recs = {r.id: r for r in Store.open(store_path).list_runs(project="hf")}
    assert len(recs) == 3
    for t in study.trials:
        sw = recs[t.user_attrs["wattprint_run_id"]].meta["sweep"]
        assert sw["params"] == t.params and sw["value"] == pytest.approx(t.value)  # the eval loss
        # the trial's step was reported as progress through trial.report (eval each epoch)
        assert recs[t.user_attrs["wattprint_run_id"]].done == 8
    rc, out, err = sweep_cli("--project", "hf", "--json", "--store", store_path)
    assert rc == 0, err
    assert sorted(t["number"] for t in json.loads(out)["trials"]) == [0, 1, 2]
