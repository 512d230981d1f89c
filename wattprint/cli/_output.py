"""What every command prints: JSON that is valid or not printed at all, text safe for a terminal."""
from __future__ import annotations

import json
import sys

from ..errors import UsageError
from ..units import check_finite_tree, printable

__all__ = ["print_json", "printable", "json_text", "say"]


LONG_LIST = 1000  # a longer top-level list is written one compact item per line


def json_text(obj) -> str:
    """``obj`` as indented JSON (a long list: one item per line, as indenting 100,000 runs takes
    Python's slow encoder); a non-finite number is refused (UsageError) before any output."""
    try:
        if isinstance(obj, list) and len(obj) > LONG_LIST:
            return "[\n" + ",\n".join(json.dumps(x, default=str, allow_nan=False) for x in obj) + "\n]"
        return json.dumps(obj, indent=2, default=str, allow_nan=False)
    except ValueError as e:
        check_finite_tree(obj)  # names the number and where it is
        # else a non-finite number hidden in an object only default=str sees
        raise UsageError(f"result is not valid JSON ({e}); an input is too large") from None


def print_json(obj) -> None:
    sys.stdout.write(json_text(obj) + "\n")


def say(text: str = "", file=None) -> None:
    """``print`` for human output: each line terminal-safe (user strings may hold ESC, BEL...)."""
    print("\n".join(printable(line) for line in str(text).split("\n")), file=file or sys.stdout)
