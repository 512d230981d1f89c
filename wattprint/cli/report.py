"""``wattprint report RUN... --html FILE | --md FILE | --latex FILE``."""
from __future__ import annotations

import sys

from ..errors import UsageError
from ..units import printable
from ._common import add_store, open_store


def add_arguments(p, name) -> None:
    p.add_argument("run_ids", nargs="*", metavar="RUN",
                   help="run ids (or unique prefixes); several make one report with their sum")
    p.add_argument("--html", metavar="FILE", help="write a self-contained HTML report with plots")
    p.add_argument("--md", metavar="FILE", help="write a Markdown footprint statement ('-' for stdout)")
    p.add_argument("--latex", metavar="FILE", help="write a LaTeX footprint statement ('-' for stdout)")
    add_store(p)
    p.epilog = ("With none of --html/--md/--latex, the Markdown statement is printed. The HTML is one "
                "offline file (inline SVG, no script, nothing fetched); files are written whole or not at all.")


def run(args) -> int:
    if not args.run_ids:
        raise UsageError("name at least one run id, e.g. 'wattprint report RUN --html report.html' "
                         "('wattprint runs' lists them)")
    outs = [(kind, path) for kind, path in (("html", args.html), ("md", args.md), ("latex", args.latex))
            if path]
    if not outs:
        outs = [("md", "-")]  # nothing asked: print the statement
    if sum(1 for _, p in outs if p == "-") > 1:
        raise UsageError("only one of --html/--md/--latex can write to stdout ('-')")
    from ..report.files import check_writable, write_output

    for _, path in outs:
        check_writable(path)
    store = open_store(args)
    from ..report import data

    runs = data.load(store, args.run_ids)
    for kind, path in outs:
        if kind == "html":
            from ..report.html import render

            text = render(runs)
        elif kind == "md":
            from ..report.markdown import markdown

            text = markdown(runs)
        else:
            from ..report.markdown import latex

            text = latex(runs)
        write_output(path, lambda f: f.write(text))
        if path != "-":
            print(f"wrote {printable(path)} ({len(text.encode()):,} bytes)", file=sys.stderr)
    return 0
