"""Shared test helpers: temporary configuration repositories, a CLI runner that runs the real console
entry point in a subprocess (exit codes, stdout and stderr exactly as a user sees them), its in-process
twin for tests that check outputs and files only, and the hypothesis budgets of `make test` and
`make test-long` (EDCCONF_LONG=1)."""

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
from hypothesis import settings

# the PostgreSQL fixtures (pg_dsn, pg_repo), for every test that names them
pytest_plugins = ["tests.pg"]

REPO = Path(__file__).resolve().parents[1]
# In-process tests import this checkout's package (pytest's `pythonpath` in pyproject.toml); this
# checkout's schemas, which the editable install maps from its own checkout (see the file).
CHECKOUT_SITE = REPO / "tests" / "checkout_site"
_site_spec = importlib.util.spec_from_file_location("_edcconf_checkout_site", CHECKOUT_SITE / "sitecustomize.py")
_site_spec.loader.exec_module(importlib.util.module_from_spec(_site_spec))
FIXTURES = Path(__file__).resolve().parent / "fixtures"
# The example's configuration as tests copy it: its access review campaign (reviews/) stays behind, so that
# tests start campaigns of their own on a copy (the README tour copies it: tests/readme_tour.py).
CONFIG_DIRS = ("environments", "groups", "studies", "policies")

# `make test-long` (EDCCONF_LONG=1) runs the property tests again with LONG_FACTOR times their examples.
# No deadline anywhere: on a shared machine a slow example is load, not a failure.
LONG = os.environ.get("EDCCONF_LONG") == "1"
LONG_FACTOR = 10
settings.register_profile("edcconf", deadline=None, print_blob=True)
settings.register_profile("edcconf-long", deadline=None, print_blob=True, max_examples=100 * LONG_FACTOR)
settings.load_profile("edcconf-long" if LONG else "edcconf")


def examples(n: int) -> int:
    """A property test's number of examples: n in `make test`, LONG_FACTOR times n in `make test-long`."""
    return n * LONG_FACTOR if LONG else n


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


def run_cli(*args: str, cwd: Path, env: dict | None = None, input: str | None = None) -> Result:
    """run_edcconf's twin in this process (no interpreter start and imports: ~0.5 s a run), for tests whose
    checks are exit codes, outputs and files, which a subprocess shows no differently. The environment,
    working directory and stdin are the command's own for the call and put back after it."""
    import contextlib
    import io

    from edcconf.cli import main

    saved_env, saved_cwd, saved_stdin = dict(os.environ), os.getcwd(), sys.stdin
    out, err = io.StringIO(), io.StringIO()
    os.environ.update({"NO_COLOR": "1", **(env or {})})
    os.chdir(cwd)
    sys.stdin = io.StringIO(input or "")
    code: int | str | None = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main([*map(str, args)])
            except SystemExit as exc:
                code = exc.code
    finally:
        sys.stdin = saved_stdin
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    if isinstance(code, str):  # sys.exit("message"): what the interpreter does with it
        err.write(code + "\n")
        code = 1
    argv = ["edcconf", *map(str, args)]
    result = Result(subprocess.CompletedProcess(argv, code or 0, out.getvalue(), err.getvalue()))
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
