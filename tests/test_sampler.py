import math
import threading
import time

import pytest

from wattprint.sampler import Sampler

# P(t) = 100 + 60 sin(2πt/0.7) W, with its exact integral.
P = lambda t: 100 + 60 * math.sin(2 * math.pi * t / 0.7)  # noqa: E731
E = lambda t: 100 * t - 60 * 0.7 / (2 * math.pi) * math.cos(2 * math.pi * t / 0.7)  # noqa: E731


def test_counter_domain_matches_analytic_energy(analytic):
    m = analytic(P, E, counter=True)
    s = Sampler([m], interval=0.05)
    s.start()
    time.sleep(1.2)
    snap = s.stop()
    assert snap.energy_j["cpu:0"] == pytest.approx(m.true_energy(), rel=1e-9)
    assert snap.t == pytest.approx(m.reads[-1] - m.reads[0], abs=1e-3)


def test_power_domain_is_integrated_within_half_a_percent(analytic):
    m = analytic(P, E, counter=False, name="gpu:0", kind="gpu")
    s = Sampler([m], interval=0.01)
    s.start()
    time.sleep(1.5)
    snap = s.stop()
    true = m.true_energy()
    assert snap.energy_j["gpu:0"] == pytest.approx(true, rel=0.005)
    # the timeline holds the power of each interval
    powers = [p["gpu:0"] for _, p in s.timeline]
    assert min(powers) < 60 and max(powers) > 140


def test_failing_meter_is_logged_once_and_others_go_on(analytic, caplog):
    good = analytic(lambda t: 50.0, lambda t: 50.0 * t)
    bad = analytic(lambda t: 10.0, lambda t: 10.0 * t, name="gpu:0", kind="gpu", fail_after=3)
    s = Sampler([good, bad], interval=0.02)
    with caplog.at_level("WARNING", logger="wattprint"):
        s.start()
        time.sleep(0.4)
        snap = s.stop()
    assert s.degraded
    assert len([r for r in caplog.records if "read failed" in r.getMessage()]) == 1
    assert snap.energy_j["cpu:0"] == pytest.approx(good.true_energy(), rel=1e-9)
    # the failed meter keeps what it had measured before failing
    assert snap.energy_j["gpu:0"] == pytest.approx(bad.true_energy(), rel=1e-9)
    assert snap.energy_j["gpu:0"] < snap.energy_j["cpu:0"] / 5


def test_callback_errors_never_reach_the_caller(analytic):
    def boom(t, e, p):
        raise RuntimeError("callback bug")

    s = Sampler([analytic(P, E)], interval=0.02, on_sample=boom, after_poll=lambda: 1 / 0)
    s.start()
    time.sleep(0.15)
    s.stop()
    assert s.degraded and any("callback bug" in p for p in s.problems)


def test_hung_meter_does_not_block_snapshots(analytic):
    release = threading.Event()

    class Hanging(analytic):
        def read(self):
            if len(self.reads) > 2:
                release.wait(5)
            return super().read()

    m = Hanging(P, E)
    s = Sampler([m], interval=0.01)
    s.start()
    time.sleep(0.1)
    t0 = time.monotonic()
    snap = s.snapshot(fresh=True, timeout=0.2)
    assert time.monotonic() - t0 < 1.0
    assert snap.energy_j["cpu:0"] >= 0
    release.set()
    s.stop()


def test_interval_floor_and_wrap_limited_polling(analytic):
    with pytest.raises(ValueError):
        Sampler([], interval=0.005)
    with pytest.raises(ValueError):
        Sampler([], interval=float("nan"))
    m = analytic(P, E, max_read_interval_s=0.25)
    s = Sampler([m], interval=10.0)
    assert s.poll_interval == 0.25
    s.start()
    time.sleep(0.6)
    s.stop()
    # polled by the wrap limit, not the 10 s interval: start + 2 polls + final read
    assert len(m.reads) >= 4


def test_timeline_is_bounded(analytic):
    s = Sampler([analytic(P, E)], interval=0.01, timeline=10)
    s.start()
    time.sleep(0.3)
    s.stop()
    assert len(s.timeline) == 10
    assert s.polls > 10
