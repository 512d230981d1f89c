import math
import threading
import time

import pytest

from wattprint.sampler import Sampler
from clock import ManualClock

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
    powers = []
    s = Sampler([m], interval=0.01, on_sample=lambda t, e, p: powers.append(p["gpu:0"]))
    s.start()
    time.sleep(1.5)
    snap = s.stop()
    true = m.true_energy()
    assert snap.energy_j["gpu:0"] == pytest.approx(true, rel=0.005)
    # each sample carries the power of its interval
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


# -- each domain fails and recovers on its own (a test clock, explicit polls) ----------------
from wattprint.meters.base import Domain, MeterEvent  # noqa: E402
from wattprint import sampler as sampler_mod  # noqa: E402


class ScriptedMeter:
    """Domains at constant power on the test's clock; ``broken`` says what a read does now:
    None (all domains), "raise", or a set of domain names left out of the reading."""

    source = "scripted"

    def __init__(self, clock, power, counter=True):
        self.clock, self.power, self.counter = clock, dict(power), counter
        self.broken = None
        self.reads = 0
        self.offset = {}  # name -> joules added to a counter without energy (a reset)

    def domains(self):
        return [Domain(n, n.split(":")[0], self.source, "measured", "test", counter=self.counter)
                for n in self.power]

    def read(self):
        self.reads += 1
        if self.broken == "raise":
            raise OSError("device went away")
        out = {n: w * self.clock() + self.offset.get(n, 0.0) if self.counter else w
               for n, w in self.power.items()}
        return {n: v for n, v in out.items() if n not in (self.broken or ())}

    def close(self):
        pass


def _poll(clock, s, seconds=1.0):
    clock.t += seconds
    return s.snapshot(fresh=True).energy_j


def test_a_meter_that_fails_for_a_while_loses_no_counter_energy(caplog):
    clock = ManualClock(500.0)
    m = ScriptedMeter(clock, {"gpu:0": 100.0, "gpu:1": 50.0})
    s = Sampler([m], interval=3600, clock=clock)
    with caplog.at_level("WARNING", logger="wattprint"):
        s.start()
        _poll(clock, s)
        m.broken = "raise"
        for _ in range(10):  # 5 tries, then one every RETRY_S
            _poll(clock, s)
        tries = m.reads
        m.broken = None
        _poll(clock, s, sampler_mod.RETRY_S)
        snap = s.stop()
    assert tries == 2 + sampler_mod.MAX_CONSECUTIVE_FAILURES + 1  # start, 1 good, 5, 1 retry
    assert m.reads == tries + 1  # and it was read again when it came back
    seconds = 1 + 10 + sampler_mod.RETRY_S
    assert snap.energy_j == pytest.approx({"gpu:0": 100.0 * seconds, "gpu:1": 50.0 * seconds})
    assert [(e["t"], e["domain"], e["kind"]) for e in s.events] == [
        (2.0, "gpu:0", "unreadable"), (2.0, "gpu:1", "unreadable"),
        (seconds, "gpu:0", "recovered"), (seconds, "gpu:1", "recovered")]
    assert "OSError: device went away" in s.events[0]["detail"]
    assert s.degraded and len([r for r in caplog.records if "read failed" in r.getMessage()]) == 1
    assert len(caplog.records) == 1


def test_a_domain_missing_from_a_reading_is_bridged_and_the_others_go_on():
    clock = ManualClock(500.0)
    m = ScriptedMeter(clock, {"cpu:0": 30.0, "dram:0": 4.0})
    s = Sampler([m], interval=3600, clock=clock)
    s.start()
    m.broken = {"cpu:0"}
    seen = [_poll(clock, s) for _ in range(3)]
    m.broken = None
    e = _poll(clock, s)
    s.stop()
    assert [x["dram:0"] for x in seen] == pytest.approx([4.0, 8.0, 12.0])
    assert [x["cpu:0"] for x in seen] == [0.0, 0.0, 0.0]
    assert e == pytest.approx({"cpu:0": 120.0, "dram:0": 16.0})
    assert s.power()["cpu:0"] == pytest.approx(30.0)  # over the whole gap
    assert [(e["kind"], e["detail"]) for e in s.events][0] == ("unreadable", "no value in the reading")


def test_a_power_domain_is_interpolated_across_its_gap():
    clock = ManualClock(500.0)
    m = ScriptedMeter(clock, {"gpu:0": 200.0}, counter=False)
    s = Sampler([m], interval=3600, clock=clock)
    s.start()
    m.broken = {"gpu:0"}
    _poll(clock, s)
    _poll(clock, s)
    m.broken = None
    assert _poll(clock, s)["gpu:0"] == pytest.approx(600.0)


def test_a_counter_going_back_counts_nothing_for_that_interval(caplog):
    clock = ManualClock(500.0)
    m = ScriptedMeter(clock, {"gpu:0": 100.0})
    s = Sampler([m], interval=3600, clock=clock)
    with caplog.at_level("WARNING", logger="wattprint"):
        s.start()
        _poll(clock, s)
        m.offset["gpu:0"] = -1e6  # the driver reloaded
        _poll(clock, s)
        _poll(clock, s)
        m.offset["gpu:0"] = -2e6
        e = _poll(clock, s)
    assert e["gpu:0"] == pytest.approx(200.0)  # seconds 1 and 3 counted, 2 and 4 lost
    assert [(x["t"], x["kind"]) for x in s.events] == [(2.0, "reset"), (4.0, "reset")]
    assert s.degraded and len(caplog.records) == 1  # one warning per kind


class EventfulMeter(ScriptedMeter):
    """Reports the events a test hands it, as a meter that checks its counters would."""

    def __init__(self, clock, power):
        super().__init__(clock, power)
        self.pending = []

    def events(self):
        out, self.pending = self.pending, []
        return out


def test_meter_events_are_stamped_bounded_and_wraps_listed_once():
    clock = ManualClock(500.0)
    m = EventfulMeter(clock, {"cpu:0": 10.0})
    s = Sampler([m], interval=3600, clock=clock)
    s.start()
    for _ in range(3):
        m.pending = [MeterEvent("cpu:0", "wrap", "at 262143328850 uJ")]
        _poll(clock, s)
    for i in range(sampler_mod.MAX_EVENTS + 5):
        m.pending = [MeterEvent("cpu:0", "jump", f"+{i} kJ")]
        _poll(clock, s)
    events = s.events
    assert len(events) == sampler_mod.MAX_EVENTS + 1
    assert events[0]["kind"] == "wrap" and events[0]["t"] == 1.0
    assert [e["kind"] for e in events[1:-1]] == ["jump"] * (sampler_mod.MAX_EVENTS - 1)
    assert events[-1]["kind"] == "omitted" and events[-1]["detail"].startswith("6 later")
    assert s.degraded


def test_meter_detail_says_why_a_domain_is_missing():
    clock = ManualClock(500.0)
    m = EventfulMeter(clock, {"cpu:0": 10.0})
    s = Sampler([m], interval=3600, clock=clock)
    s.start()
    m.broken = {"cpu:0"}
    for _ in range(3):  # one event per outage, however many failed reads
        m.pending = [MeterEvent("cpu:0", "unreadable", "energy_uj: No such file or directory")]
        _poll(clock, s)
    assert [(e["kind"], e["detail"]) for e in s.events] == [
        ("unreadable", "energy_uj: No such file or directory")]
