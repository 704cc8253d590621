"""Ceilings are enforced at assignment (002, 004): a grant the plan adds or changes must be within the
person's current ceiling; an applied grant that nobody changes is kept, with a warning, however far above
a lowered ceiling it is. validate, which has no plan, reads each environment's state to say the same."""

from functools import partial

import pytest

from edcconf.state.local import LocalBackend
from tests import helpers
from tests.conftest import run_cli


# in-process CLI runs: these tests check exit codes, outputs and files, which a subprocess shows no differently
@pytest.fixture
def cli():
    return run_cli


edit = partial(helpers.edit, count=1)  # the first occurrence only

STAFF = "groups/staff.yaml"
HEART = "studies/heart.yaml"


def lower_the_ceiling(root):
    """form_access edit → read: crc, investigator, safety_monitor and data_manager are now above it."""
    edit(root, STAFF, "ceiling: {form_access: edit,", "ceiling: {form_access: read,")


def codes(doc):
    return [d["code"] for d in doc["errors"]]


def test_a_lowered_ceiling_does_not_block_an_unrelated_change(mini_repo, cli):
    assert cli("apply", "--env", "test", "--yes", cwd=mini_repo).code == 0
    lower_the_ceiling(mini_repo)
    # an unrelated change: vera gets test access as a viewer (read, within the lowered ceiling)
    edit(
        mini_repo,
        HEART,
        "{user: vera.view, role: viewer, environments: [production],",
        "{user: vera.view, role: viewer, environments: all,",
    )
    plan = cli("plan", "--env", "test", "--json", cwd=mini_repo)
    assert plan.code == 2, plan
    doc = plan.json
    assert [c["key"] for c in doc["changes"]] == ["staff", "HEART-01/vera.view"]  # the ceiling, vera
    kept = {w["details"]["key"]: w for w in doc["warnings"] if w["code"] == "ceiling-noncompliant"}
    assert sorted(kept) == ["HEART-01/cara.crc", "HEART-01/dina.dm", "HEART-01/ivan.inv", "HEART-01/mona.mon"]
    cara = kept["HEART-01/cara.crc"]
    assert cara["details"]["kept"] is True and cara["source"] == "groups/staff.yaml:6"
    assert "form_access edit (allowed read)" in cara["message"] and "kept as applied" in cara["message"]
    text = cli("plan", "--env", "test", cwd=mini_repo)
    assert text.code == 2 and "cara.crc in HEART-01 exceeds the current ceiling of group staff" in text.out
    # apply goes through: the kept grants stay as they are
    assert cli("apply", "--env", "test", "--yes", cwd=mini_repo).code == 0
    assert cli("plan", "--env", "test", cwd=mini_repo).code == 0


def test_any_change_to_a_grant_above_the_ceiling_must_comply(mini_repo, cli):
    assert cli("apply", "--env", "test", "--yes", cwd=mini_repo).code == 0
    lower_the_ceiling(mini_repo)
    lowered = cli("plan", "--env", "test", "--json", cwd=mini_repo)  # the group changes, no grant does
    assert lowered.code == 2 and [c["kind"] for c in lowered.json["changes"]] == ["group"], lowered
    edit(
        mini_repo,
        HEART,
        "{user: cara.crc, role: crc, environments: all, sites: [BOS]}",
        "{user: cara.crc, role: crc, environments: all, sites: [BOS, NYC]}",
    )
    refused = cli("plan", "--env", "test", "--json", cwd=mini_repo)
    assert refused.code == 1, refused
    (err,) = refused.json["errors"]
    assert err["code"] == "ceiling-exceeded" and err["source"] == "studies/heart.yaml:18"
    assert "cara.crc in group staff would get form_access edit (allowed read)" in err["message"]
    assert "HEART-01/cara.crc: changed by this plan (sites: BOS → BOS, NYC)" in err["message"]
    # the other applied grants above the ceiling are still named, as warnings
    assert {w["details"]["key"] for w in refused.json["warnings"] if w["code"] == "ceiling-noncompliant"} == {
        "HEART-01/dina.dm",
        "HEART-01/ivan.inv",
        "HEART-01/mona.mon",
    }
    assert cli("apply", "--env", "test", "--yes", cwd=mini_repo).code == 1


def test_expiring_is_allowed_extending_is_a_change(mini_repo, cli):
    """004: the SAG module's remedy for a non-compliant user is to expire them, so setting or bringing forward
    an expiry (or dropping sites) is allowed; REDCap re-checks every right when rights are saved otherwise,
    so a later expiry, or none, must comply."""
    assert cli("apply", "--env", "test", "--yes", cwd=mini_repo).code == 0
    lower_the_ceiling(mini_repo)
    edit(mini_repo, HEART, "sites: [BOS, NYC]}", "sites: [BOS, NYC], expires: 2030-01-31}")
    narrowed = cli("plan", "--env", "test", "--json", cwd=mini_repo)
    assert narrowed.code == 2, narrowed
    (kept,) = [
        w
        for w in narrowed.json["warnings"]
        if w["code"] == "ceiling-noncompliant" and w["details"]["key"] == "HEART-01/ivan.inv"
    ]
    assert "only narrows it" in kept["message"] and kept["details"]["kept"] is True
    assert cli("apply", "--env", "test", "--yes", cwd=mini_repo).code == 0
    edit(mini_repo, HEART, "expires: 2030-01-31}", "expires: 2031-01-31}")
    refused = cli("plan", "--env", "test", "--json", cwd=mini_repo)
    assert refused.code == 1 and codes(refused.json) == ["ceiling-exceeded"]
    assert "HEART-01/ivan.inv: changed by this plan (expires:" in refused.json["errors"][0]["message"]


def test_revoking_or_bringing_within_is_always_allowed(mini_repo, cli):
    assert cli("apply", "--env", "test", "--yes", cwd=mini_repo).code == 0
    lower_the_ceiling(mini_repo)
    edit(mini_repo, HEART, "{user: dina.dm, role: data_manager,", "{user: dina.dm, role: viewer,")
    edit(mini_repo, HEART, "    - {user: mona.mon, role: safety_monitor, environments: all, sites: all}\n", "")
    plan = cli("plan", "--env", "test", "--json", cwd=mini_repo)
    assert plan.code == 2, plan
    said = {w["details"]["key"]: w["message"] for w in plan.json["warnings"] if w["code"] == "ceiling-noncompliant"}
    assert said["HEART-01/dina.dm"].endswith("this plan brings it within")
    assert said["HEART-01/mona.mon"].endswith("this plan revokes it")
    assert "kept as applied" in said["HEART-01/cara.crc"]


def test_a_person_moved_to_a_lower_group_keeps_unchanged_grants(mini_repo, cli):
    assert cli("apply", "--env", "test", "--yes", cwd=mini_repo).code == 0
    edit(mini_repo, STAFF, "    - {username: dina.dm, email: dina@hospital.example.org, name: Dina Manager}\n", "")
    (mini_repo / "groups/readers.yaml").write_text(
        "group:\n  id: readers\n  ceiling: {form_access: read}\n  message: Readers read (policy EDC-3).\n"
        "  members:\n    - {username: dina.dm, email: dina@hospital.example.org, name: Dina Manager}\n"
    )
    plan = cli("plan", "--env", "test", "--json", cwd=mini_repo)
    assert plan.code == 2, plan  # the account's group changes; the grant does not
    assert sorted(c["kind"] for c in plan.json["changes"]) == ["account", "group"]  # dina's group, and readers
    (w,) = [w for w in plan.json["warnings"] if w["code"] == "ceiling-noncompliant"]
    assert "dina.dm in HEART-01 exceeds the current ceiling of group readers" in w["message"]
    report = cli("compliance", "--env", "test", "--json", cwd=mini_repo).json["reports"]
    assert [p["user"] for p in report["pairs_non_expired"]] == ["dina.dm"]


def test_validate_reads_the_state_to_tell_kept_from_refused(mini_repo, cli):
    assert cli("apply", "--env", "test", "--yes", cwd=mini_repo).code == 0
    lower_the_ceiling(mini_repo)
    edit(
        mini_repo,
        HEART,
        "{user: vera.view, role: viewer, environments: [production], countries: [US]}",
        "{user: vera.view, role: viewer, environments: [production], countries: [US]}\n"
        "    - {user: cara.crc, role: crc_safety, environments: [production], sites: [LYON]}",
    )
    doc = cli("validate", "--json", cwd=mini_repo)
    assert doc.code == 1
    errors = {(e["source"], e["message"].rsplit("[", 1)[1]) for e in doc.json["errors"]}
    # applied in test unchanged (kept), never applied in production (the plan would add them)
    assert (
        "studies/heart.yaml:18",
        "production: not applied yet: a grant that is added or changed must be within the ceiling (002, 004)]",
    ) in errors
    assert {w["details"]["key"] for w in doc.json["warnings"] if w["code"] == "ceiling-noncompliant"} == {
        "HEART-01/cara.crc",
        "HEART-01/dina.dm",
        "HEART-01/ivan.inv",
        "HEART-01/mona.mon",
    }
    assert all("in test exceeds" in w["message"] for w in doc.json["warnings"] if w["code"] == "ceiling-noncompliant")
    # production only: the test grants are kept, so validate passes with the warnings
    edit(mini_repo, "environments/envs.yaml", "    protected: true\n", "")
    assert cli("apply", "--env", "production", "--yes", cwd=mini_repo).code == 1  # refused, as validate said
    edit(mini_repo, STAFF, "ceiling: {form_access: read,", "ceiling: {form_access: edit,")
    assert cli("apply", "--env", "production", "--yes", cwd=mini_repo).code == 0
    lower_the_ceiling(mini_repo)
    ok = cli("validate", cwd=mini_repo)
    assert ok.code == 0 and "Configuration is valid" in ok.out, ok
    assert "warning[ceiling-noncompliant]" in ok.out + ok.err


def test_validate_without_a_readable_state_says_it_could_not_tell(mini_repo, cli):
    assert cli("apply", "--env", "test", "--yes", cwd=mini_repo).code == 0
    lower_the_ceiling(mini_repo)
    LocalBackend(mini_repo, "test").path.write_text("{not json")
    doc = cli("validate", "--json", cwd=mini_repo)
    assert doc.code == 1  # production was never applied: refused there
    unverified = [w for w in doc.json["warnings"] if w["code"] == "ceiling-unverified"]
    assert unverified and all("the state of test (" in w["message"] for w in unverified)


def test_the_incremental_plan_decides_as_the_full_one(mini_repo, cli):
    """After a full plan (which records what the incremental planner reuses), a one-file change of the study
    that changes a grant above the ceiling is refused, and an unrelated one keeps the warnings."""
    assert cli("apply", "--env", "test", "--yes", cwd=mini_repo).code == 0
    lower_the_ceiling(mini_repo)
    first = cli("plan", "--env", "test", "--json", cwd=mini_repo)
    assert first.code == 2 and len(first.json["warnings"]) >= 4
    edit(mini_repo, HEART, "environments: [production], countries: [US]}", "environments: all, countries: [US]}")
    unrelated = cli("plan", "--env", "test", "--json", cwd=mini_repo)
    assert unrelated.code == 2
    assert [w for w in unrelated.json["warnings"] if w["code"] == "ceiling-noncompliant"] == [
        w for w in first.json["warnings"] if w["code"] == "ceiling-noncompliant"
    ]
    edit(mini_repo, HEART, "sites: [BOS, NYC]}", "sites: [NYC, LYON]}")  # a site added: must comply
    refused = cli("plan", "--env", "test", "--json", cwd=mini_repo)
    assert refused.code == 1 and codes(refused.json) == ["ceiling-exceeded"]
