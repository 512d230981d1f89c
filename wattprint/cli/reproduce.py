"""``wattprint reproduce STUDY``: a published study's tables recomputed, ours beside theirs."""
from __future__ import annotations

from ._output import print_json, say


def add_arguments(parser, name):
    parser.add_argument("study", help="the study to reproduce: strubell2019")
    parser.add_argument("--json", action="store_true", help="print every figure as JSON")


def _fmt(x):
    if x is None:
        return "-"
    return f"{x:,.2f}" if x != int(x) else f"{x:,.0f}"


def run(args) -> int:
    from ..reproduce import load

    study = load(args.study)
    checks = study.checks()
    failed = [c for c in checks if not c.ok]
    if args.json:
        print_json({"study": args.study, "title": study.TITLE, "inputs": study.inputs(),
                    "ok": not failed, "checks": [c.as_dict() for c in checks]})
        return 1 if failed else 0
    say(study.TITLE)
    for line in study.inputs():
        say(f"  {line}")
    table = None
    w = min(60, max((len(c.item) for c in checks), default=4))  # items whole, not cut mid-word
    for c in checks:
        if c.table != table:
            table = c.table
            say(f"\nTable {table}")
            say(f"  {'item':<{w}} {'figure':<24} {'ours':>12} {'published':>12} {'diff':>9}  status")
        status = {"check": "ok" if c.ok else f"OFF (> {c.tolerance:g})", "calibration": "input (fitted)",
                  "ours": "ours, not in paper", "quoted": "quoted"}[c.kind]
        diff = f"{c.diff:+,.2f}" if c.diff is not None and c.kind == "check" else ""
        say(f"  {c.item[:w]:<{w}} {c.figure:<24} {_fmt(c.ours):>12} {_fmt(c.published):>12} {diff:>9}  {status}")
        if c.note:
            say(f"  {'':<{w}} note: {c.note}")
    compared = [c for c in checks if c.kind == "check"]
    say(f"\n{len(compared) - len(failed)}/{len(compared)} published figures within their printed rounding"
          + ("" if not failed else f"; {len(failed)} off"))
    return 1 if failed else 0
