"""Progress of a child process for ``wattprint run``: from its output lines, or from a file.

Output lines. Each line (split at ``\\n`` and at tqdm's ``\\r``) is matched against patterns:

* ``epoch 3/40``, ``Epoch 3 of 40``, ``step: 120/5000``, ``iter 7/100`` (case-insensitive);
* tqdm bars: ``45%|████▌     | 45/100 [00:04<00:05, 9.8it/s]``;
* or your own ``--progress-regex`` with groups ``done`` and (optionally) ``total``, or two
  unnamed groups in that order.

The first kind of line that matches is followed from then on, so an ``epoch 3/40`` line does not
fight with a batch bar. A bar that starts again from a lower count (one tqdm bar per epoch) is
added up: work done is counted across restarts, and the total becomes bar total × epochs when an
``epoch N/M`` line says how many there are (or pass ``--total`` in the bar's units).

Progress file. ``wattprint run`` sets ``WATTPRINT_PROGRESS_FILE`` for the child (unless already
set). The child writes its progress there, replacing the content: ``done`` or ``done total`` or
JSON ``{"done": 120, "total": 5000}``; ``write_progress()`` below does it atomically.
"""
from __future__ import annotations

import json
import math
import os
import re
import threading

EPOCH = re.compile(r"\b(?:epoch|step|iter(?:ation)?)\b\s*[:=#]?\s*(?P<done>\d+)\s*(?:/|of)\s*"
                   r"(?P<total>\d+)\b", re.IGNORECASE)
EPOCH_ONLY = re.compile(r"\bepoch\b\s*[:=#]?\s*(?P<done>\d+)\s*(?:/|of)\s*(?P<total>\d+)\b",
                        re.IGNORECASE)
TQDM = re.compile(r"\|\s*(?P<done>\d+(?:\.\d+)?[kKMG]?)/(?P<total>\d+(?:\.\d+)?[kKMG]?)\s*\[")
_SCALE = {"k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9}
MAX_LINE = 65536


def _number(s: str | None) -> float | None:
    if s is None:
        return None
    try:
        if s and s[-1] in _SCALE:
            return float(s[:-1]) * _SCALE[s[-1]]
        return float(s)
    except ValueError:
        return None


def compile_regex(text: str) -> re.Pattern:
    """A user's ``--progress-regex``; UsageError when it cannot give ``done``."""
    from .errors import UsageError
    from .units import shown

    try:
        rx = re.compile(text)
    except re.error as e:
        raise UsageError(f"--progress-regex {shown(text)} is not a valid regular expression ({e})") from None
    if "done" not in rx.groupindex and rx.groups < 1:
        raise UsageError("--progress-regex needs a group for the work done: (?P<done>\\d+), "
                         "optionally (?P<total>\\d+)")
    return rx


class LineProgress:
    """Turns output lines into cumulative (done, total) updates."""

    def __init__(self, patterns=None, total: float | None = None):
        self.patterns = list(patterns) if patterns else [EPOCH, TQDM]
        self.fixed_total = total
        self.kind: re.Pattern | None = None
        self.offset = 0.0     # work done in earlier passes of a restarting bar
        self.last = None      # (done, total) of the current pass
        self.restarts = 0
        self.epochs: float | None = None  # M from an "epoch N/M" line, seen alongside a bar
        self.last_line: str | None = None

    def feed(self, line: str):
        """(done, total or None) if the line reports progress, else None."""
        if self.kind is TQDM:
            m = EPOCH_ONLY.search(line)
            if m:
                self.epochs = _number(m.group("total"))
        for rx in ([self.kind] if self.kind else self.patterns):
            m = rx.search(line)
            if m:
                break
        else:
            return None
        done, total = self._groups(rx, m)
        if done is None or not math.isfinite(done):
            return None
        self.kind = rx
        self.last_line = line
        if self.last is not None and done < self.last[0]:
            self.offset += self.last[0]  # the bar started again (next epoch): count on
            self.restarts += 1
        self.last = (done, total)
        return self.offset + done, self._total(total)

    def _groups(self, rx, m):
        if "done" in rx.groupindex:
            done = _number(m.group("done"))
            total = _number(m.group("total")) if "total" in rx.groupindex else None
        else:
            done = _number(m.group(1))
            total = _number(m.group(2)) if rx.groups >= 2 else None
        return done, total

    def _total(self, total):
        if self.fixed_total is not None:
            return self.fixed_total
        if total is None or total <= 0:
            return None
        if self.restarts == 0:
            return total
        if self.epochs:  # one bar per epoch
            return total * self.epochs
        return None


class Splitter:
    """Bytes in, complete lines out (``\\n`` or ``\\r`` ends a line)."""

    def __init__(self):
        self.buf = ""

    def feed(self, data: bytes) -> list[str]:
        self.buf += data.decode("utf-8", errors="replace")
        parts = re.split(r"[\r\n]", self.buf)
        self.buf = parts.pop()
        if len(self.buf) > MAX_LINE:  # a huge line without an end: look at it, keep the tail
            parts.append(self.buf)
            self.buf = self.buf[-1024:]
        return [p for p in parts if p]


def read_file(path: str):
    """(done, total or None) from a progress file, or None if it holds nothing usable."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read(4096)
    except OSError:
        return None
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if not lines:
        return None
    last = lines[-1]
    try:
        if last.startswith("{"):
            d = json.loads(last)
            done, total = float(d["done"]), d.get("total")
            total = float(total) if total is not None else None
        else:
            fields = last.replace("/", " ").split()
            done = float(fields[0])
            total = float(fields[1]) if len(fields) > 1 else None
    except (ValueError, KeyError, TypeError, IndexError):
        return None
    if not math.isfinite(done):
        return None
    if total is not None and not (math.isfinite(total) and total > 0):
        total = None  # a broken total must not reach the prediction
    return done, total


def write_progress(done: float, total: float | None = None, path: str | None = None) -> None:
    """For a child of ``wattprint run``: report progress through ``$WATTPRINT_PROGRESS_FILE``.

    Does nothing when the variable is unset, so training scripts can call it unconditionally.
    """
    path = path or os.environ.get("WATTPRINT_PROGRESS_FILE")
    if not path:
        return
    tmp = f"{path}.{os.getpid()}.tmp"
    data = {"done": done} if total is None else {"done": done, "total": total}
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(json.dumps(data) + "\n")
        os.replace(tmp, path)  # readers never see half a line
    except OSError:
        try:
            os.unlink(tmp)  # a full disk leaves no litter
        except OSError:
            pass


class FileWatcher(threading.Thread):
    """Polls a progress file and calls ``report(done, total)`` when its content changes."""

    def __init__(self, path: str, report, poll_s: float = 0.25):
        super().__init__(name="wattprint-progress-file", daemon=True)
        self.path, self.report, self.poll_s = path, report, poll_s
        self.stop_event = threading.Event()
        self._seen = None

    def run(self) -> None:
        while not self.stop_event.wait(self.poll_s):
            self.check()

    def check(self) -> None:
        try:
            st = os.stat(self.path)
        except OSError:
            return
        key = (st.st_mtime_ns, st.st_size, st.st_ino)
        if key == self._seen:
            return
        self._seen = key
        got = read_file(self.path)
        if got is not None:
            self.report(*got)

    def stop(self) -> None:
        self.stop_event.set()
        self.check()  # the last word the child wrote
