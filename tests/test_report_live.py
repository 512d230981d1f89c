"""The live status line on a real pseudo-terminal, rendered by a VT100 emulator (pyte).

A child process writes lines to the same terminal while LiveStatus redraws; the emulated screen
must show every child line intact above and the status on the bottom row only.
"""
import os
import pty
import subprocess
import sys
import threading
import time

import pytest

from wattprint.report.live import LiveStatus, status_text


class _Run:
    """Enough of a Run for the status line: energy so far, power now and no prediction."""

    total = None
    status = "running"

    @staticmethod
    def energy(fresh=True):
        from wattprint.run import Measurement

        return Measurement("run", 125.0, {"cpu:0": 3.6e6 * 0.25, "gpu:0": 3.6e6 * 0.5})

    @staticmethod
    def power():
        return {"cpu:0": 40.0, "gpu:0": 250.0}


def test_status_text_has_power_energy_and_prediction():
    text = status_text(_Run())
    assert "290 W" in text and "750 Wh so far" in text and "2 min 5 s" in text

    class WithPrediction(_Run):
        total = 10

        def predict(self):
            from wattprint.predict import Prediction

            return Prediction(energy_kwh=3.0, energy_kwh_low=2.5, energy_kwh_high=3.5)

    assert "predicted 3.00 kWh (2.50 - 3.50 kWh)" in status_text(WithPrediction())


def test_without_a_terminal_says_why_once_then_plain_lines_through_a_pipe():
    r, w = os.pipe()
    with os.fdopen(w, "w") as stream, os.fdopen(r) as reader:
        ticks = iter(range(1000))
        live = LiveStatus(_Run(), stream=stream, text=lambda run: f"STATUS {next(ticks)}",
                          plain_every=0.05).start()
        assert live.plain and not live.active
        got = [reader.readline() for _ in range(4)]  # blocks until written: no timing guess
        live.stop()
    assert "stderr is not a terminal" in got[0] and "every" in got[0]
    assert got[1:] == ["STATUS 0\n", "STATUS 1\n", "STATUS 2\n"]
    assert not any("\x1b" in line for line in got)  # no escape codes into a log file


def test_plain_line_is_the_status_text():
    r, w = os.pipe()
    with os.fdopen(w, "w") as stream, os.fdopen(r) as reader:
        live = LiveStatus(_Run(), stream=stream, plain_every=0.05).start()
        reader.readline()
        line = reader.readline()
        live.stop()
    assert line.startswith("wattprint") and "750 Wh so far" in line and "290 W" in line


def test_dumb_terminal_is_named(monkeypatch):
    monkeypatch.setenv("TERM", "dumb")
    master, slave = pty.openpty()
    with os.fdopen(slave, "w") as stream:
        assert LiveStatus(_Run(), stream=stream).why_not() == "TERM is 'dumb'"
    os.close(master)


def test_child_output_and_status_line_do_not_mix(monkeypatch):
    pyte = pytest.importorskip("pyte")
    rows, cols = 12, 80
    master, slave = pty.openpty()
    import fcntl
    import struct
    import termios

    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    out = bytearray()

    def drain():
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return
            if not chunk:
                return
            out.extend(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    stream = os.fdopen(os.dup(slave), "w", encoding="utf-8")
    n = 40
    child_code = (f"import time\nfor i in range({n}):\n"
                  "    print(f'child line {i:02d} ' + 'x' * 30, flush=True)\n    time.sleep(0.01)\n")
    ticks = iter(range(10**6))
    env = dict(os.environ, TERM="xterm")
    monkeypatch.setenv("TERM", "xterm")
    try:
        live = LiveStatus(_Run(), stream=stream, every=0.02, text=lambda r: f"STATUS tick {next(ticks)}")
        live.start()
        assert live.active
        time.sleep(0.1)
        subprocess.run([sys.executable, "-c", child_code], stdout=slave, stderr=slave, env=env, check=True)
        time.sleep(0.1)
        live.stop()
    finally:
        stream.close()
        os.close(slave)
        time.sleep(0.1)
        os.close(master)
        reader.join(timeout=2)

    screen = pyte.Screen(cols, rows)
    stream_ = pyte.ByteStream(screen)
    data = bytes(out)
    # Replay up to just before stop() cleared the row, to see the live state too.
    cut = data.rfind(b"\x1b7\x1b[r")
    assert cut > 0
    stream_.feed(data[:cut])
    screen_mid = list(screen.display)
    assert screen_mid[-1].startswith("STATUS tick"), screen_mid
    child = [line.rstrip() for line in screen_mid[:-1] if line.strip()]
    # The last rows-1 child lines scrolled through intact, in order, with nothing of ours in them.
    assert child[-(rows - 2):] == [f"child line {i:02d} " + "x" * 30 for i in range(n - (rows - 2), n)]
    assert not any("STATUS" in line for line in screen_mid[:-1])
    stream_.feed(data[cut:])
    assert screen.display[-1].strip() == ""  # stop() cleared the status row


def test_wattprint_run_live_on_a_terminal(store_path):
    """`wattprint run --live` end to end: the status is drawn, the child's lines pass intact."""
    pyte = pytest.importorskip("pyte")
    import fcntl
    import struct
    import termios

    rows, cols = 10, 100
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    child = ("import time\nfor i in range(30):\n"
             "    print(f'child line {i:02d}', flush=True)\n    time.sleep(0.05)\n")
    env = dict(os.environ, TERM="xterm", WATTPRINT_STORE=store_path)
    p = subprocess.Popen([sys.executable, "-m", "wattprint", "run", "--live", "--quiet",
                          "--interval", "0.05", "--", sys.executable, "-c", child],
                         stdin=slave, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    out = bytearray()
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the last writer closed the terminal
            break
        if not chunk:
            break
        out.extend(chunk)
    assert p.wait(timeout=30) == 0
    os.close(master)
    data = bytes(out)
    assert b"so far" in data  # the status line was drawn
    screen = pyte.Screen(cols, rows)
    pyte.ByteStream(screen).feed(data)
    lines = [line.rstrip() for line in screen.display if line.strip()]
    # the last child lines are on screen, whole and in order, the status row given back
    assert lines[-(rows - 2):] == [f"child line {i:02d}" for i in range(30 - (rows - 2), 30)], lines
