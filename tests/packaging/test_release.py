"""A release is one version everywhere (the package, its metadata, the changelog, `edcconf --version`), and
requirements.lock pins exactly what the package needs at run time (and the setuptools that builds it), each
with its hashes, so an install from it cannot pick up a stranger's package."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import edcconf
from tests.conftest import REPO

RELEASED = re.compile(r"^## (\d+\.\d+\.\d+) — (\d{4}-\d{2}-\d{2})$", re.MULTILINE)
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def test_the_version_has_one_source():
    project = PYPROJECT["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "edcconf.__version__"}


def test_version_prints_the_newest_released_changelog_version(cli, tmp_path):
    changelog = (REPO / "CHANGELOG.md").read_text()
    released = RELEASED.findall(changelog)
    assert released, "CHANGELOG.md has no released section (## X.Y.Z — YYYY-MM-DD)"
    assert changelog.index("## Unreleased\n") < changelog.index(f"## {released[0][0]} —")
    assert [date for _, date in released] == sorted((date for _, date in released), reverse=True)
    shown = cli("--version", cwd=tmp_path)
    assert shown.code == 0 and shown.out.split() == ["edcconf,", "version", released[0][0]], shown
    assert edcconf.__version__ == released[0][0]


def parse_lock(text: str) -> dict[str, dict]:
    """name -> {version, extras, hashes, via} of each requirement of a pip-compile output."""
    entries: dict[str, dict] = {}
    current = None
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or (stripped.startswith("#") and current is None):
            continue
        if not line.startswith((" ", "#")):
            requirement = Requirement(stripped.rstrip("\\").strip())
            (pin,) = requirement.specifier
            assert pin.operator == "==", line
            current = entries.setdefault(
                canonicalize_name(requirement.name),
                {"version": pin.version, "extras": requirement.extras, "hashes": [], "via": []},
            )
        elif stripped.startswith("--hash="):
            current["hashes"].append(stripped.removeprefix("--hash=").rstrip("\\").strip())
        elif stripped.startswith("#"):
            via = stripped.lstrip("#").strip().removeprefix("via").strip()
            if via and not via.startswith("The following packages"):
                current["via"].append(via)
    return entries


def test_the_lock_pins_exactly_the_runtime_dependencies_with_hashes():
    lock = parse_lock((REPO / "requirements.lock").read_text())
    direct = [Requirement(spec) for spec in PYPROJECT["project"]["dependencies"]]
    build = [Requirement(spec) for spec in PYPROJECT["build-system"]["requires"]]
    for requirement in direct + build:
        name = canonicalize_name(requirement.name)
        assert name in lock, f"{requirement} is not in requirements.lock"
        assert requirement.specifier.contains(lock[name]["version"]), (requirement, lock[name]["version"])
        assert requirement.extras <= lock[name]["extras"], (requirement, lock[name]["extras"])
    for name, entry in lock.items():
        assert entry["hashes"] and all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in entry["hashes"]), name
        # each entry is there for the package (or for building it), or for another entry: nothing else
        assert entry["via"], name
        for via in entry["via"]:
            assert via.startswith("edcconf (pyproject.toml") or canonicalize_name(via) in lock, (name, via)
    named = {name for name, entry in lock.items() if any(v.startswith("edcconf (pyproject.toml") for v in entry["via"])}
    wanted = {canonicalize_name(r.name) for r in direct + build}
    assert named == wanted, named ^ wanted
    reachable, frontier = set(), set(wanted)
    while frontier:
        reachable |= frontier
        frontier = {
            name
            for name, entry in lock.items()
            if name not in reachable
            and any(canonicalize_name(v) in reachable for v in entry["via"] if not v.startswith("edcconf"))
        }
    assert reachable == set(lock), set(lock) - reachable


def test_the_lock_holds_every_requirement_of_its_packages():
    """Offline, from the metadata of this environment's copies of the locked versions (the install from the
    lock, tests/packaging/test_installed.py, checks the rest against PyPI)."""
    lock = parse_lock((REPO / "requirements.lock").read_text())
    checked = 0
    for name, entry in lock.items():
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        if dist.version != entry["version"]:
            continue
        checked += 1
        for spec in dist.requires or []:
            requirement = Requirement(spec)
            extras = entry["extras"] or {""}
            if requirement.marker and not any(requirement.marker.evaluate({"extra": e}) for e in extras):
                continue
            wanted = canonicalize_name(requirement.name)
            assert wanted in lock, f"{name} needs {requirement}, which requirements.lock does not hold"
            assert requirement.specifier.contains(lock[wanted]["version"], prereleases=True), (name, requirement)
    assert checked >= len(lock) // 2
