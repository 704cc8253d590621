"""`edcconf init` makes a configuration repository that validates and plans at once, with workflows GitHub
accepts and a pre-commit configuration pre-commit accepts; it never overwrites a configuration.
`edcconf schemas export` writes the schemas the files' `$schema` lines point to."""

from __future__ import annotations

import subprocess
import sys
from importlib import resources
from pathlib import Path


def test_init_validates_plans_and_its_files_are_accepted(tmp_path, cli):
    made = cli("init", "org", "--action", "acme/edcconf@v9.9.9", cwd=tmp_path)
    assert made.code == 0, made
    root = tmp_path / "org"
    assert cli("validate", cwd=root).code == 0
    plan = cli("plan", "--env", "test", "--json", cwd=root)
    assert plan.code == 2 and plan.json["summary"]["add"] > 0
    workflows = sorted((root / ".github" / "workflows").glob("*.yml"))
    assert [w.name for w in workflows] == ["apply.yml", "plan.yml"]
    assert all("uses: acme/edcconf@v9.9.9" in w.read_text() and "@ACTION@" not in w.read_text() for w in workflows)
    checked = subprocess.run(
        [
            str(Path(sys.executable).parent / "check-jsonschema"),
            "--builtin-schema",
            "vendor.github-workflows",
            *map(str, workflows),
        ],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stdout
    from pre_commit.clientlib import load_config

    assert load_config(str(root / ".pre-commit-config.yaml"))["repos"][0]["hooks"][0]["id"] == "edcconf-validate"
    first_line = (root / "studies" / "first-study.yaml").read_text().splitlines()[0]
    assert (
        first_line.endswith("$schema=../schemas/document.schema.json")
        and (root / "schemas" / "document.schema.json").exists()
    )


def test_init_never_overwrites_a_configuration(mini_repo, cli):
    before = (mini_repo / "studies" / "heart.yaml").read_text()
    refused = cli("init", str(mini_repo), cwd=mini_repo)
    assert refused.code == 1 and "never overwrites" in refused.err
    assert (mini_repo / "studies" / "heart.yaml").read_text() == before and not (mini_repo / "README.md").exists()


def test_schemas_export_writes_the_shipped_schemas(mini_repo, cli):
    assert cli("schemas", "export", cwd=mini_repo).code == 0
    shipped = {e.name: e.read_bytes() for e in resources.files("edcconf.schemas").iterdir() if e.name.endswith(".json")}
    written = {p.name: p.read_bytes() for p in (mini_repo / "schemas").glob("*.json")}
    assert written == shipped and "study.schema.json" in written
