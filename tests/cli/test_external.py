"""The external-user process (000) through the CLI, on a temporary configuration: the requester is a PI or
Co-PI of every study granting access, an agreement dated later gives no access until that day (`plan --at`,
`explain`), and the plan says who hears of a recorded agreement and of a new account."""

from __future__ import annotations

import pytest

from tests.conftest import run_cli, write


# in-process CLI runs: these tests check exit codes, outputs and files, which a subprocess shows no differently
@pytest.fixture
def cli():
    return run_cli


EXT = """\
group:
  id: ext
  ceiling: {form_access: review}
  members:
    - {username: eve.ext, email: eve@cro.example.com, name: Eve External,
       external: {organization: Acme CRO, agreement_signed: AGREED, basis: protocol, requested_by: REQUESTER}}
    - {username: ada.admin, email: ada@hospital.example.org, name: Ada Admin, type: admin}
"""


def external(repo, agreed="2026-01-15", requester="ivan.inv"):
    write(repo, "groups/ext.yaml", EXT.replace("AGREED", agreed).replace("REQUESTER", requester))
    heart = repo / "studies/heart.yaml"
    text = heart.read_text().replace("pi: ivan.inv}", "pi: ivan.inv, staff: [eve.ext]}")
    heart.write_text(text.replace("  access:\n", "  access:\n    - {user: eve.ext, role: monitor, sites: all}\n"))


def test_a_requester_who_is_not_pi_is_an_error_naming_them_and_the_study(mini_repo, cli):
    external(mini_repo, requester="vera.view")
    r = cli("validate", cwd=mini_repo)
    assert r.code == 1
    assert "groups/ext.yaml:6" in r.err and "error[external-requester-not-pi]" in r.err
    assert "vera.view" in r.err and "HEART-01" in r.err
    r = cli("validate", "--json", cwd=mini_repo)
    assert [e["code"] for e in r.json["errors"]] == ["external-requester-not-pi"]
    external(mini_repo, requester="nobody.here")
    r = cli("validate", cwd=mini_repo)
    assert r.code == 1 and "error[external-requester-unknown]" in r.err and "nobody.here" in r.err


def test_an_agreement_dated_later_gives_access_from_that_day(mini_repo, cli):
    external(mini_repo, agreed="2027-02-01")
    before = cli("plan", "--env", "test", "--json", "--at", "2027-01-31", cwd=mini_repo)
    assert before.code == 2, before
    assert "HEART-01/eve.ext" not in {c["key"] for c in before.json["changes"]}
    warning = [w for w in before.json["warnings"] if w["code"] == "external-access-not-yet"]
    assert (
        len(warning) == 1 and "2027-02-01" in warning[0]["message"] and warning[0]["source"] == "studies/heart.yaml:18"
    )
    text = cli("plan", "--env", "test", "--at", "2027-01-31", cwd=mini_repo)
    assert "[external-access-not-yet]" in text.out and "starts on that day" in text.out
    # explain says why there is no access, and from when there is
    why = cli("explain", "eve.ext", "--env", "test", "--at", "2027-01-31", cwd=mini_repo)
    assert why.code == 0, why
    assert "no access" in why.out and "takes effect on 2027-02-01" in why.out
    # from that day on the grant is planned, and nothing warns
    on = cli("plan", "--env", "test", "--json", "--at", "2027-02-01", cwd=mini_repo)
    grant = next(c for c in on.json["changes"] if c["key"] == "HEART-01/eve.ext")
    assert grant["action"] == "create" and grant["after"]["sites"] == ["BOS", "LYON", "NYC"]
    assert not [w for w in on.json["warnings"] if w["code"] == "external-access-not-yet"]


def test_the_plan_names_who_hears_of_the_agreement_and_of_the_account(mini_repo, cli):
    external(mini_repo)
    r = cli("plan", "--env", "test", "--json", "--at", "2026-11-24", cwd=mini_repo)
    account = next(c for c in r.json["changes"] if c["kind"] == "account" and c["key"] == "eve.ext")
    assert account["notify"] == ["ivan.inv"]  # the PI, who is also the requester
    assert account["agreement_notify"] == ["ada.admin", "ivan.inv"]  # the EDC admins and the requester
    assert account["after"]["agreement_signed"] == "2026-01-15" and account["after"]["requested_by"] == "ivan.inv"
    text = cli("plan", "--env", "test", "--at", "2026-11-24", cwd=mini_repo)
    assert "agreement recorded (2026-01-15), notify: ada.admin, ivan.inv" in text.out
    # applied, then the agreement date is corrected: recorded again, and the admins and requester are told
    assert cli("apply", "--env", "test", "--yes", cwd=mini_repo).code == 0
    (mini_repo / "groups/ext.yaml").write_text(
        (mini_repo / "groups/ext.yaml").read_text().replace("2026-01-15", "2026-01-20")
    )
    r = cli("plan", "--env", "test", "--json", "--at", "2026-11-24", cwd=mini_repo)
    (account,) = [c for c in r.json["changes"] if c["kind"] == "account"]
    assert account["action"] == "update" and account["agreement_notify"] == ["ada.admin", "ivan.inv"]
    folder = mini_repo / "build/test/notifications/0001"
    assert (folder / "ada.admin-external_agreement-eve.ext.txt").exists()
