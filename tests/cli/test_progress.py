"""Progress on a terminal only: an apply of many changes draws a bar (items, percent, time left) on standard
error when that is a terminal, and nothing in a pipe, under CI=true or with EDCCONF_PROGRESS=0; standard
output never carries it."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from tests.conftest import CHECKOUT_SITE, REPO, generate_org
from tests.helpers import read_terminal


def _apply_with_stderr_on_a_terminal(root, **extra: str) -> tuple[str, str]:
    primary, secondary = os.openpty()
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "EDCCONF_PROGRESS")}
    env.update(extra, PYTHONPATH=os.pathsep.join([str(REPO), str(CHECKOUT_SITE)]), NO_COLOR="1")
    stdout = open(root / "stdout.txt", "w+b")  # a file, not a pipe: the plan text is larger than a pipe holds
    proc = subprocess.Popen(
        [sys.executable, "-m", "edcconf", "apply", "--env", "test", "--yes"],
        cwd=root,
        stdout=stdout,
        stderr=secondary,
        env=env,
    )
    os.close(secondary)
    shown = read_terminal(primary)
    assert proc.wait(timeout=300) == 0
    stdout.seek(0)
    out = stdout.read().decode()
    stdout.close()
    return out, shown


def test_a_bar_on_a_terminal_and_never_elsewhere(tmp_path):
    for name, extra, drawn in (
        ("tty", {}, True),
        ("ci", {"CI": "true"}, False),
        ("off", {"EDCCONF_PROGRESS": "0"}, False),
    ):
        root = tmp_path / name
        generate_org(root, 3)
        out, err = _apply_with_stderr_on_a_terminal(root, **extra)
        assert ("apply test" in err and "100%" in err and bool(re.search(r"\b(\d+)/\1\b", err))) is drawn, (
            name,
            err[-500:],
        )
        assert "apply test  [" not in out


def test_nothing_in_a_pipe(tmp_path, cli):
    generate_org(tmp_path / "org", 3)
    result = cli("apply", "--env", "test", "--yes", cwd=tmp_path / "org", env={"CI": ""})
    assert result.code == 0 and "apply test" not in result.err and "%" not in result.err


def test_report_draws_a_bar_on_a_terminal_only(tmp_path):
    """A report of many studies shows how far its study pages are, on a terminal; never in a pipe."""
    generate_org(tmp_path / "org", 25)  # above progress.MIN_ITEMS study pages
    primary, secondary = os.openpty()
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "EDCCONF_PROGRESS")}
    env.update(PYTHONPATH=os.pathsep.join([str(REPO), str(CHECKOUT_SITE)]), NO_COLOR="1")
    args = [sys.executable, "-m", "edcconf", "report", "--env", "test", "-o", str(tmp_path / "out")]
    proc = subprocess.Popen(args, cwd=tmp_path / "org", stdout=subprocess.DEVNULL, stderr=secondary, env=env)
    os.close(secondary)
    shown = read_terminal(primary)
    assert proc.wait(timeout=300) == 0
    assert "write the study pages of test" in shown and "100%" in shown and "25/25" in shown, shown[-500:]
    piped = subprocess.run(
        args, cwd=tmp_path / "org", check=False, capture_output=True, text=True, env=env, timeout=300
    )
    assert piped.returncode == 0 and "study pages of test" not in piped.stderr and "%" not in piped.stderr
