"""Campaign and report add up runs by one rule (totals.accumulate), so they give the same cost."""
import time

import pytest

from wattprint.campaign import account
from wattprint.footprint import for_record
from wattprint.report.data import RunData, totals
from wattprint.store import DomainTotal, RunRecord


def _run(run_id, prices):
    now = time.time()
    gpu = DomainTotal("gpu:0", "gpu", "nvml", "measured", "counter", 360e3, 100.0, idx=0)
    return RunRecord(id=run_id, status="finished", started_at=now - 3600, updated_at=now, ended_at=now,
                     duration_s=3600.0, energy_j=360e3, location=dict(prices), domains=[gpu])


def _issue_example():
    # one device for one hour: spot $5 / on-demand $10, and a run priced on demand only ($8)
    return [_run("spot", {"price_low": 5, "price_high": 10}), _run("on-demand", {"price_high": 8})]


def test_issue_example_report_and_campaign_give_the_same_cost():
    runs = _issue_example()
    assert for_record(runs[1]).cost_usd_low is None  # no spot price: the footprint leaves the low end open

    report = totals([RunData(record=r, footprint=for_record(r)) for r in runs])
    campaign = next(lv for lv in account(runs)["levels"] if lv["level"] == "total")

    # the run without a spot price adds its on-demand price to the low end: $13-18, not $5-18
    assert (report.cost_usd_low, report.cost_usd_high) == pytest.approx((13.0, 18.0))
    assert (campaign["cost_usd_low"], campaign["cost_usd_high"]) == pytest.approx((13.0, 18.0))
    for k in ("runs", "energy_kwh_it", "energy_kwh", "co2e_kg", "co2e_runs", "electricity_cost_usd"):
        assert getattr(report, k) == campaign[k], k


def test_runs_without_footprint_or_price_add_energy_only():
    from wattprint.totals import accumulate

    class Total:
        runs, energy_kwh_it, energy_kwh, co2e_runs = 0, 0.0, 0.0, 0
        co2e_kg = cost_usd_low = cost_usd_high = electricity_cost_usd = None

    t = Total()
    rec = _run("bare", {})
    accumulate(t, rec, None)
    accumulate(t, rec, for_record(rec))
    assert t.runs == 2 and t.energy_kwh_it == pytest.approx(0.2) and t.energy_kwh == pytest.approx(0.2)
    assert t.co2e_kg is None and t.co2e_runs == 0
    assert t.cost_usd_low is None and t.cost_usd_high is None and t.electricity_cost_usd is None
