"""The summary printed when a real `wattprint run` stops: plain numbers, one unit per quantity,
no Python wording (issue 12, item 5 and 'done when: a tiny run's summary')."""
import re
import sys

from conftest import run_cli

ENERGY_UNITS = r"(?:GWh|MWh|kWh|Wh|J)"
MASS_UNITS = r"(?:t|kg|g|mg)"
POWER_UNITS = r"(?:MW|kW|W|mW)"
NUMBER = r"<?\d[\d,]*(?:\.\d+)?"


def _units(text, units):
    return set(re.findall(rf"(?<![\w.]){NUMBER} ({units})(?![\w/])", text))


def _summary(store_path, *extra):
    # a fixed id: a generated one is hex and may read like '239e67'
    r = run_cli("run", "--region", "FR", "--run-id", "tiny", *extra, "--", sys.executable, "-c",
                "print('hello from the child')",
                env={"WATTPRINT_STORE": store_path}, timeout=120)
    assert r.returncode == 0, r.stderr
    lines = r.stderr.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("wattprint: run "))
    return "\n".join(lines[start:])


def test_a_tiny_runs_summary_reads_in_plain_numbers_one_unit_each(store_path):
    text = _summary(store_path)
    assert "finished" in text.splitlines()[0]
    # never scientific notation, never a run of zeros standing for a number too small to show
    assert not re.search(r"\d[eE][-+]?\d", text), text
    assert not re.search(r"\b0\.0{4,}\b(?!\d)", text), text
    # every energy on the page in one unit (header, each domain, energy with PUE)
    energy_lines = [ln for ln in text.splitlines()
                    if ln.startswith("wattprint: run") or re.match(r"\s+(cpu|dram|gpu)\S*\s", ln)
                    or "energy with PUE" in ln]
    assert len(energy_lines) >= 3, text
    units = _units("\n".join(energy_lines), ENERGY_UNITS)
    assert len(units) == 1, (units, text)
    # CO2e is known (FR): one mass unit, with the intensity's source and year beside it
    co2 = [ln for ln in text.splitlines() if ln.strip().startswith("CO2e")]
    assert co2 and len(_units("\n".join(co2), MASS_UNITS)) == 1, text
    assert re.search(r"FR at [\d.]+ g/kWh, life-cycle, Ember, 20\d\d", co2[0]), co2[0]
    # average powers: one unit
    power_lines = [ln for ln in text.splitlines() if ln.startswith("wattprint: run")
                   or re.match(r"\s+(cpu|dram|gpu)\S*\s", ln)]
    assert len(_units("\n".join(power_lines), POWER_UNITS)) == 1, text


def test_a_tiny_runs_summary_speaks_the_command_lines_language(store_path):
    text = _summary(store_path)
    # no Python keyword hints ('pass pue=', 'cloud=', 'call run.progress(done)') on the CLI
    assert not re.search(r"\b[a-z_]{2,}=(?:\s|$|\)|,|;)", text), text
    assert "run.progress(" not in text and "track(" not in text, text
    # the note about the assumed PUE still tells the CLI user what to give
    assert "--pue" in text


def test_predict_text_has_one_energy_unit_and_plain_counts(store_path):
    from test_report import make_run

    make_run(store_path, "p1", n=600, status="running")
    r = run_cli("predict", "p1", "--total", "1000000", env={"WATTPRINT_STORE": store_path})
    assert r.returncode == 0, r.stderr
    text = r.stdout
    assert "100/1000000 epoch" in text and not re.search(r"\d[eE][-+]?\d", text), text
    energy = [ln for ln in text.splitlines() if ln.startswith(("run ", "energy"))]
    assert len(_units("\n".join(energy), ENERGY_UNITS)) == 1, text  # measured, predicted and range
    co2 = [ln for ln in text.splitlines() if ln.startswith("CO2e")]
    assert co2 and len(_units(co2[0], MASS_UNITS)) == 1, text
