"""Campaign accounting: Strubell Table 4 levels, GPU-hours, CO2e coverage, filters and bad input."""
import json
import time

import pytest

from test_report import make_run, wp
from wattprint.campaign import account, level_of, parse_since
from wattprint.errors import UsageError
from wattprint.store import Store


def test_tag_convention():
    assert level_of(["final"]) == "final"
    assert level_of(["FINAL", "tuning"]) == "final"  # final wins
    assert level_of(["sweep"]) == level_of(["hpo"]) == level_of(["tuning"]) == "tuning"
    assert level_of(["ablation"]) == level_of([]) == level_of(None) == "experimentation"


def _campaign(store_path):
    e = {}
    e["f1"] = make_run(store_path, "f1", n=720, tags=["final"])
    e["t1"] = make_run(store_path, "t1", n=360, tags=["tuning", "lr=1e-3"])
    e["t2"] = make_run(store_path, "t2", n=360, tags=["sweep"])
    e["x1"] = make_run(store_path, "x1", n=180, tags=["ablation"], location={})  # no location
    e["o1"] = make_run(store_path, "o1", n=100, project="other", tags=["final"])
    return {k: sum(v.values()) / 3.6e6 for k, v in e.items()}


def test_levels_sum_runs_gpu_hours_energy_and_co2e(store_path):
    kwh = _campaign(store_path)
    runs = Store.open(store_path).list_runs(project="bert")
    acc = account(runs)
    lv = {x["level"]: x for x in acc["levels"]}
    assert [x["runs"] for x in acc["levels"]] == [1, 2, 1, 4]
    assert lv["tuning"]["run_ids"] == ["t1", "t2"]
    # One GPU domain per run: GPU-hours = run hours.
    assert lv["final"]["gpu_hours"] == pytest.approx(720 / 3600)
    assert lv["total"]["gpu_hours"] == pytest.approx((720 + 720 + 180) / 3600)
    assert lv["total"]["host_hours"] == pytest.approx(lv["total"]["gpu_hours"])
    assert lv["total"]["energy_kwh_it"] == pytest.approx(kwh["f1"] + kwh["t1"] + kwh["t2"] + kwh["x1"])
    assert lv["tuning"]["energy_kwh"] == pytest.approx((kwh["t1"] + kwh["t2"]) * 1.1)
    # x1 has no location: energy counted, CO2e not, and the notes say so.
    assert lv["experimentation"]["co2e_kg"] is None and lv["total"]["co2e_runs"] == 3
    assert lv["total"]["co2e_kg"] == pytest.approx(lv["final"]["co2e_kg"] + lv["tuning"]["co2e_kg"])
    assert any("1 of 4 runs have no location" in n for n in acc["notes"])
    assert acc["final_share_of_energy"] == pytest.approx(
        kwh["f1"] * 1.1 / (lv["total"]["energy_kwh"]))


def test_campaign_command_text_json_and_filters(store_path):
    _campaign(store_path)
    r = wp("campaign", "--project", "bert")
    assert r.returncode == 0, r.stderr
    assert "one model (tag final)" in r.stdout and "whole R&D (all runs)" in r.stdout
    assert "GPU-h" in r.stdout and "*" in r.stdout  # CO2e covers only some runs
    r = wp("campaign", "--json")
    data = json.loads(r.stdout)
    assert data["runs"] == 5 and data["filters"]["project"] is None
    assert data["convention"]["final"] == ["final"]
    r = wp("campaign", "--tag", "final", "--json")
    assert json.loads(r.stdout)["levels"][0]["run_ids"] == ["f1", "o1"]
    r = wp("campaign", "--since", "1d", "--json")
    assert json.loads(r.stdout)["runs"] == 5
    r = wp("campaign", "--since", "2100-01-01")
    assert r.returncode == 2 and "no runs in" in r.stderr and "since 2100-01-01" in r.stderr


def test_campaign_bad_input(store_path):
    r = wp("campaign")
    assert r.returncode == 2 and "no run store" in r.stderr
    Store.open(store_path).close()
    r = wp("campaign")
    assert r.returncode == 2 and "store is empty" in r.stderr and "Traceback" not in r.stderr
    r = wp("campaign", "--since", "last tuesday")
    assert r.returncode == 2 and "--since 'last tuesday'" in r.stderr


def test_parse_since():
    assert parse_since("7d") == pytest.approx(time.time() - 7 * 86400, abs=5)
    assert parse_since("2026-01-31T00:00:00Z") == 1769817600.0
    with pytest.raises(UsageError):
        parse_since("soon")


def test_a_job_and_its_rank_records_count_once(store_path):
    from wattprint.store import DomainTotal, RunRecord

    st = Store.open(store_path)
    now = time.time()

    def rec(run_id, energy, meta, domains=1):
        r = RunRecord(id=run_id, status="finished", started_at=now, updated_at=now,
                      duration_s=3600.0, energy_j=energy, project="dist", job_id="j1", meta=meta,
                      domains=[DomainTotal(f"gpu:{i}", "gpu", "nvml", "measured", "m", energy / domains,
                                           0, idx=i) for i in range(domains)])
        st.create_run(r)

    rec("j1.n0.r0", 3.6e6, {"role": "rank", "part_of": "j1", "measures_host": True})
    rec("j1.n0.r1", 0.0, {"role": "rank", "part_of": "j1", "measures_host": False}, domains=0)
    rec("j1.n1.r2", 3.6e6, {"role": "rank", "part_of": "j1", "measures_host": True})
    rec("j1", 7.2e6, {"role": "job", "nodes": {"0": {}, "1": {}}}, domains=2)
    tot = {x["level"]: x for x in account(st.list_runs(project="dist"))["levels"]}["total"]
    assert tot["runs"] == 1 and tot["run_ids"] == ["j1"]
    assert tot["energy_kwh_it"] == pytest.approx(2.0)
    assert tot["host_hours"] == pytest.approx(2.0) and tot["gpu_hours"] == pytest.approx(2.0)
    # without the job record (no torch.distributed, no merge yet) the parts add up instead
    parts = [r for r in st.list_runs(project="dist") if r.id != "j1"]
    tot = {x["level"]: x for x in account(parts)["levels"]}["total"]
    assert tot["runs"] == 3 and tot["energy_kwh_it"] == pytest.approx(2.0)
    assert tot["host_hours"] == pytest.approx(2.0)


def test_campaign_text_has_one_unit_per_column_and_speaks_cli(store_path, monkeypatch):
    import re

    from wattprint import fmt

    _campaign(store_path)
    make_run(store_path, "tiny", n=2, tags=["ablation"])  # a run thousands of times smaller
    r = wp("campaign", "--project", "bert")
    assert r.returncode == 0, r.stderr
    head = r.stdout.splitlines()[1]
    units = re.findall(r"(?:IT|ENERGY|CO2e) (\w+)", head)
    assert len(units) == 3 and units[0] == units[1], head  # both energies in one unit, named once
    assert not re.search(r"\d[eE][-+]?\d", r.stdout) and "kWh" not in r.stdout.split("\n", 2)[2]
    r = wp("campaign", "--project", "bert", "--tag", "ablation")
    assert "--tag final" in r.stdout and "tags=[" not in r.stdout and "region=" not in r.stdout
    # the Python wording (an earlier test in this process may have switched to the CLI's)
    monkeypatch.setitem(fmt._INTERFACE, "name", "python")
    acc = account(Store.open(store_path).list_runs(tag="ablation"))
    assert any("tags=['final']" in n for n in acc["notes"]) and any("region=" in n for n in acc["notes"])
