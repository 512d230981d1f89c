"""What every command prints: JSON that is valid or not printed at all, text safe for a terminal."""
from __future__ import annotations

import json
import sys

from ..errors import UsageError
from ..units import check_finite_tree, printable

__all__ = ["print_json", "printable", "json_text", "say"]


def json_text(obj) -> str:
    """``obj`` as indented JSON; a non-finite number is refused (UsageError) before any output."""
    check_finite_tree(obj)
    try:
        return json.dumps(obj, indent=2, default=str, allow_nan=False)
    except ValueError as e:  # a non-finite number hidden in an object only default=str sees
        raise UsageError(f"result is not valid JSON ({e}); an input is too large") from None


def print_json(obj) -> None:
    sys.stdout.write(json_text(obj) + "\n")


def say(text: str = "", file=None) -> None:
    """``print`` for human output: each line terminal-safe (user strings may hold ESC, BEL...)."""
    print("\n".join(printable(line) for line in str(text).split("\n")), file=file or sys.stdout)
