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
    assert cli("apply", "--env", "test", "--yes", cwd=mini_repo).code == 0
    heart = mini_repo / "studies/heart.yaml"
    text = heart.read_text().replace("user: cara.crc, role: crc,", "user: cara.crc, role: crc_safety,")
    text = text.replace("    - {user: ivan.inv, role: investigator, environments: all, sites: [BOS, NYC]}\n", "")
    heart.write_text(text.replace("tags: {safety: review}", "tags: {safety: read}"))
    out = cli("plan", "--env", "test", "--at", "2026-11-24", cwd=mini_repo).out
    check("mini-plan-test-changes.txt", out.replace(str(mini_repo), "<repo>"))


def test_plan_markdown_comment(mini_repo, cli):
    r = cli("plan", "--env", "test", "--env", "production", "--format", "markdown", "--at", "2026-11-24", cwd=mini_repo)
    assert r.code == 2
    assert r.out.startswith("<!-- edcconf-plan-comment -->")
    check("mini-plan.md", r.out)


def test_markdown_stays_under_githubs_comment_limit(tmp_path, cli):
    from tests.conftest import FIXTURES, copy_config

    repo = copy_config(FIXTURES / "mini", tmp_path / "big")
    people = "\n".join(
        f"    - {{username: user{i:04d}, email: u{i}@hospital.example.org, name: User {i}}}" for i in range(1500)
    )
    (repo / "groups" / "many.yaml").write_text(
        "group:\n  id: many\n  ceiling: {form_access: edit}\n  members:\n" + people + "\n"
    )
    grants = "\n".join(
        f"    - {{user: user{i:04d}, role: data_entry, sites: [BOS], note: the reason is long enough}}"
        for i in range(1500)
    )
    heart = (repo / "studies" / "heart.yaml").read_text()
    (repo / "studies" / "heart.yaml").write_text(heart.replace("  access:\n", "  access:\n" + grants + "\n"))
    r = cli("plan", "--env", "test", "--format", "markdown", "--at", "2026-11-24", cwd=repo)
    assert r.code == 2
    assert len(r.out) <= 65_536 and "more changes: run `edcconf plan --env test`" in r.out
    # 3 sites, 2 groups, 1 study, 1,505 accounts and 1,504 grants
    assert "| **test** (serial 0) | 3015 | 0 | 0 |" in r.out and "shortened to stay within" in r.out


def test_plan_html_page(mini_repo, cli):
    """The reviewer's page over both environments: test after an apply and a review that changes the guards,
    raises, lowers, revokes and adds (the matrix, the dimmed access that stays), production from nothing."""
    assert cli("apply", "--env", "test", "--yes", cwd=mini_repo).code == 0
    envs = mini_repo / "environments/envs.yaml"
    envs.write_text(envs.read_text().replace("  - name: test\n", "  - name: test\n    safety: {max_revocations: 10}\n"))
    heart = mini_repo / "studies/heart.yaml"
    text = heart.read_text().replace(
        "user: cara.crc, role: crc, environments: all, sites: [BOS]}",
        "user: cara.crc, role: crc_safety, environments: all, sites: [BOS, NYC]}",
    )
    text = text.replace("    - {user: ivan.inv, role: investigator, environments: all, sites: [BOS, NYC]}\n", "")
    text = text.replace("environments: [production], countries: [US]}", "environments: all, countries: [US]}")
    text = text.replace(
        "role: safety_monitor, environments: all, sites: all}",
        "role: safety_monitor, environments: all, sites: all, expires: 2027-01-31}",
    )
    heart.write_text(text.replace("tags: {safety: review}", "tags: {safety: read}"))
    r = cli("plan", "--env", "test", "--env", "production", "--format", "html", "--at", "2026-11-24", cwd=mini_repo)
    assert r.code == 2, r.err
    assert r.out.startswith("<!DOCTYPE html>")
    check("mini-plan.html", r.out.replace(str(mini_repo), "<repo>"))
