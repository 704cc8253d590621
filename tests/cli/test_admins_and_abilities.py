"""Admins see every study (001) and who cannot be granted full User Rights cannot create projects (002),
through explain and who-can; validate warns when the organisation has more admins than it accepts."""

import pytest

from tests.conftest import run_cli


# in-process CLI runs: these tests check exit codes, outputs and files, which a subprocess shows no differently
@pytest.fixture
def cli():
    return run_cli


AT = ["--at", "2026-11-24"]

ADMINS = """\
group:
  id: edc
  ceiling: {unnamed: unlimited}
  members:
    - {username: ada.admin, email: ada@hospital.example.org, name: Ada Admin, type: admin}
    - {username: old.admin, email: old@hospital.example.org, name: Old Admin, type: admin, status: deactivated}
"""


def with_admin(root):
    (root / "groups/edc.yaml").write_text(ADMINS)
    return root


def test_explain_shows_an_admins_implicit_access_to_every_study(mini_repo, cli):
    with_admin(mini_repo)
    doc = cli("explain", "ada.admin", "--json", *AT, cwd=mini_repo).json
    entries = {(e["environment"], s["study"]): s for e in doc["environments"] for s in e["studies"]}
    assert sorted(entries) == [("production", "HEART-01"), ("test", "HEART-01")]
    heart = entries[("test", "HEART-01")]
    assert heart["implicit"] == "admin" and heart["access"] is False
    assert "sees every study" in heart["reason"] and heart["source"] == "groups/edc.yaml:5"
    text = cli("explain", "ada.admin", *AT, cwd=mini_repo).out
    assert "HEART-01: IMPLICIT access — admin: sees every study" in text
    # a deactivated admin sees nothing, a user is never implicit
    assert cli("explain", "old.admin", "--json", *AT, cwd=mini_repo).json["environments"] == []
    cara = cli("explain", "cara.crc", "--json", *AT, cwd=mini_repo).json
    assert all("implicit" not in s for e in cara["environments"] for s in e["studies"])


def test_an_admin_with_a_grant_is_shown_with_both(mini_repo, cli):
    with_admin(mini_repo)
    heart = mini_repo / "studies/heart.yaml"
    heart.write_text(
        heart.read_text().replace(
            "  access:\n", "  access:\n    - {user: ada.admin, role: viewer, environments: [test], sites: all}\n"
        )
    )
    doc = cli("explain", "ada.admin", "--json", *AT, cwd=mini_repo).json
    entries = {(e["environment"], s["study"]): s for e in doc["environments"] for s in e["studies"]}
    assert entries[("test", "HEART-01")]["access"] is True and entries[("test", "HEART-01")]["implicit"] == "admin"
    assert entries[("production", "HEART-01")]["access"] is False
    assert "no grant: not granted in production" in entries[("production", "HEART-01")]["reason"]
    who = cli("who-can", "read", "vitals", "--study", "HEART-01", "--env", "test", "--json", *AT, cwd=mini_repo).json
    ada = [p for p in who["people"] if p["user"] == "ada.admin"]
    assert len(ada) == 1 and "implicit" not in ada[0] and ada[0]["role"] == "viewer"  # the grant lists her


def test_who_can_lists_admins_as_implicit(mini_repo, cli):
    with_admin(mini_repo)
    doc = cli("who-can", "edit", "vitals", "--study", "HEART-01", "--env", "test", "--json", *AT, cwd=mini_repo).json
    implicit = [p for p in doc["people"] if p.get("implicit")]
    assert [(p["user"], p["environment"], p["sites"]) for p in implicit] == [
        ("ada.admin", "test", ["BOS", "LYON", "NYC"])
    ]
    assert "dina.dm" in [p["user"] for p in doc["people"] if not p.get("implicit")]
    text = cli("who-can", "edit", "vitals", "--study", "HEART-01", "--env", "test", *AT, cwd=mini_repo).out
    assert "IMPLICIT (admin)" in text and "ada.admin" in text
    # access tests compare declared grants: the admin is not an unexpected name there
    (mini_repo / "tests" / "access").mkdir(parents=True)
    (mini_repo / "tests/access/t.yaml").write_text(
        "tests:\n  - {who-can: edit vitals, study: HEART-01, env: test, expect: [cara.crc, dina.dm, ivan.inv]}\n"
    )
    assert cli("test", *AT, cwd=mini_repo).code == 0


def test_create_projects_follows_the_ceilings_user_rights(mini_repo, cli):
    staff = mini_repo / "groups/staff.yaml"
    staff.write_text(staff.read_text().replace("user_rights: full", "user_rights: read"))
    with_admin(mini_repo)
    cara = cli("explain", "cara.crc", "--json", *AT, cwd=mini_repo).json["abilities"]["create_projects"]
    assert cara["value"] is False and "user_rights read" in cara["reason"] and "(002)" in cara["reason"]
    assert cara["source"] == "groups/staff.yaml:2"  # the group
    assert (
        "create projects: no — the group's ceiling allows user_rights read"
        in cli("explain", "cara.crc", *AT, cwd=mini_repo).out
    )
    ada = cli("explain", "ada.admin", "--json", *AT, cwd=mini_repo).json["abilities"]["create_projects"]
    assert ada["value"] is True
    doc = cli("who-can", "create-projects", "--json", *AT, cwd=mini_repo).json
    assert [p["user"] for p in doc["people"]] == ["ada.admin"]
    assert sorted(p["user"] for p in doc["cannot"]) == ["cara.crc", "dina.dm", "ivan.inv", "mona.mon", "vera.view"]
    text = cli("who-can", "create-projects", *AT, cwd=mini_repo).out
    assert "ada.admin" in text and "Cannot: cara.crc (group staff)" in text


def test_a_redcap_key_below_full_user_rights_also_stops_project_creation(mini_repo, cli):
    """REDCap orders user_rights 0 < 2 < 1: a group allowing full generic user_rights but REDCap read only (2)."""
    staff = mini_repo / "groups/staff.yaml"
    staff.write_text(staff.read_text().replace("api: full}", "api: full, redcap: {user_rights: 2}}"))
    cara = cli("explain", "cara.crc", "--json", *AT, cwd=mini_repo).json["abilities"]["create_projects"]
    assert cara["value"] is False and "REDCap user_rights below 1" in cara["reason"]


def test_too_many_admins_is_a_warning_with_a_configurable_limit(mini_repo, cli):
    with_admin(mini_repo)
    assert "too-many-admins" not in cli("validate", *AT, cwd=mini_repo).err  # one active admin, default 5
    (mini_repo / "environments/policy.yaml").write_text("policy:\n  max_admins: 0\n")
    r = cli("validate", "--json", *AT, cwd=mini_repo)
    assert r.code == 0, r
    (w,) = [w for w in r.json["warnings"] if w["code"] == "too-many-admins"]
    assert w["source"] == "environments/policy.yaml:2" and "1 active people are admins (ada.admin)" in w["message"]
    assert w["details"] == {"admins": ["ada.admin"], "limit": 0}
