"""The framework-neutral part of the callbacks (no framework needed)."""
import time

import wattprint
from wattprint.integrations import MIN_GAP_S, _Adapter
from wattprint.store import Store


def test_owned_run_fast_steps_batched_last_step_always_reported(analytic):
    a = _Adapter(meters=[analytic(lambda t: 10.0, lambda t: 10.0 * t)], interval=0.02,
                 distributed=False, quiet=True)
    a.begin(total=1000)
    for step in range(1, 1001):  # far faster than MIN_GAP_S
        a.progress(step)
    fp = a.end()
    done = [d for _, d, _, _ in Store.open().progress(a.run.record.key)]
    assert done[-1] == 1000 and len(done) < 100
    assert a.run.status == "finished" and fp.energy_kwh > 0


def test_slow_steps_each_reported(analytic):
    a = _Adapter(meters=[analytic(lambda t: 10.0, lambda t: 10.0 * t)], interval=0.02,
                 distributed=False, quiet=True)
    a.begin(total=5)
    for step in range(1, 6):
        time.sleep(MIN_GAP_S * 1.5)
        a.progress(step)
    a.end()
    assert [d for _, d, _, _ in Store.open().progress(a.run.record.key)] == [1, 2, 3, 4, 5]


def test_budget_asks_to_stop_and_run_is_stored_stopped(analytic):
    a = _Adapter(meters=[analytic(lambda t: 10.0, lambda t: 10.0 * t)], interval=0.02,
                 distributed=False, quiet=True, budget_kwh=1e-12, on_exceed="stop")
    a.begin(total=100)
    stop = False
    for step in range(1, 101):
        time.sleep(0.011)
        stop = a.progress(step)
        if stop:
            break
    assert stop and step < 100 and isinstance(a.budget_error, wattprint.BudgetExceeded)
    a.end()
    assert a.run.status == "stopped"


def test_given_run_is_not_stopped_and_gets_a_total(analytic):
    with wattprint.track(meters=[analytic(lambda t: 10.0, lambda t: 10.0 * t)], interval=0.02,
                         distributed=False, quiet=True) as run:
        a = _Adapter(run)
        a.begin(total=7)
        a.progress(7, force=True)
        assert a.end() is None and run.status == "running" and run.total == 7
    assert run.status == "finished"


def test_bad_totals_are_ignored(analytic):
    a = _Adapter(meters=[analytic(lambda t: 10.0, lambda t: 10.0 * t)], interval=0.02,
                 distributed=False, quiet=True)
    a.begin(total=float("inf"))
    assert a.run.total is None
    a.end()
