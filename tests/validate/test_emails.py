"""E-mails judged by the systems people have access to: shared ones are an error as soon as one of the
people has OpenClinica access, missing ones only for OpenClinica and Vault access; the incremental planner
reaches the same verdict as the full path when a study file gives someone that access."""

from datetime import date

from edcconf.diagnostics import UserError
from edcconf.pipeline import load_desired

# in-process CLI runs: these tests check exit codes, outputs and files, which a subprocess shows no differently
from tests.conftest import run_cli, write

TODAY = date(2026, 11, 24)
SHARED = """\
group:
  id: lab
  members:
    - {username: ann, email: lab@hospital.example.org, name: Ann}
    - {username: bob, email: Lab@Hospital.example.org, name: Bob}
    - {username: cy, email: LAB@hospital.example.org, name: Cy}
"""


def diagnostics(root):
    try:
        desired = load_desired(root, TODAY)
    except UserError as exc:
        return [(d.severity, d.code, str(d.loc), d.message) for d in exc.diagnostics]
    return [
        (d.severity, d.code, str(d.loc), d.message)
        for d in desired.diagnostics
        if d.code in ("duplicate-id", "shared-email", "person-without-email")
    ]


def grant(root, user, study="studies/heart.yaml"):
    path = root / study
    path.write_text(
        path.read_text().replace(
            "  access:\n", f"  access:\n    - {{user: {user}, role: viewer, environments: [test], sites: all}}\n", 1
        )
    )


def test_shared_email_without_openclinica_access_is_a_warning_naming_the_first(mini_repo):
    write(mini_repo, "groups/lab.yaml", SHARED)
    got = diagnostics(mini_repo)
    assert [d[:3] for d in got] == [
        ("warning", "shared-email", "groups/lab.yaml:5"),
        ("warning", "shared-email", "groups/lab.yaml:6"),
    ]
    assert "bob shares the e-mail 'Lab@Hospital.example.org' with ann (groups/lab.yaml:4" in got[0][3]
    assert "neither has access to an OpenClinica study" in got[0][3]


def test_shared_email_is_an_error_as_soon_as_one_of_them_has_openclinica_access(mini_repo):
    write(mini_repo, "groups/lab.yaml", SHARED)
    grant(mini_repo, "bob")
    got = diagnostics(mini_repo)
    assert [d[:3] for d in got] == [
        ("error", "duplicate-id", "groups/lab.yaml:5"),
        ("error", "duplicate-id", "groups/lab.yaml:6"),
    ]
    assert "also the e-mail of ann (groups/lab.yaml:4" in got[0][3] and "used by bob (bob: HEART-01)" in got[0][3]
    grant(mini_repo, "cy")
    got = diagnostics(mini_repo)
    assert "also the e-mail of bob (groups/lab.yaml:5" in got[1][3] and "bob: HEART-01; cy: HEART-01" in got[1][3]


def test_missing_email_is_an_error_only_for_openclinica_and_vault_access(mini_repo):
    write(mini_repo, "groups/lab.yaml", "group:\n  id: lab\n  members:\n    - {username: nora, name: Nora}\n")
    assert [d[:3] for d in diagnostics(mini_repo)] == [("warning", "person-without-email", "groups/lab.yaml:4")]
    grant(mini_repo, "nora")
    (got,) = diagnostics(mini_repo)
    assert got[:3] == ("error", "person-without-email", "groups/lab.yaml:4")
    assert "OpenClinica study HEART-01 (at studies/heart.yaml:18)" in got[3]


def test_people_without_email_do_not_share_one(mini_repo):
    write(
        mini_repo,
        "groups/lab.yaml",
        "group:\n  id: lab\n  members:\n    - {username: nora, name: Nora}\n    - {username: noel, name: Noel}\n",
    )
    assert [d[1] for d in diagnostics(mini_repo)] == ["person-without-email"] * 2


def test_incremental_plan_sees_openclinica_access_granted_in_another_study_file(mini_repo):
    """`lab` and `other` share an e-mail and neither has OpenClinica access (a warning). Granting `other`
    access in another OpenClinica study file is a change the incremental planner re-reads alone: it must
    still find the error the full path finds, not a warning."""
    root = mini_repo
    write(
        root,
        "groups/x.yaml",
        "group:\n  id: x\n  members:\n"
        "    - {username: lab, email: lab@hospital.example.org, name: L}\n"
        "    - {username: other, email: Lab@Hospital.Example.org, name: D}\n",
    )
    write(
        root,
        "studies/lung.yaml",
        "study:\n  id: LUNG-01\n  name: Lung\n  system: openclinica\n"
        "  environments: [test]\n  sites: [BOS]\n  forms:\n    - {id: vitals}\n"
        "  access:\n    - {user: cara.crc, role: crc, sites: [BOS]}\n",
    )
    first = run_cli("plan", "--env", "test", "--json", "--at", TODAY.isoformat(), cwd=root)
    assert first.code == 2, first
    assert "shared-email" in {w["code"] for w in first.json["warnings"]}
    grant(root, "other", "studies/lung.yaml")
    full = run_cli(
        "plan", "--env", "test", "--json", "--at", TODAY.isoformat(), cwd=root, env={"EDCCONF_NO_CACHE": "1"}
    )
    cached = run_cli("plan", "--env", "test", "--json", "--at", TODAY.isoformat(), cwd=root)
    assert full.code == cached.code == 1, (full, cached)
    assert "duplicate-id" in full.err + full.out and "duplicate-id" in cached.err + cached.out


def test_a_person_without_email_is_planned_applied_and_explained(mini_repo):
    """What reads an account's e-mail takes None: the rename check of plan, apply's files, explain."""
    write(mini_repo, "groups/lab.yaml", "group:\n  id: lab\n  members:\n    - {username: nora, name: Nora}\n")
    plan = run_cli("plan", "--env", "test", "--json", "--at", TODAY.isoformat(), cwd=mini_repo)
    assert plan.code == 2, plan
    (created,) = [c for c in plan.json["changes"] if c["kind"] == "account" and c["key"] == "nora"]
    assert created["after"]["email"] is None
    assert run_cli("apply", "--env", "test", "--yes", cwd=mini_repo).code == 0
    explained = run_cli("explain", "nora", "--at", TODAY.isoformat(), cwd=mini_repo)
    assert explained.code == 0 and "nora — Nora (no e-mail)" in explained.out, explained
