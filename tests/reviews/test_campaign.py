"""A scripted access review campaign (#20, docs/reviews.md) on a git copy of the example organisation:
`review start` over production's applied state, two PIs' pull-request edits (and a third PI who
confirms everything), one study left untouched; the plan before and after the due date revokes exactly
what was revoked, and after the due date what nobody confirmed, with the reviewers from git."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
from datetime import date, timedelta
from pathlib import Path

import pytest

from edcconf.state.local import LocalBackend
from tests.conftest import REPO, copy_config
from tests.conftest import run_cli as run

CAMPAIGN = "prod-q4"
TODAY = date.today()
DUE = TODAY + timedelta(days=20)
PEOPLE = {
    "admin": ("Access Admin", "admin@example.org"),
    "jane": ("Jane Doe", "jane.doe@hospital.example.org"),  # as declared in groups/study-staff.yaml
    "omar": ("Omar Haddad", "omar.haddad@hospital.example.org"),
    "paul": ("Paul Girard", "paul.girard@aphp.example.fr"),
}


def git(root: Path, *args: str, who: str = "admin") -> str:
    name, email = PEOPLE[who]
    stamp = f"{TODAY.isoformat()}T10:00:00+0000"
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
        "GIT_AUTHOR_DATE": stamp,
        "GIT_COMMITTER_DATE": stamp,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    out = subprocess.run(["git", *args], cwd=root, env=env, capture_output=True, text=True, check=True)
    return out.stdout


def decide(root: Path, study: str, confirmed: list[str], revoke: list[str]) -> None:
    """The PI's edit of their study's review file (block lists: one decision per line)."""
    path = root / "reviews" / CAMPAIGN / f"{study}.yaml"
    text = path.read_text()
    assert "  confirmed: []\n  revoke: []\n" in text
    block = "  confirmed:\n" + "".join(f"    - {e}\n" for e in confirmed) if confirmed else "  confirmed: []\n"
    block += "  revoke:\n" + "".join(f"    - {e}\n" for e in revoke) if revoke else "  revoke: []\n"
    path.write_text(text.replace("  confirmed: []\n  revoke: []\n", block))


def grants_under_review(root: Path, study: str) -> list[str]:
    import yaml

    return yaml.safe_load((root / "reviews" / CAMPAIGN / f"{study}.yaml").read_text())["access_review"]["grants"]


def plan_json(root: Path, at: date) -> dict:
    res = run("plan", "--env", "production", "--at", at.isoformat(), "--json", cwd=root)
    assert res.code in (0, 2), res
    return res.json


def apply_saved(root: Path, name: str) -> None:
    res = run("plan", "--env", "production", "--out", name, cwd=root)
    assert res.code in (0, 2), res
    res = run("apply", name, cwd=root)
    assert res.code == 0, res


@pytest.fixture(scope="module")
def campaign(tmp_path_factory) -> Path:
    root = copy_config(REPO, tmp_path_factory.mktemp("review") / "org")
    (root / ".gitignore").write_text(".edcconf/\nbuild/\n*.json\n")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "the organisation")
    apply_saved(root, "first.json")  # production's first apply: what the campaign reviews
    res = run("review", "start", "--env", "production", "--id", CAMPAIGN, "--due", DUE.isoformat(), cwd=root)
    assert res.code == 0, res
    assert f"Started access review {CAMPAIGN} of production" in res.out
    git(root, "add", "reviews")
    git(root, "commit", "-qm", "start the access review")
    # PR 1: Jane Doe (PI of CARDIO-01) confirms everyone but Li Wei's second role, which she revokes
    decide(
        root,
        "CARDIO-01",
        ["jane.doe", "dina.park", "CARDIO-01/li.wei", "bob.smith", "claire.martin", "mona.reyes", "omar.haddad"],
        ["CARDIO-01/li.wei/monitor"],
    )
    git(root, "commit", "-qam", "CARDIO-01 access review", who="jane")
    # PR 2: Omar Haddad (PI of DIAB-03) revokes kofi.mensah and confirms the rest
    decide(root, "DIAB-03", ["omar.haddad", "priya.nair", "sam.okafor", "mona.reyes"], ["kofi.mensah"])
    git(root, "commit", "-qam", "DIAB-03 access review", who="omar")
    # Paul Girard confirms all of ONC-04; NEURO-02 stays untouched (the overdue study)
    decide(root, "ONC-04", [k.split("/")[1] for k in grants_under_review(root, "ONC-04")], [])
    git(root, "commit", "-qam", "ONC-04 access review", who="paul")
    return root


def _revocations(plan: dict) -> dict[str, str]:
    return {c["key"]: c["reason"] for c in plan["changes"] if c["action"] == "revoke"}


def _warned(plan: dict, code: str) -> list[str]:
    return sorted(w["message"] for w in plan["warnings"] if w["code"] == code)


def test_start_writes_the_campaign_review_files_and_packets(campaign):
    folder = campaign / "reviews" / CAMPAIGN
    text = (folder / "campaign.yaml").read_text()
    assert "review_campaign:" in text and f'due: "{DUE.isoformat()}"' in text and "after_due: expire" in text
    assert sorted(p.name for p in folder.glob("*.yaml")) == [
        "CARDIO-01.yaml",
        "DIAB-03.yaml",
        "NEURO-02.yaml",
        "ONC-04.yaml",
        "campaign.yaml",
    ]
    grants = grants_under_review(campaign, "CARDIO-01")
    assert "CARDIO-01/li.wei/monitor" in grants and "CARDIO-01/edc.admin" not in grants  # test only
    md = (folder / "packets" / "CARDIO-01.md").read_text()
    html = (folder / "packets" / "CARDIO-01.html").read_text()
    for person, role in (("Jane Doe", "site_investigator"), ("Li Wei", "monitor"), ("Bob Smith", "safety_monitor")):
        assert person in md and role in md
        assert person in html and role in html
    assert "Reviewer: Jane Doe (jane.doe)" in md and "## Form levels" in md
    assert "<table>" in html and "Content-Security-Policy" in html


def test_start_refuses_an_existing_campaign_and_an_unapplied_environment(campaign):
    res = run("review", "start", "--env", "production", "--id", CAMPAIGN, cwd=campaign)
    assert res.code == 1 and f"campaign {CAMPAIGN} exists already" in res.err  # review-campaign-exists
    res = run("review", "start", "--env", "test", "--id", "test-q4", cwd=campaign)
    assert res.code == 1 and "nothing has been applied to test yet" in res.err  # review-nothing-applied
    assert not (campaign / "reviews" / "test-q4").exists()


def test_before_the_due_date_plan_revokes_the_revoked_and_warns_of_unreviewed(campaign):
    plan = plan_json(campaign, DUE - timedelta(days=5))
    jane, omar = PEOPLE["jane"][0], PEOPLE["omar"][0]
    revoked = _revocations(plan)
    assert set(revoked) == {"CARDIO-01/li.wei/monitor", "DIAB-03/kofi.mensah"}
    assert revoked["CARDIO-01/li.wei/monitor"].startswith(
        f"revoked in access review {CAMPAIGN} by {jane} on {TODAY.isoformat()} (commit "
    )
    assert revoked["DIAB-03/kofi.mensah"].startswith(f"revoked in access review {CAMPAIGN} by {omar} on ")
    assert _warned(plan, "review-due") == [
        f"NEURO-02: 6 of 6 grants not yet reviewed in access review {CAMPAIGN} (due {DUE.isoformat()}, in 5 days); "
        "PI ingrid.berg"
    ]
    assert not _warned(plan, "review-expired") and not _warned(plan, "review-unattributed")
    assert not _warned(plan, "review-not-pi")  # each decision committed by its study's PI
    # earlier than warn_days before the due date: no warning yet
    assert not _warned(plan_json(campaign, DUE - timedelta(days=15)), "review-due")


def test_after_the_due_date_unreviewed_grants_expire(campaign):
    plan = plan_json(campaign, DUE + timedelta(days=1))
    revoked = _revocations(plan)
    neuro = {k for k in grants_under_review(campaign, "NEURO-02")}
    assert set(revoked) == {"CARDIO-01/li.wei/monitor", "DIAB-03/kofi.mensah"} | neuro
    for key in neuro:
        assert revoked[key] == f"not confirmed in access review {CAMPAIGN} (due {DUE.isoformat()})"
    assert _warned(plan, "review-expired") == [
        f"NEURO-02: 6 of 6 grants were not confirmed in access review {CAMPAIGN} by {DUE.isoformat()}: "
        "the plan revokes them"
    ]
    assert {b["code"] for b in plan["brakes"]} == {"data-manager-floor"}  # NEURO-02 loses its data manager


def test_an_uncommitted_confirmation_is_no_attestation(campaign, tmp_path):
    path = campaign / "reviews" / CAMPAIGN / "NEURO-02.yaml"
    before = path.read_text()
    try:
        decide(campaign, "NEURO-02", ["sam.okafor"], [])
        plan = plan_json(campaign, DUE + timedelta(days=1))
        assert "NEURO-02/sam.okafor" in _revocations(plan)  # still pending: fail closed
        assert len(_warned(plan, "review-unattributed")) == 1
    finally:
        path.write_text(before)


def test_a_decision_committed_by_someone_else_than_the_pi_is_flagged(campaign):
    decide(campaign, "NEURO-02", ["sam.okafor"], [])
    git(campaign, "commit", "-qam", "NEURO-02 confirmed for the PI", who="admin")
    try:
        plan = plan_json(campaign, DUE + timedelta(days=1))
        assert "NEURO-02/sam.okafor" not in _revocations(plan)  # it counts: committed, by someone
        assert _warned(plan, "review-not-pi") == [
            f"NEURO-02's access review ({CAMPAIGN}): confirmed 'sam.okafor' was committed by Access Admin "
            "<admin@example.org>, not by the PI ingrid.berg or a co-PI"
        ]
    finally:
        git(campaign, "reset", "-q", "--hard", "HEAD~1")


def test_after_due_warn_keeps_the_grants_and_warns(campaign):
    path = campaign / "reviews" / CAMPAIGN / "campaign.yaml"
    before = path.read_text()
    try:
        path.write_text(before.replace("after_due: expire", "after_due: warn"))
        plan = plan_json(campaign, DUE + timedelta(days=1))
        assert set(_revocations(plan)) == {"CARDIO-01/li.wei/monitor", "DIAB-03/kofi.mensah"}
        assert _warned(plan, "review-overdue") == [
            f"NEURO-02: 6 of 6 grants not reviewed in access review {CAMPAIGN}, overdue since {DUE.isoformat()}; "
            "PI ingrid.berg"
        ]
    finally:
        path.write_text(before)


def test_status_text_json_csv(campaign):
    after = (DUE + timedelta(days=1)).isoformat()
    res = run("review", "status", "--at", after, cwd=campaign)
    assert res.code == 0, res
    assert f"Access review {CAMPAIGN} (production), due {DUE.isoformat()}" in res.out and "OVERDUE" in res.out
    assert "NEURO-02" in res.out and "overdue" in res.out
    res = run("review", "status", "--at", after, "--format", "json", "--campaign", CAMPAIGN, cwd=campaign)
    doc = res.json
    by_study = {r["study"]: r for r in doc["studies"]}
    cardio = by_study["CARDIO-01"]
    assert (cardio["under_review"], cardio["confirmed"], cardio["revoked"], cardio["pending"]) == (8, 7, 1, 0)
    assert cardio["overdue"] is False and cardio["pi"] == "jane.doe"
    assert by_study["DIAB-03"]["revoked"] == 1 and by_study["DIAB-03"]["pending"] == 0
    assert by_study["NEURO-02"]["pending"] == 6 and by_study["NEURO-02"]["overdue"] is True
    assert doc["campaigns"][0]["overdue"] is True and doc["campaigns"][0]["complete"] == 3
    assert {p["pi"] for p in doc["pis"]} == {"jane.doe", "omar.haddad", "ingrid.berg", "paul.girard"}
    res = run("review", "status", "--at", TODAY.isoformat(), "--format", "csv", cwd=campaign)
    rows = list(csv.DictReader(io.StringIO(res.out)))
    assert [r["study"] for r in rows] == ["CARDIO-01", "DIAB-03", "NEURO-02", "ONC-04"]
    assert rows[2]["pending"] == "6" and rows[2]["overdue"] == "false"
    res = run("review", "status", "--campaign", "nope", cwd=campaign)
    assert res.code == 1 and "no access review campaign 'nope'" in res.err


def test_apply_records_each_attestation_once(campaign):
    apply_saved(campaign, "second.json")  # revokes li.wei's monitor role and kofi.mensah today
    audit = LocalBackend(campaign, "production").read_audit()
    revoked = {e["change"]["key"] for e in audit if e.get("event") == "change" and e["change"]["action"] == "revoke"}
    assert revoked == {"CARDIO-01/li.wei/monitor", "DIAB-03/kofi.mensah"}
    attested = [e for e in audit if e.get("event") == "attestation"]
    assert len(attested) == 8 + 5 + len(grants_under_review(campaign, "ONC-04"))
    one = next(e for e in attested if e["grant"] == "DIAB-03/kofi.mensah")
    assert (
        one["decision"] == "revoked"
        and one["by"] == "Omar Haddad"
        and one["by_email"] == "omar.haddad@hospital.example.org"
    )
    assert one["on"] == TODAY.isoformat() and one["campaign"] == CAMPAIGN and len(one["decision_commit"]) == 40
    apply_saved(campaign, "third.json")  # nothing to change: nothing recorded again
    again = [e for e in LocalBackend(campaign, "production").read_audit() if e.get("event") == "attestation"]
    assert len(again) == len(attested)
    assert json.dumps(again)  # plain JSON


def test_review_revocations_are_withdrawals_for_systems_that_disable(campaign):
    """Vault disables rather than forgets: a grant an access review revoked or let expire is withdrawn, like
    an expired one (resolve.effective.withdrawn_grants)."""
    from edcconf.pipeline import load_desired
    from edcconf.resolve.effective import withdrawn_grants

    desired = load_desired(campaign, DUE + timedelta(days=1), ["production"])
    env_state = desired.resolution.environments["production"]
    withdrawn = withdrawn_grants(desired.model, env_state, desired.resolution.roles)
    keys = {f"{g['study']}/{g['user']}" for gs in withdrawn.values() for g in gs}
    assert "DIAB-03/kofi.mensah" in keys
    assert {k for k in grants_under_review(campaign, "NEURO-02")} <= keys


def test_pull_request_comment_gathers_review_qualification_and_policy_effects(campaign):
    """The markdown comment's section of #20: the revocations an access review makes, the expiries after its
    due date, a lapsed qualification's suspension and a warn policy's violation, each with its source."""
    res = run("plan", "--env", "production", "--at", "2027-10-01", "--format", "markdown", cwd=campaign)
    assert res.code == 2, res
    section = res.out.split("<b>Access reviews, qualifications and policies</b>", 1)[1].split("</details>", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| |")]
    kinds = {tuple(cell.strip() for cell in row.split("|")[1:3]) for row in rows}
    # the other tests of this module may have applied the revocations already: the section lists what this
    # plan revokes for a review, whichever those are (before any apply: li.wei/monitor and kofi.mensah)
    plan = plan_json(campaign, date(2027, 10, 1))
    reviewed = sorted(k for k, why in _revocations(plan).items() if why.startswith("revoked in access review"))
    assert sorted(row.split("|")[3].strip().split(":")[0] for row in rows if "| revoked |" in row) == reviewed
    assert ("access review", "expired") in kinds and ("access review", "warning `review-expired`") in kinds
    assert ("qualification", "suspended") in kinds
    assert any("CARDIO-01/li.wei: suspended: li.wei's gcp expired on 2027-09-30" in row for row in rows)
    assert not any("CARDIO-01/jane.doe" in row for row in rows)  # confirmed, qualified: nothing to say
