import json
import re
from pathlib import Path

import pytest

from wattprint.cli import main
from wattprint.reproduce import strubell2019

YAML = Path(__file__).resolve().parents[2] / "shared" / "reference" / "strubell2019.yaml"


def test_reproduce_exits_zero_and_covers_tables_1_3_4(capsys):
    assert main(["reproduce", "strubell2019"]) == 0
    out = capsys.readouterr().out
    for t in ("Table 1", "Table 3", "Table 4"):
        assert t in out
    checks = strubell2019.checks()
    compared = [c for c in checks if c.kind == "check"]
    assert len(compared) >= 30 and all(c.ok for c in compared)
    assert {c.table for c in compared} == {"1", "3", "4"}


def test_tpu_energy_is_ours_and_sourced():
    tpu = [c for c in strubell2019.checks() if "TPU" in c.item and c.figure.startswith("energy")]
    assert len(tpu) == 3
    assert all(c.kind == "ours" and c.published is None and c.ours > 0 for c in tpu)
    assert all("Patterson" in c.note for c in tpu)


def test_a_wrong_input_makes_it_fail(capsys, monkeypatch):
    monkeypatch.setattr(strubell2019, "PUE", "1.0")  # the paper used 1.58
    assert main(["reproduce", "strubell2019"]) == 1
    assert "OFF" in capsys.readouterr().out


def test_json_output(capsys):
    assert main(["reproduce", "strubell2019", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["ok"] is True and all("diff" in c for c in d["checks"])


def test_unknown_study(capsys):
    assert main(["reproduce", "nobody2020"]) == 2
    assert "strubell2019" in capsys.readouterr().err


@pytest.mark.skipif(not YAML.exists(), reason="shared reference YAML not present")
def test_published_figures_match_the_reference_yaml():
    text = YAML.read_text()
    rows = re.findall(r"model: (\S+), hardware: (\S+), units: (\d+),.*?published: \{([^}]*)\}", text, re.S)
    assert len(rows) == len(strubell2019.TABLE3)
    for (model, hw, units, pub), ours in zip(rows, strubell2019.TABLE3):
        assert (model, hw.rstrip(","), int(units)) == (ours[0], ours[1], ours[2])
        published = {k: float(v) for k, v in re.findall(r"(\w+): ([\d.]+)", pub)}
        mine = {"kwh_pue": ours[5].get("kwh"), "co2e_lbs": ours[5].get("lbs"),
                "cost_usd_low": ours[5]["low"], "cost_usd_high": ours[5]["high"]}
        assert {k: v for k, v in mine.items() if v is not None} == published


def test_tpu_rows_keep_the_papers_figures_and_note_the_per_device_cost():
    from wattprint.reproduce import strubell2019

    checks = strubell2019.checks()
    for item, chips in (("BERT_base TPUv2x16", 16), ("GPT-2 TPUv3x32", 32)):
        for figure in ("low", "high"):
            paper = next(c for c in checks if c.item == item and c.figure == f"cloud cost USD {figure}")
            dev = next(c for c in checks if c.item == item and c.figure == f"cloud cost USD {figure}, priced per device")
            assert paper.ok and paper.kind == "check"
            assert dev.kind == "ours" and dev.ours == pytest.approx(paper.ours / 4)
    bert = next(c for c in checks if c.item == "BERT_base TPUv2x16" and c.figure.endswith("low, priced per device"))
    assert "4 Cloud TPUs" in bert.note and "16 TPU chips" in bert.note and bert.ours == pytest.approx(518.4)
