"""The Python API as a user meets it: track()'s options visible to help() and IDEs, a typo
answered with the closest option, and results that print as a few readable lines."""
import inspect
import pydoc
import re

import pytest

import wattprint
from wattprint.run import Measurement
from wattprint.run.options import options


@pytest.fixture(autouse=True)
def _python_wording(monkeypatch):
    """The CLI's main(), run in-process by other tests, switches hints to CLI wording for good."""
    from wattprint import fmt

    monkeypatch.setitem(fmt._INTERFACE, "name", "python")


def test_track_lists_every_option_in_its_signature_and_docstring():
    sig = inspect.signature(wattprint.track)
    params = sig.parameters
    opts = inspect.signature(options).parameters
    assert set(params) == set(opts) | {"func", "clock"}
    for name, p in opts.items():
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY
        assert params[name].default == p.default, name  # the same defaults as the checks
        assert re.search(rf"\b{name}\b", wattprint.track.__doc__), f"{name} not in the docstring"
    assert "region=None" in pydoc.render_doc(wattprint.track)  # help() shows them


@pytest.mark.parametrize("call", [lambda: wattprint.track(regoin="FR"),
                                  lambda: wattprint.Run(regoin="FR"),
                                  lambda: options(regoin="FR")])
def test_a_typo_names_the_closest_option(call):
    with pytest.raises(wattprint.UsageError, match=r"^unknown option 'regoin'; did you mean 'region'\?$") as e:
        call()
    assert isinstance(e.value, TypeError)  # what Python gives for any unknown keyword


def test_an_unknown_option_far_from_any_lists_them():
    with pytest.raises(TypeError, match="unknown option 'xyzzy'; the options are: .*budget_kwh"):
        wattprint.track(xyzzy=1)


def test_a_decorator_without_arguments_still_works(analytic, store_path, monkeypatch):
    monkeypatch.setenv("WATTPRINT_STORE", store_path)

    @wattprint.track
    def work():
        return 7

    assert work() == 7 and work.last_run.status == "finished"


def test_a_measurement_prints_one_unit_and_plain_numbers():
    m = Measurement("eval", 45.0, {"gpu:0": 7200.0, "cpu:0": 1800.0, "dram:0": 0.5})
    text = str(m)
    assert text.startswith("eval: 2.50 Wh over 45.0 s (200 W average)")  # 9,000.5 J / 3,600; / 45 s
    assert re.findall(r"[\d.<]+ (\w+)(?=,|$)", text) == ["Wh", "Wh", "Wh"]  # domains in the same unit
    assert "e-" not in text and "e+" not in text
    assert repr(m).startswith("Measurement('eval'")  # the full repr stays for debugging


def test_window_and_result_print_readably(analytic, store_path):
    meter = analytic(lambda t: 50.0, lambda t: 50.0 * t)
    with wattprint.track(meters=[meter], store=store_path, interval=0.02, region="FR",
                         quiet=True) as run:
        with run.window("eval") as w:
            pass
    assert str(w).startswith("eval: ") and "average" in str(w)
    text = str(run.result)
    lines = text.splitlines()
    assert 2 <= len(lines) <= 8, text
    assert lines[0].startswith("energy") and "CO2e" in text and "FR" in text
    assert "e-0" not in text and "lb" not in text
    assert repr(run.result).startswith("Footprint(")
