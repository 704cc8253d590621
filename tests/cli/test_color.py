"""Colour only on a terminal, and never when NO_COLOR is set to any non-empty value (no-color.org) or
--no-color is given. The command runs on a real pseudo-terminal, as a user's shell gives it one."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import CHECKOUT_SITE, REPO
from tests.helpers import read_terminal

ESC = "\x1b["


def _on_a_terminal(root, *args: str, no_color: str | None = None) -> str:
    primary, secondary = os.openpty()
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(CHECKOUT_SITE)])
    if no_color is not None:
        env["NO_COLOR"] = no_color
    proc = subprocess.Popen(
        [sys.executable, "-m", "edcconf", *args], cwd=root, stdout=secondary, stderr=subprocess.DEVNULL, env=env
    )
    os.close(secondary)
    shown = read_terminal(primary)
    assert proc.wait(timeout=120) == 2
    return shown


def test_colour_on_a_terminal_unless_no_color(mini_repo):
    assert ESC in _on_a_terminal(mini_repo, "plan", "--env", "test")
    for value in ("1", "anything", "0", "false"):
        assert ESC not in _on_a_terminal(mini_repo, "plan", "--env", "test", no_color=value), value
    assert ESC in _on_a_terminal(mini_repo, "plan", "--env", "test", no_color="")  # empty: not set
    assert ESC not in _on_a_terminal(mini_repo, "--no-color", "plan", "--env", "test")
    assert ESC not in _on_a_terminal(mini_repo, "plan", "--env", "test", "--no-color")  # after the command too


@pytest.mark.parametrize("value", ["anything", "0"])
def test_no_color_is_never_an_error(mini_repo, cli, value):
    result = cli("validate", cwd=mini_repo, env={"NO_COLOR": value})
    assert result.code == 0 and "Invalid value" not in result.err


def test_every_command_accepts_no_color():
    import click

    from edcconf.cli import cli

    def walk(group, path):
        for name, command in group.commands.items():
            yield path + (name,), command
            if isinstance(command, click.Group):
                yield from walk(command, path + (name,))

    missing = [
        " ".join(path) for path, command in walk(cli, ()) if not any("--no-color" in p.opts for p in command.params)
    ]
    assert missing == []
