"""Progress of a child process for ``wattprint run``: from its output lines, or from a file.

Output lines. Each line (split at ``\\n`` and at tqdm's ``\\r``, terminal colour codes removed)
is matched against these formats; the first that matches is followed from then on, so an
``epoch 3/40`` line does not fight with a batch bar:

* Lightning's RichProgressBar, ``Epoch 2/4 ━━━━━━ 45/100 0:00:04 ...``: the epoch is counted
  from 0 and the number after ``/`` is the last epoch's, so that is step 2 x 100 + 45 of
  5 x 100;
* ``epoch 3/40``, ``Epoch 3 of 40``, ``step: 120/5000``, ``iter 7/100`` (case-insensitive);
* tqdm bars: ``45%|████▌     | 45/100 [00:04<00:05, 9.8it/s]`` (HF Trainer's, Lightning's
  TQDMProgressBar ``Epoch 0:  45%|...| 45/100 [...]``, your own);
* or your own ``--progress-regex`` with groups ``done`` and (optionally) ``total``, or two
  unnamed groups in that order.

Start or end of a unit. An epoch line is counted when it is printed, as the end of that epoch
(``epoch 3/5 loss=0.12`` is printed after the work), except a header: an epoch line with
nothing after it but punctuation or "start"/"begin" (Keras' ``Epoch 3/5``, printed as epoch 3
*starts*), or a tqdm bar labelled with it that is not full (``tqdm(desc="epoch 3/5")`` runs
during epoch 3). A header counts the epoch before it as done; the announced epoch is done when
the next header or its full bar comes, or when the command ends with exit code 0 (a failed
command did not finish it). Step and iteration lines, tqdm and Rich bars count what they show.

Bars. Only one bar is followed: the first one, known by its label (the text before the
percentage, digits aside) and its total. Other bars are left alone, such as an evaluation bar
with another total, and bars labelled Validation, Sanity Checking, Testing, Predicting or
Evaluating are never followed. A followed bar that starts again from a lower count (one bar
per epoch) is added up: each finished pass counts its bar's total. A bar labelled ``Epoch N``
counts one epoch, so the run's total is unknown unless an ``epoch N/M`` line says how many
epochs there are (then bar total x epochs) or ``--total`` is given in the bar's units; an
unlabelled bar that restarts has the same rule.

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
# Lightning's RichProgressBar: "Epoch 2/4 ━━━━━ 45/100 ..." (epoch from 0, "/4": the last one)
RICH = re.compile(r"\bepoch\s+(?P<epoch>\d+)(?:/(?P<last>\d+))?\s+[━╸╺╾╼─ ]*[━╸╺╾╼─]\s*"
                  r"(?P<done>\d+)/(?P<total>\d+)\b", re.IGNORECASE)
ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[78]|[\x00-\x08\x0b-\x1f\x7f]")
# After an epoch line: nothing but this makes it a header, printed as the epoch starts.
HEADER_TAIL = re.compile(r"[\s:.\-=>*\]\)]*(?:(?:start|starting|begin|beginning)\b.*)?",
                         re.IGNORECASE)
EVAL_BAR = re.compile(r"^\W*(?:validation|validating|sanity check(?:ing)?|testing|test|predicting|"
                      r"prediction|evaluating|evaluation|eval)\b", re.IGNORECASE)
PER_EPOCH_BAR = re.compile(r"\bepoch\b", re.IGNORECASE)
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


def _bar_label(line: str, m) -> str:
    """A tqdm bar's label: the text before its percentage, digits as '#'."""
    head = line[:m.start()]
    cut = head.find("|")
    head = head[:cut] if cut >= 0 else head
    head = re.sub(r"\s*\d+%\s*$", "", head).strip()
    return re.sub(r"\d+", "#", head)


class LineProgress:
    """Turns output lines into cumulative (done, total) updates (see the module's rules)."""

    def __init__(self, patterns=None, total: float | None = None):
        self.custom = bool(patterns)
        self.patterns = list(patterns) if patterns else [RICH, EPOCH, TQDM]
        self.fixed_total = total
        self.kind: re.Pattern | None = None
        self.offset = 0.0     # work done in earlier passes of a restarting bar
        self.last = None      # (done, total) of the current pass
        self.restarts = 0
        self.epochs: float | None = None  # M from an "epoch N/M" line, seen alongside a bar
        self.last_line: str | None = None
        self.bar: tuple | None = None     # (label, total) of the followed bar
        self.per_epoch = False            # the followed bar counts one epoch
        self.pending = None               # (done, total) of an announced epoch, not yet done

    def feed(self, line: str):
        """(done, total or None) if the line reports progress, else None."""
        if not self.custom:
            line = ANSI.sub("", line)
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
        if rx is RICH:
            return self._rich(m, line)
        done, total = self._groups(rx, m)
        if done is None or not math.isfinite(done):
            return None
        if rx is TQDM and not self.custom and not self._follow_bar(line, m, total):
            return None
        self.kind = rx
        self.last_line = line
        if rx is EPOCH and not self.custom and m.group(0).lower().startswith("epoch"):
            bar = TQDM.search(line, m.end())  # tqdm(desc="epoch 3/5"): epoch 3 is running
            if HEADER_TAIL.fullmatch(line[m.end():]) or (
                    bar and not _number(bar.group("done")) >= (_number(bar.group("total")) or 0)):
                return self._header(done, total)
        if self.last is not None and done < self.last[0]:
            # the bar started again (next epoch): count on; a finished pass is its whole total
            prev_done, prev_total = self.last
            self.offset += prev_total if rx is TQDM and prev_total else prev_done
            self.restarts += 1
        self.last = (done, total)
        self.pending = None
        return self.offset + done, self._total(total)

    def end(self):
        """The command succeeded: (done, total) of the epoch it announced last, or None."""
        pending, self.pending = self.pending, None
        return pending

    # -- formats ----------------------------------------------------------------------------
    def _header(self, k, n):
        """'Epoch k/N' as epoch k starts: k-1 are done; k is done at the next header or end."""
        total = self._total(n)
        self.pending = (self.offset + k, total)
        self.last = (k, n)
        return (self.offset + k - 1, total) if k > 1 else None

    def _rich(self, m, line):
        epoch, done, per = (_number(m.group(g)) for g in ("epoch", "done", "total"))
        if epoch is None or done is None or not per:
            return None
        self.kind, self.last_line = RICH, line
        last = _number(m.group("last"))
        total = self.fixed_total if self.fixed_total is not None else (
            (last + 1) * per if last is not None else None)
        return epoch * per + done, total

    def _follow_bar(self, line, m, total) -> bool:
        label = _bar_label(line, m)
        if self.bar is None:
            if EVAL_BAR.search(label):
                return False
            self.bar = (label, total)
            self.per_epoch = bool(PER_EPOCH_BAR.search(label))
            return True
        return (label, total) == self.bar

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
        if self.kind is TQDM and (self.per_epoch or self.restarts):
            return total * self.epochs if self.epochs else None  # one bar per epoch
        return total


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
