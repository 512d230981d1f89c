"""Keras 3 callback with the real framework on the CPU (torch backend)."""
import os

import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
pytestmark = pytest.mark.frameworks
pytest.importorskip("torch")
keras = pytest.importorskip("keras")

from wattprint.integrations.keras import WattprintCallback  # noqa: E402
from wattprint.store import Store  # noqa: E402


def _model():
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                          keras.layers.Dense(1)])
    m.compile(optimizer="sgd", loss="mse")
    return m


def _data(n=256):
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4)).astype("float32")
    return x, x.sum(1, keepdims=True)


def test_steps_reported_and_energy_in_history():
    x, y = _data()
    cb = WattprintCallback(interval=0.02, intensity="300g/kWh")
    hist = _model().fit(x, y, epochs=3, batch_size=32, verbose=0, callbacks=[cb])
    run = cb.run
    assert run.status == "finished" and run.total == 24
    rows = Store.open().progress(run.record.key)
    done = [d for _, d, _, _ in rows]
    # Steps under 10 ms apart are reported together; the last one always is.
    assert done[-1] == 24 and done == sorted(set(done)) and len(done) >= 3
    assert len(hist.history["energy_kwh"]) == 3 and hist.history["energy_kwh"][-1] > 0
    # every History list lines up with the epochs; predictions are kept beside, one per epoch
    assert {len(v) for v in hist.history.values()} == {3}
    assert not any(k.startswith("predicted") for k in hist.history)
    assert len(cb.predictions) == 3
    assert all(p is None or (p.reliable and str(p).startswith("Predicted total")) for p in cb.predictions)
    assert cb.footprint.co2e_kg > 0


def test_budget_stop():
    x, y = _data()
    cb = WattprintCallback(interval=0.02, budget_kwh=1e-12, on_exceed="stop")
    hist = _model().fit(x, y, epochs=50, batch_size=32, verbose=0, callbacks=[cb])
    assert len(hist.history["loss"]) < 50
    assert cb.run.status == "stopped"
