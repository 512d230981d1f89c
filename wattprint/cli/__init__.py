"""The ``wattprint`` command. Parsing and printing only; the work lives in the library.

Each subcommand is a module in this package with ``add_arguments(parser, name)`` and
``run(args) -> int`` (``args.command`` holds the name, as one module may serve two commands).
Only the module of the command being run is imported, to keep start-up light.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from .._version import __version__
from ..errors import UsageError

# name -> (module, one-line help). Order is the order of ``wattprint --help``.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("run", "run a command and measure the energy of its whole life"),
    "runs": ("runs", "list stored runs"),
    "show": ("runs", "show one stored run"),
    "doctor": ("doctor", "say which meters this machine has and how to fix what is missing"),
    "estimate": ("estimate", "estimate energy, CO2e, cost and embodied emissions without running anything"),
    "reproduce": ("reproduce", "recompute a published study's tables (strubell2019)"),
    "predict": ("predict", "predict a stored or running run's total footprint"),
    "report": ("report", "write a run's report as HTML, Markdown or LaTeX"),
    "campaign": ("campaign", "sum all runs of a project: one model, tuning, the whole R&D"),
    "export": ("export", "export runs and samples as CSV or JSON Lines"),
    "merge": ("merge", "merge per-node records of a multi-node job"),
    "exporter": ("prometheus", "serve this node's energy counters to Prometheus"),
    "regions": ("regions", "list known regions and their grid carbon intensity"),
    "hardware": ("hardware", "list known accelerators and their power"),
}


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports bad input in one line (exit 2) instead of usage + message."""

    def error(self, message):  # noqa: D401 - argparse API
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _help() -> str:
    lines = ["usage: wattprint COMMAND [OPTIONS]", "",
             "Measure and account for the energy, CO2e and cost of machine-learning training.", "",
             "commands:"]
    lines += [f"  {name:<10} {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "'wattprint COMMAND --help' lists a command's options; 'wattprint --version' "
              "prints the version."]
    return "\n".join(lines)


def command_parser(name: str) -> ArgumentParser:
    return ArgumentParser(prog=f"wattprint {name}", description=COMMANDS[name][1])


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_help(), file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    if argv[0] == "--version":
        print(f"wattprint {__version__}")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"wattprint: error: unknown command {name!r}; choose from {', '.join(COMMANDS)}",
              file=sys.stderr)
        return 2
    try:
        module = importlib.import_module(f".{COMMANDS[name][0]}", __name__)
    except ImportError as e:
        print(f"wattprint {name}: error: not available in this installation ({e})", file=sys.stderr)
        return 2
    parser = command_parser(name)
    module.add_arguments(parser, name)
    args = parser.parse_args(rest)
    args.command = name
    try:
        return int(module.run(args) or 0)
    except UsageError as e:
        print(f"wattprint {name}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0

