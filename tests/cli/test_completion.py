"""Shell completion of values (bash protocol, as the shell asks it): environments, studies, people and roles
of the configuration the command would use, and nothing (never an error) outside one."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import CHECKOUT_SITE, REPO


def _complete(cwd, *words: str) -> list[str]:
    env = {
        **os.environ,
        "COMP_WORDS": " ".join(("edcconf", *words)),
        "COMP_CWORD": str(len(words)),
        "_EDCCONF_COMPLETE": "bash_complete",
        "PYTHONPATH": os.pathsep.join([str(REPO), str(CHECKOUT_SITE)]),
    }
    out = subprocess.run(
        [sys.executable, "-c", "from edcconf.cli import main; main()"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    return [line.split(",", 1)[1] for line in out.stdout.splitlines() if line.startswith("plain,")]


def test_values_are_completed_from_the_configuration(mini_repo):
    assert _complete(mini_repo, "plan", "--env", "") == ["production", "test"]
    assert _complete(mini_repo / "studies", "explain", "ca") == ["cara.crc"]  # found upwards
    assert _complete(mini_repo, "graph", "--study", "H") == ["HEART-01"]
    assert _complete(mini_repo, "--config", str(mini_repo), "state", "list", "--env", "p") == ["production"]


def test_outside_a_configuration_nothing_is_completed(tmp_path):
    assert _complete(tmp_path, "plan", "--env", "") == []
