"""``wattprint run``: progress from the child's output lines and from $WATTPRINT_PROGRESS_FILE."""
import json
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from wattprint.progress_watch import LineProgress, Splitter, compile_regex, read_file, write_progress
from wattprint.store import Store


def _script(tmp_path, body, name="child.py"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(body))
    return str(p)


def _cli_bytes(*args):
    """Like the ``cli`` fixture, but bytes: text mode would turn tqdm's \r into \n."""
    r = subprocess.run([sys.executable, "-m", "wattprint", *args], capture_output=True, timeout=60)
    r.out, r.err = r.stdout.decode(), r.stderr.decode()
    return r


def _rows(run_id):
    store = Store.open()
    rec = store.get_run(run_id)
    return rec, store.progress(rec.key)


# -- parsing ---------------------------------------------------------------------------------
@pytest.mark.parametrize("line,expect", [
    ("epoch 3/40 loss 0.1", (3, 40)),
    ("Epoch 4 of 40 loss 0.2", (4, 40)),
    ("Epoch 4 of 40", (3, 40)),  # a header, printed as epoch 4 starts
    ("step: 120/5000 lr 3e-4", (120, 5000)),
    ("Iteration 7/100", (7, 100)),
    (" 45%|████▌     | 45/100 [00:04<00:05,  9.80it/s]", (45, 100)),
    ("Epoch 0:  12%|█▏  | 12/500 [00:01<00:40, 12.1it/s, loss=0.3]", (12, None)),  # one epoch's bar
    (" 50%|█████     | 5.00k/10.0k [00:01<00:01, 5.0kit/s]", (5000, 10000)),
    ("loss 0.3 acc 0.9", None),
    ("saved to checkpoint-3/40.pt", None),
])
def test_default_patterns(line, expect):
    assert LineProgress().feed(line) == expect


def test_restarting_bar_counts_on_and_learns_epochs():
    lp = LineProgress()
    got = [lp.feed(x) for x in ("  10%| | 10/100 [", " 100%| | 100/100 [", "epoch 1/3 done",
                                "   5%| | 5/100 [")]
    assert got == [(10, 100), (100, 100), None, (105, 300)]


def test_first_kind_wins():
    lp = LineProgress()
    assert lp.feed("epoch 1/10 loss=1") == (1, 10)
    assert lp.feed(" 30%| | 30/100 [") is None  # a batch bar does not fight the epoch count
    assert lp.feed("epoch 2/10 loss=1") == (2, 10)


def test_custom_regex_and_fixed_total():
    lp = LineProgress([compile_regex(r"it=(?P<done>\d+)")], total=500)
    assert lp.feed("it=20 loss=1") == (20, 500)
    lp = LineProgress([compile_regex(r"(\d+) of (\d+)")])
    assert lp.feed("batch 3 of 9") == (3, 9)


def test_bad_regex_is_a_usage_error():
    from wattprint.errors import UsageError

    with pytest.raises(UsageError, match="not a valid regular expression"):
        compile_regex("(")
    with pytest.raises(UsageError, match="needs a group"):
        compile_regex(r"\d+")


def test_splitter_splits_on_cr_and_nl_across_chunks():
    s = Splitter()
    assert s.feed(b" 1/10 [\r 2/1") == [" 1/10 ["]
    assert s.feed(b"0 [\rdone\n") == [" 2/10 [", "done"]
    assert s.feed("é".encode()[:1]) == []  # half a UTF-8 character waits... or is replaced, never raises


def test_progress_file_formats(tmp_path):
    f = tmp_path / "p"
    for text, expect in [("12", (12, None)), ("12 40\n", (12, 40)), ("3/9", (3, 9)),
                         ('{"done": 5, "total": 50}', (5, 50)), ("1\n2\n7 10\n", (7, 10)),
                         ("junk", None), ("", None)]:
        f.write_text(text)
        assert read_file(str(f)) == expect, text
    assert read_file(str(tmp_path / "missing")) is None
    write_progress(8, 80, path=str(f))
    assert read_file(str(f)) == (8, 80)
    write_progress(1, 2)  # no variable set: does nothing, raises nothing


# -- wattprint run -----------------------------------------------------------------------------
def test_epoch_lines_become_progress_and_output_is_unchanged(tmp_path):
    child = _script(tmp_path, """
        import sys, time
        for e in range(1, 9):
            time.sleep(0.03)
            print(f"epoch {e}/8 loss {1 / e:.3f}")
        sys.stderr.write("warn\\rbar 1\\rbar 2\\n")
        sys.stdout.write("no newline at end")
    """)
    r = _cli_bytes("run", "--interval", "0.02", "-q", "--run-id", "ep", "--", sys.executable, child)
    assert r.returncode == 0, r.err
    assert r.out == "".join(f"epoch {e}/8 loss {1 / e:.3f}\n" for e in range(1, 9)) + "no newline at end"
    assert r.err == "warn\rbar 1\rbar 2\n"
    rec, rows = _rows("ep")
    assert [d for _, d, _, _ in rows] == list(range(1, 9))
    assert rec.total == 8 and rec.unit == "epoch"
    assert all(b[0] >= a[0] and b[3] >= a[3] for a, b in zip(rows, rows[1:]))


def test_tqdm_on_stderr(tmp_path):
    pytest.importorskip("tqdm")
    child = _script(tmp_path, """
        import time
        from tqdm import tqdm
        for epoch in range(3):
            for i in tqdm(range(40), mininterval=0):
                time.sleep(0.002)
            print(f"epoch {epoch + 1}/3")
    """)
    r = _cli_bytes("run", "--interval", "0.02", "-q", "--run-id", "tq", "--", sys.executable, child)
    assert r.returncode == 0, r.err
    assert "\r" in r.err and "40/40" in r.err
    rec, rows = _rows("tq")
    done = [d for _, d, _, _ in rows]
    assert done[-1] == 120 and done == sorted(done)  # three bars of 40, counted on
    assert rows[-1][2] == 120  # total learnt from "epoch N/3"


def test_progress_file(tmp_path, cli):
    """Progress from the file arrives while the command runs, and its last word at the end.

    The command waits until the store shows its first report, so no poll period is assumed."""
    child = _script(tmp_path, """
        import os, sys, time
        from wattprint.progress_watch import write_progress
        from wattprint.store import Store
        write_progress(50, 100)
        deadline = time.monotonic() + 60  # a bound for a hung test only
        while time.monotonic() < deadline:
            store = Store.open()
            rec = store.get_run(os.environ["WATTPRINT_RUN_ID"])
            if any(row[1] == 50 for row in store.progress(rec.key)):
                break
            time.sleep(0.02)
        else:
            sys.exit("the first report never reached the store")
        write_progress(100, 100)
    """)
    r = cli("run", "--interval", "0.02", "--flush-interval", "0.02", "-q", "--run-id", "pf", "--",
            sys.executable, child)
    assert r.returncode == 0, r.stderr
    rec, rows = _rows("pf")
    done = [d for _, d, _, _ in rows]
    assert done[0] == 50 and done[-1] == 100 and set(done) == {50, 100} and rec.total == 100


def test_progress_file_without_output_watching(tmp_path, cli):
    child = _script(tmp_path, """
        import os
        print("epoch 1/4")
        open(os.environ["WATTPRINT_PROGRESS_FILE"], "w").write("3 4")
    """)
    r = cli("run", "--no-progress-output", "-q", "--run-id", "nf", "--", sys.executable, child)
    assert r.returncode == 0 and r.stdout == "epoch 1/4\n"
    _, rows = _rows("nf")
    assert [(d, t) for _, d, t, _ in rows] == [(3, 4)]  # the file only, not the line


def test_custom_regex_on_the_command_line(tmp_path, cli):
    child = _script(tmp_path, "for i in range(1, 6): print(f'it={i*100} loss=1')\n")
    r = cli("run", "-q", "--run-id", "rx", "--total", "500", "--progress-regex", r"it=(?P<done>\d+)",
            "--", sys.executable, child)
    assert r.returncode == 0, r.stderr
    _, rows = _rows("rx")
    assert [d for _, d, _, _ in rows] == [100, 200, 300, 400, 500]


@pytest.mark.parametrize("args,msg", [  # the line names what is wrong
    (["--progress-regex", "("], "not a valid regular expression"),
    (["--budget-kwh", "-1"], "--budget-kwh"),
    (["--budget-co2e-kg", "1"], "--budget-co2e-kg needs a grid intensity"),
    (["--predict-every", "3"], "predict"),
])
def test_bad_options_exit_2_in_one_line(cli, args, msg):
    r = cli("run", *args, "--", sys.executable, "-c", "print('should not run')")
    assert r.returncode == 2 and msg in r.stderr
    assert "Traceback" not in r.stderr and "should not run" not in r.stdout
    assert len(r.stderr.strip().splitlines()) == 1


def test_predictions_printed_and_stored(tmp_path, cli):
    child = _script(tmp_path, """
        import time
        for s in range(1, 201):
            time.sleep(0.003)
            print(f"step {s}/200", flush=True)
    """)
    r = cli("run", "--interval", "0.02", "--run-id", "pr", "--predict-every", "0.25", "--",
            sys.executable, child)
    assert r.returncode == 0, r.stderr
    lines = [x for x in r.stderr.splitlines() if "predicted total" in x]
    p = subprocess.run([sys.executable, "-m", "wattprint", "predict", "pr", "--json"],
                       capture_output=True, text=True)
    out = json.loads(p.stdout)
    assert out["prediction"]["fraction_done"] == 1.0 and len(out["history"]) == 4  # all stored
    reliable = [d for _, d in Store.open().predictions(_rows("pr")[0].key)
                if d["reliable"] and d["fraction_done"] < 1]
    # said: the first reliable one and those that left the range; never at 100 %
    assert (1 if reliable else 0) <= len(lines) <= len(reliable)
    assert all(x.startswith("wattprint: at ") and " % of 200 steps: " in x for x in lines)
    assert "not yet reliable" not in r.stderr


def test_budget_stop_interrupts_the_command(tmp_path, cli):
    """The command never ends on its own: only the budget's SIGINT can end it. (It used to stop
    by epoch 100, which a loaded machine could miss: this asserts no timing.)"""
    child = _script(tmp_path, """
        import itertools, time
        try:
            for e in itertools.count(1):
                time.sleep(0.01)
                print(f"epoch {e}/100000", flush=True)
        except KeyboardInterrupt:
            print("saving checkpoint", flush=True)
            raise SystemExit(5)
    """)
    r = cli("run", "--interval", "0.02", "-q", "--run-id", "bs", "--budget-kwh", "1e-9",
            "--on-exceed", "stop", "--", sys.executable, child, timeout=120)
    assert r.returncode == 5, r.stderr
    assert "exceeds --budget-kwh 0.000000001" in r.stderr and "saving checkpoint" in r.stdout
    assert r.stdout.endswith("saving checkpoint\n")  # all of the output, to its last line
    rec, rows = _rows("bs")
    assert rec.status == "stopped" and rec.exit_code == 5
    # It stopped at the first report over budget, if not before (on a prediction): none after.
    budget_j = 1e-9 * 3.6e6
    assert all(e <= budget_j for _, _, _, e in rows[:-1]), rows[-3:]


def test_signals_still_forwarded_with_piped_output(tmp_path):
    child = _script(tmp_path, """
        import signal, sys, time
        signal.signal(signal.SIGTERM, lambda *a: (print("got TERM", flush=True), sys.exit(3)))
        print("ready", flush=True)
        time.sleep(30)
    """)
    p = subprocess.Popen([sys.executable, "-m", "wattprint", "run", "-q", "--run-id", "sg", "--",
                          sys.executable, child], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    assert p.stdout.readline() == "ready\n"
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 3 and "got TERM" in out, err
    rec, _ = _rows("sg")
    assert rec.status == "cancelled" and rec.exit_code == 3  # stopped by a signal, not failed


def test_failed_and_killed_commands_are_failed(tmp_path, cli):
    r = cli("run", "-q", "--run-id", "f1", "--", sys.executable, "-c", "raise SystemExit(4)")
    assert r.returncode == 4
    r = cli("run", "-q", "--run-id", "f2", "--", sys.executable, "-c",
            "import os, signal; os.kill(os.getpid(), signal.SIGKILL)")  # as the OOM killer does
    assert r.returncode == 128 + 9
    assert [(_rows(i)[0].status, _rows(i)[0].exit_code) for i in ("f1", "f2")] == \
        [("failed", 4), ("failed", 137)]


def test_output_left_by_the_command_is_all_passed_on_though_a_grandchild_holds_the_pipe(tmp_path):
    """wattprint reads what the command wrote up to its exit, and does not wait for a
    grandchild that keeps the pipe open."""
    child = _script(tmp_path, """
        import subprocess, sys
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(20)"])
        sys.stdout.write("x" * 200000 + "\\nend\\n")
    """)
    r = _cli_bytes("run", "-q", "--run-id", "gc", "--", sys.executable, child)
    assert r.returncode == 0, r.err
    assert r.out == "x" * 200000 + "\nend\n"


def test_predict_a_running_run_and_bad_input(tmp_path, cli):
    child = _script(tmp_path, """
        import sys, time
        for s in range(1, 10001):
            time.sleep(0.002)
            print(f"step {s}/10000", flush=True)
            if s == 300:
                print("HALF", file=sys.stderr, flush=True)
                time.sleep(1.0)
    """)
    p = subprocess.Popen([sys.executable, "-m", "wattprint", "run", "-q", "--interval", "0.02",
                          "--flush-interval", "0.05", "--run-id", "live", "--", sys.executable,
                          child], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        while "HALF" not in (line := p.stderr.readline()):
            assert line, "wattprint ended before the command reached step 300"
        deadline = time.monotonic() + 60  # a bound for a hung test only
        while True:  # until a flush has stored the progress the command made
            r = cli("predict", "live")
            if "/10000 step" in r.stdout or time.monotonic() > deadline:
                break
        assert r.returncode == 0, r.stderr
        assert "run live (running)" in r.stdout and "/10000 step" in r.stdout
        assert "energy" in r.stdout and "reliable" in r.stdout
    finally:
        p.kill()
        p.wait()
    r = cli("predict", "no-such-run")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    r = cli("predict", "live", "--total", "-4")
    assert r.returncode == 2 and "--total" in r.stderr and "Traceback" not in r.stderr


# -- prediction lines ----------------------------------------------------------------------------
UNEVEN_8 = """
    import time
    for e in range(1, 9):
        time.sleep(0.03 * (1 + 4 * (e % 2)))  # epochs of very different lengths: never reliable
        print(f"epoch {e}/8 loss={1 / e:.3f}")
"""


@pytest.mark.parametrize("verbose", [[], ["-v"]])
def test_an_unreliable_8_epoch_run_prints_at_most_two_prediction_lines(tmp_path, verbose):
    child = _script(tmp_path, UNEVEN_8)
    run_id = f"u8{len(verbose)}"
    r = _cli_bytes("run", "--interval", "0.01", "--run-id", run_id, *verbose, "--", sys.executable, child)
    assert r.returncode == 0, r.err
    store = Store.open()
    preds = [d for _, d in store.predictions(store.get_run(run_id).key)]
    assert len(preds) >= 8 and not any(d["reliable"] for d in preds if d["fraction_done"] < 1)
    said = [line for line in (r.out + r.err).splitlines() if "predicted total" in line]
    assert len(said) <= 2 and bool(said) == bool(verbose)
    assert "[unreliable" not in r.err and "e-0" not in r.err  # no reason dump, no exponents


def test_a_line_of_ours_never_lands_inside_the_childs_open_line(tmp_path):
    """The child leaves its line open ('\\r' after the text, as a bar does); wattprint's
    prediction line, said on reading it, starts on a fresh line."""
    child = _script(tmp_path, """
        import sys
        sys.stderr.write("\\repoch 1/8 loss=1.0\\r")
        sys.stderr.flush()
    """)
    r = _cli_bytes("run", "-v", "--interval", "0.01", "--", sys.executable, child)
    assert r.returncode == 0, r.err
    assert "\repoch 1/8 loss=1.0\r\nwattprint: at 12 % of 8 epochs: " in r.err


def test_line_guard_unit():
    import io

    from wattprint.supervise import LineGuard

    out = io.StringIO()
    guard = LineGuard(out)
    guard.child_wrote(b"\r 40%|####  | 4/10 [")
    print("wattprint: first", file=guard)
    print("wattprint: second", file=guard, flush=True)
    guard.child_wrote(b"done\n")
    print("wattprint: third", file=guard)
    assert out.getvalue() == "\nwattprint: first\nwattprint: second\nwattprint: third\n"


def test_line_guard_keeps_each_threads_line_whole():
    import io
    import re
    import threading

    from wattprint.supervise import LineGuard

    out = io.StringIO()
    guard = LineGuard(out)
    start = threading.Barrier(4)
    old, _ = sys.getswitchinterval(), sys.setswitchinterval(1e-6)  # threads switch mid-print

    def talk(name):
        start.wait()
        for i in range(300):  # print() writes the text and the newline in two calls
            print(f"wattprint: {name} line {i}", file=guard)

    threads = [threading.Thread(target=talk, args=(n,)) for n in "abcd"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sys.setswitchinterval(old)
    lines = out.getvalue().splitlines()
    assert len(lines) == 1200
    assert all(re.fullmatch(r"wattprint: [abcd] line \d+", line) for line in lines), \
        [x for x in lines if not re.fullmatch(r"wattprint: [abcd] line \d+", x)][:3]


def test_live_without_a_terminal_says_why(tmp_path):
    child = _script(tmp_path, "print('hi')\n")
    r = _cli_bytes("run", "--live", "-q", "--", sys.executable, child)
    assert r.returncode == 0 and r.out == "hi\n"
    assert r.err.count("--live: no status line at the bottom (stderr is not a terminal)") == 1
