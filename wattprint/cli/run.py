"""``wattprint run -- CMD ARGS...``: measure a command for its whole life."""
from __future__ import annotations

import argparse
import os
import shlex
import shutil
import signal
import subprocess
import sys

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
    p.add_argument("--unit", default="step", help="unit of --total (epoch, step, token, sample)")
    p.add_argument("--run-id", help="use this run id instead of a new one")
    add_store(p)
    add_json(p)
    p.add_argument("--quiet", "-q", action="store_true", help="print no summary")
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

    from ..tracker import Run

    run_ = Run(project=args.project, tags=args.tags, interval=interval, flush_interval=flush,
               store=args.store, region=args.region, cloud=args.cloud, intensity=args.intensity,
               pue=args.pue, total=total, unit=args.unit, run_id=args.run_id,
               command=shlex.join(cmd), scope=args.scope)
    _check_location(run_)
    if shutil.which(cmd[0]) is None:
        raise UsageError(f"command not found: {cmd[0]!r} (check the name and your PATH)")
    env = dict(os.environ)
    env["WATTPRINT_RUN_ID"] = run_.run_id
    run_.start()  # store and meters first: the command's whole life is measured
    try:
        child = subprocess.Popen(cmd, env=env)
    except OSError as e:
        run_.stop("failed", exit_code=127)
        raise UsageError(f"cannot run {cmd[0]!r}: {e.strerror}") from None

    def forward(signum, frame):
        try:
            child.send_signal(signum)
        except ProcessLookupError:
            pass

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
    exit_code = code if code >= 0 else 128 - code
    run_.stop("finished" if code == 0 else "failed", exit_code=exit_code)
    rec = run_.record
    if args.json:
        out = rec.as_dict()
        fp = _footprint(run_)
        if fp is not None:
            out["footprint"] = fp.as_dict()
        print_json(out)
    elif not args.quiet:
        from ..report.terminal import summary

        print(summary(rec, _footprint(run_)), file=sys.stderr)
    return exit_code


def _check_location(run_) -> None:
    """Fail before the command starts, not after hours of training, on an unknown region."""
    if not run_.location:
        return
    try:
        from ..datasets import resolve_intensity
    except ImportError:
        return
    loc = run_.location
    resolve_intensity(region=loc.get("region"), cloud=loc.get("cloud"), intensity=loc.get("intensity"))


def _footprint(run_):
    try:
        return run_.result
    except ImportError:
        return None
    except UsageError as e:
        print(f"wattprint: footprint not computed: {e}", file=sys.stderr)
        return None

