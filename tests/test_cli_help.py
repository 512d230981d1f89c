"""Every command's --help shows worked examples, and every example parses with that command's parser."""
import importlib
import shlex
import subprocess
import sys

import pytest

from wattprint.cli import COMMANDS, full_parser
from wattprint.cli._examples import EXAMPLES


def test_every_command_has_two_or_three_examples():
    assert set(EXAMPLES) == set(COMMANDS)
    for name, examples in EXAMPLES.items():
        assert 2 <= len(examples) <= 3, name
        for command, what in examples:
            assert shlex.split(command)[:2] == ["wattprint", name], command
            assert what and not what.endswith("."), command


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_help_shows_the_examples_and_each_parses(name, capsys):
    module = importlib.import_module(f"wattprint.cli.{COMMANDS[name][0]}")
    parser = full_parser(name, module)
    for command, _ in EXAMPLES[name]:
        try:
            args = parser.parse_args(shlex.split(command)[2:])
        except SystemExit:  # argparse refused it: the message is on stderr
            pytest.fail(f"{command!r} does not parse: {capsys.readouterr().err.strip()}")
        assert args is not None
    with pytest.raises(SystemExit):  # and a wrong option still fails, so the parse above means something
        parser.parse_args(["--no-such-option-here"])
    capsys.readouterr()


def test_help_of_the_real_command_ends_with_its_examples():
    for name in ("runs", "export", "campaign"):
        r = subprocess.run([sys.executable, "-m", "wattprint", name, "--help"], capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        tail = r.stdout[r.stdout.index("\nexamples:\n"):]
        for command, what in EXAMPLES[name]:
            assert f"\n  {command}\n      {what}\n" in tail + "\n"
    r = subprocess.run([sys.executable, "-m", "wattprint", "--help"], capture_output=True, text=True, timeout=60)
    assert "with examples" in r.stdout
