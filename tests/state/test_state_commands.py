"""`state list`, `state show` and `state pull`: read what an environment's applied state records, by address,
as Terraform's state commands do."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli


# in-process CLI runs: these tests check exit codes, outputs and files, which a subprocess shows no differently
@pytest.fixture
def cli():
    return run_cli


def test_list_show_and_pull_after_an_apply(mini_repo, cli):
    assert cli("state", "list", "--env", "test", cwd=mini_repo).out == ""  # nothing applied yet
    assert cli("apply", "--env", "test", "--yes", cwd=mini_repo).code == 0
    listed = cli("state", "list", "--env", "test", cwd=mini_repo)
    lines = listed.out.splitlines()
    assert listed.code == 0 and "account.cara.crc" in lines and "grant.HEART-01/cara.crc" in lines
    assert "site.LYON" in lines and any(line.startswith("role.HEART-01/crc#") for line in lines)
    as_json = cli("state", "list", "--env", "test", "--json", cwd=mini_repo).json
    assert as_json["serial"] == 1 and as_json["addresses"] == lines

    shown = cli("state", "show", "--env", "test", "grant.HEART-01/cara.crc", cwd=mini_repo).json
    assert shown["value"]["sites"] == ["BOS"] and shown["source"] == "studies/heart.yaml:18"

    missing = cli("state", "show", "--env", "test", "grant.HEART-01/cara.cr", cwd=mini_repo)
    assert missing.code == 1 and "did you mean 'grant.HEART-01/cara.crc'" in missing.err
    assert "Traceback" not in missing.err

    pulled = json.loads(cli("state", "pull", "--env", "test", cwd=mini_repo).out)
    stored = json.loads((mini_repo / ".edcconf" / "state" / "test.json").read_text())
    assert pulled["serial"] == stored["serial"] == 1 and pulled["effective"] == stored["effective"]


def _second_role(root):
    path = root / "studies" / "heart.yaml"
    path.write_text(path.read_text() + "    - {user: cara.crc, role: monitor, environments: all, sites: [NYC]}\n")


def test_rm_forgets_and_the_next_plan_creates_again(mini_repo, cli):
    assert cli("apply", "--env", "test", "--yes", cwd=mini_repo).code == 0
    removed = cli("state", "rm", "--env", "test", "grant.HEART-01/cara.crc", cwd=mini_repo)
    assert removed.code == 0 and "serial 2" in removed.out
    plan = cli("plan", "--env", "test", "--json", cwd=mini_repo).json
    assert [(c["action"], c["key"]) for c in plan["changes"]] == [("create", "HEART-01/cara.crc")]
    role = next(
        a
        for a in cli("state", "list", "--env", "test", cwd=mini_repo).out.split()
        if a.startswith("role.HEART-01/investigator#")
    )
    in_use = cli("state", "rm", "--env", "test", role, cwd=mini_repo)
    assert in_use.code == 1 and "HEART-01/ivan.inv" in in_use.err
    audit = (mini_repo / ".edcconf" / "audit" / "test.jsonl").read_text()
    assert '"event": "state-rm"' in audit and '"removed": ["grant.HEART-01/cara.crc"]' in audit


def test_mv_gives_a_grant_its_role_key_and_nothing_else(mini_repo, cli):
    assert cli("apply", "--env", "test", "--yes", cwd=mini_repo).code == 0
    assert (
        cli(
            "state", "mv", "--env", "test", "grant.HEART-01/cara.crc", "grant.HEART-01/cara.crc/crc", cwd=mini_repo
        ).code
        == 0
    )
    plan = cli("plan", "--env", "test", "--json", cwd=mini_repo).json
    assert sorted((c["action"], c["key"]) for c in plan["changes"]) == [
        ("create", "HEART-01/cara.crc"),
        ("revoke", "HEART-01/cara.crc/crc"),
    ]  # the configuration keys it plainly
    for source, target, says in (
        ("grant.HEART-01/cara.crc/crc", "grant.HEART-01/ivan.inv", "it can be"),
        ("account.cara.crc", "account.cara.c", "only grants move"),
        ("grant.HEART-01/nobody", "grant.HEART-01/x", "not in the state"),
    ):
        refused = cli("state", "mv", "--env", "test", source, target, cwd=mini_repo)
        assert refused.code == 1 and says in refused.err, refused


def test_push_takes_an_edited_pull_of_the_same_lineage_only(mini_repo, cli, tmp_path):
    assert cli("apply", "--env", "test", "--yes", cwd=mini_repo).code == 0
    pulled = json.loads(cli("state", "pull", "--env", "test", cwd=mini_repo).out)
    del pulled["effective"]["grants"]["HEART-01/dina.dm"]
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(pulled))
    assert cli("state", "push", "--env", "test", str(edited), cwd=mini_repo).code == 0
    assert "grant.HEART-01/dina.dm" not in cli("state", "list", "--env", "test", cwd=mini_repo).out
    stale = cli("state", "push", "--env", "test", str(edited), cwd=mini_repo)  # pulled at 1, state is at 2
    assert stale.code == 1 and "moved on" in stale.err
    pulled["lineage"] = "another"
    edited.write_text(json.dumps({**pulled, "serial": 99}))
    other = cli("state", "push", "--env", "test", str(edited), cwd=mini_repo)
    assert other.code == 1 and "another lineage" in other.err


def test_mv_on_postgres(pg_repo, pg_dsn, cli):
    env = {"EDCCONF_PG_DSN": pg_dsn}
    assert cli("apply", "--env", "test", "--yes", cwd=pg_repo, env=env).code == 0
    _second_role(pg_repo)
    assert (
        cli(
            "state",
            "mv",
            "--env",
            "test",
            "grant.HEART-01/cara.crc",
            "grant.HEART-01/cara.crc/crc",
            cwd=pg_repo,
            env=env,
        ).code
        == 0
    )
    listed = cli("state", "list", "--env", "test", cwd=pg_repo, env=env).out.split()
    assert "grant.HEART-01/cara.crc/crc" in listed and "grant.HEART-01/cara.crc" not in listed
