import json
import logging
import time

import pytest

import wattprint
from wattprint.errors import UsageError
from wattprint.store import Store
from clock import ManualClock


@pytest.fixture(autouse=True)
def _python_wording(monkeypatch):
    """The CLI's main(), run in-process by other tests, switches hints to CLI wording for good."""
    from wattprint import fmt

    monkeypatch.setitem(fmt._INTERFACE, "name", "python")


def flat(analytic, watts, **kw):
    return analytic(lambda t: watts, lambda t: watts * t, **kw)


def test_track_measures_windows_nested_and_overlapping(analytic, store_path):
    cpu, gpu = flat(analytic, 40.0), flat(analytic, 200.0, name="gpu:0", kind="gpu")
    with wattprint.track(meters=[cpu, gpu], store=store_path, interval=0.02, project="p",
                         tags=["final"]) as run:
        with run.window("outer") as outer:
            time.sleep(0.2)
            run.begin_window("overlap")
            with run.window("inner") as inner:
                time.sleep(0.2)
            time.sleep(0.1)
        ov = run.end_window("overlap")
        live = run.energy()
    assert inner.seconds == pytest.approx(0.2, abs=0.05)
    assert inner.energy_j["gpu:0"] == pytest.approx(200 * inner.seconds, rel=1e-3)
    assert inner.energy_j["cpu:0"] == pytest.approx(40 * inner.seconds, rel=1e-3)
    assert outer.seconds > inner.seconds + 0.25
    assert outer.total_j == pytest.approx(240 * outer.seconds, rel=1e-3)
    assert ov.seconds > inner.seconds and ov.start_s > outer.measurement.start_s
    assert live.total_j >= outer.total_j
    rec = run.record
    assert rec.status == "finished" and rec.project == "p" and rec.tags == ["final"]
    assert rec.energy_j == pytest.approx(240 * rec.duration_s, rel=1e-3)
    st = Store.open(store_path)
    names = sorted(n for n, *_ in st.windows(rec.key))
    assert names == ["inner", "outer", "overlap"]


def test_window_misuse_is_a_clear_error(analytic, store_path):
    with wattprint.track(meters=[flat(analytic, 1.0)], store=store_path) as run:
        run.begin_window("a")
        with pytest.raises(UsageError, match="already open"):
            run.begin_window("a")
        with pytest.raises(UsageError, match="never begun"):
            run.end_window("b")


def test_decorator_makes_a_run_per_call(analytic, store_path):
    @wattprint.track(meters=[flat(analytic, 10.0)], store=store_path, interval=0.02, project="deco")
    def work(x):
        time.sleep(0.05)
        return x * 2

    assert work(2) == 4
    first = work.last_run.run_id
    assert work(3) == 6
    assert work.last_run.run_id != first
    assert len(Store.open(store_path).list_runs(project="deco")) == 2


def test_exception_in_training_marks_failed_and_propagates(analytic, store_path):
    with pytest.raises(ZeroDivisionError):
        with wattprint.track(meters=[flat(analytic, 10.0)], store=store_path) as run:
            1 / 0
    assert run.record.status == "failed"


def test_samples_are_flushed_while_running(analytic, store_path):
    with wattprint.track(meters=[flat(analytic, 10.0)], store=store_path, interval=0.02,
                         flush_interval=0.1) as run:
        time.sleep(0.4)
        other = Store.open(store_path)  # a second connection, as another process would read
        mid = other.get_run(run.run_id)
        assert other.count_samples(mid.key) >= 5
        assert mid.energy_j > 0 and mid.status == "running"


def test_broken_meter_never_stops_the_training(analytic, store_path, caplog):
    bad = flat(analytic, 100.0, name="gpu:0", kind="gpu", fail_after=2)
    good = flat(analytic, 10.0)
    with caplog.at_level(logging.WARNING, logger="wattprint"):
        with wattprint.track(meters=[good, bad], store=store_path, interval=0.02) as run:
            time.sleep(0.2)
            total = sum(range(1000))
    assert total == 499500
    assert run.record.degraded and run.record.status == "finished"
    assert run.degraded and run.problems


def test_store_failure_keeps_samples_and_never_raises(analytic, store_path, monkeypatch):
    with wattprint.track(meters=[flat(analytic, 10.0)], store=store_path, interval=0.02,
                         flush_interval=0.05) as run:
        real = run.store.flush
        calls = {"n": 0}

        def flaky(*a, **k):
            calls["n"] += 1
            if calls["n"] <= 3:
                raise OSError("disk full")
            return real(*a, **k)

        monkeypatch.setattr(run.store, "flush", flaky)
        time.sleep(0.4)
    rec = run.record
    assert calls["n"] > 3 and rec.degraded
    # samples from the failed flushes were kept and written later
    ts = [t for t, *_ in Store.open(store_path).samples(rec.key)]
    assert ts[0] < 0.1 and len(ts) >= 10


@pytest.mark.parametrize("kw, match", [
    ({"interval": 0.001}, "at least 0.01"),
    ({"interval": "fast"}, "number of seconds"),
    ({"scope": "galaxy"}, "scope"),
    ({"on_exceed": "explode"}, "on_exceed"),
    ({"flush_interval": -1}, "flush_interval"),
])
def test_bad_options_fail_before_training(kw, match):
    with pytest.raises(UsageError, match=match):
        wattprint.track(**kw)


def test_progress_with_bad_values_only_warns(analytic, store_path, caplog):
    with wattprint.track(meters=[flat(analytic, 10.0)], store=store_path, total=10) as run:
        run.progress("three")
        run.progress(1, total=-5)
        run.progress(2)
    assert run.record.done == 2 and run.record.total == 10
    assert any("not a number" in r.getMessage() for r in caplog.records)


def test_rapl_counters_through_track_within_half_a_percent(tmp_path, store_path):
    from sysfs import FakeRapl

    from wattprint.meters import rapl

    keys = {"cpu:0": "package-0", "dram:0": "dram", "cpu:1": "package-1"}

    class Witness:
        """The real RAPL meter, read while the fake writer is paused, noting the true energy."""

        source = "rapl"

        def __init__(self, fake):
            self.fake, self.meter, self.truth = fake, rapl.open(sysfs_root=fake.root), []

        def domains(self):
            return self.meter.domains()

        def read(self):
            with self.fake.hold():
                self.truth.append({n: self.fake.true_j(k) for n, k in keys.items()})
                return self.meter.read()

        def close(self):
            self.meter.close()

    # wraps every ~0.3 s at 65 W, so the run crosses several wraps
    with FakeRapl(tmp_path / "sysfs", {"package-0": 65.0, "dram": 7.0, "package-1": 30.0},
                  max_range_uj=20_000_000) as fake:
        w = Witness(fake)
        with wattprint.track(meters=[w], store=store_path, interval=0.1) as run:
            time.sleep(1.5)
    rec = run.record
    got = {d.name: d for d in rec.domains}
    assert set(got) == set(keys)
    assert all(d.label == "measured" and d.source == "rapl" for d in rec.domains)
    for name in keys:
        true = w.truth[-1][name] - w.truth[0][name]
        assert true > 10
        assert got[name].energy_j == pytest.approx(true, rel=0.005)


def test_psys_stands_for_the_host_in_totals(tmp_path, store_path):
    from sysfs import FakeRapl

    with FakeRapl(tmp_path / "sysfs", {"package-0": 20.0, "dram": 3.0, "psys": 35.0}):
        with wattprint.track(sysfs_root=str(tmp_path / "sysfs"), store=store_path,
                             interval=0.05, gpus=False) as run:
            time.sleep(0.5)
    rec = run.record
    by_kind = {d.kind: d for d in rec.domains}
    assert not by_kind["cpu"].in_total and not by_kind["dram"].in_total and by_kind["psys"].in_total
    assert rec.energy_j == pytest.approx(by_kind["psys"].energy_j)
    # psys (35 W) is more than package + dram (23 W): adding all three would overcount by 66 %
    assert rec.energy_j > 1.3 * (by_kind["cpu"].energy_j + by_kind["dram"].energy_j)


def test_rapid_progress_is_thinned_for_the_store_but_epochs_are_kept(analytic, store_path):
    from wattprint.run.recorder import PROGRESS_BURST, PROGRESS_PER_INTERVAL

    with wattprint.track(meters=[flat(analytic, 10.0)], store=store_path, interval=0.1,
                         total=50_000, quiet=True) as run:
        t0 = time.monotonic()
        for step in range(1, 50_001):
            run.progress(step)
        elapsed = time.monotonic() - t0
        time.sleep(0.15)
    rows = Store.open(store_path).progress(run.record.key)
    assert len(rows) <= PROGRESS_BURST + PROGRESS_PER_INTERVAL * elapsed / 0.1 + 2
    assert len(rows) < 5_000
    assert rows[-1][1] == 50_000  # the final report is always kept
    assert run.record.done == 50_000
    # a handful of epoch reports in a burst are all stored
    with wattprint.track(meters=[flat(analytic, 10.0)], store=store_path, quiet=True) as run:
        for epoch in range(1, 41):
            run.progress(epoch, total=40)
    assert [r[1] for r in Store.open(store_path).progress(run.record.key)] == list(range(1, 41))


def test_unreadable_rapl_is_said_in_one_line_and_the_model_takes_over(tmp_path, store_path):
    import json
    import os
    import subprocess
    import sys

    from sysfs import FakeRapl, permission_tests_possible, without_dac_override

    fake = FakeRapl(tmp_path / "sysfs", {"package-0": 40.0, "dram": 5.0}, readable=False)
    if not permission_tests_possible(os.path.join(fake.class_dir, "intel-rapl:0", "energy_uj")):
        pytest.skip("cannot drop CAP_DAC_OVERRIDE here, so the file stays readable")
    code = ("import json, sys, wattprint\n"
            "with wattprint.track(store=sys.argv[1], quiet=True, gpus=False) as run: pass\n"
            "print(json.dumps([[d.source, d.label] for d in run.record.domains]))\n")
    out = subprocess.run([sys.executable, "-c", code, store_path], capture_output=True, text=True,
                         env=dict(os.environ, WATTPRINT_SYSFS_ROOT=str(tmp_path / "sysfs")),
                         preexec_fn=without_dac_override, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stderr.splitlines() if "rapl" in line]
    assert len(lines) == 1 and "permission denied" in lines[0] and "chmod a+r" in lines[0], out.stderr
    assert "modelled instead" in lines[0]
    assert sorted(map(tuple, json.loads(out.stdout))) == [("cpu-model", "modelled"),
                                                          ("dram-model", "modelled")]


@pytest.mark.parametrize("kw, match", [
    ({"region": "Narnia"}, "unknown region 'Narnia'"),
    ({"cloud": "aws:mars-1"}, "unknown aws region"),
    ({"intensity": "lots"}, "intensity: cannot read"),
    ({"pue": 0.5}, "pue: must be 1 or more"),
    ({"hardware": "H900"}, "unknown hardware 'H900'"),
    ({"region": ""}, "region must not be empty"),
    ({"total": "abc"}, "total must be a number"),
    ({"total": float("nan")}, "total must be a positive number"),
    ({"tags": ["final", ""]}, "tags must be non-empty strings"),
    ({"tags": [3]}, "tags must be non-empty strings"),
    ({"project": ""}, "project must be a non-empty string"),
    ({"unit": ""}, "unit must be a name"),
])
def test_location_and_work_options_are_checked_before_training(kw, match):
    trained = []
    with pytest.raises(UsageError, match=match):
        with wattprint.track(**kw):
            trained.append(1)
    assert not trained


def test_bad_values_in_the_loop_keep_the_record_whole(analytic, store_path, caplog):
    """progress(nan/inf/-1/object) is dropped with one warning; bad window names are refused at
    the call; the run ends finished with all its energy and every good progress row."""
    with wattprint.track(meters=[flat(analytic, 10.0)], store=store_path, interval=0.02,
                         flush_interval=0.02, total=4) as run:
        run.progress(1)
        for bad in (float("nan"), float("inf"), -1, object(), None, "x"):
            run.progress(bad)
        run.progress(2)
        for bad in (None, object(), 3):
            with pytest.raises(TypeError, match="window name must be a string"):
                with run.window(bad):
                    pass
        with pytest.raises(ValueError, match="must not be empty"):
            run.window("").__enter__()
        with run.window("good") as w:
            time.sleep(0.05)
        time.sleep(0.1)                   # several flushes after the bad values
        run.progress(4)
    rec = run.record
    assert rec.status == "finished" and not rec.degraded
    assert [d for _, d, _, _ in run.store.progress(rec.key)] == [1, 2, 4]
    assert [name for name, *_ in run.store.windows(rec.key)] == ["good"]
    assert rec.energy_j == pytest.approx(run.energy().total_j)
    assert rec.energy_j == pytest.approx(10.0 * rec.duration_s, rel=0.05)
    warned = [r for r in caplog.records if "ignored: not a number" in r.getMessage()]
    assert len(warned) == 1 and w.seconds > 0


def test_a_row_the_store_refuses_is_set_aside_not_retried_ahead_of_good_rows(analytic, store_path,
                                                                                caplog):
    """A row the database refuses is left out and reported; everything after it is stored."""
    with wattprint.track(meters=[flat(analytic, 10.0)], store=store_path, interval=0.02,
                         flush_interval=0.02) as run:
        run.record_prediction(0.01, {"bad": object()})   # not JSON: the store refuses it
        time.sleep(0.1)
        run.record_prediction(0.2, {"energy_kwh": 1.0})
        run.progress(1)
        time.sleep(0.1)
    rec = run.record
    assert rec.status == "finished" and rec.degraded
    assert [d for _, d in run.store.predictions(rec.key)] == [{"energy_kwh": 1.0}]
    assert [d for _, d, _, _ in run.store.progress(rec.key)] == [1]
    assert sum("refused a prediction row" in r.getMessage() for r in caplog.records) == 1
    assert rec.energy_j == pytest.approx(run.energy().total_j)


def test_nested_track_warns_once_and_counts_the_machine_once(analytic, store_path, caplog):
    from wattprint.plugins.distributed import countable

    @wattprint.track(store=store_path, interval=0.02, quiet=True)
    def trial():
        time.sleep(0.1)

    with wattprint.track(meters=[flat(analytic, 10.0)], store=store_path, interval=0.02,
                         quiet=True) as outer:
        trial()
        trial()
        inner = trial.last_run
    assert outer.record.status == inner.record.status == "finished"
    # the inner run read the outer run's meter: the same domain, about 10 W for its 0.1 s
    assert [d.name for d in inner.record.domains] == ["cpu:0"]
    assert inner.record.energy_j == pytest.approx(10.0 * inner.record.duration_s, rel=0.3)
    assert inner.record.meta["nested_in"] == outer.run_id
    runs = Store.open(store_path).list_runs()
    assert len(runs) == 3 and [r.id for r in countable(runs)] == [outer.run_id]
    assert sum("inside a running track()" in r.getMessage() for r in caplog.records) == 1


def test_ctrl_c_in_track_is_stored_as_cancelled(analytic, store_path):
    with pytest.raises(KeyboardInterrupt):
        with wattprint.track(meters=[flat(analytic, 10.0)], store=store_path, interval=0.02,
                             quiet=True) as run:
            raise KeyboardInterrupt
    assert run.record.status == "cancelled"


def test_a_reset_is_in_the_record_and_show_json(tmp_path, store_path, cli):
    from sysfs import FakeRapl

    from wattprint.meters import rapl

    fake = FakeRapl(tmp_path / "sysfs", {"package-0": 40.0, "dram": 5.0}, start_uj=100_000_000_000)
    clock = ManualClock()
    meter = rapl.open(sysfs_root=fake.root, clock=clock)
    with wattprint.track(meters=[meter], interval=3600, clock=clock, quiet=True, store=store_path,
                         distributed=False, predict_every=None) as run:
        for i in range(10):
            if i == 4:
                fake.reset("package-0")
            if i == 6:
                fake.break_file("dram", "missing")
            if i == 8:
                fake.break_file("dram", None)
            clock.t += 1.0
            fake.advance(1.0)
            run.energy()
    rec = run.record
    assert rec.degraded
    kinds = [(e["t"], e["domain"], e["kind"]) for e in rec.meta["events"]]
    assert kinds == [(5.0, "cpu:0", "reset"), (7.0, "dram:0", "unreadable"), (9.0, "dram:0", "recovered")]
    assert "unavailable" in rec.meta  # the rest of meta kept
    got = {d.name: d.energy_j for d in rec.domains}
    assert got["cpu:0"] == pytest.approx(40.0 * 9)  # one interval lost
    assert got["dram:0"] == pytest.approx(5.0 * 10)  # the gap counted
    out = cli("show", "--json", rec.id, "--store", store_path)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert [e["kind"] for e in data["meta"]["events"]] == ["reset", "unreadable", "recovered"]
