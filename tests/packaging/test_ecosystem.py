"""The files other tools read: the GitHub workflows and the composite action validate against the
schemas GitHub's own editors use (vendored by check-jsonschema), the pre-commit hook manifest loads with
pre-commit's own loader, and nothing installs edcconf by bare name from a package index."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

BIN = Path(sys.executable).parent


@pytest.mark.parametrize(
    "schema,files",
    [
        ("vendor.github-workflows", sorted((REPO / ".github" / "workflows").glob("*.yml"))),
        ("vendor.github-actions", [REPO / "action.yml"]),
    ],
)
def test_workflows_and_action_match_githubs_schemas(schema, files):
    assert files
    result = subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", schema, *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_pre_commit_hook_manifest_loads():
    from pre_commit.clientlib import load_manifest

    hooks = {hook["id"]: hook for hook in load_manifest(str(REPO / ".pre-commit-hooks.yaml"))}
    assert hooks["edcconf-validate"]["entry"] == "edcconf validate"
    assert hooks["edcconf-validate"]["pass_filenames"] is False
    assert re.search(hooks["edcconf-validate"]["files"], "studies/cardio-01.yaml")
    assert hooks["edcconf-fmt"]["entry"] == "edcconf fmt --check"


def test_nothing_installs_edcconf_by_bare_name():
    texts = [
        p.read_text()
        for p in [
            *(REPO / ".github" / "workflows").glob("*.yml"),
            REPO / "action.yml",
            REPO / "README.md",
            *(REPO / "docs").glob("*.md"),
        ]
    ]
    bare = [
        line
        for text in texts
        for line in text.splitlines()
        if re.search(r"pip install\s+(-\S+\s+)*[\"']?edcconf\b(?![@/\w.-]*\.whl)", line)
    ]
    assert not bare, bare
    assert '"${{ github.action_path }}"' in (REPO / "action.yml").read_text()


def test_every_install_takes_dependencies_only_from_the_lock_with_hashes():
    files = [
        REPO / "action.yml",
        REPO / "Makefile",
        REPO / "docs" / "install.md",
        *(REPO / ".github" / "workflows").glob("*.yml"),
        *(REPO / "edcconf" / "scaffold" / "files").rglob("*.yml"),
    ]
    commands = [
        command
        for path in files
        for command in re.sub(r"\\\n\s*", " ", path.read_text()).splitlines()
        if re.search(r"\bpip install\b", command)
    ]
    assert any("action_path" in c for c in commands) and any("$(BIN)" in c for c in commands)
    for command in commands:
        if re.search(
            r"--upgrade pip|-e '\.\[test(,dev)?\]'|pip install pip-tools", command
        ):  # tools, not edcconf's install
            continue
        locked = (
            "--require-hashes" in command
            and "--only-binary :all:" in command
            and re.search(r"requirements(-fast)?\.lock", command) is not None
        )
        assert locked or ("--no-deps" in command and "--no-build-isolation" in command), command
