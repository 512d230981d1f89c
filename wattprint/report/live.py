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

Nothing is written unless ``stream`` is a TTY and ``TERM`` is not ``dumb``; every write is
guarded so a closed or broken terminal never reaches the training. The thread is a daemon.
"""
from __future__ import annotations

import os
import shutil
import sys
import threading
import time

from ..units import J_PER_KWH
from ..units import fmt_duration as _fmt_duration
from ..units import fmt_energy as _fmt_energy

SAVE, RESTORE, CLEAR_LINE = "\x1b7", "\x1b8", "\x1b[2K"


def status_text(run) -> str:
    """One line: elapsed time, power now, energy so far and the predicted total if any."""
    parts = ["wattprint"]
    if getattr(run, "status", "new") != "new":  # meters open: there is something to show
        m = run.energy(fresh=False)  # the sampler's last totals: drawing must not read meters
        counted = m.counted or m.energy_j.keys()  # no double counting
        watts = sum(w for k, w in run.power().items() if k in counted)
        parts.append(_fmt_duration(m.seconds))
        parts.append(f"{watts:,.0f} W")
        joules = sum(e for k, e in m.energy_j.items() if k in counted)
        parts.append(f"{_fmt_energy(joules / J_PER_KWH)} so far")
    predict = getattr(run, "predict", None)
    if callable(predict) and getattr(run, "total", None):
        try:
            p = predict()
            if p.energy_kwh is not None:
                rng = ""
                if p.energy_kwh_low is not None and p.energy_kwh_high is not None:
                    rng = f" ({_fmt_energy(p.energy_kwh_low)} - {_fmt_energy(p.energy_kwh_high)})"
                parts.append(f"predicted {_fmt_energy(p.energy_kwh)}{rng}")
        except Exception:
            pass
    return " · ".join(parts)


class LiveStatus:
    """``LiveStatus(run).start()`` ... ``stop()``: a status line on the terminal's bottom row."""

    def __init__(self, run, stream=None, every: float = 1.0, text=status_text):
        self.run = run
        self.stream = stream if stream is not None else sys.stderr
        self.every = max(float(every), 0.05)
        self.text = text
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._rows = 0
        self.active = False

    def enabled(self) -> bool:
        try:
            return bool(self.stream.isatty()) and os.environ.get("TERM", "") != "dumb"
        except Exception:
            return False

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
        if not self.enabled() or self._thread is not None:
            return self
        self.active = True
        self._thread = threading.Thread(target=self._loop, name="wattprint-live", daemon=True)
        self._thread.start()
        return self

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
