"""Supervise the command of ``wattprint run``: start it, measure its whole life, follow its progress.

``supervise(run, cmd, ...)`` starts ``run`` (store and meters first), then the command with
``$WATTPRINT_RUN_ID`` and ``$WATTPRINT_PROGRESS_FILE`` set, relays signals to it (``Relay``),
passes its output through unchanged while reading progress lines from it, and stops the run
with the command's outcome and exit code (128+N when signal N killed it):

* "finished": exit code 0;
* "failed": a non-zero exit on its own (killed by SIGKILL too: the OOM killer's signal);
* "cancelled": wattprint got SIGINT, SIGTERM, SIGHUP or SIGQUIT while the command ran (Ctrl-C,
  ``kill``, a scheduler), or the command died of one of them, whatever its exit code;
* "stopped": a budget stopped it (``on_exceed="stop"``): the command gets SIGINT, then SIGTERM
  ``GRACE_S`` seconds later if it is still running.

Each signal reaches the command once. The command stays in wattprint's process group (so it
keeps the terminal), where the terminal's keys (Ctrl-C, Ctrl-\\) reach it directly: wattprint
relays only what was sent to wattprint alone, such as ``kill PID`` or a scheduler's SIGTERM.
Signals that wattprint inherited as ignored (``nohup``) stay ignored.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading

from ..errors import UsageError
from ..progress_watch import FileWatcher, LineProgress
from .feeder import GRACE_S, Feeder, LineGuard, same_file

__all__ = ["GRACE_S", "Feeder", "LineGuard", "Relay", "supervise"]
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)  # relayed; "cancelled"
SI_KERNEL = 0x80  # Linux si_code of a signal the kernel sent: a terminal key, a hangup
# Who sent a signal is known on Linux (sigtimedwait's siginfo); elsewhere it is guessed.
SIGINFO = sys.platform.startswith("linux") and hasattr(signal, "sigtimedwait")


def supervise(run, cmd: list[str], *, watch_output: bool = True, patterns=None,
              total: float | None = None, infer_unit: bool = False, live: bool = False,
              stdout_to_stderr: bool = False) -> int:
    """Run ``cmd`` under ``run`` and return its exit code (128+N when killed by signal N).

    ``watch_output``: pipe the command's stdout/stderr through us to read progress lines (else
    it keeps the terminal). ``patterns``: progress regexes (default: epoch lines and tqdm bars).
    ``infer_unit``: switch the run's unit to "epoch" when progress comes from epoch lines.
    ``live``: a status line on the terminal's bottom row. ``stdout_to_stderr``: the command's
    stdout goes to our stderr (``run --json`` keeps stdout for the JSON). While the command runs,
    ``sys.stderr`` is a ``LineGuard``. The run is stopped on return.
    """
    real_err = sys.stderr
    guard = LineGuard(real_err)
    sys.stderr = guard  # wattprint's lines (predictions, warnings) never land inside a bar
    try:
        return _supervise(run, cmd, watch_output, patterns, total, infer_unit, live,
                          stdout_to_stderr, guard)
    finally:
        guard.flush()
        if sys.stderr is guard:
            sys.stderr = real_err


def _supervise(run, cmd, watch_output, patterns, total, infer_unit, live, stdout_to_stderr,
               guard) -> int:
    env = dict(os.environ)
    env["WATTPRINT_RUN_ID"] = run.run_id
    tmpdir = None
    if not env.get("WATTPRINT_PROGRESS_FILE"):
        tmpdir = tempfile.mkdtemp(prefix="wattprint-")
        env["WATTPRINT_PROGRESS_FILE"] = os.path.join(tmpdir, "progress")
    if watch_output:
        env.setdefault("PYTHONUNBUFFERED", "1")  # a pipe would make Python block-buffer
    feeder = Feeder(run, LineProgress(patterns, total), infer_unit=infer_unit)
    pipe = subprocess.PIPE if watch_output else None
    out_pipe = pipe if pipe is not None else (guard.stream if stdout_to_stderr else None)
    out_dst = guard.stream if stdout_to_stderr else sys.stdout
    # The command's stdout shares a line with wattprint's where both reach the same terminal.
    out_guard = guard if stdout_to_stderr or same_file(sys.stdout, guard.stream) else None
    # The relay comes first: the threads started below (sampler, pumps) inherit its signal mask.
    with Relay() as relay:
        try:
            run.start()  # store and meters first: the command's whole life is measured
        except BaseException:
            feeder.close(())
            _cleanup(tmpdir)
            raise
        relay.poll()
        if relay.received:  # stopped while the store and meters opened: never start the command
            feeder.close(())
            _cleanup(tmpdir)
            exit_code = 128 + relay.received[0]
            run.stop("cancelled", exit_code=exit_code)
            return exit_code
        try:
            child = relay.spawn(lambda: subprocess.Popen(cmd, env=env, stdout=out_pipe, stderr=pipe))
        except OSError as e:
            run.stop("failed", exit_code=127)
            feeder.close(())
            _cleanup(tmpdir)
            raise UsageError(f"cannot run {cmd[0]!r}: {e.strerror}") from None
        feeder.child = child
        watcher = FileWatcher(env["WATTPRINT_PROGRESS_FILE"], feeder.report)
        watcher.start()
        pumps = []
        if watch_output:
            pumps = [threading.Thread(target=feeder.pump, args=(child.stdout, out_dst, out_guard),
                                      daemon=True),
                     threading.Thread(target=feeder.pump, args=(child.stderr, guard.stream, guard),
                                      daemon=True)]
            for t in pumps:
                t.start()
        status = None
        if live:
            from ..report.live import LiveStatus

            status = LiveStatus(run, stream=guard.stream, lines=guard).start()
        code = relay.wait()
        feeder.finish()  # the pumps read what the command left, without waiting for grandchildren
        relay.join(pumps)
        feeder.close(pumps)
        feeder.ended(code == 0 and not relay.received)
        if status is not None:
            status.stop()
        watcher.stop()
        _cleanup(tmpdir)
        exit_code = code if code >= 0 else 128 - code
        if feeder.stopped:
            outcome = "stopped"
            exit_code = exit_code or 1
        elif relay.cancelled_by or -code in SIGNALS:
            outcome = "cancelled"
        else:
            outcome = "finished" if code == 0 else "failed"
        run.stop(outcome, exit_code=exit_code)  # signals meanwhile wait: the record is written
    return exit_code


def _cleanup(tmpdir) -> None:
    if tmpdir:
        shutil.rmtree(tmpdir, ignore_errors=True)


class Relay:
    """Relays the signals that wattprint gets to the command, so that it gets each one once.

    ``with Relay() as relay:`` before any thread starts (they inherit the blocked signals, so
    that the main thread can take each one with its sender), ``relay.spawn(start)`` to start the
    command, ``relay.wait()`` for its exit code. ``received`` lists the signals wattprint got;
    ``cancelled_by`` the first one that came before the command exited.

    A signal is not relayed when the command got it too: the kernel sent it (``si_code``
    SI_KERNEL: a terminal key, or a hangup, sent to the terminal's foreground process group, the
    command's too) and the command is in wattprint's process group; or the command sent it.
    (sudo decides much the same way.) Where the sender is unknown (no ``sigtimedwait``: macOS),
    SIGINT and SIGQUIT are taken for keys while wattprint is the terminal's foreground process
    group. A signal sent to the whole process group by another process (``kill -- -PGID``,
    GNU ``timeout``) cannot be told from one sent to wattprint alone: it is relayed.
    """

    def __init__(self):
        self.child = None
        self.received: list[int] = []
        self.cancelled_by: int | None = None
        self._early: list[tuple[int, bool]] = []
        main = threading.current_thread() is threading.main_thread()
        # nohup (and a script's background jobs) leave signals ignored: they stay ignored.
        self.signals = tuple(s for s in SIGNALS
                             if main and signal.getsignal(s) != signal.SIG_IGN)
        self._siginfo = SIGINFO and bool(self.signals)
        self._waited = set(self.signals) | {signal.SIGCHLD}  # SIGCHLD: the command exited
        self._old: dict = {}
        self._mask = None

    def __enter__(self) -> "Relay":
        self._old = {s: signal.signal(s, self._caught) for s in self.signals}
        if self._siginfo:
            self._mask = signal.pthread_sigmask(signal.SIG_BLOCK, self._waited)
        return self

    def __exit__(self, *exc) -> bool:
        if self._siginfo:
            self.poll()  # taken and dropped: wattprint is about to exit with the record written
            signal.pthread_sigmask(signal.SIG_SETMASK, self._mask)
        for s, h in self._old.items():
            signal.signal(s, h)
        return False

    def spawn(self, start):
        """``start()`` -> Popen, run with the mask wattprint was started with, so that the
        command does not inherit blocked signals."""
        if self._siginfo:
            signal.pthread_sigmask(signal.SIG_SETMASK, self._mask)
        try:
            child = start()
        finally:
            if self._siginfo:
                signal.pthread_sigmask(signal.SIG_BLOCK, self._waited)
        self.child = child
        while self._early:  # caught while it started (handlers run in this thread)
            signum, relay = self._early.pop(0)
            if relay:
                self._send(signum)
        return child

    def poll(self) -> None:
        """Take the signals waiting for wattprint (and relay them)."""
        while self._siginfo:
            info = signal.sigtimedwait(self.signals, 0)
            if info is None:
                return
            self._got(info.si_signo, self._relay_this(info))

    def wait(self) -> int:
        """The command's return code, relaying signals until it exits."""
        child = self.child
        if not self._siginfo:
            # Short waits: a signal taken by another thread would not interrupt a long one, and
            # the handler runs in this thread only.
            while (code := child.poll()) is None:
                try:
                    child.wait(timeout=0.25)
                except subprocess.TimeoutExpired:
                    pass
        else:
            while (code := child.poll()) is None:
                info = signal.sigtimedwait(self._waited, 1.0)  # SIGCHLD wakes it at once
                if info is not None and info.si_signo != signal.SIGCHLD:
                    self._got(info.si_signo, self._relay_this(info))
            self.poll()  # sent with the key that ended it: the command may exit first
        self.cancelled_by = self.received[0] if self.received else None
        return code

    def join(self, threads) -> None:
        """Wait for ``threads``; a signal ends the wait (a stuck output must not hold us)."""
        n = len(self.received)
        for t in threads:
            while t.is_alive() and len(self.received) == n:
                t.join(0.1)
                self.poll()

    # -- deciding ----------------------------------------------------------------------------
    def _got(self, signum: int, relay: bool) -> None:
        self.received.append(signum)
        if self.child is None:
            self._early.append((signum, relay))
        elif relay:
            self._send(signum)

    def _send(self, signum: int) -> None:
        try:
            self.child.send_signal(signum)
        except (ProcessLookupError, OSError):
            pass

    def _relay_this(self, info) -> bool:
        """Whether the command did not get this signal too (Linux: from who sent it)."""
        if info.si_code == SI_KERNEL:
            if info.si_signo == signal.SIGHUP and os.getsid(0) == os.getpid():
                return True  # a hangup goes to the session leader alone: that is us
            return not self._child_in_our_group()
        # Sent by the command itself (e.g. killpg(0, SIGTERM)): it has it. A parent in our
        # process group may have sent it to us alone (Popen.terminate()): relay that.
        return info.si_pid != getattr(self.child, "pid", None)

    def _caught(self, signum, frame) -> None:
        """The handler, for signals not taken by ``sigtimedwait``: sender unknown."""
        self._got(signum, not self._from_terminal(signum))

    def _from_terminal(self, signum: int) -> bool:
        if signum not in (signal.SIGINT, signal.SIGQUIT) or not self._child_in_our_group():
            return False
        try:
            fd = os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY)
        except OSError:
            return False  # no controlling terminal: no key sent it
        try:
            return os.tcgetpgrp(fd) == os.getpgrp()
        except OSError:
            return False
        finally:
            os.close(fd)

    def _child_in_our_group(self) -> bool:
        try:
            return os.getpgid(self.child.pid) == os.getpgrp()
        except (AttributeError, OSError):
            return True  # not started, or gone: nothing to relay to
