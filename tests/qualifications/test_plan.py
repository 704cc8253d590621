"""Qualifications end to end, through the CLI on a copy of tests/fixtures/mini: a grant added for a person
lacking a required qualification is refused (exit 1, the code at the grant's file:line); an applied grant
whose qualification lapses is revoked on the day after (plan --at), with its reason and a warning; the
holder is warned notify_days ahead; validate says the same; a custom role's own requirement counts."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from tests.conftest import write
from tests.helpers import edit

TODAY = date.today()
LAPSES = TODAY + timedelta(days=60)  # cara.crc's gcp: valid through this day
LATER = TODAY + timedelta(days=3 * 365)

QUALIFICATIONS = """\
qualifications:
  - id: gcp
    name: Good Clinical Practice training
    notify_days: 30
    base_roles: {openclinica: all}
  - id: heart-training
    name: HEART-01 protocol training
"""


def _qualify(root: Path, cara_expires: date = LAPSES) -> None:
    write(root, "environments/qualifications.yaml", QUALIFICATIONS)
    for user in ("ivan.inv", "mona.mon", "dina.dm", "vera.view"):
        edit(
            root,
            "groups/staff.yaml",
            f"{{username: {user},",
            f"{{username: {user}, qualifications: {{gcp: {{completed: 2025-01-01, expires: {LATER}}}}},",
        )
    edit(
        root,
        "groups/staff.yaml",
        "{username: cara.crc,",
        f"{{username: cara.crc, qualifications: {{gcp: {{completed: 2025-01-01, expires: {cara_expires}}}}},",
    )


def test_a_grant_added_without_the_qualification_is_refused(mini_repo, cli):
    _qualify(mini_repo)
    edit(mini_repo, "groups/staff.yaml", f"qualifications: {{gcp: {{completed: 2025-01-01, expires: {LAPSES}}}}}, ", "")
    r = cli("plan", "--env", "test", cwd=mini_repo)
    assert r.code == 1, r
    assert "studies/heart.yaml:18:7: error[qualification-missing]: cara.crc lacks gcp (Good Clinical Practice" in r.err
    assert "required by the defaults of openclinica base role crc (environments/qualifications.yaml:2)" in r.err
    assert "never held" in r.err and "HEART-01/cara.crc: not applied yet" in r.err
    # validate reads the (empty) state and says the same
    v = cli("validate", cwd=mini_repo)
    assert v.code == 1 and "error[qualification-missing]" in v.err and "(in test, production)" in v.err, v


def test_an_expired_qualification_refuses_a_new_grant_with_the_day(mini_repo, cli):
    _qualify(mini_repo)
    r = cli("plan", "--env", "test", "--at", str(LAPSES + timedelta(days=1)), cwd=mini_repo)
    assert r.code == 1, r
    assert f"expired on {LAPSES}" in r.err and "qualification-missing" in r.err


def test_an_applied_grant_is_suspended_the_day_after_its_qualification_lapses(mini_repo, cli):
    _qualify(mini_repo)
    # in test only: production is never applied here, where the lapsed grant would be refused as added
    edit(
        mini_repo,
        "studies/heart.yaml",
        "{user: cara.crc, role: crc, environments: all,",
        "{user: cara.crc, role: crc, environments: [test],",
    )
    assert cli("apply", "--env", "test", "--yes", cwd=mini_repo).code == 0
    on_the_day = cli("plan", "--env", "test", "--at", str(LAPSES), "--json", cwd=mini_repo)
    assert on_the_day.code == 0, on_the_day  # valid through its last day: nothing to change
    after = cli("plan", "--env", "test", "--at", str(LAPSES + timedelta(days=1)), "--json", cwd=mini_repo)
    assert after.code == 2, after
    plan = after.json
    revokes = [c for c in plan["changes"] if c["action"] == "revoke"]
    assert [(c["key"], c["reason"]) for c in revokes] == [
        ("HEART-01/cara.crc", f"suspended: cara.crc's gcp expired on {LAPSES}")
    ]
    assert revokes[0]["source"].startswith("studies/heart.yaml:18")
    codes = [w["code"] for w in plan["warnings"]]
    assert "qualification-suspended" in codes
    text = cli("plan", "--env", "test", "--at", str(LAPSES + timedelta(days=1)), cwd=mini_repo).out
    assert f"suspended: cara.crc's gcp expired on {LAPSES}" in text
    # validate as of that day: a warning (the plan revokes it), not an error
    v = cli("validate", "--at", str(LAPSES + timedelta(days=1)), cwd=mini_repo)
    assert v.code == 0 and "warning[qualification-suspended]" in v.out and "(in test)" in v.out, v


def test_the_holder_is_warned_notify_days_ahead(mini_repo, cli):
    _qualify(mini_repo)
    soon = cli("validate", "--at", str(LAPSES - timedelta(days=10)), cwd=mini_repo)
    assert soon.code == 0, soon
    assert "groups/staff.yaml:6:" in soon.out and "warning[qualification-expiring]" in soon.out
    assert f"cara.crc's gcp (Good Clinical Practice training) expires on {LAPSES}, in 10 days" in soon.out
    early = cli("validate", "--at", str(LAPSES - timedelta(days=31)), cwd=mini_repo)
    assert "qualification-expiring" not in early.out, early
    # the person's own access ends first: no warning about the qualification
    edit(
        mini_repo,
        "groups/staff.yaml",
        "name: Cara Coordinator}",
        f"name: Cara Coordinator, expires: {LAPSES - timedelta(days=1)}}}",
    )
    first = cli("validate", "--at", str(LAPSES - timedelta(days=10)), cwd=mini_repo)
    assert first.code == 0 and "qualification-expiring" not in first.out, first


def test_a_custom_role_requires_its_own_training(mini_repo, cli):
    _qualify(mini_repo)
    edit(
        mini_repo,
        "studies/heart.yaml",
        "crc_safety: {base: crc, tags: {safety: edit}}",
        "crc_safety: {base: crc, tags: {safety: edit}, requires: [heart-training]}",
    )
    edit(mini_repo, "studies/heart.yaml", "{user: cara.crc, role: crc,", "{user: cara.crc, role: crc_safety,")
    r = cli("plan", "--env", "test", cwd=mini_repo)
    assert (
        r.code == 1
        and "cara.crc lacks heart-training (HEART-01 protocol training), required by role crc_safety of HEART-01 (studies/heart.yaml:16"
        in r.err
    ), r
    edit(
        mini_repo,
        "groups/staff.yaml",
        "{gcp: {completed: 2025-01-01, expires: " + str(LAPSES) + "}}",
        "{gcp: {completed: 2025-01-01, expires: " + str(LAPSES) + "}, heart-training: {completed: 2025-02-01}}",
    )
    assert cli("plan", "--env", "test", cwd=mini_repo).code == 2


def test_a_qualification_completed_later_is_not_valid_yet(mini_repo, cli):
    _qualify(mini_repo)
    edit(
        mini_repo,
        "groups/staff.yaml",
        "{gcp: {completed: 2025-01-01, expires: " + str(LAPSES) + "}}",
        "{gcp: {completed: " + str(TODAY + timedelta(days=5)) + "}}",
    )
    r = cli("plan", "--env", "test", cwd=mini_repo)
    assert r.code == 1 and f"completed only on {TODAY + timedelta(days=5)}" in r.err, r


def test_validate_without_a_readable_state_says_it_could_not_tell(mini_repo, cli):
    """Never an all-clear it did not verify: an environment whose state cannot be read leaves validate unable
    to say whether a grant lacking a qualification would be refused or suspended: it warns so."""
    from edcconf.state.local import LocalBackend

    _qualify(mini_repo)
    assert cli("apply", "--env", "test", "--yes", cwd=mini_repo).code == 0
    LocalBackend(mini_repo, "test").path.write_text("{not json")
    doc = cli("validate", "--json", "--at", str(LAPSES + timedelta(days=1)), cwd=mini_repo)
    unverified = [w for w in doc.json["warnings"] if w["code"] == "qualification-unverified"]
    assert unverified and all("the state of test (" in w["message"] for w in unverified), doc
    assert all("cara.crc" in w["message"] and w["source"].startswith("studies/heart.yaml:") for w in unverified)
