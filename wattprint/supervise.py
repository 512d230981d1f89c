"""Supervise the command of ``wattprint run``: start it, measure its whole life, follow its progress.

``supervise(run, cmd, ...)`` starts ``run`` (store and meters first), then the command with
``$WATTPRINT_RUN_ID`` and ``$WATTPRINT_PROGRESS_FILE`` set, forwards SIGINT/SIGTERM/SIGHUP to
it, passes its output through unchanged while reading progress lines from it, and stops the run
with the command's outcome. When a budget is exceeded with ``on_exceed="stop"``, the command gets
SIGINT, then SIGTERM ``GRACE_S`` seconds later if it is still running.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading

from .errors import BudgetExceeded, UsageError
from .progress_watch import EPOCH, FileWatcher, LineProgress, Splitter

GRACE_S = 30.0  # between SIGINT and SIGTERM when a budget stops the command
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def supervise(run, cmd: list[str], *, watch_output: bool = True, patterns=None,
              total: float | None = None, infer_unit: bool = False, live: bool = False) -> int:
    """Run ``cmd`` under ``run`` and return its exit code (128+N when killed by signal N).

    ``watch_output``: pipe the command's stdout/stderr through us to read progress lines (else
    it keeps the terminal). ``patterns``: progress regexes (default: epoch lines and tqdm bars).
    ``infer_unit``: switch the run's unit to "epoch" when progress comes from epoch lines.
    ``live``: a status line on the terminal's bottom row. The run is stopped on return.
    """
    env = dict(os.environ)
    env["WATTPRINT_RUN_ID"] = run.run_id
    tmpdir = None
    if not env.get("WATTPRINT_PROGRESS_FILE"):
        tmpdir = tempfile.mkdtemp(prefix="wattprint-")
        env["WATTPRINT_PROGRESS_FILE"] = os.path.join(tmpdir, "progress")
    if watch_output:
        env.setdefault("PYTHONUNBUFFERED", "1")  # a pipe would make Python block-buffer
    feeder = Feeder(run, LineProgress(patterns, total), infer_unit=infer_unit)
    run.start()  # store and meters first: the command's whole life is measured
    pipe = subprocess.PIPE if watch_output else None
    try:
        child = subprocess.Popen(cmd, env=env, stdout=pipe, stderr=pipe)
    except OSError as e:
        run.stop("failed", exit_code=127)
        _cleanup(tmpdir)
        raise UsageError(f"cannot run {cmd[0]!r}: {e.strerror}") from None
    feeder.child = child

    def forward(signum, frame):
        try:
            child.send_signal(signum)
        except ProcessLookupError:
            pass

    watcher = FileWatcher(env["WATTPRINT_PROGRESS_FILE"], feeder.report)
    watcher.start()
    pumps = []
    if watch_output:
        pumps = [threading.Thread(target=feeder.pump, args=(child.stdout, sys.stdout), daemon=True),
                 threading.Thread(target=feeder.pump, args=(child.stderr, sys.stderr), daemon=True)]
        for t in pumps:
            t.start()
    status = None
    if live:
        from .report.live import LiveStatus

        status = LiveStatus(run).start()
    old = {s: signal.signal(s, forward) for s in SIGNALS}
    try:
        while True:
            try:
                code = child.wait()
                break
            except KeyboardInterrupt:  # pragma: no cover - SIGINT is forwarded above
                continue
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    for t in pumps:  # a grandchild may hold the pipes open: don't wait for it
        t.join(timeout=2.0)
    if status is not None:
        status.stop()
    watcher.stop()
    _cleanup(tmpdir)
    if feeder.stopped:
        code = code if code != 0 else 1
    exit_code = code if code >= 0 else 128 - code
    run.stop("stopped" if feeder.stopped else "finished" if code == 0 else "failed",
             exit_code=exit_code)
    return exit_code


def _cleanup(tmpdir) -> None:
    if tmpdir:
        shutil.rmtree(tmpdir, ignore_errors=True)


class Feeder:
    """Passes the child's output through and turns its progress into ``run.progress()``."""

    def __init__(self, run, lines: LineProgress, infer_unit: bool = False):
        self.run, self.lines = run, lines
        self.infer_unit = infer_unit
        self.child: subprocess.Popen | None = None
        self.stopped = False
        # The two pumps and the file watcher report from their own threads.
        self.lock = threading.Lock()

    def pump(self, src, dst) -> None:
        """Copy ``src`` to ``dst`` as it arrives and read progress from its lines."""
        split = Splitter()
        fd = src.fileno()
        try:
            out = dst.fileno()
        except (AttributeError, OSError, ValueError):  # e.g. pytest's captured streams
            out = None
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            if not data:
                break
            if out is not None:
                out = _write_all(out, data)
            else:
                try:
                    dst.write(data.decode("utf-8", errors="replace"))
                    dst.flush()
                except Exception:
                    pass
            for line in split.feed(data):
                got = self._feed(line)
                if got is not None:
                    self.report(*got)

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
