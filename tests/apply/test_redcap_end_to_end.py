"""The redcap provider against the REDCap API emulator on 127.0.0.1, through the real CLI:
apply, read back (no drift), a change made by hand through the API (drift, exit 2), re-apply (no drift)."""

from __future__ import annotations

import pytest
from redcap import Project

from edcconf.emulator.redcap import RedcapEmulator

# in-process CLI runs: these tests check exit codes, outputs and files, which a subprocess shows no differently
from tests.conftest import run_cli, write

TOKEN_VAR = "EDCCONF_TEST_REDCAP_TOKEN"

CONFIG = {
    "environments/test.yaml": """
        environment:
          name: test
          targets:
            redcap: {{provider: redcap, url: "{url}"}}
        sites:
          - {{id: MGH, name: Massachusetts General Hospital, country: US, timezone: America/New_York}}
          - {{id: UCSF, name: UCSF Medical Center, country: US, timezone: America/Los_Angeles}}
        """,
    "groups/staff.yaml": """
        group:
          id: staff
          ceiling: {form_access: edit, contact_data: edit, data_export: full, user_rights: full, api: full,
                    record_delete: full, data_import: full, lock_records: all,
                    redcap: {data_access_groups: 1, reports: 1, graphical: 1, calendar: 1, data_comparison_tool: 1,
                             data_logging: 1, file_repository: 1, data_quality_design: 1, data_quality_execute: 1,
                             record_create: 1, record_rename: 1}}
          members:
            - {username: omar.haddad, email: omar@hospital.example.org, name: Omar Haddad}
            - {username: priya.nair, email: priya@hospital.example.org, name: Priya Nair}
            - {username: sam.okafor, email: sam@hospital.example.org, name: Sam Okafor}
        """,
    "studies/diab.yaml": """
        study:
          id: DIAB-03
          name: Type 2 diabetes registry
          system: redcap
          redcap: {project_id: 12, token_env: EDCCONF_TEST_REDCAP_TOKEN}
          protocol: {pi: omar.haddad}
          environments: [test]
          sites: [MGH, UCSF]
          forms:
            - {id: demographics, contact_data: true}
            - {id: hba1c}
            - {id: adverse_events, tags: [safety]}
          tags: [safety]
          roles:
            coordinator: {base: data_entry, tags: {safety: edit}, redcap: {dataExport: 1}}
          access:
            - {user: omar.haddad, role: coordinator, environments: all, sites: [MGH]}
            - {user: priya.nair, role: coordinator, environments: all, sites: [UCSF], expires: 2030-01-31}
            - {user: sam.okafor, role: data_manager, environments: all, sites: all}
        """,
}


@pytest.fixture
def emulator():
    with RedcapEmulator(version="15.6.1") as emu:
        token = emu.add_project(
            project_id=12, title="Type 2 diabetes registry", forms=["demographics", "hba1c", "adverse_events"]
        )
        yield emu, token


def _repo(tmp_path, url):
    for rel, text in CONFIG.items():
        write(tmp_path, rel, text.format(url=url) if "{url}" in text else text)
    return tmp_path


def test_apply_drift_and_restore(tmp_path, emulator):
    emu, token = emulator
    root = _repo(tmp_path, emu.url)
    env = {TOKEN_VAR: token}

    applied = run_cli("apply", "--env", "test", "--yes", cwd=root, env=env)
    assert applied.code == 0, applied
    assert token not in applied.out + applied.err

    users = {u["username"]: u for u in Project(emu.url, token).export_users()}
    assert sorted(users) == ["omar.haddad", "priya.nair", "sam.okafor"]
    dags = {d["data_access_group_name"]: d["unique_group_name"] for d in Project(emu.url, token).export_dags()}
    assert set(dags) == {"MGH", "UCSF"}  # created for the study's sites
    assert users["omar.haddad"]["data_access_group"] == dags["MGH"]
    assert users["sam.okafor"]["data_access_group"] == ""  # all sites: no data access group
    assert users["priya.nair"]["expiration"] == "2030-01-31"
    assert users["omar.haddad"]["forms"] == {"demographics": 130, "hba1c": 130, "adverse_events": 130}
    assert users["sam.okafor"]["forms"]["adverse_events"] == 128  # tagged form, tag not granted: none
    assert users["omar.haddad"]["forms_export"]["hba1c"] == 2  # dataExport 1: de-identified
    assert users["sam.okafor"]["user_rights"] == 2  # REDCap's read only
    # every user import carried the data access group (REDCap drops it when an import omits it)
    user_imports = [
        r for r in emu.requests if r.get("content") == "user" and r.get("action", "import") == "import" and "data" in r
    ]
    assert user_imports and all('"data_access_group"' in r["data"] for r in user_imports)

    clean = run_cli("drift", "--env", "test", "--json", cwd=root, env=env)
    assert clean.code == 0, clean
    assert clean.json["differences"] == [] and clean.json["checked"] == ["DIAB-03"]

    # Someone edits rights by hand in REDCap: design rights, read only on a form, delete on another,
    # the mobile app and randomisation (rights edcconf once could not see), and a stray user
    Project(emu.url, token).import_users(
        [
            {
                "username": "omar.haddad",
                "design": 1,
                "data_access_group": dags["MGH"],
                "mobile_app": 1,
                "random_perform": 1,
                "forms": {"demographics": 146, "hba1c": 129, "adverse_events": 130},
            },
            {"username": "eve.stray", "user_rights": 1},
        ]
    )
    drifted = run_cli("drift", "--env", "test", "--json", cwd=root, env=env)
    assert drifted.code == 2, drifted
    found = {(d["user"], d["right"], str(d["expected"]), str(d["live"])) for d in drifted.json["differences"]}
    assert ("omar.haddad", "design", "0", "1") in found
    assert ("omar.haddad", "forms.hba1c", "view & edit", "read only") in found
    assert ("omar.haddad", "forms.demographics", "view & edit", "view & edit + delete") in found
    assert ("omar.haddad", "mobile_app", "0", "1") in found and ("omar.haddad", "random_perform", "0", "1") in found
    assert ("eve.stray", "user", "(not in the project)", "in the project") in found
    text = run_cli("drift", "--env", "test", cwd=root, env=env)
    assert text.code == 2 and "omar.haddad" in text.out and "forms.hba1c" in text.out

    plan = run_cli("plan", "--env", "test", "--json", cwd=root, env=env)
    assert plan.code == 2, plan
    keys = {(c["action"], c["key"]) for c in plan.json["changes"]}
    assert keys == {("update", "DIAB-03/omar.haddad"), ("revoke", "DIAB-03/eve.stray")}
    assert {w["code"] for w in plan.json["warnings"]} >= {"drift"}

    again = run_cli("apply", "--env", "test", "--yes", cwd=root, env=env)
    assert again.code == 0, again
    after = run_cli("drift", "--env", "test", "--json", cwd=root, env=env)
    assert after.code == 0 and after.json["differences"] == [], after
    assert run_cli("plan", "--env", "test", cwd=root, env=env).code == 0
    refused = run_cli("plan", "--env", "test", "--json", cwd=root, env={TOKEN_VAR: ""})
    assert refused.code == 1 and refused.json["errors"][0]["code"] == "live-unread", refused
    blind = run_cli("plan", "--env", "test", "--json", "--allow-unread", cwd=root, env={TOKEN_VAR: ""})
    assert blind.code == 0 and [w["code"] for w in blind.json["warnings"] if w["code"].startswith("drift")] == [
        "drift-unchecked"
    ], blind
    assert run_cli("plan", "--env", "test", "--no-refresh", "--json", cwd=root, env={TOKEN_VAR: ""}).json[
        "warnings"
    ] == [w for w in blind.json["warnings"] if w["code"] != "drift-unchecked"]


def test_redcap_error_reaches_the_user_verbatim(tmp_path, emulator):
    emu, token = emulator
    root = _repo(tmp_path, emu.url)
    # The project lacks the form adverse_events: REDCap refuses the import and says why
    emu.project(12).forms.remove("adverse_events") if hasattr(emu.project(12), "forms") else None
    result = run_cli("apply", "--env", "test", "--yes", cwd=root, env={TOKEN_VAR: token})
    assert result.code == 1, result
    assert "DIAB-03" in result.err and "adverse_events" in result.err
    assert token not in result.out + result.err


def test_retries_transient_failures(tmp_path, emulator):
    emu, token = emulator
    root = _repo(tmp_path, emu.url)
    emu.fail_next(2, status=503)
    result = run_cli("apply", "--env", "test", "--yes", cwd=root, env={TOKEN_VAR: token})
    assert result.code == 0, result
    assert len(Project(emu.url, token).export_users()) == 3


def test_missing_token_is_a_clear_error(tmp_path, emulator):
    emu, _ = emulator
    root = _repo(tmp_path, emu.url)
    result = run_cli("apply", "--env", "test", "--yes", cwd=root, env={TOKEN_VAR: ""})
    assert result.code == 1, result
    assert TOKEN_VAR in result.err and "Traceback" not in result.err


def test_a_user_put_in_a_redcap_role_by_hand_is_drift_and_is_taken_out(tmp_path, emulator):
    emu, token = emulator
    root = _repo(tmp_path, emu.url)
    env = {TOKEN_VAR: token}
    assert run_cli("apply", "--env", "test", "--yes", cwd=root, env=env).code == 0
    project = Project(emu.url, token)
    project.import_user_roles([{"unique_role_name": "", "role_label": "Everything", "design": 1, "user_rights": 1}])
    role = project.export_user_roles()[-1]["unique_role_name"]
    dag = next(u for u in project.export_users() if u["username"] == "priya.nair")["data_access_group"]
    project.import_user_role_assignment(
        [{"username": "priya.nair", "unique_role_name": role, "data_access_group": dag}]
    )
    drifted = run_cli("drift", "--env", "test", "--json", cwd=root, env=env)
    assert drifted.code == 2
    assert ("priya.nair", "user_role") in {(d["user"], d["right"]) for d in drifted.json["differences"]}
    assert run_cli("apply", "--env", "test", "--yes", cwd=root, env=env).code == 0
    assert run_cli("drift", "--env", "test", cwd=root, env=env).code == 0
    assert {r["username"]: r["unique_role_name"] for r in project.export_user_role_assignment()}["priya.nair"] == ""


def test_import_redcap_reads_the_project_back_into_declarations(tmp_path, emulator):
    emu, token = emulator
    root = _repo(tmp_path, emu.url)
    env = {TOKEN_VAR: token}
    assert run_cli("apply", "--env", "test", "--yes", cwd=root, env=env).code == 0
    study = root / "studies" / "diab.yaml"
    study.write_text(study.read_text().split("  access:")[0])
    dry = run_cli("import", "redcap", "--env", "test", "--study", "DIAB-03", "--dry-run", "--json", cwd=root, env=env)
    assert dry.code == 0, dry
    entries = {e["user"]: e for e in dry.json["declared"]["grants"]["DIAB-03"]}
    assert entries["omar.haddad"] == {
        "user": "omar.haddad",
        "role": "coordinator",
        "environments": ["test"],
        "sites": ["MGH"],
    }
    assert entries["priya.nair"]["expires"] == "2030-01-31" and entries["priya.nair"]["sites"] == ["UCSF"]
    assert entries["sam.okafor"]["role"] == "data_manager" and entries["sam.okafor"]["sites"] == "all"
    assert run_cli("import", "redcap", "--env", "test", "--study", "DIAB-03", cwd=root, env=env).code == 0
    assert (
        "{user: priya.nair, role: coordinator, environments: [test], sites: [UCSF], expires: 2030-01-31}"
        in study.read_text()
    )
    plan = run_cli("plan", "--env", "test", "--json", cwd=root, env=env)
    assert plan.code == 0 and plan.json["changes"] == [], plan
    # A user with rights no declared role gives gets a generated role that states them exactly; rights above
    # the group's ceiling are kept (the import changes nobody's access) and warned about
    Project(emu.url, token).import_users([{"username": "eve.stray", "email": "eve@x.org", "design": 1}])
    odd = run_cli("import", "redcap", "--env", "test", "--study", "DIAB-03", "--group", "staff", cwd=root, env=env)
    assert odd.code == 0 and "import-over-ceiling" in odd.out and "design full (allowed none)" in odd.out, odd
    assert "eve.stray-rights: {base: " in study.read_text() and "design: 1" in study.read_text()
    assert run_cli("validate", cwd=root).code == 1  # the ceiling refuses it until the group allows design


def test_compliance_live_sees_rights_granted_by_hand_above_the_ceiling(tmp_path, emulator):
    emu, token = emulator
    root = _repo(tmp_path, emu.url)
    staff = root / "groups" / "staff.yaml"
    staff.write_text(staff.read_text().replace("api: full}", "api: full, design: none}"))
    env = {TOKEN_VAR: token}
    assert run_cli("apply", "--env", "test", "--yes", cwd=root, env=env).code == 0
    applied = run_cli("compliance", "--env", "test", "--json", cwd=root, env=env)
    assert applied.code == 0 and applied.json["reports"]["pairs_all"] == []
    dag = next(u for u in Project(emu.url, token).export_users() if u["username"] == "omar.haddad")["data_access_group"]
    Project(emu.url, token).import_users([{"username": "omar.haddad", "design": 1, "data_access_group": dag}])
    live = run_cli("compliance", "--env", "test", "--live", "--json", cwd=root, env=env)
    assert live.code == 0, live
    pairs = live.json["reports"]["pairs_all"]
    assert [(p["user"], p["study"]) for p in pairs] == [("omar.haddad", "DIAB-03")]
    assert {"right": "design", "granted": "full", "allowed": "none"} in pairs[0]["non_compliant"]
    assert live.json["source"] == "live" and live.json["unchecked"] == []
    text = run_cli("compliance", "--env", "test", "--live", cwd=root, env=env)
    assert "live access read from the systems" in text.out and "design full (allowed none)" in text.out
    # still nothing above the ceiling in what edcconf applied
    assert run_cli("compliance", "--env", "test", "--json", cwd=root, env=env).json["reports"]["pairs_all"] == []


def test_the_token_owner_named_as_api_user_is_never_drift(tmp_path, emulator):
    emu, token = emulator
    root = _repo(tmp_path, emu.url)
    study = root / "studies" / "diab.yaml"
    study.write_text(
        study.read_text().replace(
            "token_env: EDCCONF_TEST_REDCAP_TOKEN}", "token_env: EDCCONF_TEST_REDCAP_TOKEN, api_user: svc.edcconf}"
        )
    )
    env = {TOKEN_VAR: token}
    assert run_cli("apply", "--env", "test", "--yes", cwd=root, env=env).code == 0
    Project(emu.url, token).import_users([{"username": "svc.edcconf", "api_export": 1, "api_import": 1}])
    assert run_cli("drift", "--env", "test", "--json", cwd=root, env=env).json["differences"] == []
    assert run_cli("plan", "--env", "test", "--json", cwd=root, env=env).code == 0


# -- a live read that could not happen is an error for that study, not an all-clear --------------------

TOKEN_VAR_B = "EDCCONF_TEST_REDCAP_TOKEN_B"

MIXED = {  # two REDCap studies (one token each) and an OpenClinica study whose target writes files
    "environments/test.yaml": """
        environment:
          name: test
          targets:
            redcap: {{provider: redcap, url: "{url}"}}
            openclinica: {{provider: csv, out: build/test/openclinica}}
        sites:
          - {{id: MGH, name: Massachusetts General Hospital, country: US, timezone: America/New_York}}
          - {{id: UCSF, name: UCSF Medical Center, country: US, timezone: America/Los_Angeles}}
        """,
    "studies/diab4.yaml": """
        study:
          id: DIAB-04
          name: Type 1 diabetes registry
          system: redcap
          redcap: {project_id: 13, token_env: EDCCONF_TEST_REDCAP_TOKEN_B}
          protocol: {pi: omar.haddad}
          environments: [test]
          sites: [MGH]
          forms:
            - {id: hba1c}
          access:
            - {user: sam.okafor, role: data_manager, environments: all, sites: all}
        """,
    "studies/heart.yaml": """
        study:
          id: HEART-02
          name: Heart outcomes
          system: openclinica
          protocol: {pi: omar.haddad}
          environments: [test]
          sites: [MGH]
          forms:
            - {id: vitals}
          access:
            - {user: priya.nair, role: crc, environments: all, sites: [MGH]}
        """,
}


@pytest.fixture
def mixed(tmp_path):
    """A configuration with DIAB-03 and DIAB-04 on the emulator and HEART-02 on a csv target, applied."""
    with RedcapEmulator(version="15.6.1") as emu:
        token = emu.add_project(
            project_id=12, title="Type 2 diabetes registry", forms=["demographics", "hba1c", "adverse_events"]
        )
        token_b = emu.add_project(project_id=13, title="Type 1 diabetes registry", forms=["hba1c"])
        root = _repo(tmp_path, emu.url)
        for rel, text in MIXED.items():
            write(root, rel, text.format(url=emu.url) if "{url}" in text else text)
        applied = run_cli("apply", "--env", "test", "--yes", cwd=root, env={TOKEN_VAR: token, TOKEN_VAR_B: token_b})
        assert applied.code == 0, applied
        yield emu, root, token, token_b


def test_drift_with_a_token_unset_is_an_error_naming_the_study(mixed):
    emu, root, token, _ = mixed
    blind = {TOKEN_VAR: token, TOKEN_VAR_B: ""}
    refused = run_cli("drift", "--env", "test", cwd=root, env=blind)
    assert refused.code == 1, refused
    assert f"DIAB-04: environment variable {TOKEN_VAR_B}" in refused.err and "is not set" in refused.err
    assert "--allow-unread" in refused.err
    assert "DIAB-03:" not in refused.err and "HEART-02" not in refused.err  # read, and not checked by design
    assert "No drift" not in refused.out + refused.err
    as_json = run_cli("drift", "--env", "test", "--json", cwd=root, env=blind)
    assert as_json.code == 1 and [(e["code"], e["details"]["study"]) for e in as_json.json["errors"]] == [
        ("live-unread", "DIAB-04")
    ], as_json

    allowed = run_cli("drift", "--env", "test", "--allow-unread", cwd=root, env=blind)
    assert allowed.code == 0, allowed
    assert "No drift in the 1 study read live" in allowed.out
    assert "1 study NOT read: DIAB-04" in allowed.out
    assert f"NOT read: DIAB-04: environment variable {TOKEN_VAR_B}" in allowed.out
    assert "not checked: HEART-02" in allowed.out
    assert "DIAB-04" in allowed.err and "warning" in allowed.err
    doc = run_cli("drift", "--env", "test", "--allow-unread", "--json", cwd=root, env=blind).json
    assert doc["checked"] == ["DIAB-03"]
    assert [u["study"] for u in doc["unread"]] == ["DIAB-04"] and TOKEN_VAR_B in doc["unread"][0]["reason"]
    assert [u["what"] for u in doc["unchecked"]] == ["DIAB-04", "HEART-02"]  # unread is the failed subset

    # drift in the study that was read is still drift (exit 2), with the unread study listed
    dag = next(u for u in Project(emu.url, token).export_users() if u["username"] == "omar.haddad")["data_access_group"]
    Project(emu.url, token).import_users([{"username": "omar.haddad", "design": 1, "data_access_group": dag}])
    drifted = run_cli("drift", "--env", "test", "--allow-unread", cwd=root, env=blind)
    assert drifted.code == 2, drifted
    assert "omar.haddad" in drifted.out and "1 study NOT read: DIAB-04" in drifted.out


def test_csv_targets_are_not_checked_by_design_and_do_not_fail_drift(mixed):
    _, root, token, token_b = mixed
    clean = run_cli("drift", "--env", "test", cwd=root, env={TOKEN_VAR: token, TOKEN_VAR_B: token_b})
    assert clean.code == 0, clean
    assert "No drift in test: 2 studies read live" in clean.out and "not checked: HEART-02" in clean.out
    assert "NOT read" not in clean.out


def test_drift_with_nothing_read_never_says_no_drift(tmp_path, emulator):
    emu, token = emulator
    root = _repo(tmp_path, emu.url)
    assert run_cli("apply", "--env", "test", "--yes", cwd=root, env={TOKEN_VAR: token}).code == 0
    allowed = run_cli("drift", "--env", "test", "--allow-unread", cwd=root, env={TOKEN_VAR: ""})
    assert allowed.code == 0, allowed
    assert "No drift" not in allowed.out and "Nothing in test was read live" in allowed.out
    assert "1 study NOT read: DIAB-03" in allowed.out


def test_an_unreachable_redcap_is_an_error_and_each_unread_study_is_named_with_its_reason(mixed):
    emu, root, token, _ = mixed
    emu.stop()  # the port is closed: REDCap is down (each read is retried with backoff first: seconds)
    env = {TOKEN_VAR: token, TOKEN_VAR_B: ""}
    refused = run_cli("drift", "--env", "test", cwd=root, env=env)
    assert refused.code == 1, refused
    assert "DIAB-03: REDCap" in refused.err and "could not be reached" in refused.err
    assert f"DIAB-04: environment variable {TOKEN_VAR_B}" in refused.err
    assert "live access of 2 studies of test could not be read (DIAB-03, DIAB-04)" in refused.err
    plan = run_cli("plan", "--env", "test", cwd=root, env=env)
    assert plan.code == 1 and "DIAB-03: REDCap" in plan.err and "--allow-unread" in plan.err, plan


def test_compliance_live_with_a_study_unread_is_an_error_unless_allowed(mixed):
    _, root, token, _ = mixed
    blind = {TOKEN_VAR: token, TOKEN_VAR_B: ""}
    refused = run_cli("compliance", "--env", "test", "--live", cwd=root, env=blind)
    assert refused.code == 1, refused
    assert f"DIAB-04: environment variable {TOKEN_VAR_B}" in refused.err and "--allow-unread" in refused.err
    allowed = run_cli("compliance", "--env", "test", "--live", "--allow-unread", "--json", cwd=root, env=blind)
    assert allowed.code == 0, allowed
    assert [u["study"] for u in allowed.json["unread"]] == ["DIAB-04"]
    assert [u["study"] for u in allowed.json["unchecked"]] == ["DIAB-04", "HEART-02"]
    assert "DIAB-04" in allowed.err
    text = run_cli("compliance", "--env", "test", "--live", "--allow-unread", cwd=root, env=blind)
    assert text.code == 0 and "NOT read live: DIAB-04" in text.out, text


def test_plan_with_an_unreadable_project_is_an_error_unless_allowed(mixed):
    _, root, token, _ = mixed
    blind = {TOKEN_VAR: token, TOKEN_VAR_B: ""}
    refused = run_cli("plan", "--env", "test", cwd=root, env=blind)
    assert refused.code == 1, refused
    assert f"DIAB-04: environment variable {TOKEN_VAR_B}" in refused.err and "--allow-unread" in refused.err
    assert "No changes" not in refused.out
    allowed = run_cli("plan", "--env", "test", "--allow-unread", "--json", cwd=root, env=blind)
    assert allowed.code == 0, allowed
    (w,) = [w for w in allowed.json["warnings"] if w["code"] == "drift-unchecked"]
    assert "DIAB-04" in w["message"] and TOKEN_VAR_B in w["message"]
    text = run_cli("plan", "--env", "test", "--allow-unread", cwd=root, env=blind)
    assert text.code == 0 and "NOT read" in text.out and "DIAB-04" in text.out, text
    # --no-refresh reads nothing live, so nothing is unread
    assert run_cli("plan", "--env", "test", "--no-refresh", cwd=root, env=blind).code == 0
    # apply --env plans with the same refresh first
    applied = run_cli("apply", "--env", "test", "--yes", cwd=root, env=blind)
    assert applied.code == 1 and "DIAB-04" in applied.err and "--allow-unread" in applied.err, applied
    assert run_cli("apply", "--env", "test", "--yes", "--allow-unread", cwd=root, env=blind).code == 0


def test_a_delete_whose_answer_is_lost_is_retried_and_recorded_as_done(tmp_path, emulator):
    """REDCap removed the user but its answer never arrived: the retry is refused (no such user), and the
    provider looks before calling that a failure. Before, the revoke was reported as refused."""
    emu, token = emulator
    root = _repo(tmp_path, emu.url)
    env = {TOKEN_VAR: token}
    assert run_cli("apply", "--env", "test", "--yes", cwd=root, env=env).code == 0
    study = root / "studies" / "diab.yaml"
    study.write_text(
        study.read_text().replace("    - {user: sam.okafor, role: data_manager, environments: all, sites: all}\n", "")
    )
    emu.lose_next(1, action="delete")
    applied = run_cli("apply", "--env", "test", "--yes", cwd=root, env=env)
    assert applied.code == 0, applied
    deletes = [r for r in emu.requests if r.get("content") == "user" and r.get("action") == "delete"]
    assert len(deletes) == 2  # sent, answer lost, sent again
    assert "sam.okafor" not in {u["username"] for u in Project(emu.url, token).export_users()}
    assert run_cli("plan", "--env", "test", "--json", cwd=root, env=env).json["changes"] == []
