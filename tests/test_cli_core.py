"""``wattprint run / runs / show / doctor`` end to end, in subprocesses."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from wattprint.store import Store

CHILD_EXIT_3 = "import time; time.sleep(0.3); raise SystemExit(3)"


def test_run_json_summary_and_exit_code(cli, store_path):
    r = cli("run", "--json", "--interval", "0.05", "--project", "demo", "--store", store_path,
            "--", sys.executable, "-c", CHILD_EXIT_3)
    assert r.returncode == 3, r.stderr
    out = json.loads(r.stdout)
    for key in ("run_id", "status", "duration_s", "energy_j", "energy_kwh", "domains"):
        assert key in out
    assert out["status"] == "failed" and out["exit_code"] == 3
    assert out["duration_s"] >= 0.3
    assert out["domains"], "a machine always has at least the modelled CPU"
    for d in out["domains"]:
        assert set(d) >= {"name", "kind", "source", "label", "energy_j", "avg_power_w"}
        assert d["label"] in ("measured", "modelled")
        assert d["kind"] in ("cpu", "dram", "gpu", "psys", "uncore", "other")
    assert out["energy_j"] == pytest.approx(sum(d["energy_j"] for d in out["domains"] if d["in_total"]))
    assert out["energy_kwh"] == pytest.approx(out["energy_j"] / 3.6e6)
    # the same run is listed and shown
    runs = json.loads(cli("runs", "--json", "--store", store_path).stdout)
    assert [x["run_id"] for x in runs] == [out["run_id"]]
    shown = json.loads(cli("show", out["run_id"][:18], "--json", "--store", store_path).stdout)
    assert shown["energy_j"] == out["energy_j"]


def test_human_summary_names_labels(cli, store_path):
    r = cli("run", "--store", store_path, "--", sys.executable, "-c", "print('hello from child')")
    assert r.returncode == 0
    assert "hello from child" in r.stdout
    assert "finished" in r.stderr and ("modelled" in r.stderr or "measured" in r.stderr)


def test_sigterm_is_forwarded_and_child_code_returned(store_path, tmp_path):
    marker = tmp_path / "got-term"
    child = ("import signal, sys, time, pathlib\n"
             f"def h(s, f): pathlib.Path({str(marker)!r}).write_text('x'); sys.exit(7)\n"
             "signal.signal(signal.SIGTERM, h)\n"
             "print('ready', flush=True)\n"
             "time.sleep(30)\n")
    p = subprocess.Popen([sys.executable, "-m", "wattprint", "run", "--quiet", "--store", store_path,
                          "--", sys.executable, "-c", child], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=20) == 7
    assert marker.exists()
    (rec,) = Store.open(store_path).list_runs()
    assert rec.status == "cancelled" and rec.exit_code == 7  # stopped by the user, not a failure


@pytest.mark.parametrize("args, words", [
    (["run"], "no command"),
    (["run", "--"], "no command"),
    (["run", "--interval", "0.001", "--", "true"], "--interval"),
    (["run", "--interval", "abc", "--", "true"], "--interval"),
    (["run", "--bogus", "--", "true"], "unrecognized"),
    (["run", "--", "no-such-command-xyz"], "command not found"),
    (["show", "nope"], "no run"),
    (["frobnicate"], "unknown command"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(cli, store_path, args, words):
    r = cli(*args, env={"WATTPRINT_STORE": store_path})
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], r.stderr
    assert "Traceback" not in r.stderr
    if args[0] == "run":
        assert not os.path.exists(store_path)


def test_unwritable_store_is_refused_before_the_command_runs(cli, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    marker = tmp_path / "ran"
    r = cli("run", "--store", str(blocker / "runs.sqlite"), "--", sys.executable, "-c",
            f"open({str(marker)!r}, 'w')")
    assert r.returncode == 2 and "cannot write the run store" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not marker.exists()


def test_doctor_reports_meters_and_what_is_missing(cli):
    r = cli("doctor")
    assert r.returncode == 0, r.stderr
    assert "Measuring:" in r.stdout and "rapl" in r.stdout.lower()
    j = json.loads(cli("doctor", "--json").stdout)
    sources = {u["source"] for u in j["unavailable"]}
    assert "rapl" in sources  # the tests' sysfs root is empty
    assert any(d["label"] == "modelled" and d["kind"] == "cpu" for d in j["domains"])


KILLABLE = r"""
import sys, time, wattprint
with wattprint.track(store=sys.argv[1], interval=0.05, flush_interval=0.2) as run:
    print(run.run_id, flush=True)
    end = time.time() + 60
    while time.time() < end:
        sum(i * i for i in range(10000))
"""


def _wait_for_samples(store_path, run_id, n=10, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            st = Store.open(store_path, create=False)
            rec = st.get_run(run_id)
            if st.count_samples(rec.key) >= n:
                return rec
        except Exception:
            pass
        time.sleep(0.1)
    raise AssertionError("no samples were flushed")


def test_kill_9_of_tracked_process_keeps_energy_up_to_last_flush(store_path):
    p = subprocess.Popen([sys.executable, "-c", KILLABLE, store_path], stdout=subprocess.PIPE,
                         text=True)
    run_id = p.stdout.readline().strip()
    _wait_for_samples(store_path, run_id)
    time.sleep(1.0)
    killed_at = time.time()
    p.kill()
    p.wait()
    rec = Store.open(store_path).get_run(run_id)
    assert rec.status == "interrupted"
    assert rec.energy_j > 0
    # at most one flush interval (0.2 s) plus one poll is lost
    lived = killed_at - rec.started_at
    assert rec.duration_s >= lived - 0.2 - 0.05 - 0.3  # 0.3 s: interpreter start-up slack
    assert rec.energy_j == pytest.approx(sum(d.energy_j for d in rec.domains if d.in_total))


def test_kill_9_of_wattprint_run_wrapper(store_path):
    p = subprocess.Popen([sys.executable, "-m", "wattprint", "run", "--interval", "0.05",
                          "--flush-interval", "0.2", "--store", store_path, "--",
                          sys.executable, "-c", "import time; print('go', flush=True); time.sleep(60)"],
                         stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert p.stdout.readline().strip() == "go"
    deadline = time.time() + 20
    while time.time() < deadline:
        runs = Store.open(store_path).list_runs() if os.path.exists(store_path) else []
        if runs and runs[0].duration_s > 0.5:
            break
        time.sleep(0.1)
    p.kill()
    p.wait()
    os.killpg(p.pid, signal.SIGKILL)  # the orphaned child too
    (rec,) = Store.open(store_path).list_runs()
    assert rec.status == "interrupted" and rec.energy_j > 0 and rec.duration_s > 0.5


def test_top_level_help_version_and_no_command(cli):
    from wattprint import __version__
    from wattprint.cli import COMMANDS

    r = cli("--help")
    assert r.returncode == 0
    assert all(f"  {name} " in r.stdout for name in COMMANDS)
    assert cli("--version").stdout.strip() == f"wattprint {__version__}"
    r = cli()
    assert r.returncode == 2 and "commands:" in r.stderr
    for name in COMMANDS:  # every listed command exists and has its own help
        r = cli(name, "--help")
        assert r.returncode == 0 and f"usage: wattprint {name}" in r.stdout, (name, r.stderr)


def test_doctor_hints_speak_the_command_line_only(monkeypatch):
    from wattprint.cli import doctor
    from wattprint.meters import cpu_model

    monkeypatch.setattr(cpu_model, "cpu_model_name", lambda: "AMD EPYC")
    (hint,) = doctor.cpu_hints([cpu_model.open().domains()[0]])
    assert "--cpu NAME" in hint and "--cpu-tdp-w W" in hint
    assert "track(" not in hint and "cpu=" not in hint and "cpu_tdp_w" not in hint
