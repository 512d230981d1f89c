"""``wattprint sweep``: trials, Pareto front, totals and the "within X %" sentence, over real
Optuna studies on a fake RAPL machine; the analysis on hand-made records; campaign counting."""
import contextlib
import io
import json
import random
import re
import subprocess
import sys
import time

import pytest

from sysfs import FakeRapl
from wattprint import cli
from wattprint.campaign import account
from wattprint.store import DomainTotal, RunRecord, Store
from wattprint.sweep import analyse, pareto, within


@pytest.fixture
def sweep_cli(monkeypatch):
    """``wattprint sweep`` registered as the lead will register it, run in-process."""
    monkeypatch.setitem(cli.COMMANDS, "sweep", ("sweep", "a sweep's trials, Pareto front and what "
                                                         "the last point of accuracy cost"))

    def run(*args):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = cli.main(["sweep", *args])
        return rc, out.getvalue(), err.getvalue()
    return run


def _record(store_path, number, value, energy_j, *, study="s", project="p", state="COMPLETE", start=None,
            duration=10.0, host="h1", direction="minimize", location=None):
    s = Store.open(store_path)
    start = start if start is not None else 1_700_000_000 + number * 100
    rec = RunRecord(id=f"{study}-{number}", status="finished", started_at=start, updated_at=start + duration,
                    ended_at=start + duration, duration_s=duration, energy_j=energy_j, project=project,
                    tags=["tuning"], host=host, location=location if location is not None else {"region": "FR"},
                    domains=[DomainTotal("cpu:0", "cpu", "rapl", "measured", "rapl", energy_j,
                                         energy_j / duration)],
                    meta={"sweep": {"backend": "optuna", "study": study, "number": number,
                                    "params": {"lr": 0.1 * (number + 1)}, "value": value, "state": state,
                                    "direction": direction}})
    s.create_run(rec)


def _brute_front(trials, direction):
    sign = 1 if direction == "minimize" else -1
    out = []
    for a in trials:
        if a["value"] is None:
            continue
        beaten = any(b is not a and b["value"] is not None and sign * b["value"] <= sign * a["value"]
                     and b["energy_kwh"] <= a["energy_kwh"]
                     and (sign * b["value"] < sign * a["value"] or b["energy_kwh"] < a["energy_kwh"])
                     for b in trials)
        if not beaten:
            out.append(a["number"])
    return out


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_front_matches_a_brute_force_check_on_random_points(direction):
    rng = random.Random(7)
    for _ in range(50):
        trials = [{"number": i, "value": rng.choice([None, round(rng.uniform(0, 1), 2)]),
                   "energy_kwh": round(rng.uniform(0, 1), 2)} for i in range(rng.randint(1, 12))]
        got = pareto([(t["number"], t["value"], t["energy_kwh"]) for t in trials], direction)
        assert got == _brute_front(trials, direction)


def test_within_lists_the_trials_up_to_the_first_close_one_and_their_share():
    trials = [{"number": n, "value": v, "energy_kwh": e}
              for n, v, e in [(0, 0.50, 1.0), (1, 0.304, 2.0), (2, 0.40, 3.0), (3, 0.301, 4.0), (4, 0.300, 5.0)]]
    w = within(trials, "minimize", 1.0)
    # best 0.300; 1 % of it is 0.003: trial 1 (0.304) is not within, trial 3 (0.301) is
    assert w["best_value"] == 0.300 and w["best_trial"] == 4
    assert w["trials"] == [0, 1, 2, 3]
    assert w["energy_share"] == pytest.approx(10 / 15)
    assert within(trials, "minimize", 2.0)["trials"] == [0, 1]
    assert within([{"number": 0, "value": None, "energy_kwh": 1.0}], "minimize", 1.0) is None


def test_sweep_json_text_and_html_from_records(store_path, sweep_cli, tmp_path):
    values = [0.9, 0.5, 0.7, 0.45, 0.44]
    energy = [2e6, 1e6, 0.5e6, 3e6, 6e6]
    for n, (v, e) in enumerate(zip(values, energy)):
        _record(store_path, n, v, e)
    _record(store_path, 0, 0.1, 1e6, study="other")
    rc, out, err = sweep_cli("--project", "p", "--study", "s", "--json", "--store", store_path)
    assert rc == 0, err
    data = json.loads(out)
    got = {t["number"]: t for t in data["trials"]}
    assert sorted(got) == [0, 1, 2, 3, 4]
    for t in data["trials"]:
        assert set(t) >= {"number", "value", "energy_kwh", "co2e_kg", "run_id", "params"}
        assert t["energy_kwh_it"] == pytest.approx(energy[t["number"]] / 3.6e6)
        assert t["co2e_kg"] > 0
    assert data["pareto"] == _brute_front(data["trials"], "minimize") == [1, 2, 3, 4]
    assert data["total_energy_kwh"] == pytest.approx(sum(t["energy_kwh"] for t in data["trials"]))
    # best 0.44; within 1 % (0.0044): trial 3 (0.45) is 2.3 % away, so all five were needed
    assert data["within"]["trials"] == [0, 1, 2, 3, 4] and data["within"]["energy_share"] == pytest.approx(1)
    rc, out, _ = sweep_cli("--project", "p", "--study", "s", "--within", "3", "--store", store_path)
    assert rc == 0
    share = sum(energy[:4]) / sum(energy) * 100  # the first four trials' energy, of all five's
    assert ("the best trial (#4) reached 0.44; reaching within 3 % of it took only trials #0, #1, #2, #3 "
            f"(4 of 5), which used {share:.1f} % of the energy") in out
    assert not re.search(r"\d[eE][-+]?\d", out)
    page = tmp_path / "sweep.html"
    rc, _, err = sweep_cli("--project", "p", "--study", "s", "--html", str(page), "--store", store_path)
    assert rc == 0, err
    html = page.read_text()
    assert "<script" not in html and html.count('class="front"') == 4 and html.count('class="trial"') == 1
    assert "cumulative energy" in html
    # two studies mixed without --study: said so
    rc, out, _ = sweep_cli("--project", "p", "--json", "--store", store_path)
    assert any("2 studies mixed" in n for n in json.loads(out)["notes"])


def test_maximize_comes_from_the_records_and_can_be_overridden(store_path, sweep_cli):
    for n, (v, e) in enumerate([(0.8, 1e6), (0.9, 2e6), (0.7, 0.5e6)]):
        _record(store_path, n, v, e, direction="maximize")
    rc, out, _ = sweep_cli("--project", "p", "--json", "--store", store_path)
    data = json.loads(out)
    assert data["direction"] == "maximize" and data["pareto"] == [0, 1, 2]
    rc, out, _ = sweep_cli("--project", "p", "--json", "--direction", "minimize", "--store", store_path)
    assert json.loads(out)["pareto"] == [2]


@pytest.mark.parametrize("args, message", [
    (["--within", "abc"], "--within 'abc'"), (["--within", "100"], "below 100"),
    (["--study", "nope"], "no sweep trials"),
])
def test_bad_input_is_one_line_and_exit_2(store_path, sweep_cli, args, message):
    _record(store_path, 0, 0.5, 1e6)
    rc, out, err = sweep_cli("--project", "p", *args, "--store", store_path)
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1


def test_campaign_counts_sweep_trials_as_tuning_without_tags(store_path):
    _record(store_path, 0, 0.5, 1e6)
    s = Store.open(store_path)
    rec = s.get_run("s-0")
    s.update_run(rec.key, tags=[])  # no tag at all: the sweep record alone says it is tuning
    acc = account(Store.open(store_path).list_runs(project="p"))
    lv = {x["level"]: x for x in acc["levels"]}
    assert lv["tuning"]["run_ids"] == ["s-0"] and lv["experimentation"]["runs"] == 0


def test_real_optuna_study_on_fake_rapl_then_sweep_json(tmp_path, store_path, sweep_cli):
    optuna = pytest.importorskip("optuna")
    from wattprint.integrations.optuna import tracked

    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def objective(trial):
        x = trial.suggest_float("x", -1, 1)
        time.sleep(0.2 + 0.4 * abs(x))  # a trial's energy depends on its params
        return (x - 0.3) ** 2

    with FakeRapl(tmp_path / "sysfs", {"package-0": 30.0}):
        study = optuna.create_study(study_name="real", sampler=optuna.samplers.RandomSampler(seed=3))
        study.optimize(tracked(objective, project="p", sysfs_root=str(tmp_path / "sysfs"), store=store_path,
                               gpus=False, interval=0.05, quiet=True), n_trials=4)
    rc, out, err = sweep_cli("--project", "p", "--json", "--store", store_path)
    assert rc == 0, err
    data = json.loads(out)
    assert [t["number"] for t in data["trials"]] == [0, 1, 2, 3]
    for t, trial in zip(data["trials"], study.trials):
        assert t["value"] == pytest.approx(trial.value) and t["params"] == trial.params
        assert t["run_id"] == trial.user_attrs["wattprint_run_id"]
        assert t["energy_kwh"] == pytest.approx(30.0 * t["duration_s"] / 3.6e6, rel=0.04)
    assert data["pareto"] == _brute_front(data["trials"], "minimize") and data["pareto"]
    assert data["total_energy_kwh"] == pytest.approx(sum(t["energy_kwh"] for t in data["trials"]))


def test_optuna_and_ray_are_imported_only_when_used():
    code = "import wattprint, wattprint.sweep, wattprint.report.sweep, wattprint.cli.sweep"
    r = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    loaded = {line.split("|")[-1].strip().split(".")[0] for line in r.stderr.splitlines() if "|" in line}
    assert "wattprint" in loaded and not loaded & {"optuna", "ray", "sqlalchemy", "transformers"}


def test_html_page_is_offline_with_one_unit_per_quantity(store_path, sweep_cli, tmp_path):
    from html import unescape

    for n, (v, e) in enumerate([(0.9, 20.0), (0.5, 3e5), (0.45, 7e6)]):  # J to MWh-ish spread
        _record(store_path, n, v, e)
    page_path = tmp_path / "s.html"
    rc, _, err = sweep_cli("--project", "p", "--html", str(page_path), "--store", store_path)
    assert rc == 0, err
    page = page_path.read_text()
    assert "default-src 'none'" in page and "url(" not in page
    assert not re.search(r"<(script|img|link|iframe|object|embed)\b", page)
    text = unescape(re.sub(r"<[^>]+>", " ", page.split("<body>", 1)[1]))
    assert not re.search(r"\d[eE][-+]?\d", text)
    energy_units = set(re.findall(r"\d (GWh|MWh|kWh|Wh|J)\b", text)) | set(
        re.findall(r"\((GWh|MWh|kWh|Wh|J)\)", text))
    mass_units = set(re.findall(r"\d (t|kg|g|mg)(?![\w/])", text))
    assert len(energy_units) == 1 and len(mass_units) == 1, (energy_units, mass_units)


def test_mixed_studies_mark_the_right_trial_and_a_nan_value_is_no_value(store_path, sweep_cli):
    # study a: #0 is the only trial, on the front; study b: #0 is beaten by b's #1 on both axes
    _record(store_path, 0, 0.5, 1e6, study="a", start=1_700_000_000)
    _record(store_path, 0, 0.9, 5e6, study="b", start=1_700_000_100)
    _record(store_path, 1, 0.4, 2e6, study="b", start=1_700_000_200)
    _record(store_path, 2, float("nan"), 0.1e6, study="b", start=1_700_000_300)
    rc, out, err = sweep_cli("--project", "p", "--json", "--store", store_path)
    assert rc == 0, err
    data = json.loads(out)
    assert sorted(data["pareto_run_ids"]) == ["a-0", "b-1"]  # b-0 shares a's number but is beaten
    assert sorted(data["pareto"]) == [0, 1]
    nan_trial = [t for t in data["trials"] if t["run_id"] == "b-2"][0]
    assert nan_trial["value"] is None
    assert "nan" not in json.dumps(data["within"]).lower()
    rc, text, _ = sweep_cli("--project", "p", "--store", store_path)
    marked = [line.split()[1] for line in text.splitlines() if line.lstrip().startswith("*")]
    assert len(marked) == 2  # two trials starred, not every trial numbered 0 or 1
