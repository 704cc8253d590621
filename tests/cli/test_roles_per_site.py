"""Roles per site (001, 003) end to end: a person who is a CRC at one site and a monitor at another gets one
grant per role, each with its own sites and form levels, in the plan, the providers' files, `show`,
`explain` and `who-can`; the first grant's key never changes when a role is added or removed."""

from __future__ import annotations

import csv
import io

# in-process CLI runs: these tests check exit codes, outputs and files, which a subprocess shows no differently
from tests.conftest import run_cli

SECOND_ROLE = "    - {user: cara.crc, role: monitor, environments: all, sites: [NYC]}\n"


def _add_second_role(root):
    path = root / "studies" / "heart.yaml"  # `access:` is the file's last list: a line at the end joins it
    path.write_text(path.read_text() + SECOND_ROLE)


def test_a_second_role_at_another_site_is_one_more_grant(mini_repo):
    assert run_cli("apply", "--env", "test", "--yes", cwd=mini_repo).code == 0
    _add_second_role(mini_repo)
    plan = run_cli("plan", "--env", "test", "--json", cwd=mini_repo)
    assert plan.code == 2, plan
    changes = [(c["action"], c["key"]) for c in plan.json["changes"]]
    assert changes == [("create", "HEART-01/cara.crc/monitor")]  # the CRC grant at BOS is untouched
    (created,) = plan.json["changes"]
    assert created["after"]["sites"] == ["NYC"] and created["after"]["forms"]["vitals"] == "review"

    assert run_cli("apply", "--env", "test", "--yes", cwd=mini_repo).code == 0
    rows = list(csv.DictReader(io.StringIO((mini_repo / "build/test/openclinica/HEART-01/users.csv").read_text())))
    assert [(r["role"], r["sites"]) for r in rows if r["username"] == "cara.crc"] == [
        ("crc", "BOS"),
        ("monitor", "NYC"),
    ]

    who = run_cli("who-can", "review", "vitals", "--study", "HEART-01", "--env", "test", "--json", cwd=mini_repo)
    assert {(p["role"], tuple(p["sites"]), p["has"]) for p in who.json["people"] if p["user"] == "cara.crc"} == {
        ("crc", ("BOS",), "edit"),
        ("monitor", ("NYC",), "review"),
    }  # one row per role, with its own sites
    explained = run_cli("explain", "cara.crc", "--env", "test", "--json", cwd=mini_repo).json
    (env,) = explained["environments"]
    assert [(e["grant"]["role"], e["grant"]["sites"]) for e in env["studies"]] == [
        ("crc", ["BOS"]),
        ("monitor", ["NYC"]),
    ]
    shown = run_cli("show", "--env", "test", cwd=mini_repo).out
    assert [line.split()[:3] for line in shown.splitlines() if line.strip().startswith("cara.crc")] == [
        ["cara.crc", "crc", "BOS"],
        ["cara.crc", "monitor", "NYC"],
    ]

    # taking the second role away revokes exactly that grant
    path = mini_repo / "studies" / "heart.yaml"
    path.write_text(path.read_text().replace(SECOND_ROLE, ""))
    plan = run_cli("plan", "--env", "test", "--json", cwd=mini_repo)
    assert [(c["action"], c["key"]) for c in plan.json["changes"]] == [("revoke", "HEART-01/cara.crc/monitor")]


def test_access_tests_can_name_the_site(mini_repo):
    _add_second_role(mini_repo)
    (mini_repo / "tests" / "access").mkdir(parents=True)
    (mini_repo / "tests" / "access" / "sites.yaml").write_text(
        "tests:\n"
        "  - {user: cara.crc, study: HEART-01, env: test, site: NYC, form: vitals, level: review}\n"
        "  - {user: cara.crc, study: HEART-01, env: test, site: BOS, form: vitals, level: edit}\n"
        "  - {user: cara.crc, study: HEART-01, env: test, form: vitals, level: edit}\n"
        "  - cannot: {user: cara.crc, study: HEART-01, env: test, site: LYON, form: vitals, level: read}\n"
    )
    result = run_cli("test", cwd=mini_repo)
    assert result.code == 0, result
    (mini_repo / "tests" / "access" / "sites.yaml").write_text(
        "tests:\n  - {user: cara.crc, study: HEART-01, env: test, site: NYC, form: vitals, level: edit}\n"
    )
    failed = run_cli("test", cwd=mini_repo)
    assert failed.code == 1 and "review" in failed.out, failed
