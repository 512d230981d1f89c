"""A run driven by a given clock: progress, prediction and flush logic without real sleeps.

The sampler thread waits an hour between polls here, so every reading comes from the test
advancing the clock and asking for a fresh one; the figures are exact, whatever the load.
"""
import pytest

import wattprint
from wattprint.meters.base import Domain
from wattprint.run.recorder import Recorder
from wattprint.store import DomainTotal, RunRecord, Store
from clock import ManualClock


@pytest.fixture(autouse=True)
def _python_wording(monkeypatch):
    """The CLI's main(), run in-process by other tests, switches hints to CLI wording for good."""
    from wattprint import fmt

    monkeypatch.setitem(fmt._INTERFACE, "name", "python")

POWER_W = 250.0


class ClockMeter:
    """A counter at constant power on the test's clock."""

    source = "analytic"

    def __init__(self, clock, power=POWER_W):
        self.clock, self.power = clock, power

    def domains(self):
        return [Domain("gpu:0", "gpu", self.source, "measured", "constant power on a test clock",
                       counter=True)]

    def read(self):
        return {"gpu:0": self.power * self.clock()}

    def close(self):
        pass


def _run(clock, **kw):
    return wattprint.track(meters=[ClockMeter(clock)], interval=3600, clock=clock, quiet=True,
                           distributed=False, predict_every=None, **kw)


def test_energy_and_windows_follow_the_given_clock(store_path):
    clock = ManualClock()
    with _run(clock, store=store_path) as run:
        clock.t += 10
        assert run.elapsed() == pytest.approx(10)
        assert run.energy().total_j == pytest.approx(10 * POWER_W)
        with run.window("eval") as w:
            clock.t += 4
        assert w.seconds == pytest.approx(4) and w.total_j == pytest.approx(4 * POWER_W)
        clock.t += 6
    assert run.energy().seconds == pytest.approx(20)
    assert run.record.energy_j == pytest.approx(20 * POWER_W)
    assert run.record.duration_s == pytest.approx(20)


def test_progress_carries_the_last_reading_to_now_and_predicts_exactly(store_path):
    clock = ManualClock()
    with _run(clock, store=store_path, total=100) as run:
        clock.t += 10
        run.energy()                      # a reading at 10 s: power is known from here on
        clock.t += 2
        run.progress(12)                  # 2 s after the reading: carried forward at 250 W
        assert run.last_progress == pytest.approx((12, 12, 12 * POWER_W))
        for done in range(13, 60):
            clock.t += 1
            run.energy()
            run.progress(done)
        p = run.predict()
    assert p.energy_kwh is not None
    # one unit per second at 250 W: 100 units take 100 s and 25 kJ, with no warm-up to drop
    assert p.energy_kwh == pytest.approx(100 * POWER_W / 3.6e6, rel=0.02)
    assert run.progress_rows()[0] == pytest.approx((12, 12, 12 * POWER_W))


def test_recorder_flushes_when_the_clock_says_so(store_path):
    clock = ManualClock()
    store = Store.open(store_path)
    domains = [Domain("gpu:0", "gpu", "analytic", "measured", "test", counter=True)]
    rec = RunRecord(id="r1", status="running", started_at=0.0, updated_at=0.0,
                    domains=[DomainTotal("gpu:0", "gpu", "analytic", "measured", "test", 0, 0)])
    key = store.create_run(rec)
    latest = {"t": 0.0, "e": {"gpu:0": 0.0}}
    rc = Recorder(store, key, domains, frozenset({"gpu:0"}), interval=1.0, flush_interval=5.0,
                  clock=clock, latest=lambda: (latest["t"], latest["e"]))
    rc.add_sample(1.0, {"gpu:0": 250.0}, {"gpu:0": 250.0})
    clock.t += 4.9
    assert not rc.due()
    clock.t += 0.2
    assert rc.due()
    assert rc.flush({"status": "running"})
    assert not rc.due()
    got = store.get_run("r1")
    assert got.energy_j == pytest.approx(250.0) and got.duration_s == pytest.approx(1.0)
    # the run starts at (0 s, 0 J), then the sample
    assert [(t, e) for t, _, e, _ in store.samples(key)] == [(0.0, 0.0), (1.0, 250.0)]
    # nothing pending: the totals come from the latest reading
    latest.update(t=7.0, e={"gpu:0": 1750.0})
    assert rc.flush({})
    assert store.get_run("r1").energy_j == pytest.approx(1750.0)


def test_progress_rows_for_the_store_follow_a_token_bucket_on_the_given_clock(store_path):
    from wattprint.run.recorder import PROGRESS_BURST

    clock = ManualClock()
    with _run(clock, store=store_path, total=10_000, flush_interval=3600) as run:
        for done in range(1, 1001):       # 1000 reports in 1 s of the run's time
            clock.t += 0.001
            run.progress(done)
    rows = run.store.progress(run.record.key)
    # the burst, ~2 per interval of refill (interval = 3600 s here: none), and the last one
    assert len(rows) == PROGRESS_BURST + 1
    assert rows[-1][1] == 1000
