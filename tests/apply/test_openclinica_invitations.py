"""OpenClinica (001): access for an account that exists is an invitation, a new account a creation; the
checklist marks what only an Admin can do (a site's global fields, Central User Administration)."""

import csv
import io

import pytest

from tests.conftest import run_cli, write
from tests.helpers import edit


# in-process CLI runs: these tests check exit codes, outputs and files, which a subprocess shows no differently
@pytest.fixture
def cli():
    return run_cli


NEW_STUDY = """study:
  id: LUNG-02
  name: Lung study
  system: openclinica
  environments: [test]
  sites: [BOS, NYC]
  participant_id_template: "${siteId}-${(siteParticipantCount+1)?string[000]}"
  forms: [{id: vitals}]
  access:
    - {user: cara.crc, role: crc, environments: all, sites: [NYC]}
    - {user: nina.new, role: viewer, environments: all, sites: all}
"""


def rows(path):
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def test_existing_accounts_are_invited_and_new_ones_created(mini_repo, cli):
    assert cli("apply", "--env", "test", "--yes", cwd=mini_repo).code == 0
    edit(
        mini_repo,
        "groups/staff.yaml",
        "    - {username: cara.crc,",
        "    - {username: nina.new, email: nina@hospital.example.org, name: Nina New}\n    - {username: cara.crc,",
    )
    write(mini_repo, "studies/lung.yaml", NEW_STUDY)

    r = cli("plan", "--env", "test", "--json", cwd=mini_repo)
    assert r.code == 2, r
    grants = {c["key"]: c for c in r.json["changes"] if c["kind"] == "grant"}
    assert grants["LUNG-02/cara.crc"]["action"] == "create" and grants["LUNG-02/cara.crc"]["invite"] is True
    assert "invite" in grants["LUNG-02/cara.crc"]["reason"]
    assert grants["LUNG-02/nina.new"]["action"] == "create" and "invite" not in grants["LUNG-02/nina.new"]
    assert [c["action"] for c in r.json["changes"] if c["kind"] == "account"] == ["create"]
    assert {c["action"] for c in r.json["changes"]} <= {"create", "update", "revoke", "deactivate", "reactivate"}

    text = cli("plan", "--env", "test", cwd=mini_repo).out
    assert "grant LUNG-02/cara.crc will be invited" in text and "grant LUNG-02/nina.new will be created" in text
    md = cli("plan", "--env", "test", "--format", "markdown", cwd=mini_repo).out
    assert "`LUNG-02/cara.crc` (invite)" in md and "`LUNG-02/nina.new` (invite)" not in md

    # a saved plan keeps the mark, and apply FILE (which plans again) agrees with it
    plan_file = mini_repo / "reviewed.plan"
    assert cli("plan", "--env", "test", "--out", str(plan_file), cwd=mini_repo).code == 2
    assert cli("apply", str(plan_file), "--yes", cwd=mini_repo).code == 0, "apply of the saved plan"
    out = mini_repo / "build/test/openclinica"
    (checklist,) = sorted((out / "LUNG-02").glob("checklist-*.csv"))
    by_user = {row["username"]: row for row in rows(checklist)}
    assert by_user["cara.crc"]["action"] == "invite" and "existing user" in by_user["cara.crc"]["notes"]
    assert by_user["nina.new"]["action"] == "create"
    accounts = sorted(out.glob("accounts-checklist-*.csv"))[-1]  # this apply's (the first created five)
    (nina,) = rows(accounts)
    assert nina["action"] == "create" and "Invite a new user" in nina["notes"] and nina["admin_only"] == ""


def test_a_sites_global_fields_are_marked_admin_only(mini_repo, cli):
    assert cli("apply", "--env", "test", "--yes", cwd=mini_repo).code == 0
    out = mini_repo / "build/test/openclinica"
    (first,) = sorted(out.glob("sites-checklist-*.csv"))
    new_sites = rows(first)  # adding a new site to a study is for anyone with its Share screen
    assert {r["sites"] for r in new_sites} == {"BOS", "NYC", "LYON"}
    assert all(r["action"] == "create" and r["admin_only"] == "" and "Share" in r["notes"] for r in new_sites)
    edit(
        mini_repo,
        "environments/envs.yaml",
        "{id: BOS, name: Boston General, country: US, timezone: America/New_York}",
        "{id: BOS, name: Boston General Hospital, country: US, timezone: America/New_York, city: Boston}",
    )
    edit(
        mini_repo, "groups/staff.yaml", "    - {username: mona.mon,", "    - {username: mona.mon, status: deactivated,"
    )
    assert cli("apply", "--env", "test", "--yes", cwd=mini_repo).code == 0
    sites = sorted(out.glob("sites-checklist-*.csv"))[-1]
    (bos,) = rows(sites)
    assert bos["action"] == "update" and bos["sites"] == "BOS"
    assert bos["admin_only"].startswith("yes") and "Site Name, City" in bos["admin_only"]
    accounts = sorted(out.glob("accounts-checklist-*.csv"))[-1]
    (mona,) = rows(accounts)
    assert mona["action"] == "deactivate" and "Central User Administration" in mona["admin_only"]
