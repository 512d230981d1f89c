"""The command's output on its way through ``wattprint run``: passed on unchanged, read for
progress, and kept apart from wattprint's own lines.

``Feeder`` copies each output pipe to where it goes and turns the progress it reads into
``run.progress()``. ``LineGuard`` stands in for ``sys.stderr`` while the command runs: when the
command's last byte on that terminal did not end a line (a tqdm bar, redrawn with ``\\r``),
wattprint's next line starts with a newline instead of landing inside the bar.
"""
from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import threading

from ..errors import BudgetExceeded
from ..progress_watch import EPOCH, LineProgress, Splitter

GRACE_S = 30.0  # between SIGINT and SIGTERM when a budget stops the command


class LineGuard:
    """A text stream for wattprint's own lines on a stream the command also writes to.

    ``child_wrote(data)`` is told each chunk the command wrote there; a line of ours written
    while the command's line is open starts with ``"\\n"``. Our own text is held until its line
    ends (or ``flush()``), so ``print()``'s two writes never let a bar slip in between.
    """

    def __init__(self, stream):
        self.stream = stream
        self.lock = threading.Lock()
        self.child_mid_line = False
        self._own = threading.local()  # each thread's unfinished line: two never mix in one

    def child_wrote(self, data: bytes) -> None:
        """Called with ``self.lock`` held, right after the bytes reached the stream."""
        if data:
            self.child_mid_line = not data.endswith(b"\n")

    def write(self, s: str) -> int:
        buf = getattr(self._own, "pending", "") + s
        if "\n" in buf:
            cut = buf.rindex("\n") + 1
            self._emit(buf[:cut])
            buf = buf[cut:]
        self._own.pending = buf
        return len(s)

    def flush(self) -> None:
        text = getattr(self._own, "pending", "")
        if text:
            self._own.pending = ""
            self._emit(text)
        try:
            self.stream.flush()
        except Exception:
            pass

    def _emit(self, text: str) -> None:
        with self.lock:
            if self.child_mid_line:
                text = "\n" + text
            self.child_mid_line = False
            try:
                self.stream.write(text)
                self.stream.flush()
            except Exception:  # a closed terminal must not reach the training
                pass

    def __getattr__(self, name):  # isatty, fileno, encoding...: the real stream's
        return getattr(self.stream, name)


def same_file(a, b) -> bool:
    """Whether two streams write to the same file or terminal."""
    try:
        return os.path.samestat(os.fstat(a.fileno()), os.fstat(b.fileno()))
    except (AttributeError, OSError, ValueError):
        return False


class Feeder:
    """Passes the child's output through and turns its progress into ``run.progress()``."""

    def __init__(self, run, lines: LineProgress, infer_unit: bool = False):
        self.run, self.lines = run, lines
        self.infer_unit = infer_unit
        self.child: subprocess.Popen | None = None
        self.stopped = False
        # The two pumps and the file watcher report from their own threads.
        self.lock = threading.Lock()
        self._wake = os.pipe()  # written by finish()

    def pump(self, src, dst, guard: LineGuard | None = None) -> None:
        """Copy ``src`` to ``dst`` as it arrives and read progress from its lines, until its end
        or, after ``finish()``, until the pipe is empty: the command has exited, so all it wrote
        is there, and a grandchild that holds the pipe open is not waited for. ``guard``: the
        ``LineGuard`` of the terminal ``dst`` writes to, told what the command wrote."""
        split = Splitter()
        fd = src.fileno()
        try:
            out = dst.fileno()
        except (AttributeError, OSError, ValueError):  # e.g. pytest's captured streams
            out = None
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            sel.register(self._wake[0], selectors.EVENT_READ)
            while True:
                if fd not in {key.fd for key, _ in sel.select()}:
                    break  # woken, nothing left to read
                more, out = self._copy(fd, out, dst, split, guard)
                if not more:
                    return
        os.set_blocking(fd, False)
        more = True
        while more:
            more, out = self._copy(fd, out, dst, split, guard)

    def finish(self) -> None:
        """The command has exited: the pumps stop once they have read what it left."""
        os.write(self._wake[1], b"x")

    def ended(self, success: bool) -> None:
        """The command has exited and its output is read: a unit whose start was announced
        ('Epoch 3/5' headers) is done if the command succeeded."""
        with self.lock:
            got = self.lines.end() if success else None
        if got is not None:
            self.report(*got)

    def close(self, pumps) -> None:
        if not any(t.is_alive() for t in pumps):
            for fd in self._wake:
                os.close(fd)

    def _copy(self, fd, out, dst, split, guard):
        """Read once from fd, pass it on, feed its lines: (False at the end, output fd)."""
        try:
            data = os.read(fd, 65536)
        except OSError:  # BlockingIOError once drained
            return False, out
        if not data:
            return False, out
        if guard is not None:
            with guard.lock:
                out = self._write(out, dst, data)
                guard.child_wrote(data)
        else:
            out = self._write(out, dst, data)
        for line in split.feed(data):
            got = self._feed(line)
            if got is not None:
                self.report(*got)
        return True, out

    @staticmethod
    def _write(out, dst, data):
        if out is not None:
            return _write_all(out, data)
        try:
            dst.write(data.decode("utf-8", errors="replace"))
            dst.flush()
        except Exception:
            pass
        return out

    def _feed(self, line: str):
        with self.lock:
            try:
                return self.lines.feed(line)
            except Exception:
                return None

    def report(self, done, total=None) -> None:
        with self.lock:
            if self.stopped:
                return
            if self.infer_unit and self.lines.kind is not None:
                self.infer_unit = False
                if self.lines.kind is EPOCH and self.lines.epochs is None \
                        and "epoch" in (self.lines.last_line or "").lower():
                    try:  # recorded now, so 'wattprint predict' shows it while the run goes on
                        self.run.set_unit("epoch")
                    except Exception:
                        pass
            try:
                self.run.progress(done, total)
            except BudgetExceeded as e:
                self.stopped = True
                print(f"{e}: sending SIGINT to the command", file=sys.stderr, flush=True)
                self._stop_child()

    def _stop_child(self) -> None:
        child = self.child
        if child is None:
            return
        try:
            child.send_signal(signal.SIGINT)
        except (ProcessLookupError, OSError):
            return

        def escalate():
            if child.poll() is None:
                try:
                    child.terminate()
                except (ProcessLookupError, OSError):
                    pass

        t = threading.Timer(GRACE_S, escalate)
        t.daemon = True
        t.start()


def _write_all(fd, data: bytes):
    """Write everything to fd; None once the reader is gone (keep draining the child)."""
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except (BrokenPipeError, OSError):
            return None
        view = view[n:]
    return fd
