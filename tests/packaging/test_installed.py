"""The package works wherever it is installed, not only from this checkout: the sdist is built, the wheel is
built from that sdist (as `python -m build` does), installed into a clean virtual environment, and every
command that reads shipped data (schemas, catalogs, Jinja templates) runs from there on a copy of the
example organisation. A template, schema or catalog left out of the package fails here.

The GitHub Action's own install step (action.yml) runs too, into a fresh virtual environment: dependencies
only from requirements.lock with their hashes, then edcconf from the checkout without resolving anything."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
import yaml
from packaging.utils import canonicalize_name

import edcconf
from tests.conftest import REPO, copy_config
from tests.packaging.test_release import parse_lock

SHIPPED = (
    "edcconf/views/templates/plan.md.j2",
    "edcconf/views/templates/report_overview.html.j2",
    "edcconf/views/templates/report_study.html.j2",
    "edcconf/views/templates/report_style.css.j2",
    "edcconf/views/templates/plan.html.j2",
    "edcconf/views/templates/plan.html.css.j2",
    "edcconf/views/templates/plan.html.js.j2",
    "edcconf/views/templates/notifications/access_changed.txt.j2",
    "edcconf/catalogs/redcap.yaml",
    "edcconf/schemas/study.schema.json",
)


# builds a wheel and virtual environments (and one installs from PyPI): `make test-long`
pytestmark = pytest.mark.long


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A virtual environment holding only the wheel built from the sdist (its dependencies are this
    environment's, added after its own site-packages so that the installed edcconf is the one imported)."""
    work = tmp_path_factory.mktemp("packaging")
    dist = work / "dist"
    # from a copy without build leftovers: an egg-info's file list from an earlier build would hide a file
    # that the package's own configuration leaves out
    source = _clean_copy(work / "source")
    built = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(dist), str(source)],
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    assert "absent from the `packages` configuration" not in built.stdout + built.stderr
    (wheel,) = dist.glob("*.whl")
    (sdist,) = dist.glob("*.tar.gz")
    assert wheel.name.startswith(f"edcconf-{edcconf.__version__}-")  # the version pyproject.toml reads
    names = set(zipfile.ZipFile(wheel).namelist())
    data = [
        p.relative_to(REPO).as_posix()
        for folder in ("edcconf/scaffold/files", "edcconf/views/templates")
        for p in (REPO / folder).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    ]
    assert data and not [s for s in (*SHIPPED, *data) if s not in names], sorted(names)
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(site, "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)], check=True, timeout=300
    )
    assert sdist.stat().st_size > 0
    return venv


def _clean_copy(dest: Path) -> Path:
    """This checkout without build leftovers: an egg-info's file list from an earlier build would hide a file
    that the package's own configuration leaves out."""
    return shutil.copytree(
        REPO,
        dest,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "*.egg-info", "build", "dist", ".edcconf", "__pycache__", ".pytest_cache", ".hypothesis"
        ),
    )


def _run(venv: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(
        [str(venv / "bin" / "edcconf"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**env, "NO_COLOR": "1"},
        timeout=300,
        check=False,
    )


def test_every_command_that_reads_shipped_files_runs_from_the_installed_wheel(installed, tmp_path):
    where = subprocess.run(
        [str(installed / "bin" / "python"), "-c", "import edcconf; print(edcconf.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert str(installed) in where and str(REPO) not in where
    root = copy_config(REPO, tmp_path / "org")
    assert _run(installed, root, "validate").returncode == 0
    for args in ((), ("--json",), ("--format", "markdown"), ("--format", "html")):
        result = _run(installed, root, "plan", "--env", "test", *args)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    markdown = _run(installed, root, "plan", "--env", "test", "--format", "markdown").stdout
    assert markdown.lstrip().startswith(("#", "<", "**")) and "CARDIO-01" in markdown
    applied = _run(installed, root, "apply", "--env", "test", "--yes")
    assert applied.returncode == 0, applied.stderr
    assert list((root / "build" / "test" / "notifications").rglob("*.txt"))
    report = _run(installed, root, "report", "--env", "test", "--out", str(tmp_path / "report"))
    assert report.returncode == 0, report.stderr
    assert "<svg" in (tmp_path / "report" / "test" / "index.html").read_text().lower()  # its templates shipped
    assert "<table" in (tmp_path / "report" / "test" / "studies" / "CARDIO-01.html").read_text().lower()
    shutil.rmtree(root)
    started = _run(installed, tmp_path, "init", "new")  # the scaffold ships too
    assert started.returncode == 0, started.stderr
    assert _run(installed, tmp_path / "new", "validate").returncode == 0


def test_the_readme_tour_runs_from_the_installed_wheel(installed, tmp_path):
    """Every command of the README, run by the wheel's own `edcconf` (not this checkout's code)."""
    from tests.readme_tour import run_tour

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    failures = run_tour([str(installed / "bin" / "edcconf")], tmp_path / "tour", env={**env, "PYTHONPATH": ""})
    assert failures == [], "\n".join(failures)


def _pypi_reachable() -> bool:
    try:
        socket.create_connection(("pypi.org", 443), timeout=5).close()
        return True
    except OSError:
        return False


@pytest.mark.network
def test_the_actions_install_step_installs_only_the_locked_packages(tmp_path):
    if not _pypi_reachable():
        if os.environ.get("CI") == "true":
            pytest.fail("PyPI must be reachable under CI=true: the action's install step downloads the lock's files")
        pytest.skip("PyPI is not reachable")
    steps = yaml.safe_load((REPO / "action.yml").read_text())["runs"]["steps"]
    (install,) = [step["run"] for step in steps if "requirements.lock" in step.get("run", "")]
    checkout = _clean_copy(tmp_path / "action")  # github.action_path
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env['PATH']}"  # what actions/setup-python puts first
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", install.replace("${{ github.action_path }}", str(checkout))],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    frozen = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "list", "--format", "freeze"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    installed = {canonicalize_name(name): version for name, version in (line.split("==") for line in frozen.split())}
    locked = {name: entry["version"] for name, entry in parse_lock((REPO / "requirements.lock").read_text()).items()}
    assert installed.pop("edcconf") == edcconf.__version__
    installed.pop("pip")
    assert installed == locked  # nothing came from anywhere but the lock
    root = copy_config(REPO, tmp_path / "org")
    shown = _run(venv, root, "--version")
    assert shown.returncode == 0 and shown.stdout.split()[-1] == edcconf.__version__, shown.stderr
    checked = _run(venv, root, "validate")
    assert checked.returncode == 0, checked.stdout + checked.stderr
