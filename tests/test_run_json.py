"""``wattprint run --json`` keeps stdout for one JSON object; ``--json-out FILE`` writes it to a
file and leaves the command's output alone."""
import json
import subprocess
import sys
import textwrap

import pytest

NOISY = """
import sys
for i in range(3000):
    print(f"line {i} " + "x" * 40)
    if i % 500 == 0:
        sys.stderr.write(f"\\r 10%| | {i}/3000 [")
sys.stderr.write("\\nwarning on stderr\\n")
print("epoch 1/1 loss=0.1")
sys.exit(int(sys.argv[1]))
"""


def _wattprint(*args):
    r = subprocess.run([sys.executable, "-m", "wattprint", *args], capture_output=True, timeout=120)
    r.out, r.err = r.stdout.decode(), r.stderr.decode()
    return r


@pytest.fixture
def noisy(tmp_path):
    p = tmp_path / "noisy.py"
    p.write_text(textwrap.dedent(NOISY))
    return str(p)


@pytest.mark.parametrize("extra", [[], ["--no-progress-output"]])
@pytest.mark.parametrize("code,status", [(0, "finished"), (3, "failed")])
def test_json_stdout_is_one_object_while_the_command_prints(noisy, extra, code, status):
    r = _wattprint("run", "--json", "--interval", "0.05", *extra, "--", sys.executable, noisy, str(code))
    assert r.returncode == code
    obj = json.loads(r.out)  # the whole of stdout: one object, nothing before or after
    assert obj["status"] == status and obj["exit_code"] == code
    assert "line 2999 " in r.err and "warning on stderr" in r.err  # the command's output, on stderr
    assert "Traceback" not in r.err


def test_json_out_leaves_the_output_alone(noisy, tmp_path):
    out = tmp_path / "run.json"
    r = _wattprint("run", "-q", "--json-out", str(out), "--run-id", "jo", "--", sys.executable, noisy, "0")
    assert r.returncode == 0, r.err
    assert r.out.startswith("line 0 ") and r.out.endswith("epoch 1/1 loss=0.1\n")
    obj = json.loads(out.read_text())
    assert obj["run_id"] == "jo" and obj["status"] == "finished" and "footprint" in obj
    assert list(tmp_path.glob(".run.json.*")) == []  # no temporary file left


def test_json_and_json_out_agree(noisy, tmp_path):
    out = tmp_path / "run.json"
    r = _wattprint("run", "--json", "--json-out", str(out), "--", sys.executable, noisy, "0")
    assert r.returncode == 0, r.err
    assert json.loads(r.out) == json.loads(out.read_text())


def test_json_out_to_a_bad_path_is_refused_before_the_command(tmp_path):
    marker = tmp_path / "ran"
    r = _wattprint("run", "--json-out", str(tmp_path / "missing" / "run.json"), "--",
                   sys.executable, "-c", f"open({str(marker)!r}, 'w')")
    assert r.returncode == 2 and not marker.exists()
    assert len(r.err.strip().splitlines()) == 1 and "does not exist" in r.err


def test_help_says_where_the_output_goes():
    r = _wattprint("run", "--help")
    text = " ".join(r.out.split())
    assert "stdout then goes to stderr" in text and "--json-out" in text
