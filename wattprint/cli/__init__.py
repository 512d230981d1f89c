"""The ``wattprint`` command. Parsing and printing only; the work lives in the library.

Each subcommand is a module in this package with ``add_arguments(parser, name)`` and
``run(args) -> int`` (``args.command`` holds the name, as one module may serve two commands).
Only the module of the command being run is imported, to keep start-up light.
"""
from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
import textwrap

from .._version import __version__
from ..errors import UsageError
from ..units import printable

ARG_MAX = 4096  # PATH_MAX: no option value of wattprint's needs more
_SURROGATE = re.compile("[\ud800-\udfff]")

# name -> (module, one-line help). Order is the order of ``wattprint --help``.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("run", "run a command and measure the energy of its whole life"),
    "runs": ("runs", "list stored runs, newest first"),
    "show": ("runs", "show one stored run"),
    "doctor": ("doctor", "say which meters this machine has and how to fix what is missing"),
    "plan": ("plan", "plan a training before it starts: GPU-hours, energy, CO2e and cost per "
                     "hardware and place"),
    "estimate": ("estimate", "estimate energy, CO2e, cost and embodied emissions without running anything"),
    "reproduce": ("reproduce", "recompute a published study's tables (strubell2019)"),
    "predict": ("predict", "predict a stored or running run's total footprint"),
    "report": ("report", "write a run's report as HTML, Markdown or LaTeX"),
    "campaign": ("campaign", "sum all runs of a project: one model, tuning, the whole R&D"),
    "sweep": ("sweep", "a search's trials: energy, Pareto front, and what the last point of accuracy cost"),
    "export": ("export", "export runs, samples, windows, progress and predictions as CSV or JSON Lines"),
    "merge": ("merge", "merge per-node records of a multi-node job"),
    "store": ("store", "copy runs between stores (SQLite, PostgreSQL); create a shared store's tables"),
    "exporter": ("prometheus", "serve this node's energy counters to Prometheus"),
    "regions": ("regions", "list known regions and their grid carbon intensity"),
    "hardware": ("hardware", "list known accelerators and their power"),
}


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports bad input in one line (exit 2) instead of usage + message."""

    def error(self, message):  # noqa: D401 - argparse API
        self.exit(2, one_line(f"{self.prog}: error: {message} (see '{self.prog} --help')") + "\n")


def one_line(message: str) -> str:
    """An error message as one terminal-safe line: controls escaped, very long words cut."""
    text = printable(message)
    if len(text) > 600:
        text = re.sub(r"\S{120,}", lambda m: f"{m.group()[:60]}...{m.group()[-20:]}", text)
    return text


def _check_values(args, rest: list[str]) -> None:
    """Empty, overlong and non-UTF-8 values are refused for every option and argument (the
    command that ``wattprint run`` measures is passed through as given)."""
    for dest, value in vars(args).items():
        if dest == "cmd":
            continue
        for v in value if isinstance(value, list) else [value]:
            if not isinstance(v, str):
                continue
            option = _option_of(v, dest, rest)
            name = option or f"argument {dest.upper()}"
            if v == "":
                raise UsageError(f"{name}: empty value; " + ("give a value or leave the option out" if option
                                                           else "give a value"))
            if len(v) > ARG_MAX:
                raise UsageError(f"{name}: {len(v):,} characters, at most {ARG_MAX}; check the value")
            if _SURROGATE.search(v):  # bytes that are not UTF-8, as Python hands them over
                raise UsageError(f"{name}: {v!r} is not UTF-8 text; give names and values in UTF-8")


def _option_of(value: str, dest: str, rest: list[str]) -> str | None:
    """The option (as typed) that gave ``dest`` its ``value``, if an option did."""
    def names(tok: str) -> bool:
        flag = tok.split("=", 1)[0]
        key = flag.lstrip("-").replace("-", "_")
        return len(flag) == 2 or key in (dest, dest[:-1], _DEST_FLAGS.get(dest))

    for i, tok in enumerate(rest):
        if tok == "--":
            return None
        if tok.startswith("-") and "=" in tok and tok.split("=", 1)[1] == value and names(tok):
            return tok.split("=", 1)[0]
        if tok.startswith("-") and i + 1 < len(rest) and rest[i + 1] == value and names(tok):
            return tok
    return None


_DEST_FLAGS = {"fmt": "format", "sources": "from", "run_ids": "run", "table": "what"}


def _help() -> str:
    lines = ["usage: wattprint COMMAND [OPTIONS]", "",
             "Measure and account for the energy, CO2e and cost of machine-learning training.", "",
             "commands:"]
    lines += [f"  {name:<10} {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "'wattprint COMMAND --help' lists a command's options, with examples; "
              "'wattprint --version' prints the version."]
    return "\n".join(lines)


def command_parser(name: str) -> ArgumentParser:
    return ArgumentParser(prog=f"wattprint {name}", description=COMMANDS[name][1],
                          formatter_class=argparse.RawDescriptionHelpFormatter)


def full_parser(name: str, module) -> ArgumentParser:
    """The parser of command ``name`` with its options (from ``module``) and worked examples."""
    from ._examples import epilog

    parser = command_parser(name)
    module.add_arguments(parser, name)
    note = parser.epilog  # a command's own note stays, re-wrapped (the examples keep their lines)
    text = "\n\n".join(textwrap.fill(par, width=_width()) for par in (note or "").split("\n\n") if par)
    parts = [text, epilog(name)]
    parser.epilog = "\n\n".join(p for p in parts if p) or None
    return parser


def _width() -> int:
    import shutil

    return max(40, min(100, shutil.get_terminal_size().columns) - 2)


def main(argv: list[str] | None = None) -> int:
    from ..fmt import use

    previous = use("cli")  # hints name options as typed here (--pue), not as keywords (pue=)
    try:
        return _main(argv)
    finally:
        use(previous)  # main() called in-process (tests, notebooks) leaves Python wording as it was


def _main(argv: list[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_help(), file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    if argv[0] == "--version":
        print(f"wattprint {__version__}")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(one_line(f"wattprint: error: unknown command {name!r}; choose from {', '.join(COMMANDS)}"),
              file=sys.stderr)
        return 2
    try:
        module = importlib.import_module(f".{COMMANDS[name][0]}", __name__)
    except ImportError as e:
        print(f"wattprint {name}: error: not available in this installation ({e})", file=sys.stderr)
        return 2
    parser = full_parser(name, module)
    args = parser.parse_args(rest)
    args.command = name
    try:
        _check_values(args, rest)
        return int(module.run(args) or 0)
    except UsageError as e:
        print(one_line(f"wattprint {name}: error: {e}"), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except OSError as e:  # the machine said no (a path, a permission, a full disk): say what and where
        where = f": {e.filename}" if e.filename else ""
        print(one_line(f"wattprint {name}: error: {e.strerror or e}{where} (check the path, its "
                       "permissions and free space)"), file=sys.stderr)
        return 2
    except Exception as e:
        if os.environ.get("WATTPRINT_DEBUG"):
            raise
        print(one_line(f"wattprint {name}: internal error: {type(e).__name__}: {e} (a bug: please report "
                       "it; WATTPRINT_DEBUG=1 shows the traceback)"), file=sys.stderr)
        return 1

