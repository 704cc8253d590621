"""Golden files for plan output: text and JSON as a reviewer and a machine see them.

Regenerate after an intended change with UPDATE_GOLDEN=1, then review the diff like any other."""
import os
from pathlib import Path

import pytest

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def check(name: str, actual: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(actual)
    assert path.exists(), f"missing golden file {path}; run with UPDATE_GOLDEN=1"
    assert actual == path.read_text()


@pytest.mark.parametrize("env", ["test", "production"])
def test_plan_text_and_json(mini_repo, cli, env):
    text = cli("plan", "--env", env, "--at", "2026-11-24", cwd=mini_repo)
    assert text.code == 2
    check(f"mini-plan-{env}.txt", text.out)
    js = cli("plan", "--env", env, "--at", "2026-11-24", "--json", cwd=mini_repo)
    check(f"mini-plan-{env}.json", js.out)


def test_plan_text_of_an_update_and_a_revoke(mini_repo, cli):
    assert cli("apply", "--env", "test", "--yes", "--at", "2026-11-24", cwd=mini_repo).code == 0
    heart = mini_repo / "studies/heart.yaml"
    text = heart.read_text().replace("user: cara.crc, role: crc,", "user: cara.crc, role: crc_safety,")
    text = text.replace("    - {user: ivan.inv, role: investigator, environments: all, sites: [BOS, NYC]}\n", "")
    heart.write_text(text.replace("tags: {safety: review}", "tags: {safety: read}"))
    out = cli("plan", "--env", "test", "--at", "2026-11-24", cwd=mini_repo).out
    check("mini-plan-test-changes.txt", out.replace(str(mini_repo), "<repo>"))
