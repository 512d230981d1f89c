"""Progress read from the real output of Keras, Lightning (both bars), HF Trainer, tqdm and
plain prints, captured under pipes by ``tests/data/progress/capture.py``.

Each fixture knows the byte offsets where each epoch ended; the lines are replayed in that
order and wattprint must never claim more work done than had ended at that point, and must end
at the right total."""
import json
import pathlib

import pytest

from wattprint.progress_watch import LineProgress, Splitter

DATA = pathlib.Path(__file__).parent / "data" / "progress"

# name: (unit of the progress read, work per epoch in that unit, total it should report)
FORMATS = {
    "keras": ("epoch", 1, 3),            # "Epoch k/3" as epoch k starts
    "print_start": ("epoch", 1, 3),      # a bare "Epoch k/3" header before the work
    "print_end": ("epoch", 1, 3),        # "epoch k/3 loss=..." after the work
    "tqdm": ("step", 25, None),          # one 25-step bar per epoch, labelled "epoch k"
    "lightning_tqdm": ("step", 20, None),  # "Epoch 0: ...| 5/20 [", no epoch count shown
    "lightning_rich": ("step", 20, 60),  # "Epoch 2/2 ━━━ 20/20": epochs 0..2
    "hf_trainer": ("step", 8, 24),       # one bar over max_steps
}


def _fixture(name):
    meta = json.loads((DATA / f"{name}.json").read_text())
    streams = {s: (DATA / f"{name}.{s}").read_bytes() for s in ("stdout", "stderr")}
    return meta, streams


def _replay(name, order):
    """Feed the fixture epoch by epoch; yield (epochs ended, done claimed so far, total)."""
    meta, streams = _fixture(name)
    lp = LineProgress()
    split = {s: Splitter() for s in streams}
    pos = {"stdout": 0, "stderr": 0}
    claimed, total = 0.0, None
    bounds = meta["ends"] + [[len(streams["stdout"]), len(streams["stderr"])]]
    for ended, (o, e) in enumerate(bounds):
        for s, upto in sorted(zip(("stdout", "stderr"), (o, e)), reverse=order == "stderr first"):
            chunk = streams[s][pos[s]:upto]
            pos[s] = upto
            for line in split[s].feed(chunk):
                got = lp.feed(line)
                if got is not None:
                    claimed, total = max(claimed, got[0]), got[1]
                yield ended, claimed, total
    got = lp.end()  # the command exited with 0
    if got is not None:
        claimed, total = max(claimed, got[0]), got[1]
    yield len(meta["ends"]), claimed, total


@pytest.mark.parametrize("order", ["stdout first", "stderr first"])
@pytest.mark.parametrize("name", sorted(FORMATS))
def test_never_ahead_of_the_work_and_ends_at_the_total(name, order):
    unit, per_epoch, want_total = FORMATS[name]
    meta, _ = _fixture(name)
    seen = list(_replay(name, order))
    for ended, claimed, _ in seen:
        # within an epoch a bar may show its steps; an epoch count only what has ended
        allowed = ended * per_epoch + (per_epoch if unit == "step" else 0)
        assert claimed <= allowed, (name, ended, claimed)
    _, claimed, total = seen[-1]
    assert claimed == meta["epochs"] * per_epoch
    assert total == want_total


def test_keras_epoch_counts_only_after_the_next_header():
    meta, streams = _fixture("keras")
    lp = LineProgress()
    text = streams["stdout"][:meta["ends"][0][0]]  # all of epoch 1, up to its end
    got = [lp.feed(line) for line in Splitter().feed(text)]
    assert all(g is None for g in got)  # "Epoch 1/3" announced it; nothing is done yet
    rest = streams["stdout"][meta["ends"][0][0]:meta["ends"][1][0]]
    got = [g for g in map(lp.feed, Splitter().feed(rest)) if g is not None]
    assert got == [(1, 3)]  # "Epoch 2/3": epoch 1 is done
    assert lp.end() == (2, 3)


def test_lightning_bars_skip_sanity_and_validation_bars():
    _, streams = _fixture("lightning_tqdm")
    lines = Splitter().feed(streams["stdout"])
    assert any(line.startswith("Validation DataLoader") for line in lines)  # the fixture has them
    lp = LineProgress()
    done = [g[0] for g in map(lp.feed, lines) if g is not None]
    assert done == sorted(done) and done[-1] == 60


def test_a_failed_command_leaves_the_announced_epoch_undone():
    lp = LineProgress()
    assert lp.feed("Epoch 1/5") is None
    assert lp.feed("Epoch 2/5") == (1, 5)
    assert lp.feed("Epoch 2/5: starting") == (1, 5)  # said again: still epoch 2 running
    assert lp.end() == (2, 5)  # asked only when the command exited with 0 (Feeder.ended)


@pytest.mark.parametrize("code, last_done", [(0, 2), (1, 1)])
def test_the_last_announced_epoch_counts_only_when_the_command_succeeds(store_path, code, last_done):
    import subprocess
    import sys

    from wattprint.store import open_store

    child = f"import sys; print('Epoch 1/5'); print('Epoch 2/5'); sys.exit({code})"
    r = subprocess.run([sys.executable, "-m", "wattprint", "run", "--quiet", "--store", store_path,
                        "--interval", "0.05", "--", sys.executable, "-c", child],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == code, r.stderr
    st = open_store(store_path, readonly=True)
    rec = st.list_runs()[-1]
    assert rec.status == ("finished" if code == 0 else "failed")
    assert max(row[1] for row in st.progress(rec.key)) == last_done


@pytest.mark.parametrize("line,expect", [
    ("Epoch 3/5", (2, 5)),
    ("[INFO] Epoch 3/5 ...", (2, 5)),
    ("Epoch 3/5 - starting", (2, 5)),
    ("epoch 3/5 loss=0.1", (3, 5)),
    ("Epoch 3/5: train loss 0.1, val 0.2", (3, 5)),
    ("step 30/50", (30, 50)),
])
def test_header_or_result_line(line, expect):
    assert LineProgress().feed(line) == expect


KERAS_SCRIPT = """
import json, os, sys, time
os.environ["KERAS_BACKEND"] = "torch"
import numpy as np, keras
ends = []
class Slow(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        time.sleep(0.25)  # epochs long enough that a claim made as one starts shows
    def on_epoch_end(self, epoch, logs=None):
        ends.append(time.time())
x = np.random.default_rng(0).normal(size=(96, 4)).astype("float32")
m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
m.compile(optimizer="sgd", loss="mse")
m.fit(x, x.sum(1, keepdims=True), epochs=4, batch_size=16, callbacks=[Slow()])
json.dump(ends, open(sys.argv[1], "w"))
"""


@pytest.mark.frameworks
@pytest.mark.slow
def test_wattprint_run_of_keras_never_stores_an_epoch_before_it_ends(tmp_path):
    import importlib.util
    import subprocess
    import sys

    if not (importlib.util.find_spec("keras") and importlib.util.find_spec("torch")):
        pytest.skip("needs keras and torch")
    from wattprint.store import Store

    script, ends_file = tmp_path / "fit.py", tmp_path / "ends.json"
    script.write_text(KERAS_SCRIPT)
    r = subprocess.run([sys.executable, "-m", "wattprint", "run", "-q", "--interval", "0.05",
                        "--flush-interval", "0.05", "--run-id", "keras-live", "--",
                        sys.executable, str(script), str(ends_file)],
                       capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    ends = json.loads(ends_file.read_text())
    store = Store.open()
    rec = store.get_run("keras-live")
    rows = store.progress(rec.key)
    assert rec.unit == "epoch" and rec.total == 4
    for t, done, _, _ in rows:
        at = rec.started_at + t + 0.3  # clock slack; an epoch lasts about 1.5 s
        assert done <= sum(1 for e in ends if e <= at), (t, done, ends)
    assert [d for _, d, _, _ in rows] == [1, 2, 3, 4]  # the last one once the command ended


def test_a_bar_labelled_with_its_epoch_counts_it_when_full():
    lp = LineProgress()
    assert lp.feed("epoch 1/8:   0%|          | 0/30 [00:00<?, ?it/s]") is None
    assert lp.feed("epoch 1/8:  50%|█████     | 15/30 [00:00<00:00, 300it/s]") is None
    assert lp.feed("epoch 1/8: 100%|██████████| 30/30 [00:00<00:00, 300it/s]") == (1, 8)
    assert lp.feed("epoch 2/8:   3%|▎         | 1/30 [00:00<00:00, 300it/s]") == (1, 8)
    assert lp.end() == (2, 8)
