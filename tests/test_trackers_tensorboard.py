"""TensorBoard: event files written by wattprint (its own writer, or a SummaryWriter given to
it), read back with TensorBoard's own EventAccumulator."""
import os

import pytest

from clock import ManualClock
from test_trackers_helpers import POWER_W, _python_wording, tracked, train  # noqa: F401

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

ENERGY = "wattprint/energy_kwh"


def read(logdir):
    acc = EventAccumulator(str(logdir), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    return acc


def test_tensorboard_dir_gets_a_point_per_step_the_summary_and_the_report(tmp_path, store_path):
    clock = ManualClock()
    logdir = tmp_path / "tb"
    with tracked(clock, store_path, log_to=f"tensorboard:{logdir}", region="FR", total=5) as run:
        train(clock, run, 5)
    acc = read(logdir)
    points = acc.Scalars(ENERGY)
    assert sorted({p.step for p in points}) == [1, 2, 3, 4, 5]
    assert points[-1].value == pytest.approx(run.record.energy_kwh, rel=1e-6)  # float32 in events
    assert acc.Scalars("wattprint/power_w")[-1].value == pytest.approx(POWER_W)
    assert acc.Scalars("wattprint/co2e_kg")[-1].value > 0
    assert {"wattprint/summary/text_summary", "wattprint/statement/text_summary"} <= set(
        acc.Tags()["tensors"])
    assert os.path.exists(logdir / f"wattprint-{run.run_id}.html")
    assert run.record.meta["trackers"] == {"tensorboard": f"TensorBoard event files in {logdir}"}


def test_a_given_summary_writer_is_written_to_and_left_open(tmp_path, store_path):
    torch_tb = pytest.importorskip("torch.utils.tensorboard")
    writer = torch_tb.SummaryWriter(str(tmp_path / "tb"))
    clock = ManualClock()
    with tracked(clock, store_path, log_to=writer) as run:
        train(clock, run, 3)
    writer.add_scalar("loss", 0.5, 3)  # still open: the user's writer
    writer.close()
    acc = read(tmp_path / "tb")
    assert [p.step for p in acc.Scalars(ENERGY)][:3] == [1, 2, 3]
    assert acc.Scalars(ENERGY)[-1].value == pytest.approx(run.record.energy_kwh, rel=1e-6)
    assert acc.Scalars("loss")[0].value == pytest.approx(0.5)
    assert os.path.exists(tmp_path / "tb" / f"wattprint-{run.run_id}.md")


def _wattprint(*args):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "wattprint", *args], capture_output=True,
                          text=True, timeout=300)


def test_wattprint_run_log_to(tmp_path, store_path):
    import sys

    from wattprint.store import open_store

    logdir = tmp_path / "tb"
    r = _wattprint("run", "--log-to", f"tensorboard:{logdir}", "--run-id", "cli-tb", "--store",
                   store_path, "--quiet", "--", sys.executable, "-c",
                   "print('epoch 1/2', flush=True); print('epoch 2/2', flush=True)")
    assert r.returncode == 0, r.stderr
    assert f"wattprint: logging energy to TensorBoard event files in {logdir}" not in r.stderr  # --quiet
    record = open_store(store_path).get_run("cli-tb")
    points = read(logdir).Scalars(ENERGY)
    assert points and points[-1].value == pytest.approx(record.energy_kwh, rel=1e-6)
    assert os.path.exists(logdir / "wattprint-cli-tb.html")
    assert record.meta["trackers"] == {"tensorboard": f"TensorBoard event files in {logdir}"}


def test_wattprint_run_refuses_an_unknown_tracker(store_path):
    r = _wattprint("run", "--log-to", "mlflow,comet", "--store", store_path, "--", "true")
    assert r.returncode == 2
    assert "--log-to: unknown tracker 'comet'; choose from mlflow, wandb, tensorboard:DIR" in r.stderr


def test_the_prediction_appears_once_reliable(tmp_path, store_path):
    clock = ManualClock()
    logdir = tmp_path / "tb"
    with tracked(clock, store_path, log_to=f"tensorboard:{logdir}", total=40) as run:
        train(clock, run, 40)
    acc = read(logdir)
    predicted = acc.Scalars("wattprint/predicted_energy_kwh")
    assert predicted
    whole = 40 * 2.0 * POWER_W / 3.6e6  # constant power: the whole run is known early
    assert predicted[-1].value == pytest.approx(whole, rel=0.02)
    low, high = acc.Scalars("wattprint/predicted_energy_kwh_low"), acc.Scalars("wattprint/predicted_energy_kwh_high")
    assert low[-1].value <= predicted[-1].value <= high[-1].value


def test_without_progress_a_point_comes_every_idle_interval(tmp_path, store_path):
    import time

    from wattprint.plugins.trackers import TrackersPlugin
    from wattprint.run import Run
    from wattprint.run.options import options
    from test_trackers_helpers import ClockMeter

    clock = ManualClock()
    logdir = tmp_path / "tb"
    opts = options(meters=[ClockMeter(clock)], interval=3600, quiet=True, distributed=False,
                   store=store_path, predict_every=None)
    plugin = TrackersPlugin([f"tensorboard:{logdir}"], idle_s=0.05)
    with Run(opts, plugins=[plugin], clock=clock) as run:
        clock.t += 30  # no progress at all: the writer thread notes points on its own
        run.energy()  # a fresh reading at the new time
        deadline = time.monotonic() + 60
        while not _scalars(logdir) and time.monotonic() < deadline:
            time.sleep(0.05)  # polling for the writer thread's file, with a generous deadline
    points = read(logdir).Scalars(ENERGY)
    assert len(points) >= 2  # one without progress, and the final one
    assert points[0].step == 30  # no step known: seconds since the start
    assert points[-1].value == pytest.approx(run.record.energy_kwh, rel=1e-6)


def _scalars(logdir):
    try:
        return read(logdir).Scalars(ENERGY)
    except KeyError:
        return []


def test_trackers_are_imported_only_when_a_run_starts(tmp_path):
    import subprocess
    import sys

    code = ("import sys, wattprint; r = wattprint.track(log_to=['mlflow', 'wandb', 'tensorboard:x'], "
            f"store={str(tmp_path / 's.sqlite')!r}); "
            "print(sorted(m for m in ('mlflow', 'wandb', 'tensorboardX', 'tensorboard') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_a_tracker_not_installed_is_refused_with_the_install_command(monkeypatch, store_path):
    import sys

    from wattprint.errors import UsageError

    monkeypatch.setitem(sys.modules, "wandb", None)  # Python's way to make an import fail
    with pytest.raises(UsageError, match=r"needs the wandb package; install it with: pip install 'wattprint\[wandb\]'"):
        tracked(ManualClock(), store_path, log_to="wandb")
