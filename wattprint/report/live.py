"""A live status line (power, energy so far, predicted total) that stays out of the child's output.

How it stays out of the way: the command being measured writes to the same terminal, at any
moment, without knowing about us. Redrawing with ``\\r`` on the child's current line would
interleave with its output. Instead, as apt does for its progress bar, we reserve the bottom row
of the terminal: a scroll region (DECSTBM ``ESC[1;{rows-1}r``) makes the child's output scroll
in the rows above, and the status line is drawn on the bottom row between save-cursor and
restore-cursor (``ESC 7`` / ``ESC 8``) and cleared with ``ESC[2K`` first, so the child's cursor is
exactly where it was. The region is re-set on every tick when the window size changes, and
also then: a child that resets the terminal (``reset``, a pager, a curses program) drops the
region, and the next tick restores it, so the line redraws after any child output within
``every`` seconds. ``stop()`` gives the whole terminal back (``ESC[r``) and clears the row.

Without a terminal of known size (``stream`` is not a TTY, ``TERM`` is ``dumb``, or the size
cannot be read) there is no bottom row to keep: ``start()`` says why, once, and falls back to a
plain status line every ``PLAIN_EVERY_S`` seconds. Every write is guarded so a closed or broken
terminal never reaches the training. The thread is a daemon.
"""
from __future__ import annotations

import os
import shutil
import sys
import threading
import time

from .. import fmt
from ..units import J_PER_KWH

SAVE, RESTORE, CLEAR_LINE = "\x1b7", "\x1b8", "\x1b[2K"
PLAIN_EVERY_S = 30.0  # without a terminal: one plain status line this often


def status_text(run) -> str:
    """One line: elapsed time, power now, energy so far and the predicted total if any."""
    parts = ["wattprint"]
    if getattr(run, "status", "new") != "new":  # meters open: there is something to show
        m = run.energy(fresh=False)  # the sampler's last totals: drawing must not read meters
        counted = m.counted or m.energy_j.keys()  # no double counting
        watts = sum(w for k, w in run.power().items() if k in counted)
        parts.append(fmt.duration(m.seconds))
        parts.append(fmt.power(watts))
        joules = sum(e for k, e in m.energy_j.items() if k in counted)
        parts.append(f"{fmt.energy(joules / J_PER_KWH)} so far")
    predict = getattr(run, "predict", None)
    if callable(predict) and getattr(run, "total", None):
        try:
            p = predict()
            if p.energy_kwh is not None:
                s = fmt.energy_scale(p.energy_kwh, p.energy_kwh_low, p.energy_kwh_high)
                rng = ""
                if p.energy_kwh_low is not None and p.energy_kwh_high is not None:
                    rng = f" ({s.range(p.energy_kwh_low, p.energy_kwh_high)})"
                parts.append(f"predicted {s(p.energy_kwh)}{rng}")
        except Exception:
            pass
    return " · ".join(parts)


class LiveStatus:
    """``LiveStatus(run).start()`` ... ``stop()``: a status line on the terminal's bottom row."""

    def __init__(self, run, stream=None, every: float = 1.0, text=status_text, *, lines=None,
                 plain_every: float = PLAIN_EVERY_S):
        """``stream``: the terminal; ``lines``: where plain lines go without one (default
        ``stream``; ``wattprint run`` passes a stream that keeps them out of a child's bar)."""
        self.run = run
        self.stream = stream if stream is not None else sys.stderr
        self.lines = lines if lines is not None else self.stream
        self.every = max(float(every), 0.05)
        self.plain_every = max(float(plain_every), 0.05)
        self.text = text
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._rows = 0
        self.active = False
        self.plain = False  # no terminal of known size: plain lines

    def why_not(self) -> str | None:
        """Why there is no bottom row to keep (None: there is one)."""
        try:
            if not self.stream.isatty():
                return "stderr is not a terminal"
        except Exception:
            return "stderr is not a terminal"
        if os.environ.get("TERM", "") == "dumb":
            return "TERM is 'dumb'"
        try:
            size = os.get_terminal_size(self.stream.fileno())
        except Exception:
            return "the terminal's size is unknown"
        if size.lines < 3 or size.columns < 10:
            return f"the terminal is {size.columns}x{size.lines}, too small"
        return None

    def enabled(self) -> bool:
        return self.why_not() is None

    def _size(self) -> tuple[int, int]:
        try:
            size = os.get_terminal_size(self.stream.fileno())
        except Exception:
            size = shutil.get_terminal_size()
        return size.lines, size.columns

    def _write(self, s: str) -> None:
        try:
            self.stream.write(s)
            self.stream.flush()
        except Exception:  # a closed terminal must not stop the training
            self._stop.set()

    def _reserve(self, rows: int) -> None:
        # Newline first so the child's current line is not under the status row, then the region;
        # DECSTBM homes the cursor, hence save/restore around it, and one line up.
        self._write("\n" + SAVE + f"\x1b[1;{rows - 1}r" + RESTORE + "\x1b[1A")
        self._rows = rows

    def draw(self) -> None:
        rows, cols = self._size()
        if rows < 3:
            return
        try:
            line = self.text(self.run)
        except Exception:
            return
        if rows != self._rows:
            self._reserve(rows)
        else:  # re-assert the region in case the child reset the terminal
            self._write(SAVE + f"\x1b[1;{rows - 1}r" + RESTORE)
        self._write(SAVE + f"\x1b[{rows};1H" + CLEAR_LINE + line[: max(cols - 1, 1)] + RESTORE)

    def start(self) -> "LiveStatus":
        if self._thread is not None:
            return self
        why = self.why_not()
        if why is not None:
            self.plain = True
            self._say(f"wattprint: {fmt.opt('live').rstrip('=')}: no status line at the bottom "
                      f"({why}); a plain status line every {fmt.duration(self.plain_every)} instead")
            loop = self._plain_loop
        else:
            self.active = True
            loop = self._loop
        self._thread = threading.Thread(target=loop, name="wattprint-live", daemon=True)
        self._thread.start()
        return self

    def _say(self, line: str) -> None:
        try:
            print(line, file=self.lines, flush=True)
        except Exception:  # a closed stream must not stop the training
            self._stop.set()

    def _plain_loop(self) -> None:
        while not self._stop.wait(self.plain_every):
            try:
                self._say(self.text(self.run))
            except Exception:
                pass

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.draw()
            except Exception:
                pass
            self._stop.wait(self.every)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
        if self.active and self._rows:
            rows = self._rows
            # Give the whole screen back and clear our row, leaving the cursor where it was.
            self._write(SAVE + "\x1b[r" + f"\x1b[{rows};1H" + CLEAR_LINE + RESTORE)
        self.active = False

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


def demo(seconds: float = 5.0) -> None:  # pragma: no cover - for trying it by hand
    class _Fake:
        total = None
        status = "new"

    with LiveStatus(_Fake(), text=lambda r: time.strftime("wattprint demo %H:%M:%S")):
        for i in range(int(seconds * 4)):
            print(f"child output line {i}", flush=True)
            time.sleep(0.25)
