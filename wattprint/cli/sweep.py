"""``wattprint sweep --project P [--study NAME] [--direction D] [--within X] [--json] [--html F]``."""
from __future__ import annotations

import math

from ..errors import UsageError
from ..units import shown
from ._common import add_json, add_store, open_store
from ._output import print_json, say


def add_arguments(p, name) -> None:
    p.add_argument("--project", "-p", required=True, help="the project the sweep's trials were run under")
    p.add_argument("--study", "-s", help="only this study (Optuna study name or Ray Tune experiment)")
    p.add_argument("--direction", choices=("minimize", "maximize"),
                   help="whether a lower or a higher objective is better (default: as the study recorded)")
    p.add_argument("--within", metavar="X", default="1",
                   help="percent from the best objective for the 'within X %%' sentence (default 1)")
    p.add_argument("--html", metavar="FILE", help="also write an HTML page: objective against cumulative "
                                                  "energy, the Pareto front marked ('-': stdout)")
    add_store(p)
    add_json(p)
    p.epilog = ("A trial is on the Pareto front when no other trial has a better or equal objective for "
                "less or equal energy. 'Within X %': the trials run up to the first whose objective came "
                "within X % of the best (relative to its size), in the order they ran, and their share "
                "of the sweep's energy.")


def _within(text: str) -> float:
    try:
        x = float(text)
    except ValueError:
        x = math.nan
    if not (math.isfinite(x) and 0 <= x < 100):
        raise UsageError(f"--within {shown(text)}: give a percentage from 0 to below 100, e.g. --within 1")
    return x


def run(args) -> int:
    from ..report import sweep as view
    from ..sweep import analyse

    pct = _within(args.within)
    store = open_store(args)
    runs = store.list_runs(project=args.project, trial=True if args.study is None else args.study)
    data = analyse(runs, study=args.study, direction=args.direction, pct=pct)
    if not data["trials"]:
        what = f"project {args.project!r}" + (f" and study {args.study!r}" if args.study else "")
        hint = ("'wattprint sweep --project " + args.project + "' lists its studies"
                if args.study and store.list_runs(project=args.project, trial=True, newest=1)
                else "trials are recorded by wattprint.integrations.optuna.tracked or .ray.tracked")
        raise UsageError(f"no sweep trials in {store.path} match {what} "
                         f"({store.count_runs(project=args.project):,} runs there); {hint}")
    if args.html:
        from ..report.files import write_output

        page = view.html(data)
        write_output(args.html, lambda f: f.write(page))
    if args.json:
        data["filters"] = {"project": args.project, "study": args.study, "store": store.path}
        print_json(data)
        return 0
    if args.html != "-":
        for line in view.text_lines(data):
            say(line)
        for n in data["notes"]:
            say(f"  note: {n}")
    return 0
