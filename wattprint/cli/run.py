"""``wattprint run -- CMD ARGS...``: measure a command for its whole life.

Progress (for prediction and budgets) comes from the command's output lines or from the file
named in ``$WATTPRINT_PROGRESS_FILE`` (see ``wattprint.progress_watch`` and docs/progress.md).
Output is passed through unchanged, chunk by chunk, as it arrives; with ``--json`` the
command's stdout goes to stderr, so that stdout holds the one JSON object alone.
"""
from __future__ import annotations

import argparse
import math
import shlex
import shutil
import sys

from ..errors import UsageError
from ..fmt import exact
from ..units import MAX_WORK, check_run_id, printable, shown
from ._common import add_store
from ._output import json_text, print_json


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
    p.add_argument("--cpu", metavar="NAME",
                   help="the CPU's model, for a VM that hides it (e.g. 'AMD EPYC 9654'); "
                        "see wattprint hardware CPU")
    p.add_argument("--cpu-tdp-w", metavar="W",
                   help="the CPU package's power in W, instead of the table's (e.g. 253 for an "
                        "i9-13900K held at maximum turbo power); where the package's thread "
                        "count is unknown, the power of the CPUs this run may use")
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
                   help="predict (and store the prediction) every F of the total (default 0.1 = "
                        "10 %%; 0 = never); a line is printed when it first becomes reliable "
                        "and when it moves out of its range")
    p.add_argument("--budget-kwh", metavar="KWH", help="energy budget for the whole run")
    p.add_argument("--budget-co2e-kg", metavar="KG", help="CO2e budget (needs a location)")
    p.add_argument("--budget-usd", metavar="USD", help="cost budget (needs a tariff or cloud prices)")
    p.add_argument("--on-exceed", choices=("warn", "stop"), default="warn",
                   help="when the predicted total passes a budget: warn (default), or stop the "
                        "command (SIGINT, then SIGTERM after 30 s)")  # supervise.GRACE_S
    p.add_argument("--run-id", help="use this run id instead of a new one: letters, digits, '-', '_' "
                                     "and '.' (not first), at most 128")
    p.add_argument("--log-to", action="append", metavar="TRACKER",
                   help="also log energy, power, CO2e and the prediction to an experiment "
                        "tracker: mlflow, wandb or tensorboard:DIR (repeatable, or "
                        "comma-separated); the footprint and reports go there at the end")
    add_store(p)
    p.add_argument("--json", action="store_true",
                   help="print the run's record as one JSON object on stdout, and no summary; "
                        "the command's own stdout then goes to stderr")
    p.add_argument("--json-out", metavar="FILE",
                   help="also write that JSON object to FILE (replaced whole at the end), "
                        "leaving the command's output alone")
    p.add_argument("--quiet", "-q", action="store_true", help="print no summary")
    p.add_argument("--verbose", "-v", action="store_true",
                   help="also say when a prediction is not yet reliable, and why")
    p.add_argument("--live", action="store_true",
                   help="keep a status line (power, energy, predicted total) on the terminal's "
                        "bottom row while the command runs; without a terminal, a plain status "
                        "line every 30 s")  # report.live.PLAIN_EVERY_S
    p.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD ARGS",
                   help="the command to run and measure")


# option -> (lowest, highest, unit, what the highest stands for); --predict-every also takes 0
# (never), and its "a fraction" rule is the run options' own
_BOUNDS = {
    "--interval": (0.01, 86400, "s", "a day"),
    "--flush-interval": (0.01, 86400, "s", "a day"),
    "--total": (1e-9, MAX_WORK, "", "a billion billion units of work"),
    "--predict-every": (0.001, MAX_WORK, "", ""),
    "--budget-kwh": (1e-9, 1e12, "kWh", "a year of a large country's electricity"),
    "--budget-co2e-kg": (1e-9, 1e12, "kg", "a billion tonnes"),
    "--budget-usd": (1e-9, 1e15, "USD", "a thousand trillion dollars"),
}


def _number(name: str, value: str) -> float:
    try:
        v = float(value)
    except ValueError:
        raise UsageError(f"{name} must be a number, got {shown(value)}") from None
    low, high, unit, why = _BOUNDS[name]
    u = f" {unit}" if unit else ""
    if not math.isfinite(v):
        raise UsageError(f"{name} must be a finite number, got {shown(value)}")
    if v < low and not (v == 0 and name == "--predict-every"):
        raise UsageError(f"{name} must be at least {exact(low)}{u}, got {shown(value)}")
    if v > high:
        raise UsageError(f"{name}: {exact(v)}{u} is more than {exact(high)}{u}, the most wattprint accepts ({why}); "
                         "check the value")
    return v


def run(args) -> int:
    cmd = list(args.cmd)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        raise UsageError("no command to run: put it after '--', e.g. wattprint run -- python train.py")
    interval = _number("--interval", args.interval)
    flush = _number("--flush-interval", args.flush_interval)
    total = _number("--total", args.total) if args.total is not None else None

    every = _number("--predict-every", args.predict_every)
    budgets = {k: _number(f"--{k.replace('_', '-')}", getattr(args, k))
               if getattr(args, k) is not None else None
               for k in ("budget_kwh", "budget_co2e_kg", "budget_usd")}
    if args.run_id is not None:
        check_run_id(args.run_id, "--run-id")
    from ..progress_watch import compile_regex

    patterns = [compile_regex(args.progress_regex)] if args.progress_regex else None

    from ..run import Run

    run_ = Run(project=args.project, tags=args.tags, interval=interval, flush_interval=flush,
               store=args.store, region=args.region, cloud=args.cloud, intensity=args.intensity,
               pue=args.pue, total=total, unit=args.unit or "step", run_id=args.run_id,
               command=printable_command(cmd), scope=args.scope, predict_every=every or None,
               on_exceed=args.on_exceed, quiet=bool(args.quiet or args.json),
               cpu=args.cpu, cpu_tdp_w=args.cpu_tdp_w, verbose=args.verbose, log_to=args.log_to,
               **budgets)  # checks the location too
    if shutil.which(cmd[0]) is None:
        raise UsageError(f"command not found: {cmd[0]!r} (check the name and your PATH)")
    if args.json_out is not None:
        from ..report.files import check_writable

        check_writable(args.json_out)  # before the command: a long run must not end in a refusal
    from ..supervise import supervise

    exit_code = supervise(run_, cmd, watch_output=not args.no_progress_output, patterns=patterns,
                          total=total, infer_unit=args.unit is None, live=args.live,
                          stdout_to_stderr=bool(args.json))
    if args.json or args.json_out is not None:
        out = _as_json(run_)
        if args.json_out is not None:
            from ..report.files import write_output

            try:
                write_output(args.json_out, lambda f: f.write(json_text(out) + "\n"))
            except UsageError as e:  # the run is stored: say so, don't lose the JSON
                print(printable(f"wattprint: {e}; the run is stored as {run_.run_id}"),
                      file=sys.stderr)
                exit_code = exit_code or 1
        if args.json:  # without --json the run printed its own summary when it stopped
            print_json(out)
    return exit_code


def _as_json(run_) -> dict:
    out = run_.record.as_dict()
    try:
        fp = run_.result
    except UsageError as e:
        print(printable(f"wattprint: footprint not computed: {e}"), file=sys.stderr)
        fp = None
    if fp is not None:
        out["footprint"] = fp.as_dict()
    return out


def printable_command(cmd: list[str]) -> str:
    """The command line as stored: bytes that are not UTF-8 written as \\xNN (the store holds text)."""
    return shlex.join(cmd).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
