"""Regenerate the progress-output fixtures: run the real libraries on the CPU, save their bytes.

    python tests/data/progress/capture.py [NAME ...]

Each script below runs under pipes (as under ``wattprint run``) with ``PYTHONUNBUFFERED=1``.
Saved per NAME: ``NAME.stdout`` and ``NAME.stderr`` (raw bytes, ``\\r`` kept) and ``NAME.json``:
``ends`` holds, for each finished epoch, the byte offsets ``[stdout, stderr]`` reached when it
ended. At each epoch end the child tells us over a pipe and waits until we have drained its
output, so an offset never includes what the next epoch wrote.
"""
from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
EPOCHS = 3

_MARK = """
import os, sys
def mark():
    sys.stdout.flush(); sys.stderr.flush()
    w, r = (int(x) for x in os.environ["WP_MARK_FDS"].split(","))
    os.write(w, b"e"); os.read(r, 1)
"""

SCRIPTS = {
    # Keras prints "Epoch k/N" as epoch k starts; under a pipe its bar prints once per epoch.
    "keras": """
import os; os.environ["KERAS_BACKEND"] = "torch"
import numpy as np, keras
class M(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None): mark()
x = np.random.default_rng(0).normal(size=(256, 4)).astype("float32"); y = x.sum(1, keepdims=True)
m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8), keras.layers.Dense(1)])
m.compile(optimizer="sgd", loss="mse")
m.fit(x, y, epochs=EPOCHS, batch_size=32, validation_split=0.25, callbacks=[M()])
print("done")
""",
    "lightning_tqdm": """
import torch, lightning as L
from torch.utils.data import DataLoader, TensorDataset
class M(L.Callback):
    def on_train_epoch_end(self, trainer, module): mark()
class Net(L.LightningModule):
    def __init__(self): super().__init__(); self.l = torch.nn.Linear(4, 1)
    def training_step(self, b, i): x, y = b; return torch.nn.functional.mse_loss(self.l(x), y)
    def validation_step(self, b, i): x, y = b; self.log("val_loss", torch.nn.functional.mse_loss(self.l(x), y))
    def configure_optimizers(self): return torch.optim.SGD(self.parameters(), lr=0.01)
x = torch.randn(160, 4); ds = TensorDataset(x, x.sum(1, keepdim=True))
BARS
t = L.Trainer(max_epochs=EPOCHS, accelerator="cpu", logger=False, enable_checkpointing=False,
              callbacks=[M()] + bars, limit_val_batches=3)
t.fit(Net(), DataLoader(ds, batch_size=8), DataLoader(ds, batch_size=8))
""",
    "hf_trainer": """
import torch
from torch.utils.data import Dataset
from transformers import Trainer, TrainingArguments, TrainerCallback
class M(TrainerCallback):
    def on_epoch_end(self, args, state, control, **kw): mark()
class DS(Dataset):
    def __len__(self): return 64
    def __getitem__(self, i):
        g = torch.Generator().manual_seed(i); x = torch.randn(4, generator=g)
        return {"x": x, "labels": x.sum(0, keepdim=True)}
class Net(torch.nn.Module):
    def __init__(self): super().__init__(); self.l = torch.nn.Linear(4, 1)
    def forward(self, x, labels=None):
        out = self.l(x); return {"loss": torch.nn.functional.mse_loss(out, labels), "logits": out}
args = TrainingArguments(output_dir=os.environ["WP_TMP"], num_train_epochs=EPOCHS,
                         per_device_train_batch_size=8, logging_steps=4, report_to=[],
                         save_strategy="no", use_cpu=True, disable_tqdm=False)
Trainer(model=Net(), args=args, train_dataset=DS(), callbacks=[M()]).train()
""",
    "tqdm": """
import time
from tqdm import tqdm
for e in range(EPOCHS):
    for b in tqdm(range(25), desc=f"epoch {e + 1}", mininterval=0):
        time.sleep(0.002)
    mark()
""",
    "print_end": """
import time
for e in range(1, EPOCHS + 1):
    time.sleep(0.05)
    mark()  # the work of epoch e ends here; its line follows
    print(f"epoch {e}/{EPOCHS} loss={1 / e:.3f}")
""",
    "print_start": """
import time
for e in range(1, EPOCHS + 1):
    print(f"Epoch {e}/{EPOCHS}")
    time.sleep(0.05)
    mark()
    print(f"loss={1 / e:.3f}")
""",
}
SCRIPTS["lightning_rich"] = SCRIPTS["lightning_tqdm"].replace(
    "BARS", "from lightning.pytorch.callbacks import RichProgressBar; bars = [RichProgressBar()]")
SCRIPTS["lightning_tqdm"] = SCRIPTS["lightning_tqdm"].replace(  # the default is Rich's when rich is installed
    "BARS", "from lightning.pytorch.callbacks import TQDMProgressBar; bars = [TQDMProgressBar()]")


def capture(name: str, tmp: str) -> dict:
    code = _MARK + f"EPOCHS = {EPOCHS}\n" + SCRIPTS[name]
    mark_r, mark_w = os.pipe()   # child -> us: an epoch ended
    ack_r, ack_w = os.pipe()     # us -> child: drained, go on
    env = dict(os.environ, PYTHONUNBUFFERED="1", WP_MARK_FDS=f"{mark_w},{ack_r}", WP_TMP=tmp,
               TERM="dumb")
    env.pop("WATTPRINT_PROGRESS_FILE", None)
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=env, pass_fds=(mark_w, ack_r), cwd=tmp)
    os.close(mark_w)
    os.close(ack_r)
    out = {"stdout": bytearray(), "stderr": bytearray()}
    fds = {child.stdout.fileno(): "stdout", child.stderr.fileno(): "stderr"}
    ends = []
    sel = selectors.DefaultSelector()
    for fd in (*fds, mark_r):
        sel.register(fd, selectors.EVENT_READ)
    open_fds = set(fds) | {mark_r}
    while open_fds:
        for key, _ in sel.select():
            fd = key.fd
            data = os.read(fd, 65536)
            if not data:
                sel.unregister(fd)
                open_fds.discard(fd)
                continue
            if fd == mark_r:
                for _ in data:
                    _drain(fds, out)  # all it wrote before the mark is in the pipes by now
                    ends.append([len(out["stdout"]), len(out["stderr"])])
                    os.write(ack_w, b"k")
            else:
                out[fds[fd]] += data
    code = child.wait()
    os.close(mark_r)
    os.close(ack_w)
    if code != 0:
        raise SystemExit(f"{name}: exit {code}\n{out['stderr'].decode(errors='replace')[-3000:]}")
    for stream in ("stdout", "stderr"):
        with open(os.path.join(HERE, f"{name}.{stream}"), "wb") as f:
            f.write(bytes(out[stream]))
    meta = {"epochs": EPOCHS, "ends": ends}
    with open(os.path.join(HERE, f"{name}.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    return meta


def _drain(fds, out) -> None:
    for fd, stream in fds.items():
        os.set_blocking(fd, False)
        try:
            while True:
                data = os.read(fd, 65536)
                if not data:
                    break
                out[stream] += data
        except BlockingIOError:
            pass
        finally:
            os.set_blocking(fd, True)


if __name__ == "__main__":
    import tempfile

    for name in sys.argv[1:] or SCRIPTS:
        with tempfile.TemporaryDirectory() as tmp:
            meta = capture(name, tmp)
        print(name, meta["ends"])
