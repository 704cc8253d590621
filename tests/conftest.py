"""Shared test helpers: temporary configuration repositories and a CLI runner that runs the real
console entry point in a subprocess (exit codes, stdout and stderr exactly as a user sees them)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# the PostgreSQL fixtures (pg_dsn, pg_repo), for every test that names them
pytest_plugins = ["tests.pg"]

REPO = Path(__file__).resolve().parents[1]
# In-process tests import this checkout's package (pytest's `pythonpath` in pyproject.toml); this
# checkout's schemas, which the editable install maps from its own checkout (see the file).
CHECKOUT_SITE = REPO / "tests" / "checkout_site"
_site_spec = importlib.util.spec_from_file_location("_edcconf_checkout_site", CHECKOUT_SITE / "sitecustomize.py")
_site_spec.loader.exec_module(importlib.util.module_from_spec(_site_spec))
FIXTURES = Path(__file__).resolve().parent / "fixtures"
CONFIG_DIRS = ("environments", "groups", "studies")


class Result:
    def __init__(self, proc: subprocess.CompletedProcess) -> None:
        self.code = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    @property
    def json(self):
        return json.loads(self.out)

    def __repr__(self) -> str:
        return f"<exit {self.code}>\n--- stdout\n{self.out}\n--- stderr\n{self.err}"


def run_edcconf(*args: str, cwd: Path, env: dict | None = None, input: str | None = None) -> Result:
    full_env = {**os.environ, "NO_COLOR": "1", **(env or {})}
    # the child imports this checkout's code (its cwd is a temporary configuration, and the child would
    # otherwise silently run whatever checkout the virtualenv's editable install points at)
    full_env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO), str(CHECKOUT_SITE), *filter(None, [full_env.get("PYTHONPATH")])]
    )
    proc = subprocess.run(
        [sys.executable, "-m", "edcconf", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=full_env,
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        timeout=300,
    )
    result = Result(proc)
    assert "Traceback (most recent call last)" not in result.err or result.code == 3, result
    return result


def run_inprocess(root: Path, *args: str) -> tuple[int, str, str]:
    """The CLI entry point in this process (fast, for loops of many runs): exit code, stdout, stderr."""
    import contextlib
    import io

    from edcconf.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(["--config", str(root), *args])
        except SystemExit as exc:
            code = exc.code
    return code, out.getvalue(), err.getvalue()


def generate_org(root: Path, n: int, seed: int = 11) -> None:
    """A synthetic organisation from bench/generate.py (all three systems), for tests at small N."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_generate", REPO / "bench" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.generate(root, n, seed=seed, systems=["openclinica", "redcap", "vault"])


def copy_config(source: Path, dest: Path) -> Path:
    for name in CONFIG_DIRS:
        if (source / name).is_dir():
            shutil.copytree(source / name, dest / name)
    return dest


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def example_repo(tmp_path: Path) -> Path:
    """A copy of the example organisation at the repository root."""
    return copy_config(REPO, tmp_path / "example")


@pytest.fixture
def mini_repo(tmp_path: Path) -> Path:
    """A small OpenClinica organisation: one study, three sites, five people."""
    return copy_config(FIXTURES / "mini", tmp_path / "mini")


@pytest.fixture
def cli():
    return run_edcconf
