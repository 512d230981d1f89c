"""RAPL meter against real files in a fake powercap tree (tests/sysfs.py)."""
import os
import subprocess
import sys
import textwrap
import time

import pytest

from sysfs import DEFAULT_RANGE_UJ, FakeRapl, permission_tests_possible, without_dac_override
from wattprint.meters import MeterUnavailable, rapl
from clock import ManualClock


def test_domains_are_mapped_and_core_skipped(tmp_path):
    FakeRapl(tmp_path, {"package-0": 40.0, "core": 30.0, "uncore": 2.0, "dram": 5.0,
                        "package-1": 35.0, "dram@1": 4.0, "psys": 60.0})
    m = rapl.open(sysfs_root=str(tmp_path))
    by_name = {d.name: d for d in m.domains()}
    assert set(by_name) == {"cpu:0", "cpu:1", "dram:0", "dram:1", "uncore:0", "psys"}
    assert by_name["cpu:0"].kind == "cpu" and by_name["dram:1"].kind == "dram"
    assert by_name["psys"].kind == "psys" and by_name["uncore:0"].kind == "uncore"
    assert all(d.label == "measured" and d.counter and d.source == "rapl" for d in by_name.values())
    assert by_name["cpu:0"].method == "RAPL energy counter (intel-rapl:0 package-0)"
    assert by_name["dram:1"].device == "intel-rapl:1:0"


def test_deterministic_energy_is_exact(tmp_path):
    fake = FakeRapl(tmp_path, {"package-0": 40.0, "dram": 5.0})
    clock = ManualClock()
    m = rapl.open(sysfs_root=str(tmp_path), clock=clock)
    e0 = m.read()
    clock.t += 2.5
    fake.advance(2.5)
    e1 = m.read()
    assert e1["cpu:0"] - e0["cpu:0"] == pytest.approx(100.0, abs=1e-5)
    assert e1["dram:0"] - e0["dram:0"] == pytest.approx(12.5, abs=1e-5)


def test_energy_within_half_percent_of_truth_with_a_writer_thread(tmp_path):
    fake = FakeRapl(tmp_path, {"package-0": 45.0, "dram": 6.0}, start_uj=123_456_789)
    m = rapl.open(sysfs_root=str(tmp_path))
    with fake:
        with fake.hold():
            e0, t0 = m.read(), {k: fake.true_j(k) for k in ("package-0", "dram")}
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            m.read()
            time.sleep(0.01)
            if time.monotonic() > deadline - 0.75:
                fake.set_power("package-0", 90.0)  # a step mid-run
        with fake.hold():
            e1, t1 = m.read(), {k: fake.true_j(k) for k in ("package-0", "dram")}
    for dom, key in (("cpu:0", "package-0"), ("dram:0", "dram")):
        truth = t1[key] - t0[key]
        assert truth > 1.0
        assert abs((e1[dom] - e0[dom]) - truth) <= 0.005 * truth


def test_wraparound_is_corrected(tmp_path):
    # Counter wraps every 10 J; each step adds 4 J, so it wraps every two or three reads.
    fake = FakeRapl(tmp_path, {"package-0": 4.0}, max_range_uj=10_000_000, start_uj=7_000_000)
    clock = ManualClock()
    m = rapl.open(sysfs_root=str(tmp_path), clock=clock)
    (dom,) = m.domains()
    assert dom.max_read_interval_s == pytest.approx(0.5 * 10.0 / rapl.MAX_POWER_W)
    e0 = m.read()["cpu:0"]
    last = e0
    for _ in range(20):
        clock.t += 1.0
        fake.advance(1.0)
        e = m.read()["cpu:0"]
        assert e > last  # cumulative: never goes back across a wrap
        last = e
    # 80 J through a 10 J counter (plus 1 µJ per wrap: the counter's 0 state)
    assert last - e0 == pytest.approx(80.0, abs=1e-4)
    assert {e.kind for e in m.events()} == {"wrap"}


def test_wraparound_with_writer_thread(tmp_path):
    # Wraps every 120 ms, read every ~10 ms. A paused process pauses the writer too
    # (max_tick_s), so no wrap hides between two reads however loaded the machine.
    fake = FakeRapl(tmp_path, {"package-0": 50.0}, max_range_uj=6_000_000, max_tick_s=0.005)
    m = rapl.open(sysfs_root=str(tmp_path))
    with fake:
        with fake.hold():
            e0, t0 = m.read()["cpu:0"], fake.true_j("package-0")
        for _ in range(120):
            time.sleep(0.01)
            m.read()
        with fake.hold():
            e1, t1 = m.read()["cpu:0"], fake.true_j("package-0")
    assert t1 - t0 > 5 * 6.0  # many wraps happened
    assert abs((e1 - e0) - (t1 - t0)) <= 0.005 * (t1 - t0)


def test_mmio_mirror_is_dropped_and_msr_kept(tmp_path):
    FakeRapl(tmp_path, {"package-0": 40.0, "dram": 5.0}, mmio=True)
    assert os.path.islink(os.path.join(tmp_path, "sys/class/powercap/intel-rapl-mmio:0"))
    m = rapl.open(sysfs_root=str(tmp_path))
    cpus = [d for d in m.domains() if d.kind == "cpu"]
    assert len(cpus) == 1 and cpus[0].device == "intel-rapl:0"


def test_mmio_only_zone_is_used(tmp_path):
    # Some parts expose the package only through MMIO.
    fake = FakeRapl(tmp_path, {"package-0": 40.0}, mmio=True)
    os.unlink(os.path.join(tmp_path, "sys/class/powercap/intel-rapl:0"))
    clock = ManualClock()
    m = rapl.open(sysfs_root=str(tmp_path), clock=clock)
    (dom,) = m.domains()
    assert dom.name == "cpu:0" and dom.device == "intel-rapl-mmio:0"
    e0 = m.read()["cpu:0"]
    clock.t += 1.0
    fake.advance(1.0)
    assert m.read()["cpu:0"] - e0 == pytest.approx(40.0, abs=1e-5)


def test_symlinked_duplicate_zone_counted_once(tmp_path):
    FakeRapl(tmp_path, {"package-0": 40.0, "package-1": 40.0})
    cls = os.path.join(tmp_path, "sys/class/powercap")
    # A second entry resolving to package-0's directory (as a bind mount or odd driver might).
    os.symlink(os.readlink(os.path.join(cls, "intel-rapl:0")), os.path.join(cls, "intel-rapl:7"))
    m = rapl.open(sysfs_root=str(tmp_path))
    assert sorted(d.name for d in m.domains()) == ["cpu:0", "cpu:1"]


def test_missing_tree_is_unavailable(tmp_path):
    with pytest.raises(MeterUnavailable) as e:
        rapl.open(sysfs_root=str(tmp_path / "nowhere"))
    assert e.value.info.source == "rapl" and "no powercap" in e.value.info.reason


def test_empty_powercap_dir_is_unavailable(tmp_path):
    os.makedirs(tmp_path / "sys/class/powercap")
    with pytest.raises(MeterUnavailable, match="no intel-rapl zones"):
        rapl.open(sysfs_root=str(tmp_path))


def test_env_var_sets_the_root(tmp_path, monkeypatch):
    FakeRapl(tmp_path, {"package-0": 40.0})
    monkeypatch.setenv("WATTPRINT_SYSFS_ROOT", str(tmp_path))
    assert [d.name for d in rapl.open().domains()] == ["cpu:0"]


def test_read_is_cheap(tmp_path):
    FakeRapl(tmp_path, {"package-0": 40.0, "dram": 5.0, "package-1": 40.0, "dram@1": 5.0})
    m = rapl.open(sysfs_root=str(tmp_path))
    n = 500
    t = time.perf_counter()
    for _ in range(n):
        m.read()
    assert (time.perf_counter() - t) / n < 0.001


_PERMISSION_PROBE = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, sys.argv[2])
    from wattprint.meters import rapl, MeterUnavailable
    try:
        rapl.open(sysfs_root=sys.argv[1])
        print(json.dumps({"opened": True}))
    except MeterUnavailable as e:
        print(json.dumps({"opened": False, "reason": e.info.reason, "fix": e.info.fix}))
""")


def _probe(root):
    import json

    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", _PERMISSION_PROBE, str(root), repo],
                         capture_output=True, text=True, timeout=60,
                         preexec_fn=without_dac_override)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_permission_denied_gives_one_line_fix(tmp_path):
    # Tests run as root, which reads mode-000 files: the probe runs without that privilege.
    fake = FakeRapl(tmp_path, {"package-0": 40.0, "dram": 5.0}, readable=False)
    energy = os.path.join(fake.class_dir, "intel-rapl:0", "energy_uj")
    if not permission_tests_possible(energy):
        pytest.skip("cannot drop CAP_DAC_OVERRIDE here, so the file stays readable")
    res = _probe(tmp_path)
    assert res["opened"] is False
    assert "permission denied" in res["reason"] and "energy_uj" in res["reason"]
    assert "\n" not in res["fix"] and "chmod a+r" in res["fix"]


def test_same_probe_opens_a_readable_tree(tmp_path):
    # So the test above fails for the right reason, not because the probe cannot run.
    FakeRapl(tmp_path, {"package-0": 40.0})
    assert _probe(tmp_path) == {"opened": True}


def test_through_the_sampler_wrapping_counter_within_half_percent(tmp_path):
    # A 20 J counter wraps every 0.4 s at 50 W; the domain's max_read_interval_s (under 10 ms)
    # makes the sampler poll fast enough although it was asked for 1 s.
    from wattprint.sampler import Sampler

    fake = FakeRapl(tmp_path, {"package-0": 50.0, "dram": 8.0}, max_range_uj=20_000_000,
                    max_tick_s=0.005)
    m = rapl.open(sysfs_root=str(tmp_path))
    s = Sampler([m], interval=1.0)
    assert s.poll_interval == pytest.approx(0.5 * 20.0 / rapl.MAX_POWER_W)
    with fake:
        with fake.hold():
            s.start()
            t0 = {k: fake.true_j(k) for k in ("package-0", "dram")}
        _wait_for(fake, "package-0", t0["package-0"] + 80)  # four wraps at 50 W
        fake.set_power("package-0", 80.0)
        _wait_for(fake, "package-0", t0["package-0"] + 120)
        with fake.hold():
            snap = s.stop()
            t1 = {k: fake.true_j(k) for k in ("package-0", "dram")}
    for dom, key in (("cpu:0", "package-0"), ("dram:0", "dram")):
        truth = t1[key] - t0[key]
        assert abs(snap.energy_j[dom] - truth) <= 0.005 * truth, (dom, snap.energy_j[dom], truth)
    assert t1["package-0"] - t0["package-0"] > 4 * 20  # several wraps happened


def _wait_for(fake, key, joules, limit_s=60.0):
    """Until ``key`` has used ``joules`` in all (the writer slows down on a loaded machine)."""
    deadline = time.monotonic() + limit_s
    while fake.true_j(key) < joules and time.monotonic() < deadline:
        time.sleep(0.02)


# -- counters checked for plausibility (the meter alone, on a test clock) ---------------------
START_UJ = 100_000_000_000  # 100 kJ into a 262 kJ counter: a reset to 0 is no wraparound
STEP_S = 0.5
FAULTS = {  # name: (fault, the events it must cause)
    "reset to 0": (lambda f: f.reset("package-0"), [("cpu:0", "reset")]),
    "step back": (lambda f: f.shift("package-0", -50e6), [("cpu:0", "reset")]),
    # every zone's range shrinks to 30 J: both counters fall; later wraps come at 30 J
    "shrinking range": (lambda f: f.set_range(30_000_000), [("cpu:0", "reset"), ("dram:0", "reset")]),
    "forward jump": (lambda f: f.shift("package-0", 50_000e6), [("cpu:0", "jump")]),
}


def _truth(fake):
    return {"cpu:0": fake.true_j("package-0"), "dram:0": fake.true_j("dram")}


@pytest.mark.parametrize("name", FAULTS)
def test_counter_fault_costs_at_most_the_interval_it_happened_in(tmp_path, name):
    fault, expected = FAULTS[name]
    power = {"cpu:0": 40.0, "dram:0": 5.0}
    fake = FakeRapl(tmp_path, {"package-0": 40.0, "dram": 5.0}, start_uj=START_UJ)
    clock = ManualClock()
    m = rapl.open(sysfs_root=str(tmp_path), clock=clock)
    e0, t0 = m.read(), _truth(fake)
    for i in range(12):
        if i == 5:
            fault(fake)
        clock.t += STEP_S
        fake.advance(STEP_S)
        e = m.read()
    t1 = _truth(fake)
    for dom, watts in power.items():
        lost = (t1[dom] - t0[dom]) - (e[dom] - e0[dom])
        assert -1e-3 <= lost <= watts * STEP_S + 1e-3, (dom, lost)
    events = [(ev.domain, ev.kind) for ev in m.events() if ev.kind != "wrap"]
    assert events == expected
    if name == "shrinking range":  # the 30 J counter wrapped since, each wrap counted exactly
        assert e["cpu:0"] - e0["cpu:0"] == pytest.approx(11 * 40.0 * STEP_S, abs=1e-3)


def test_high_real_power_is_counted_not_taken_for_a_jump(tmp_path):
    fake = FakeRapl(tmp_path, {"package-0": 1200.0}, max_range_uj=10_000_000_000)
    clock = ManualClock()
    m = rapl.open(sysfs_root=str(tmp_path), clock=clock)
    e0 = m.read()["cpu:0"]
    for _ in range(40):  # 600 J a step through a 10 kJ counter: it wraps every 17 steps
        clock.t += STEP_S
        fake.advance(STEP_S)
        e = m.read()["cpu:0"]
    assert e - e0 == pytest.approx(40 * 600.0, abs=1e-3)
    assert {ev.kind for ev in m.events()} == {"wrap"}


def test_most_power_comes_from_the_constraints_never_below_the_default(tmp_path):
    fake = FakeRapl(tmp_path, {"package-0": 40.0, "package-1": 40.0})
    for key, uw in (("package-0", 2_000_000_000), ("package-1", 100_000_000)):
        with open(os.path.join(fake.zone_dir(key), "constraint_0_max_power_uw"), "w") as f:
            f.write(f"{uw}\n")
    m = rapl.open(sysfs_root=str(tmp_path))
    most = {d.name: d.meta["max_power_w"] for d in m.domains()}
    assert most == {"cpu:0": 4000.0, "cpu:1": rapl.MAX_POWER_W}


def test_an_unreadable_zone_is_left_out_alone_and_read_again(tmp_path):
    # package-0 wraps while its file is gone: the step across the gap still counts exactly.
    fake = FakeRapl(tmp_path, {"package-0": 40.0, "dram": 5.0},
                    start_uj=DEFAULT_RANGE_UJ - 30_000_000)
    clock = ManualClock()
    m = rapl.open(sysfs_root=str(tmp_path), clock=clock)
    e0, t0 = m.read(), _truth(fake)
    for how in (None, "missing", "missing", "text", "text", None, None):
        fake.break_file("package-0", how)
        clock.t += STEP_S
        fake.advance(STEP_S)
        e = m.read()
        assert "dram:0" in e  # the other zone goes on
        assert ("cpu:0" in e) == (how is None)
    t1 = _truth(fake)
    for dom in ("cpu:0", "dram:0"):
        assert e[dom] - e0[dom] == pytest.approx(t1[dom] - t0[dom], abs=1e-3)
    events = m.events()
    assert [ev.kind for ev in events] == ["unreadable"] * 4 + ["wrap"]
    assert "No such file" in events[0].detail and "not a counter value" in events[2].detail
    assert all(ev.domain == "cpu:0" for ev in events)


# -- the same through the sampler: energy, degraded, one warning, the run's events ----------
def _sampler(tmp_path, fake_domains, **kw):
    from wattprint.sampler import Sampler

    fake = FakeRapl(tmp_path, fake_domains, **kw)
    clock = ManualClock()
    s = Sampler([rapl.open(sysfs_root=str(tmp_path), clock=clock)], interval=3600, clock=clock)
    return fake, clock, s


def _step(fake, clock, s, seconds=STEP_S):
    clock.t += seconds
    fake.advance(seconds)
    return s.snapshot(fresh=True).energy_j


@pytest.mark.parametrize("name", FAULTS)
def test_counter_fault_through_the_sampler_is_degraded_with_one_warning(tmp_path, caplog, name):
    fault, expected = FAULTS[name]
    fake, clock, s = _sampler(tmp_path, {"package-0": 40.0, "dram": 5.0}, start_uj=START_UJ)
    with caplog.at_level("WARNING", logger="wattprint"):
        s.start()
        t0 = _truth(fake)
        for i in range(12):
            if i == 5:
                fault(fake)
            _step(fake, clock, s)
        snap = s.stop()
    t1 = _truth(fake)
    for dom, watts in (("cpu:0", 40.0), ("dram:0", 5.0)):
        lost = (t1[dom] - t0[dom]) - snap.energy_j[dom]
        assert -1e-3 <= lost <= watts * STEP_S + 1e-3, (dom, lost)
    assert s.degraded
    assert len([r for r in caplog.records if r.name == "wattprint"]) == 1
    events = [e for e in s.events if e["kind"] != "wrap"]
    assert [(e["domain"], e["kind"]) for e in events] == expected
    assert all(e["t"] == pytest.approx(6 * STEP_S) for e in events)  # when: the 6th reading


def test_a_wraparound_through_the_sampler_is_exact_and_not_degraded(tmp_path, caplog):
    # 5 kJ a step through a 20 kJ counter (a range the sampler thread polls only every 7 s)
    fake, clock, s = _sampler(tmp_path, {"package-0": 1000.0}, max_range_uj=20_000_000_000)
    with caplog.at_level("WARNING", logger="wattprint"):
        s.start()
        t0 = fake.true_j("package-0")
        for _ in range(20):
            _step(fake, clock, s, 5.0)
        snap = s.stop()
    assert snap.energy_j["cpu:0"] == pytest.approx(fake.true_j("package-0") - t0, abs=1e-3)
    assert not s.degraded and not caplog.records
    assert [e["kind"] for e in s.events] == ["wrap"]  # the first one only


def test_an_unreadable_zone_through_the_sampler_loses_nothing(tmp_path, caplog):
    fake, clock, s = _sampler(tmp_path, {"package-0": 40.0, "dram": 5.0})
    plan = [None] * 4 + ["missing"] * 4 + ["text"] * 4 + [None] * 4  # 1 s gone, 1 s text
    dram, cpu = [], []
    with caplog.at_level("WARNING", logger="wattprint"):
        s.start()
        t0 = _truth(fake)
        for how in plan:
            fake.break_file("package-0", how)
            e = _step(fake, clock, s, 0.25)
            dram.append(e["dram:0"])
            cpu.append(e["cpu:0"])
        snap = s.stop()
    t1 = _truth(fake)
    for dom in ("cpu:0", "dram:0"):  # nothing lost, the gap included
        assert snap.energy_j[dom] == pytest.approx(t1[dom] - t0[dom], abs=1e-3)
    assert all(b - a == pytest.approx(5.0 * 0.25) for a, b in zip(dram, dram[1:]))
    assert cpu[3] == cpu[4] == cpu[11]  # stood still while broken, then caught up
    assert cpu[12] - cpu[11] == pytest.approx(40.0 * 0.25 * 9)
    assert [(e["t"], e["domain"], e["kind"]) for e in s.events] == [
        (1.25, "cpu:0", "unreadable"), (3.25, "cpu:0", "recovered")]
    assert "No such file" in s.events[0]["detail"]
    assert s.degraded and len(caplog.records) == 1


def test_an_unreadable_zone_with_the_writer_thread_loses_nothing(tmp_path):
    # Real time, a sampler thread polling every 20 ms: package-0 is gone for ~0.5 s, then
    # text for ~0.5 s. The energies hold whatever the load: counters are cumulative.
    from wattprint.sampler import Sampler

    fake = FakeRapl(tmp_path, {"package-0": 60.0, "dram": 8.0})
    s = Sampler([rapl.open(sysfs_root=str(tmp_path))], interval=0.02)
    with fake:
        with fake.hold():
            s.start()
            t0 = _truth(fake)
        time.sleep(0.3)
        for how in ("missing", "text", None):
            fake.break_file("package-0", how)
            time.sleep(0.5)
        with fake.hold():
            snap = s.stop()
            t1 = _truth(fake)
    for dom in ("cpu:0", "dram:0"):
        truth = t1[dom] - t0[dom]
        assert abs(snap.energy_j[dom] - truth) <= 0.005 * truth, (dom, snap.energy_j[dom], truth)
    kinds = [(e["domain"], e["kind"]) for e in s.events]
    assert kinds == [("cpu:0", "unreadable"), ("cpu:0", "recovered")]
