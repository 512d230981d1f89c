"""``wattprint report RUN... --html FILE | --md FILE | --latex FILE`` and
``wattprint report --project P [--tag T] [--since D] [-o FILE | --format F]``."""
from __future__ import annotations

import os
import sys

from ..errors import UsageError
from ..units import printable, shown
from ._common import add_store, open_store

FORMATS = ("html", "md", "latex")
SUFFIXES = {".html": "html", ".htm": "html", ".md": "md", ".markdown": "md", ".tex": "latex", ".latex": "latex"}


def add_arguments(p, name) -> None:
    p.add_argument("run_ids", nargs="*", metavar="RUN",
                   help="run ids (or unique prefixes); several make one report with their sum")
    p.add_argument("--project", "-p", metavar="P",
                   help="a project report instead: Strubell Table 4 levels, energy and CO2e over time, "
                        "the tuning share and the costliest runs of project P")
    p.add_argument("--tag", "-t", metavar="T", help="with --project: only runs with tag T")
    p.add_argument("--since", metavar="D", help="with --project: only runs started since D: a date "
                                                 "(2026-01-31) or an age (30d, 12h, 2w)")
    p.add_argument("--top", type=int, default=10, metavar="N",
                   help="with --project: how many of the costliest runs to list (default 10)")
    p.add_argument("--out", "-o", metavar="FILE",
                   help="write the report to FILE, its format from the suffix (.html, .md, .tex) or --format")
    p.add_argument("--format", "-f", choices=FORMATS, help="html, md or latex (default: from --out's suffix; md)")
    p.add_argument("--html", metavar="FILE", help="write a self-contained HTML report with plots")
    p.add_argument("--md", metavar="FILE", help="write a Markdown footprint statement ('-' for stdout)")
    p.add_argument("--latex", metavar="FILE", help="write a LaTeX footprint statement ('-' for stdout)")
    add_store(p)
    p.epilog = ("With no output named, the Markdown is printed. The HTML is one offline file (inline SVG, "
                "no script, nothing fetched); files are written whole or not at all.")


def _outputs(args) -> list[tuple[str, str]]:
    outs = [(kind, path) for kind, path in (("html", args.html), ("md", args.md), ("latex", args.latex)) if path]
    if args.out:
        kind = args.format or SUFFIXES.get(os.path.splitext(args.out)[1].lower())
        if kind is None:
            raise UsageError(f"--out {shown(args.out)}: say the format with --format html|md|latex "
                             "or end the name in .html, .md or .tex")
        outs.append((kind, args.out))
    elif args.format:
        outs.append((args.format, "-"))
    if not outs:
        outs = [("md", "-")]  # nothing asked: print the Markdown
    if sum(1 for _, p in outs if p == "-") > 1:
        raise UsageError("only one of --html/--md/--latex/--format can write to stdout ('-')")
    return outs


def run(args) -> int:
    if args.project is not None and args.run_ids:
        raise UsageError("give run ids or --project, not both")
    if args.project is None and (args.tag or args.since):
        raise UsageError("--tag and --since choose a project's runs: add --project P")
    if args.project is None and not args.run_ids:
        raise UsageError("name at least one run id, e.g. 'wattprint report RUN --html report.html', "
                         "or a project with --project P ('wattprint runs' lists them)")
    outs = _outputs(args)
    from ..report.files import check_writable, write_output

    since = None
    if args.project is not None:
        if args.top < 0:
            raise UsageError(f"--top {args.top}: give a number of runs, 0 or more")
        if not args.project.strip():
            raise UsageError("--project: give a project name ('wattprint runs' lists them)")
        if args.since:
            from .campaign import since_time

            since = since_time(args.since)
    for _, path in outs:
        check_writable(path)
    store = open_store(args)
    texts = _project(store, args, since, outs) if args.project is not None else _runs(store, args, outs)
    for (kind, path), text in zip(outs, texts):
        write_output(path, lambda f, text=text: f.write(text))
        if path != "-":
            print(f"wrote {printable(path)} ({len(text.encode()):,} bytes)", file=sys.stderr)
    return 0


def _runs(store, args, outs) -> list[str]:
    from ..report import data

    runs = data.load(store, args.run_ids)
    texts = []
    for kind, _ in outs:
        if kind == "html":
            from ..report.html import render

            texts.append(render(runs))
        else:
            from ..report.markdown import latex, markdown

            texts.append(markdown(runs) if kind == "md" else latex(runs))
    return texts


def _project(store, args, since, outs) -> list[str]:
    from ..campaign import project_report
    from ..report import project

    runs = store.run_lines(project=args.project, tag=args.tag, since=since)
    if not runs:
        if not store.list_runs(project=args.project, newest=1):
            known = store.projects()
            names = ", ".join(known[:20]) + (f" and {len(known) - 20} more" if len(known) > 20 else "")
            raise UsageError(f"no runs in project {shown(args.project)}; "
                             + (f"known projects: {names}" if known else "the store has no project yet "
                                "(give --project when running)"))
        what = " and ".join(w for w in (f"tag {shown(args.tag)}" if args.tag else "",
                                        f"since {args.since}" if args.since else "") if w)
        raise UsageError(f"no runs of project {shown(args.project)} match {what}; drop or widen the filter")
    d = project_report(runs, top=args.top)
    filters = {"project": args.project, "tag": args.tag, "since": args.since}
    fmt = {"html": project.html, "md": project.markdown, "latex": project.latex}
    return [fmt[kind](d, filters) for kind, _ in outs]
