"""``wattprint run -- CMD ARGS...``: measure a command for its whole life.

Progress (for prediction and budgets) comes from the command's output lines or from the file
named in ``$WATTPRINT_PROGRESS_FILE`` (see ``wattprint.progress_watch`` and docs/progress.md).
Output is passed through unchanged, chunk by chunk, as it arrives.
"""
from __future__ import annotations

import argparse
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading

from ..errors import UsageError
from ._common import add_json, add_store, print_json


def add_arguments(p, name) -> None:
    p.add_argument("--project", "-p", help="project name (groups runs for campaign accounting)")
    p.add_argument("--tag", "-t", action="append", default=[], dest="tags", metavar="TAG",
                   help="tag this run (repeatable), e.g. final, tuning, ablation")
    p.add_argument("--interval", default="1", metavar="S",
                   help="seconds between meter reads (default 1, at least 0.01)")
    p.add_argument("--flush-interval", default="5", metavar="S",
                   help="seconds between writes to the store (default 5): at most this is lost "
                        "if the machine or wattprint dies")
    p.add_argument("--scope", choices=("machine", "process"), default="machine",
                   help="what the modelled CPU counts: the whole machine (default) or the "
                        "command's process tree")
    loc = p.add_mutually_exclusive_group()
    loc.add_argument("--region", help="grid region for CO2e (country, US state, zone)")
    loc.add_argument("--cloud", metavar="PROVIDER:REGION", help="cloud region, e.g. gcp:us-central1")
    loc.add_argument("--intensity", metavar="Q", help="grid carbon intensity, e.g. 429g/kWh")
    p.add_argument("--pue", help="power usage effectiveness (number or preset)")
    p.add_argument("--total", metavar="N", help="total work (epochs/steps) for prediction")
    p.add_argument("--unit", help="unit of --total (epoch, step, token, sample; default step, or "
                                   "epoch when progress comes from 'epoch N/M' lines)")
    p.add_argument("--progress-regex", metavar="REGEX",
                   help="read progress from output lines matching REGEX, with groups "
                        "(?P<done>...) and optionally (?P<total>...) (default: 'epoch 3/40' "
                        "style lines and tqdm bars)")
    p.add_argument("--no-progress-output", action="store_true",
                   help="leave the command's output alone (it keeps the terminal); progress "
                        "then only comes from $WATTPRINT_PROGRESS_FILE")
    p.add_argument("--predict-every", default="0.1", metavar="F",
                   help="print a prediction every F of the total (default 0.1 = 10 %%; 0 = never)")
    p.add_argument("--budget-kwh", metavar="KWH", help="energy budget for the whole run")
    p.add_argument("--budget-co2e-kg", metavar="KG", help="CO2e budget (needs a location)")
    p.add_argument("--budget-usd", metavar="USD", help="cost budget (needs a tariff or cloud prices)")
    p.add_argument("--on-exceed", choices=("warn", "stop"), default="warn",
                   help="when the predicted total passes a budget: warn (default), or stop the "
                        "command (SIGINT, then SIGTERM after %d s)" % 30)
    p.add_argument("--run-id", help="use this run id instead of a new one")
    add_store(p)
    add_json(p)
    p.add_argument("--quiet", "-q", action="store_true", help="print no summary")
    p.add_argument("--live", action="store_true",
                   help="keep a status line (power, energy, predicted total) on the terminal's "
                        "bottom row while the command runs")
    p.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD ARGS",
                   help="the command to run and measure")


def _number(name: str, value: str, minimum: float) -> float:
    try:
        v = float(value)
    except ValueError:
        raise UsageError(f"{name} must be a number, got {value!r}") from None
    if not v >= minimum or v != v or v == float("inf"):
        raise UsageError(f"{name} must be at least {minimum:g}, got {value!r}")
    return v


def run(args) -> int:
    cmd = list(args.cmd)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        raise UsageError("no command to run: put it after '--', e.g. wattprint run -- python train.py")
    interval = _number("--interval", args.interval, 0.01)
    flush = _number("--flush-interval", args.flush_interval, 0.01)
    total = _number("--total", args.total, 1e-300) if args.total is not None else None

    every = _number("--predict-every", args.predict_every, 0)
    budgets = {k: _number(f"--{k.replace('_', '-')}", getattr(args, k), 1e-300)
               if getattr(args, k) is not None else None
               for k in ("budget_kwh", "budget_co2e_kg", "budget_usd")}
    from ..progress_watch import LineProgress, compile_regex

    patterns = [compile_regex(args.progress_regex)] if args.progress_regex else None

    from ..tracker import Run

    run_ = Run(project=args.project, tags=args.tags, interval=interval, flush_interval=flush,
               store=args.store, region=args.region, cloud=args.cloud, intensity=args.intensity,
               pue=args.pue, total=total, unit=args.unit or "step", run_id=args.run_id,
               command=shlex.join(cmd), scope=args.scope, predict_every=every or None,
               on_exceed=args.on_exceed, quiet=bool(args.quiet or args.json), **budgets)
    _check_location(run_)
    if shutil.which(cmd[0]) is None:
        raise UsageError(f"command not found: {cmd[0]!r} (check the name and your PATH)")
    env = dict(os.environ)
    env["WATTPRINT_RUN_ID"] = run_.run_id
    tmpdir = None
    if not env.get("WATTPRINT_PROGRESS_FILE"):
        tmpdir = tempfile.mkdtemp(prefix="wattprint-")
        env["WATTPRINT_PROGRESS_FILE"] = os.path.join(tmpdir, "progress")
    watch_output = not args.no_progress_output
    if watch_output:
        env.setdefault("PYTHONUNBUFFERED", "1")  # a pipe would make Python block-buffer
    feeder = _Feeder(run_, LineProgress(patterns, total), infer_unit=args.unit is None)
    run_.start()  # store and meters first: the command's whole life is measured
    pipe = subprocess.PIPE if watch_output else None
    try:
        child = subprocess.Popen(cmd, env=env, stdout=pipe, stderr=pipe)
    except OSError as e:
        run_.stop("failed", exit_code=127)
        _cleanup(tmpdir)
        raise UsageError(f"cannot run {cmd[0]!r}: {e.strerror}") from None
    feeder.child = child

    def forward(signum, frame):
        try:
            child.send_signal(signum)
        except ProcessLookupError:
            pass

    from ..progress_watch import FileWatcher

    watcher = FileWatcher(env["WATTPRINT_PROGRESS_FILE"], feeder.report)
    watcher.start()
    pumps = []
    if watch_output:
        pumps = [threading.Thread(target=feeder.pump, args=(child.stdout, sys.stdout), daemon=True),
                 threading.Thread(target=feeder.pump, args=(child.stderr, sys.stderr), daemon=True)]
        for t in pumps:
            t.start()
    live = None
    if args.live:
        from ..report.live import LiveStatus

        live = LiveStatus(run_).start()
    old = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
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
    if live is not None:
        live.stop()
    watcher.stop()
    _cleanup(tmpdir)
    if feeder.stopped:
        code = code if code != 0 else 1
    exit_code = code if code >= 0 else 128 - code
    run_.stop("stopped" if feeder.stopped else "finished" if code == 0 else "failed",
              exit_code=exit_code)
    if args.json:  # without --json the run printed its own summary when it stopped
        out = run_.record.as_dict()
        fp = _footprint(run_)
        if fp is not None:
            out["footprint"] = fp.as_dict()
        print_json(out)
    return exit_code


def _check_location(run_) -> None:
    """Fail before the command starts, not after hours of training, on an unknown region, PUE
    or intensity: compute a footprint of a tiny energy with the run's options."""
    if run_.location:
        from ..footprint import for_energy

        for_energy(1e-6, 1e-6, **run_.location)


def _footprint(run_):
    try:
        return run_.result
    except ImportError:
        return None
    except UsageError as e:
        print(f"wattprint: footprint not computed: {e}", file=sys.stderr)
        return None



def _cleanup(tmpdir) -> None:
    if tmpdir:
        shutil.rmtree(tmpdir, ignore_errors=True)


class _Feeder:
    """Passes the child's output through and turns its progress into ``run.progress()``."""

    GRACE_S = 30.0

    def __init__(self, run_, lines, infer_unit=False):
        self.run, self.lines = run_, lines
        self.infer_unit = infer_unit
        self.child = None
        self.stopped = False
        self.lock = threading.Lock()

    def pump(self, src, dst) -> None:
        from ..progress_watch import Splitter

        split = Splitter()
        fd = src.fileno()
        try:
            out = dst.fileno()
        except (AttributeError, OSError, ValueError):
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
                got = self.lines_feed(line)
                if got is not None:
                    self.report(*got)

    def lines_feed(self, line):
        with self.lock:
            try:
                return self.lines.feed(line)
            except Exception:
                return None

    def report(self, done, total=None) -> None:
        from ..errors import BudgetExceeded
        from ..progress_watch import EPOCH as EPOCH_LINES

        with self.lock:
            if self.stopped:
                return
            if self.infer_unit and self.lines.kind is not None:
                self.infer_unit = False
                if self.lines.kind is EPOCH_LINES and self.lines.epochs is None \
                        and "epoch" in (self.lines.last_line or "").lower():
                    self.run.unit = "epoch"
                    try:  # so that 'wattprint predict' shows it while the run goes on
                        self.run._store.flush(self.run._key, run_fields={"unit": "epoch"})
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

        t = threading.Timer(self.GRACE_S, escalate)
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
