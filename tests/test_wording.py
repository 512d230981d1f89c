"""Each interface speaks its own language: the CLI says ``--pue``, never ``pue=``; the Python API
says ``pue=``, never ``--pue``. Checked on the real CLI (subprocesses) and on the library's own
notes, sources and errors."""
import re
import sys

import psutil
import pytest

import wattprint
from wattprint import fmt
from wattprint.footprint import estimate, for_energy, from_run
from wattprint.meters.cpu_model import per_thread_power
from wattprint.run.options import options

PYTHON_KEYWORD = re.compile(r"(?<![\w-])[a-z][a-z_]*=(?=[\s,)'\"/;]|$)", re.M)  # "pass pue= or cloud="
CLI_OPTION = re.compile(r"(?<![\w-])--[a-z][a-z-]+")  # "--pue"
TINY = [sys.executable, "-c", "print('step 1/1')"]


def _python_words(text: str) -> list[str]:
    return PYTHON_KEYWORD.findall(text)


@pytest.fixture
def python_wording(monkeypatch):
    """The CLI's main(), run in-process by other tests, switches hints to CLI wording for good."""
    monkeypatch.setitem(fmt._INTERFACE, "name", "python")


# -- the CLI --------------------------------------------------------------------------------------

def test_a_tiny_run_and_its_estimates_say_no_python_keyword(cli, tmp_path):
    store = str(tmp_path / "s.sqlite")
    outputs = []
    r = cli("run", "--store", store, "--", *TINY)  # no location, no PUE: both hints shown
    assert r.returncode == 0, r.stderr
    assert "--pue" in r.stderr  # the hint is there, in this interface's words
    outputs.append(r.stdout + r.stderr)
    run_id = re.search(r"run (\S+) finished", r.stderr).group(1)
    for argv in (["estimate", "--hardware", "V100", "--hours", "3"],
                 ["estimate", "--hardware", "V100", "--hours", "3", "--cloud", "aws:us-east-1", "--embodied"],
                 ["estimate", "--from-run", run_id, "--store", store, "--embodied", "--runs", "3"],
                 ["runs", "--store", store]):
        r = cli(*argv)
        assert r.returncode == 0, (argv, r.stderr)
        outputs.append(r.stdout + r.stderr)
    for text in outputs:
        assert _python_words(text) == [], text


@pytest.mark.parametrize("argv, hint", [
    (["estimate", "--hours", "3"], "--power-w"),
    (["estimate", "--power-w", "100"], "--hours"),
    (["estimate", "--hardware", "V100", "--hours", "3", "--region", "FR", "--cloud", "gcp:us-central1"], "--region"),
    (["estimate", "--hardware", "V100", "--hours", "3", "--price-low", "3", "--price-high", "1"], "--price-low"),
    (["estimate", "--hardware", "V100", "--hours", "3", "--pue", "0.5"], "--pue"),
    (["run", "--budget-co2e-kg", "1", "--", *TINY], "--region"),
    (["run", "--budget-usd", "1", "--", *TINY], "--cloud"),
])
def test_cli_errors_name_cli_options(cli, tmp_path, argv, hint):
    r = cli(*argv, "--store", str(tmp_path / "s.sqlite")) if argv[0] == "estimate" else \
        cli(argv[0], "--store", str(tmp_path / "s.sqlite"), *argv[1:])
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert hint in r.stderr and _python_words(r.stderr) == [], r.stderr


# -- Python ---------------------------------------------------------------------------------------

def _texts(fp) -> list[str]:
    return list(fp.notes) + [f"{s['source']} {s.get('note', '')}" for s in fp.sources] + [str(fp)]


def test_library_notes_and_sources_name_python_keywords(python_wording):
    texts = _texts(for_energy(1.0, 2.0))  # no location, no PUE
    texts += _texts(estimate(hardware="V100", hours=3, cloud="aws:us-east-1", embodied=True))
    texts += _texts(estimate(device_power_w=200, hours=1, pue=1.2, intensity=300, tariff=0.1,
                             price_low=1, price_high=2))
    joined = "\n".join(texts)
    assert "pue=" in joined and "region=" in joined  # the hints are there, in Python's words
    assert "given by the user (pue)" in joined
    assert CLI_OPTION.findall(joined) == [], joined


def test_an_unknown_cpu_hint_names_python_keywords(python_wording):
    _, method, _ = per_thread_power("Some Unknown CPU 9999", psutil)
    assert "cpu=" in method and CLI_OPTION.findall(method) == [], method


@pytest.mark.parametrize("call", [
    lambda: estimate(hours=3),
    lambda: estimate(power_w=100),
    lambda: estimate(power_w=100, hours=1, region="FR", cloud="gcp:us-central1"),
    lambda: estimate(hardware="V100", hours=3, price_low=3, price_high=1),
    lambda: estimate(hardware="V100", hours=3, pue=0.5),
    lambda: estimate(hardware="V100", hours=3, prices="aws-2023-10", price_low=1),
    lambda: options(budget_co2e_kg=1),
    lambda: options(budget_usd=1),
    lambda: options(budget_kwh=-1),
    lambda: options(cpu_tdp_w=0),
    lambda: options(interval=0),
    lambda: options(region=" "),
    lambda: wattprint.track(regoin="FR"),
])
def test_library_errors_name_python_keywords(python_wording, call):
    with pytest.raises(wattprint.UsageError) as e:
        call()
    assert CLI_OPTION.findall(str(e.value)) == [], str(e.value)


def test_from_run_in_python_says_where_each_input_came_from(python_wording, analytic, store_path):
    with wattprint.track(meters=[analytic(lambda t: 40.0, lambda t: 40.0 * t)], store=store_path,
                         interval=0.02, region="FR", quiet=True) as run:
        pass
    fp = from_run(run.record, hours=2, embodied=True)
    power = next(s for s in fp.sources if s["factor"] == "total_power")
    assert power["source"].startswith(f"from run {run.run_id}: measured mean power")
    intensity = next(s for s in fp.sources if s["factor"] == "intensity")
    assert intensity["origin"] == f"region FR stored with run {run.run_id}"
    assert CLI_OPTION.findall("\n".join(_texts(fp))) == []
