"""explain, who-can and access tests on the example organisation and the mini fixture."""

import csv
import io
import re

import pytest
import yaml

from tests.conftest import REPO, run_cli


# in-process CLI runs: these tests check exit codes, outputs and files, which a subprocess shows no differently
@pytest.fixture
def cli():
    return run_cli


AT = ["--at", "2026-11-24"]


def test_explain_names_the_grant_and_the_rule_for_every_level_the_example_tests(example_repo, cli):
    for path in sorted((REPO / "tests" / "access").glob("*.yaml")):
        for item in yaml.safe_load(path.read_text())["tests"]:
            if "who-can" in item or "cannot" in item:
                continue
            doc = cli(
                "explain",
                item["user"],
                "--study",
                item["study"],
                "--env",
                item["env"],
                "--form",
                item["form"],
                "--json",
                *AT,
                cwd=example_repo,
            ).json
            (env,) = doc["environments"]
            (entry,) = env["studies"]
            assert entry["access"] and re.fullmatch(r"studies/[\w.-]+\.yaml:\d+", entry["grant"]["source"]), entry
            (form,) = entry["forms"]
            assert form["level"] == item["level"]
            assert re.fullmatch(r"studies/[\w.-]+\.yaml:\d+|catalog \w+/\w+", form["source"]), form
            assert form["rule"]


def test_explain_text_for_a_custom_role_and_absence(mini_repo, cli):
    out = cli("explain", "mona.mon", *AT, cwd=mini_repo).out
    assert "granted at studies/heart.yaml:20 → role safety_monitor (custom role at studies/heart.yaml:15" in out
    assert "adverse_events       review  ← tag safety: review (role safety_monitor)  [studies/heart.yaml:15]" in out
    assert "contact_info         none    ← contact form: none for base role monitor  [studies/heart.yaml:11]" in out
    assert "ceiling of group staff: within it" in out
    vera = cli("explain", "vera.view", "--env", "test", *AT, cwd=mini_repo).out
    assert "no access — not granted in test (environments: production)  [studies/heart.yaml:22]" in vera
    later = cli("explain", "vera.view", "--at", "2027-04-01", "--env", "production", cwd=mini_repo).out
    assert "no access — vera.view expired on 2027-03-31" in later
    r = cli("explain", "mona.mom", cwd=mini_repo)
    assert r.code == 1 and "did you mean 'mona.mon'" in r.err


def test_who_can_levels_rights_abilities_and_formats(example_repo, cli):
    doc = cli(
        "who-can",
        "edit",
        "adverse_events",
        "--study",
        "CARDIO-01",
        "--env",
        "production",
        "--json",
        *AT,
        cwd=example_repo,
    ).json
    assert sorted(p["user"] for p in doc["people"] if not p.get("implicit")) == ["jane.doe", "omar.haddad"]
    # the admin sees every study (001): listed, marked implicit
    assert [(p["user"], p["implicit"]) for p in doc["people"] if p.get("implicit")] == [("edc.admin", "admin")]
    doc = cli("who-can", "--right", "data_export=full", "--env", "production", "--json", *AT, cwd=example_repo).json
    assert sorted({(p["study"], p["user"]) for p in doc["people"] if not p.get("implicit")}) == [
        ("CARDIO-01", "dina.park"),
        ("DIAB-03", "sam.okafor"),
        ("NEURO-02", "sam.okafor"),
        ("ONC-04", "dina.park"),
    ]
    assert sorted(p["study"] for p in doc["people"] if p.get("implicit")) == [
        "CARDIO-01",
        "DIAB-03",
        "NEURO-02",
        "ONC-04",
    ]
    text = cli("who-can", "close-queries", "--study", "NEURO-02", "--env", "test", *AT, cwd=example_repo).out
    assert "sam.okafor" in text and "updrs, medications" in text
    rows = list(
        csv.reader(
            io.StringIO(
                cli("who-can", "read", "consent", "--study", "NEURO-02", "--format", "csv", *AT, cwd=example_repo).out
            )
        )
    )
    assert rows[0][:3] == ["environment", "study", "user"] and [r[2] for r in rows[1:] if not r[10]] == ["nora.lund"]
    assert {(r[2], r[10]) for r in rows[1:] if r[10]} == {("edc.admin", "admin")}
    bad = cli("who-can", "edit", "adverse_event", "--study", "CARDIO-01", cwd=example_repo)
    assert bad.code == 1 and "did you mean 'adverse_events'" in bad.err


def test_access_tests_pass_on_the_example_and_fail_on_a_one_line_change(example_repo, cli):
    (example_repo / "tests").mkdir()
    import shutil

    shutil.copytree(REPO / "tests" / "access", example_repo / "tests" / "access")
    ok = cli("test", *AT, cwd=example_repo)
    assert ok.code == 0 and ok.out.strip().endswith("0 failed"), ok
    study = example_repo / "studies" / "cardio-01.yaml"
    study.write_text(
        study.read_text().replace("{user: omar.haddad, role: crc_no_contact,", "{user: omar.haddad, role: crc,")
    )
    r = cli("test", *AT, cwd=example_repo)
    assert r.code == 1
    assert (
        "tests/access/cardio-01.yaml:6:5: FAIL omar.haddad has none on CARDIO-01/enrollment in production: "
        "expected none, actual edit" in r.out
    )
    assert (
        "tests/access/cardio-01.yaml:7:5: FAIL omar.haddad has edit on CARDIO-01/adverse_events in production: "
        "expected edit, actual none" in r.out
    )
    assert (
        "FAIL who-can edit adverse_events in CARDIO-01 (production): expected jane.doe, omar.haddad, actual jane.doe"
        in r.out
    )


def test_six_compliance_reports_against_a_hand_checked_fixture(mini_repo, cli):
    """Applied with the original ceilings; then the staff ceiling is lowered to form_access review and
    data_export de-identified, and cara.crc expires. By hand: crc, investigator and data_manager edit
    (above review); data_manager exports full (above de-identified); safety_monitor and viewer comply."""
    assert cli("plan", "--env", "production", "--out", "p.plan", cwd=mini_repo).code == 2  # today: applied as of today
    assert cli("apply", "p.plan", cwd=mini_repo).code == 0
    staff = mini_repo / "groups/staff.yaml"
    staff.write_text(
        staff.read_text()
        .replace(
            "ceiling: {form_access: edit, contact_data: edit, data_export: full",
            "ceiling: {form_access: review, contact_data: edit, data_export: de-identified",
        )
        .replace("name: Cara Coordinator}", "name: Cara Coordinator, expires: 2026-11-01}")
    )
    doc = cli("compliance", "--env", "production", "--json", *AT, cwd=mini_repo).json
    reports = doc["reports"]
    assert sorted(u["user"] for u in reports["users_all"]) == ["cara.crc", "dina.dm", "ivan.inv"]
    assert sorted(u["user"] for u in reports["users_non_expired"]) == ["dina.dm", "ivan.inv"]
    assert [s["study"] for s in reports["studies_all"]] == ["HEART-01"]
    assert sorted(reports["studies_non_expired"][0]["users"]) == ["dina.dm", "ivan.inv"]
    dina = next(p for p in reports["pairs_all"] if p["user"] == "dina.dm")
    assert sorted((o["right"], o["granted"], o["allowed"]) for o in dina["non_compliant"]) == [
        ("data_export", "full", "de-identified"),
        ("form_access", "edit", "review"),
    ]
    assert [p["expired"] for p in reports["pairs_all"] if p["user"] == "cara.crc"] == [True]
    assert len(reports["pairs_non_expired"]) == 2
    rows = list(
        csv.reader(io.StringIO(cli("compliance", "--env", "production", "--format", "csv", *AT, cwd=mini_repo).out))
    )
    assert len(rows) == 1 + 4  # cara 1, ivan 1, dina 2 non-compliant rights
    text = cli("compliance", "--env", "production", *AT, cwd=mini_repo).out
    assert "Users with non-compliant rights (non-expired): 2" in text and "[expired]" in text
    assert (
        cli("compliance", "--env", "production", "--status", "completed", "--json", *AT, cwd=mini_repo).json["reports"][
            "pairs_all"
        ]
        == []
    )
    live = cli("compliance", "--env", "production", "--live", cwd=mini_repo)
    assert live.code == 1 and "read live access" in live.err


def test_drift_where_no_target_reads_live_says_nothing_was_checked(mini_repo, cli):
    """csv targets write files for an administrator: nothing to read, so not checked by design (exit 0),
    and never reported as "No drift"."""
    assert cli("apply", "--env", "test", "--yes", cwd=mini_repo).code == 0
    text = cli("drift", "--env", "test", cwd=mini_repo)
    assert text.code == 0, text
    assert "No drift" not in text.out and "Nothing in test could be checked live" in text.out
    assert "not checked: HEART-01: openclinica target uses the csv provider" in text.out
    doc = cli("drift", "--env", "test", "--json", cwd=mini_repo).json
    assert doc["checked"] == [] and doc["unread"] == [] and [u["what"] for u in doc["unchecked"]] == ["HEART-01"]
    live = cli("compliance", "--env", "test", "--live", "--allow-unread", cwd=mini_repo)
    assert live.code == 1 and "read live access" in live.err  # nothing can be read: --allow-unread changes nothing


def test_lowered_ceiling_shows_as_a_plan_warning(mini_repo, cli):
    assert cli("apply", "--env", "test", "--yes", cwd=mini_repo).code == 0
    staff = mini_repo / "groups/staff.yaml"
    staff.write_text(staff.read_text().replace("data_export: full", "data_export: de-identified"))
    heart = mini_repo / "studies/heart.yaml"  # the same pull request gives dina a role within the ceiling
    heart.write_text(
        heart.read_text().replace("{user: dina.dm, role: data_manager,", "{user: dina.dm, role: data_entry,")
    )
    plan = cli("plan", "--env", "test", "--json", *AT, cwd=mini_repo).json
    (w,) = [w for w in plan["warnings"] if w["code"] == "ceiling-noncompliant"]
    assert "dina.dm in HEART-01" in w["message"] and "data_export full (allowed de-identified)" in w["message"]
    assert w["source"] == "groups/staff.yaml:9"


def test_drift_text_never_prints_python_none() -> None:
    """A value REDCap exports as null (JSON's None) reads as a word in the text report and the plan's
    drift warning, never as Python's `None`."""
    from edcconf.questions.drift import Difference, DriftReport
    from edcconf.views.drift import render_drift

    report = DriftReport(
        "test", 2, "lineage", (Difference("DIAB-03", "priya.nair", "api_export", 0, None),), ("DIAB-03",), ()
    )
    text = render_drift(report)
    assert "None" not in text and "(not set)" in text, text
    assert report.to_json()["differences"][0]["live"] is None  # JSON keeps its null
