"""The predictor on synthetic timelines: warm-up exclusion, accuracy targets, range, bad input."""
import bisect
import json
import logging
import random
import sys
import time

import pytest

import wattprint
from wattprint.predict import Prediction, extrapolate as estimate


@pytest.fixture(autouse=True)
def _python_wording(monkeypatch):
    """The CLI's main(), run in-process by other tests, switches hints to CLI wording for good."""
    from wattprint import fmt

    monkeypatch.setitem(fmt._INTERFACE, "name", "python")


def timeline(total=1000, step_s=0.5, power=100.0, warm_frac=0.03, warm_mult=2.0, warm_slow=1.0,
             noise=0.05, interval=1.0, setup_s=3.0, seed=0):
    """Progress rows (t, done, energy_j) as Run.progress() records them, and the final energy.

    Each step has a random duration and power (uniform +-noise); the first ``warm_frac`` of the
    steps draw ``warm_mult`` times the power and take ``warm_slow`` times as long. Energy is
    known to the sampler only every ``interval`` seconds; a row carries it to the call time at
    the last interval's average power, as the tracker does.
    """
    rng = random.Random(seed)
    ts, es = [0.0, setup_s], [0.0, setup_s * power * 0.5]
    rows = []
    for i in range(1, total + 1):
        warm = i <= warm_frac * total
        d = step_s * (warm_slow if warm else 1.0) * (1 + rng.uniform(-noise, noise))
        p = power * (warm_mult if warm else 1.0) * (1 + rng.uniform(-noise, noise))
        ts.append(ts[-1] + d)
        es.append(es[-1] + d * p)
        rows.append((ts[-1], i))

    def e_at(x):
        j = min(bisect.bisect_right(ts, x) - 1, len(ts) - 2)
        return es[j] + (es[j + 1] - es[j]) * (x - ts[j]) / (ts[j + 1] - ts[j])

    out = []
    for t, i in rows:
        s = int(t / interval) * interval
        p_last = (e_at(s) - e_at(s - interval)) / interval if s >= interval else 0.0
        out.append((t, i, e_at(s) + p_last * min(t - s, 2 * interval)))
    return out, es[-1]


CASES = {
    "steps": dict(),
    "slow warm-up": dict(warm_slow=2.0),
    "fast steps": dict(step_s=0.1, total=3000, warm_frac=0.01),
    "40 epochs": dict(total=40, step_s=30, warm_frac=0.025),
    "noisy": dict(total=400, step_s=2, warm_frac=0.02, noise=0.10),
}


@pytest.mark.parametrize("case", CASES)
def test_targets_on_synthetic_timelines(case):
    """Warm-up at twice the power: at 10 % within 5 %, at 25 % within 3 %; the range holds."""
    for seed in range(10):
        rows, final = timeline(seed=seed, **CASES[case])
        n = len(rows)
        widths = []
        for frac, tol in ((0.10, 0.05), (0.25, 0.03), (0.5, 0.03)):
            p = estimate(rows[: round(frac * n)], n, resolution_s=1.0)
            e = p.energy_kwh * 3.6e6
            assert abs(e / final - 1) < tol, (case, seed, frac, e / final)
            assert p.energy_kwh_low * 3.6e6 <= final <= p.energy_kwh_high * 3.6e6, (case, seed, frac)
            widths.append(p.energy_kwh_high - p.energy_kwh_low)
            if frac >= 0.25:
                assert p.reliable, p.reasons
        assert widths[0] > widths[2]  # the range narrows


def test_warmup_is_detected_and_excluded():
    rows, final = timeline(total=1000, warm_frac=0.05, seed=3)
    p = estimate(rows[:200], 1000, resolution_s=1.0)
    assert 40 <= p.warmup_done <= 60  # 50 warm-up steps (the transition segment may go either way)
    assert p.kwh_per_unit * 3.6e6 == pytest.approx(50.0, rel=0.03)  # 100 W x 0.5 s
    assert p.seconds_per_unit == pytest.approx(0.5, rel=0.03)
    # Without exclusion (carbontracker's method) the same data over-predicts by ~5 %:
    naive = rows[199][2] / 200 * 1000
    assert naive / final - 1 > 0.04
    assert abs(p.energy_kwh * 3.6e6 / final - 1) < 0.02


def test_duration_prediction():
    rows, _ = timeline(total=1000, seed=1)
    p = estimate(rows[:250], 1000, resolution_s=1.0)
    assert p.duration_s == pytest.approx(rows[-1][0], rel=0.02)
    assert p.duration_s_low <= rows[-1][0] <= p.duration_s_high


def test_finished_run_predicts_what_it_measured():
    rows, final = timeline(total=100, seed=2)
    p = estimate(rows, 100)
    assert p.reliable and p.fraction_done == 1.0
    assert p.energy_kwh == p.energy_kwh_low == p.energy_kwh_high == pytest.approx(rows[-1][2] / 3.6e6)


def test_early_prediction_is_unreliable_with_a_wide_range():
    rows, final = timeline(total=1000, seed=4)
    p = estimate(rows[:8], 1000, resolution_s=1.0)  # inside the warm-up
    assert not p.reliable and p.reasons
    assert p.energy_kwh_high - p.energy_kwh_low > 0.5 * p.energy_kwh


@pytest.mark.parametrize("rows,total,problem", [
    ([(1, 1, 10), (2, 2, 20)], 0, "total (0) is not a positive"),
    ([(1, 1, 10), (2, 2, 20)], -5, "total (-5) is not a positive"),
    ([(1, 5, 10), (2, 3, 20), (3, 6, 30)], 10, "backwards"),
    ([(1, 5, 10), (2, 12, 20)], 10, "exceeds the total"),
])
def test_bad_input_is_reported_and_unreliable(rows, total, problem):
    p = estimate(rows, total)
    assert not p.reliable
    assert any(problem in s for s in p.problems), p.problems
    p.line()  # printable


def test_no_progress_and_no_total():
    p = estimate([], 100)
    assert p.energy_kwh is None and not p.reliable and "no progress" in p.line()
    p = estimate([(1, 1, 10)], None)
    assert not p.reliable and any("no total" in r for r in p.reasons)
    assert isinstance(wattprint.Prediction(), Prediction)


def test_prediction_carries_co2e_and_cost_from_the_location():
    from wattprint.predict import add_footprint

    rows, final = timeline(total=1000, seed=5)
    p = add_footprint(estimate(rows[:300], 1000, resolution_s=1.0),
                      {"intensity": "400g/kWh", "pue": 1.5, "tariff": "0.2"})
    assert p.pue == 1.5
    assert p.co2e_kg == pytest.approx(p.energy_kwh * 1.5 * 0.4, rel=1e-6)
    assert p.co2e_kg_low < p.co2e_kg < p.co2e_kg_high
    assert p.cost_usd == pytest.approx(p.energy_kwh * 1.5 * 0.2, rel=1e-6)
    assert p.cost_usd_low < p.cost_usd < p.cost_usd_high
    assert json.dumps(p.as_dict())


# -- live, through track() ----------------------------------------------------------------------
def _warm_meter(analytic, warm_s=0.3, power=50.0):
    """Counter meter drawing 2x power for the first warm_s seconds."""
    return analytic(lambda t: power * (2 if t < warm_s else 1),
                    lambda t: power * t + power * min(t, warm_s))


def _train(run, steps, step_s=0.004):
    for i in range(steps):
        time.sleep(step_s)
        run.progress(i + 1)


def test_live_predictions_are_logged_and_stored(analytic, caplog):
    caplog.set_level(logging.INFO, logger="wattprint")
    with wattprint.track(meters=[_warm_meter(analytic)], interval=0.02, total=300, quiet=True,
                         predict_every=0.25, distributed=False) as run:
        _train(run, 300)
        p = run.predict()
    lines = [r.getMessage() for r in caplog.records if "predicted total" in r.getMessage()]
    from wattprint.store import Store

    store = Store.open()
    stored = store.predictions(run.record.key)
    # every checkpoint is stored; only the first reliable one, and moves, are said
    assert [round(d["fraction_done"], 2) for _, d in stored] == [0.25, 0.5, 0.75, 1.0]
    reliable = [d for _, d in stored if d["reliable"]]
    assert 1 <= len(lines) <= len(reliable)
    assert not any("not yet reliable" in line for line in lines)
    assert p.fraction_done == 1.0 and p.energy_kwh * 3.6e6 == pytest.approx(run.last_progress[2])


def _uneven_epochs(run, n=8):
    """Epochs of very different lengths: the prediction never becomes reliable."""
    for i in range(n):
        time.sleep(0.03 * (1 + 4 * (i % 2)))
        run.progress(i + 1)


@pytest.mark.parametrize("verbose", [False, True])
def test_an_unreliable_8_epoch_run_prints_at_most_two_lines(analytic, capsys, verbose):
    with wattprint.track(meters=[_warm_meter(analytic)], interval=0.01, total=8, unit="epoch",
                         verbose=verbose, distributed=False) as run:
        _uneven_epochs(run)
    stored = [d for _, d in __import__("wattprint.store", fromlist=["Store"]).Store.open()
              .predictions(run.record.key)]
    assert len(stored) >= 8  # every checkpoint stored
    assert not any(d["reliable"] for d in stored if d["fraction_done"] < 1)  # the premise
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("wattprint: at ")]
    assert len(lines) <= 2 and bool(lines) == verbose
    assert all("not yet reliable (" in line and "[unreliable" not in line for line in lines)


def _pred(mid, reliable=True, width=0.1):
    from wattprint.predict import Prediction

    return Prediction(energy_kwh=mid, energy_kwh_low=mid * (1 - width), energy_kwh_high=mid * (1 + width),
                      reliable=reliable, reasons=[] if reliable else ["only 1 steady segment(s)"])


@pytest.mark.parametrize("verbose,expect", [
    (False, [False, False, True, False, False, True, False]),
    (True, [True, False, True, False, False, True, False]),
])
def test_a_line_when_first_reliable_then_when_it_moves_out_of_range(verbose, expect):
    from wattprint.plugins.forecast import ForecastPlugin
    from wattprint.run.options import options

    plugin = ForecastPlugin(options(total=10, verbose=verbose))
    preds = [_pred(1.0, False, 0.5), _pred(1.2, False, 0.5),  # unreliable, inside the last shown
             _pred(1.0), _pred(1.08), _pred(0.92),            # reliable, then within 0.9 - 1.1
             _pred(1.2), _pred(1.15)]                         # out of it, then within 1.08 - 1.32
    assert [plugin._worth_a_line(p) for p in preds] == expect


def test_prediction_reads_as_a_sentence():
    from wattprint.predict import Prediction

    p = Prediction(energy_kwh=1.2, energy_kwh_low=1.0, energy_kwh_high=1.4, duration_s=12000,
                   co2e_kg=0.5, fraction_done=0.4, done=40, total=100, unit="epoch", reliable=True)
    assert str(p) == ("Predicted total 1.20 kWh (1.00 - 1.40 kWh), 3 h 20 min, 500 g CO2e, "
                      "at 40 % of 100 epochs; reliable.")
    p.reliable, p.reasons = False, ["only 2 steady segment(s) after warm-up; need 4"]
    assert str(p).endswith("; not yet reliable: only 2 steady segment(s) after warm-up; need 4.")
    assert "Prediction(energy_kwh=1.2" in repr(p)  # the full repr stays for debugging
    assert str(Prediction(reasons=["no progress reported; x"])) == "No prediction yet: no progress reported; x."


def test_prediction_lines_go_through_tqdm_when_it_has_bars(analytic, capsys):
    tqdm = pytest.importorskip("tqdm")
    with wattprint.track(meters=[_warm_meter(analytic)], interval=0.02, total=300,
                         predict_every=0.25, distributed=False) as run:
        for i in tqdm.tqdm(range(300), mininterval=0, file=sys.stderr):
            time.sleep(0.004)
            run.progress(i + 1)
    err = capsys.readouterr().err
    at = [i for i in range(len(err)) if err.startswith("wattprint: at ", i)]
    assert at  # a reliable prediction was said
    assert all(err[i - 1] in "\r\n" for i in at)  # at a line's start, not after a bar's text


def test_budget_stop_raises_in_the_training_loop(analytic):
    with pytest.raises(wattprint.BudgetExceeded) as exc:
        with wattprint.track(meters=[_warm_meter(analytic)], interval=0.02, total=2000,
                             budget_kwh=150 / 3.6e6, on_exceed="stop", distributed=False) as run:
            _train(run, 2000, 0.003)  # ~6 s at 50 W: ~300 J
    assert run.status == "stopped"
    assert run.done < 2000  # stopped early, from progress()
    pred = exc.value.prediction
    assert pred is not None and pred.reliable and pred.energy_kwh * 3.6e6 > 150
    # It was the prediction, not the energy spent, that tripped it:
    assert run.last_progress[2] < 100
    rows = __import__("wattprint.store", fromlist=["Store"]).Store.open().predictions(run.record.key)
    assert any("budget_exceeded" in d for _, d in rows)


def test_budget_warn_lets_the_run_finish(analytic, caplog):
    with wattprint.track(meters=[_warm_meter(analytic)], interval=0.02, total=300,
                         budget_kwh=1 / 3.6e6, on_exceed="warn", predict_every=None,
                         distributed=False) as run:
        _train(run, 300)
    assert run.status == "finished" and run.done == 300
    warnings = [r.getMessage() for r in caplog.records if "exceeds budget_kwh" in r.getMessage()]
    assert len(warnings) == 1  # once, not at every step


def test_budget_not_hit_by_warmup_spike(analytic):
    """A budget above the steady total is not tripped by the 2x warm-up (prediction unreliable then)."""
    m = analytic(lambda t: 50.0, lambda t: 50.0 * t + 500.0 * min(t, 0.1))  # 10x for 0.1 s
    with wattprint.track(meters=[m], interval=0.02, total=300, budget_kwh=200 / 3.6e6,
                         on_exceed="stop", distributed=False) as run:
        _train(run, 300)
    assert run.status == "finished"


@pytest.mark.parametrize("kw,msg", [
    (dict(budget_kwh=0), "budget_kwh must be a positive"),
    (dict(budget_co2e_kg=1), "budget_co2e_kg needs a grid intensity"),
    (dict(budget_usd=5), "budget_usd needs prices"),
    (dict(predict_every=5), "predict_every is a fraction"),
    (dict(total=-3), "total must be a positive number"),
    (dict(total="abc"), "total must be a number"),
])
def test_bad_budget_options_fail_at_once(kw, msg):
    with pytest.raises(wattprint.UsageError, match=msg):
        wattprint.track(**kw)


def test_bad_progress_warns_and_never_raises(analytic, caplog):
    with wattprint.track(meters=[_warm_meter(analytic)], interval=0.02, distributed=False) as run:
        run.progress(5, total=-3)
        run.progress(2)
        run.progress(4, total=3)
        p = run.predict()
    text = caplog.text
    assert "total=-3 ignored: it must be a positive number" in text
    assert "progress went backwards" in text
    assert "work done (4) exceeds the total (3)" in text
    assert not p.reliable


def test_no_progress_warns_at_the_end(analytic, caplog):
    with wattprint.track(meters=[_warm_meter(analytic)], interval=0.02, total=10,
                         distributed=False) as run:
        p = run.predict()
    assert not p.reliable and "no progress was reported" in caplog.text


def test_hints_speak_the_interfaces_language(monkeypatch):
    from wattprint import fmt

    python = " ".join(estimate([], 10).reasons + estimate([(1, 1, 10)], None).reasons)
    assert "run.progress(done)" in python and "total=N" in python
    monkeypatch.setitem(fmt._INTERFACE, "name", "cli")
    cli = " ".join(estimate([], 10).reasons + estimate([(1, 1, 10)], None).reasons)
    assert "'epoch k/N' lines" in cli and "$WATTPRINT_PROGRESS_FILE" in cli and "--total N" in cli
    assert "run.progress" not in cli and "total=" not in cli
