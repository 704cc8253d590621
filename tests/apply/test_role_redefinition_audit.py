"""004 "detailed logging": a role's redefinition is logged even when nobody holds the role."""

import json

import pytest

from tests.conftest import run_cli


# in-process CLI runs: these tests check exit codes, outputs and files, which a subprocess shows no differently
@pytest.fixture
def cli():
    return run_cli


AT = ["--at", "2026-11-24"]


def audit(repo):
    return [json.loads(line) for line in (repo / ".edcconf/audit/test.jsonl").read_text().splitlines()]


def test_redefining_an_unused_role_is_planned_applied_and_audited(mini_repo, cli):
    assert cli("apply", "--env", "test", "--yes", cwd=mini_repo).code == 0
    heart = mini_repo / "studies/heart.yaml"
    # crc_safety is declared but granted to nobody
    heart.write_text(
        heart.read_text().replace(
            "crc_safety: {base: crc, tags: {safety: edit}}", "crc_safety: {base: crc, tags: {safety: read}}"
        )
    )
    plan = cli("plan", "--env", "test", "--json", cwd=mini_repo)
    assert plan.code == 2, plan
    (change,) = plan.json["changes"]
    assert (change["action"], change["kind"], change["key"], change["reason"]) == (
        "update",
        "study",
        "HEART-01",
        "role crc_safety redefined",
    )
    assert plan.json["summary"] == {"add": 0, "change": 1, "revoke": 0}
    text = cli("plan", "--env", "test", cwd=mini_repo).out
    assert "~ study HEART-01 will be changed" in text and "why:   role crc_safety redefined" in text
    assert cli("apply", "--env", "test", "--yes", "--reason", "PR 12", cwd=mini_repo).code == 0
    entries = [e for e in audit(mini_repo) if e["event"] == "change" and e["serial"] == 2]
    assert [(e["change"]["kind"], e["change"]["reason"], e["reason"]) for e in entries] == [
        ("study", "role crc_safety redefined", "PR 12")
    ]
    before, after = entries[0]["change"]["before"]["roles"], entries[0]["change"]["after"]["roles"]
    assert before["crc_safety"] != after["crc_safety"] and before["safety_monitor"] == after["safety_monitor"]
    assert cli("plan", "--env", "test", cwd=mini_repo).code == 0
