"""Time per training step with and without wattprint's callbacks (and the cost of progress()).

    python bench/bench_callbacks.py [--steps 400] [--repeats 5] [--only lightning,huggingface,keras]

Each framework trains a tiny model on the CPU, alternating runs with no callback, a no-op callback and wattprint's.
A no-op callback shows what the framework itself charges for calling a per-step hook. The
per-step time is marginal: (time for N steps - time for N/4 steps) / (3N/4), so the one-off
cost of starting and stopping a run (store, meters) is reported apart. Medians over repeats. The target: the difference
is within the run-to-run noise (printed alongside). Frameworks that are not installed are skipped.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WATTPRINT_STORE", os.path.join(tempfile.mkdtemp(), "runs.sqlite"))


def bench_progress(n=20000):
    import wattprint

    with wattprint.track(interval=0.1, total=n, predict_every=0.1, budget_kwh=1e9,
                         distributed=False) as run:
        t0 = time.perf_counter()
        for i in range(n):
            run.progress(i + 1)
        dt = time.perf_counter() - t0
    return dt / n


def lightning_step_time(steps, variant):
    import lightning.pytorch as pl
    import torch

    from wattprint.integrations.lightning import WattprintCallback

    class M(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = torch.nn.Linear(64, 1)

        def training_step(self, b, _):
            return torch.nn.functional.mse_loss(self.net(b[0]), b[1])

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.01)

    x = torch.randn(steps * 8, 64)
    dl = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, x[:, :1]), batch_size=8)
    class Noop(pl.Callback):
        def on_train_batch_end(self, *a):
            pass

    cbs = {"none": [], "noop": [Noop()], "wattprint": [WattprintCallback(distributed=False)]}[variant]
    tr = pl.Trainer(max_epochs=1, accelerator="cpu", devices=1, callbacks=cbs, logger=False,
                    enable_checkpointing=False, enable_progress_bar=False,
                    enable_model_summary=False)
    t0 = time.perf_counter()
    tr.fit(M(), dl)
    return (time.perf_counter() - t0) / steps


def hf_step_time(steps, variant):
    import torch
    import transformers

    from wattprint.integrations.huggingface import WattprintCallback

    transformers.utils.logging.set_verbosity_error()

    class D(torch.utils.data.Dataset):
        def __len__(self):
            return steps * 4

        def __getitem__(self, i):
            ids = torch.arange(8) + (i % 50)
            return {"input_ids": ids, "labels": torch.tensor(i % 2)}

    cfg = transformers.BertConfig(vocab_size=100, hidden_size=16, num_hidden_layers=1,
                                  num_attention_heads=2, intermediate_size=32, num_labels=2)
    args = transformers.TrainingArguments(
        output_dir=tempfile.mkdtemp(), max_steps=steps, per_device_train_batch_size=4,
        save_strategy="no", report_to="none", use_cpu=True, disable_tqdm=True, logging_steps=10**9)
    class Noop(transformers.TrainerCallback):
        def on_step_end(self, *a, **k):
            pass

    cbs = {"none": [], "noop": [Noop()], "wattprint": [WattprintCallback(distributed=False)]}[variant]
    tr = transformers.Trainer(model=transformers.BertForSequenceClassification(cfg), args=args,
                              train_dataset=D(), callbacks=cbs)
    t0 = time.perf_counter()
    tr.train()
    return (time.perf_counter() - t0) / steps


def keras_step_time(steps, variant):
    import keras
    import numpy as np

    from wattprint.integrations.keras import WattprintCallback

    m = keras.Sequential([keras.Input((64,)), keras.layers.Dense(1)])
    m.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(0).normal(size=(steps * 8, 64)).astype("float32")
    class Noop(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            pass

    cbs = {"none": [], "noop": [Noop()], "wattprint": [WattprintCallback(distributed=False)]}[variant]
    t0 = time.perf_counter()
    m.fit(x, x[:, :1], batch_size=8, epochs=1, verbose=0, callbacks=cbs)
    return (time.perf_counter() - t0) / steps


VARIANTS = ("none", "noop", "wattprint")
FRAMEWORKS = {"lightning": ("lightning", lightning_step_time),
              "huggingface": ("transformers", hf_step_time),
              "keras": ("keras", keras_step_time)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--only", default=",".join(FRAMEWORKS))
    a = ap.parse_args(argv)
    import importlib.util
    import logging

    logging.getLogger("wattprint").setLevel(logging.WARNING)
    print(f"run.progress(): {bench_progress() * 1e6:.1f} µs per call "
          "(with live prediction every 10 % and a budget checked every 1 %)")
    for name in a.only.split(","):
        module, fn = FRAMEWORKS[name]
        if importlib.util.find_spec(module) is None:
            print(f"{name}: not installed, skipped")
            continue
        for v in VARIANTS:  # warm-up: imports, first-call costs
            fn(a.steps // 4, v)
        n, q = a.steps, a.steps // 4
        per = {v: [] for v in VARIANTS}
        fixed = {v: [] for v in VARIANTS}
        for _ in range(a.repeats):
            for v in VARIANTS:
                long_, short = fn(n, v) * n, fn(q, v) * q
                per[v].append((long_ - short) / (n - q))
                fixed[v].append(short - q * per[v][-1])
        m = {v: statistics.median(per[v]) for v in VARIANTS}
        noise = statistics.pstdev(per["none"])
        once = statistics.median(fixed["wattprint"]) - statistics.median(fixed["none"])
        print(f"{name:<12} per step: none {m['none'] * 1e3:.3f} ms, no-op callback "
              f"{(m['noop'] - m['none']) * 1e6:+.1f} µs, wattprint {(m['wattprint'] - m['none']) * 1e6:+.1f} µs "
              f"(vs no-op {(m['wattprint'] - m['noop']) * 1e6:+.1f} µs); run-to-run noise "
              f"±{noise * 1e6:.1f} µs; once per fit {once * 1e3:+.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
