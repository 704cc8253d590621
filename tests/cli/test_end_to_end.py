"""The whole pipeline through the real console entry point, on temporary configuration repos."""

import csv
import json

import pytest

from tests.helpers import edit

AT = ["--at", "2026-11-24"]


def test_validate_plan_apply_replan_change_apply_show(mini_repo, cli):
    r = cli("validate", cwd=mini_repo)
    assert r.code == 0, r
    assert "Configuration is valid: 2 environments, 1 studies, 3 sites, 2 groups, 5 people, 5 grants." in r.out

    r = cli("plan", "--env", "test", "--json", *AT, cwd=mini_repo)
    assert r.code == 2, r
    plan = r.json
    assert plan["format_version"] == 1 and plan["state"] == {"serial": 0, "lineage": None}
    assert plan["summary"] == {"add": 14, "change": 0, "revoke": 0}

    r = cli("apply", "--env", "test", "--yes", cwd=mini_repo)
    assert r.code == 0, r
    assert "Apply complete: 14 changes applied to test; state serial 1." in r.out
    checklist = mini_repo / "build/test/openclinica/HEART-01/checklist-0001.csv"
    rows = list(csv.DictReader(checklist.open(newline="")))
    assert {(row["action"], row["username"], row["role"], row["sites"]) for row in rows if row["username"]} == {
        ("create", "cara.crc", "crc", "BOS"),
        ("create", "ivan.inv", "investigator", "BOS NYC"),
        ("create", "mona.mon", "safety_monitor", "BOS LYON NYC"),
        ("create", "dina.dm", "data_manager", "BOS LYON NYC"),
    }
    assert checklist.read_bytes().count(b"\r\n") == len(rows) + 1

    r = cli("plan", "--env", "test", *AT, cwd=mini_repo)
    assert r.code == 0 and "No changes." in r.out, r

    edit(mini_repo, "studies/heart.yaml", "user: cara.crc, role: crc,", "user: cara.crc, role: crc_safety,")
    r = cli("plan", "--env", "test", "--json", *AT, cwd=mini_repo)
    assert r.code == 2, r
    (change,) = r.json["changes"]
    assert change["action"] == "update" and change["key"] == "HEART-01/cara.crc"
    assert change["reason"] == "role crc → crc_safety; form adverse_events: none → edit"
    assert change["source"] == "studies/heart.yaml:18"
    assert r.json["summary"] == {"add": 0, "change": 1, "revoke": 0}

    assert cli("apply", "--env", "test", "--yes", cwd=mini_repo).code == 0
    shown = cli("show", "--env", "test", "--json", cwd=mini_repo).json
    grant = shown["grants"]["HEART-01/cara.crc"]
    assert shown["serial"] == 2 and grant["role"] == "crc_safety" and grant["forms"]["adverse_events"] == "edit"
    text = cli("show", "--env", "test", cwd=mini_repo).out
    assert "cara.crc" in text and "crc_safety (crc)" in text and "Levels: E edit" in text

    audit = [json.loads(line) for line in (mini_repo / ".edcconf/audit/test.jsonl").read_text().splitlines()]
    assert [e["event"] for e in audit].count("apply") == 2
    assert all(e["actor"] and e["environment"] == "test" for e in audit)
    assert audit[-2]["change"]["key"] == "HEART-01/cara.crc"


def test_apply_without_yes_and_without_a_terminal_refuses(mini_repo, cli):
    r = cli("apply", "--env", "test", cwd=mini_repo)
    assert r.code == 1 and "pass --yes" in r.err
    assert not (mini_repo / ".edcconf/state/test.json").exists()


def test_protected_environment_refuses_a_direct_apply(mini_repo, cli):
    r = cli("apply", "--env", "production", "--yes", cwd=mini_repo)
    assert r.code == 1 and "protected" in r.err and "--out" in r.err


@pytest.mark.parametrize(
    "content,code,where",
    [
        ("study: {id: X, name: [unclosed\n", "yaml-syntax", "studies/bad.yaml:2:1"),
        (
            "study: {id: X, name: Y, system: openclinica, environments: [test], forms: [], colour: red}\n",
            "schema",
            "studies/bad.yaml:1:",
        ),
        (
            "study:\n  id: X\n  name: Y\n  system: openclinica\n  environments: [test]\n  sites: [BOS]\n"
            "  participant_id_template: '${siteParticipantCount}'\n  forms: [{id: f}]\n"
            "  access: [{user: nobody, role: viewer, sites: all}]\n",
            "unknown-reference",
            "studies/bad.yaml:9:",
        ),
    ],
)
def test_user_errors_exit_1_with_code_and_location(mini_repo, cli, content, code, where):
    (mini_repo / "studies/bad.yaml").write_text(content)
    for args in (["validate"], ["plan", "--env", "test"]):
        r = cli(*args, cwd=mini_repo)
        assert r.code == 1 and "Traceback" not in r.err, r
        assert f"error[{code}]" in r.err and where in r.err, r
        j = cli(*args, "--json", cwd=mini_repo)
        assert j.code == 1 and code in {e["code"] for e in j.json["errors"]}
        assert all(":" in e["source"] for e in j.json["errors"])


def test_usage_errors_exit_1_not_2(mini_repo, cli):
    r = cli("plan", cwd=mini_repo)
    assert r.code == 1 and "--env" in r.err
    r = cli("plan", "--env", "staging", cwd=mini_repo)
    assert r.code == 1 and "unknown environment 'staging'" in r.err
    r = cli("plan", "--env", "test", "--at", "tomorrow", cwd=mini_repo)
    assert r.code == 1 and "YYYY-MM-DD" in r.err


def test_validate_github_annotations(mini_repo, cli):
    edit(mini_repo, "studies/heart.yaml", "user: mona.mon", "user: mona.mom")
    r = cli("validate", "--format", "github", cwd=mini_repo)
    assert r.code == 1 and "::error file=studies/heart.yaml,line=20," in r.out and "title=unknown-reference::" in r.out


def test_empty_directory_is_a_clear_error(tmp_path, cli):
    r = cli("validate", cwd=tmp_path)
    assert r.code == 1 and "no declarations found" in r.err


def test_out_path_cannot_escape_the_configuration(mini_repo, cli):
    edit(mini_repo, "environments/envs.yaml", "out: build/test/openclinica", "out: ../../escaped")
    r = cli("apply", "--env", "test", "--yes", cwd=mini_repo)
    assert r.code == 1 and "outside the configuration directory" in r.err
    assert not (mini_repo.parent.parent / "escaped").exists()


def test_history_lists_every_version_and_shows_old_ones(mini_repo, cli):
    assert (
        cli(
            "apply",
            "--env",
            "test",
            "--yes",
            "--reason",
            "first rollout",
            cwd=mini_repo,
            env={"EDCCONF_ACTOR": "alice"},
        ).code
        == 0
    )
    edit(mini_repo, "studies/heart.yaml", "user: cara.crc, role: crc,", "user: cara.crc, role: crc_safety,")
    assert cli("apply", "--env", "test", "--yes", cwd=mini_repo, env={"EDCCONF_ACTOR": "bob"}).code == 0
    versions = cli("history", "--env", "test", "--changes", "--json", cwd=mini_repo).json["versions"]
    assert [(v["serial"], v["actor"], v["summary"]) for v in versions] == [
        (1, "alice", {"add": 14, "change": 0, "revoke": 0}),
        (2, "bob", {"add": 0, "change": 1, "revoke": 0}),
    ]
    assert (
        versions[1]["changes"][0]["before"]["role"] == "crc"
        and versions[1]["changes"][0]["after"]["role"] == "crc_safety"
    )
    old = cli("show", "--env", "test", "--serial", "1", "--json", cwd=mini_repo).json
    assert old["serial"] == 1 and old["grants"]["HEART-01/cara.crc"]["role"] == "crc"
    assert cli("show", "--env", "test", "--serial", "7", cwd=mini_repo).code == 1
    audit = [json.loads(x) for x in (mini_repo / ".edcconf/audit/test.jsonl").read_text().splitlines()]
    assert {e.get("reason") for e in audit if e["actor"] == "alice"} == {"first rollout"}
