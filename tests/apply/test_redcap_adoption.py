"""Adopting a REDCap project changes nobody's access: after `import redcap` and `state import redcap`, plan
shows no changes, apply makes no API write and drift finds nothing, for users who hold per-form delete,
the mobile app, API modules and randomisation, a REDCap user role and data access groups. The same from
REDCap's own CSV exports with `import redcap-users`."""

from __future__ import annotations

import pytest

from edcconf.emulator.redcap import RedcapEmulator

# in-process CLI runs: these tests check exit codes, outputs and files, which a subprocess shows no differently
from tests.conftest import run_cli, write

TOKEN_VAR = "EDCCONF_TEST_ADOPT_TOKEN"
FORMS = ["demographics", "hba1c", "adverse_events"]

CONFIG = {
    "environments/test.yaml": """
        environment:
          name: test
          targets:
            redcap: {{provider: redcap, url: "{url}"}}
        sites:
          - {{id: MGH, name: Massachusetts General Hospital, country: US}}
        """,
    "groups/staff.yaml": """
        group:
          id: staff
          ceiling: {unnamed: unlimited}
          members:
            - {username: omar.haddad, email: omar@hospital.example.org, name: Omar Haddad}
        """,
    "studies/diab.yaml": """
        study:
          id: DIAB-03
          name: Type 2 diabetes registry
          system: redcap
          redcap: {project_id: 12, token_env: EDCCONF_TEST_ADOPT_TOKEN}
          protocol: {pi: omar.haddad}
          environments: [test]
          sites: [MGH]
          forms:
            - {id: demographics, contact_data: true}
            - {id: hba1c}
            - {id: adverse_events}
        """,
}

DELETE_AND_MORE = {
    "mobile_app": 1,
    "api_modules": 1,
    "random_setup": 1,
    "random_perform": 1,
    "user_rights": 2,
    "record_create": 1,
    "reports": 1,
    "forms": {"demographics": 146, "hba1c": 154, "adverse_events": 129},
    "forms_export": {"demographics": 1, "hba1c": 2, "adverse_events": 0},
}


def _who(username: str) -> dict:
    return {
        "username": username,
        "email": f"{username}@hospital.example.org",
        "firstname": username.split(".")[0].title(),
        "lastname": "Test",
    }


def _project(emu: RedcapEmulator) -> str:
    from redcap import Project

    token = emu.add_project(
        project_id=12, title="Type 2 diabetes registry", forms=FORMS, dags=[("mgh", "MGH"), ("ucsf", "UCSF")]
    )
    p = Project(emu.url, token)
    p.import_user_roles(
        [
            {
                "unique_role_name": "",
                "role_label": "Data Entry",
                "record_create": 1,
                "reports": 1,
                "mobile_app_download_data": 1,
                "forms": {"demographics": 130, "hba1c": 138, "adverse_events": 129},
                "forms_export": {"demographics": 3, "hba1c": 3, "adverse_events": 0},
            }
        ]
    )
    role = next(r["unique_role_name"] for r in p.export_user_roles() if r["role_label"] == "Data Entry")
    p.import_users(
        [
            {**_who("bob.delete"), "expiration": "2030-01-31", "data_access_group": "", **DELETE_AND_MORE},
            {**_who("dana.dag"), "data_access_group": "ucsf", **DELETE_AND_MORE},
            {
                **_who("carol.read"),
                "data_access_group": "",
                "reports": 1,
                "stats_and_charts": 1,
                "forms": {f: 129 for f in FORMS},
                "forms_export": {f: 0 for f in FORMS},
            },
            {**_who("alice.role"), "data_access_group": "mgh"},
            {
                "username": "omar.haddad",
                "data_access_group": "mgh",
                "design": 1,
                "alerts": 1,
                "forms": {f: 130 for f in FORMS},
                "forms_export": {f: 1 for f in FORMS},
            },
        ]
    )
    p.import_user_role_assignment([{"username": "alice.role", "unique_role_name": role, "data_access_group": "mgh"}])
    return token


@pytest.fixture
def adopted(tmp_path):
    with RedcapEmulator(version="15.6.1") as emu:
        token = _project(emu)
        for rel, text in CONFIG.items():
            write(tmp_path, rel, text.format(url=emu.url) if "{url}" in text else text)
        yield emu, tmp_path, {TOKEN_VAR: token}


def _writes(emu: RedcapEmulator) -> list[dict]:
    return [r for r in emu.requests if r.get("data") or r.get("action") in ("import", "delete")]


def test_import_then_state_import_plans_nothing_applies_nothing_and_finds_no_drift(adopted):
    emu, root, env = adopted
    imported = run_cli(
        "import",
        "redcap",
        "--env",
        "test",
        "--study",
        "DIAB-03",
        "--group",
        "staff",
        "--site-country",
        "US",
        cwd=root,
        env=env,
    )
    assert imported.code == 0, imported
    assert run_cli("validate", cwd=root).code == 0
    study = (root / "studies/diab.yaml").read_text()
    assert "redcap_role: {name: U-" in study and "label: Data Entry" in study  # kept as a REDCap role
    assert "view: 4" in study and "view: 5" in study  # per-form delete kept
    assert "UCSF" in study and (root / "environments/sites-imported.yaml").exists()  # the DAG became a site
    recorded = run_cli("state", "import", "--env", "test", "redcap", "--study", "DIAB-03", cwd=root, env=env)
    assert recorded.code == 0, recorded

    plan = run_cli("plan", "--env", "test", "--json", cwd=root, env=env)
    assert plan.code == 0 and plan.json["changes"] == [], plan
    before = len(_writes(emu))
    applied = run_cli("apply", "--env", "test", "--yes", cwd=root, env=env)
    assert applied.code == 0, applied
    assert len(_writes(emu)) == before, _writes(emu)[before:]
    drift = run_cli("drift", "--env", "test", "--json", cwd=root, env=env)
    assert drift.code == 0 and drift.json["differences"] == [], drift
    users = emu.project(12).users
    assert users["bob.delete"].rights.forms["demographics"] == 146  # nobody's access changed


def test_a_hand_change_after_adoption_is_drift_and_plan_restores_it(adopted):
    from redcap import Project

    emu, root, env = adopted
    assert (
        run_cli(
            "import",
            "redcap",
            "--env",
            "test",
            "--study",
            "DIAB-03",
            "--group",
            "staff",
            "--site-country",
            "US",
            cwd=root,
            env=env,
        ).code
        == 0
    )
    assert run_cli("state", "import", "--env", "test", "redcap", "--study", "DIAB-03", cwd=root, env=env).code == 0
    Project(emu.url, env[TOKEN_VAR]).import_users(
        [
            {
                **DELETE_AND_MORE,
                "username": "bob.delete",
                "expiration": "2030-01-31",
                "data_access_group": "",
                "forms": {"demographics": 130, "hba1c": 154, "adverse_events": 129},
            }
        ]
    )
    drift = run_cli("drift", "--env", "test", "--json", cwd=root, env=env)
    found = {(d["user"], d["right"], d["expected"], d["live"]) for d in drift.json["differences"]}
    assert ("bob.delete", "forms.demographics", "view & edit + delete", "view & edit") in found, drift
    assert run_cli("apply", "--env", "test", "--yes", cwd=root, env=env).code == 0
    assert emu.project(12).users["bob.delete"].rights.forms["demographics"] == 146


def test_import_from_redcaps_own_exports(adopted, tmp_path):
    """The same project through REDCap's CSV exports (users, roles, role assignments): the same declarations,
    and state import from the files plans nothing."""
    from redcap import Project

    emu, root, env = adopted
    p = Project(emu.url, env[TOKEN_VAR])
    files = tmp_path / "exports"
    files.mkdir()
    (files / "users.csv").write_text(p.export_users(format_type="csv"))
    (files / "roles.csv").write_text(p.export_user_roles(format_type="csv"))
    (files / "assign.csv").write_text(p.export_user_role_assignment(format_type="csv"))
    args = [files / "users.csv", files / "roles.csv", files / "assign.csv"]
    imported = run_cli(
        "import",
        "redcap-users",
        *args,
        "--env",
        "test",
        "--study",
        "DIAB-03",
        "--group",
        "staff",
        "--site-country",
        "US",
        cwd=root,
    )
    assert imported.code == 0, imported
    assert run_cli("state", "import", "--env", "test", "redcap-users", *args, "--study", "DIAB-03", cwd=root).code == 0
    plan = run_cli("plan", "--env", "test", "--json", "--no-refresh", cwd=root)
    assert plan.code == 0 and plan.json["changes"] == [], plan


def test_a_new_grant_of_an_adopted_redcap_role_assigns_the_role_and_keeps_its_definition(adopted):
    emu, root, env = adopted
    assert (
        run_cli(
            "import",
            "redcap",
            "--env",
            "test",
            "--study",
            "DIAB-03",
            "--group",
            "staff",
            "--site-country",
            "US",
            cwd=root,
            env=env,
        ).code
        == 0
    )
    assert run_cli("state", "import", "--env", "test", "redcap", "--study", "DIAB-03", cwd=root, env=env).code == 0
    staff = root / "groups/staff.yaml"
    staff.write_text(staff.read_text() + "    - {username: eve.new, email: eve@hospital.example.org, name: Eve New}\n")
    study = root / "studies/diab.yaml"
    study.write_text(
        study.read_text() + "    - {user: eve.new, role: data-entry, environments: [test], sites: [UCSF]}\n"
    )
    applied = run_cli("apply", "--env", "test", "--yes", cwd=root, env=env)
    assert applied.code == 0, applied
    from redcap import Project

    p = Project(emu.url, env[TOKEN_VAR])
    mapping = {m["username"]: m["unique_role_name"] for m in p.export_user_role_assignment()}
    assert mapping["eve.new"] == mapping["alice.role"] != ""  # put in the REDCap role, not given rights
    assert not [r for r in emu.requests if r.get("content") == "userRole" and r.get("data")][1:], (
        "the role's definition was not rewritten (it already equals the declaration)"
    )
    drift = run_cli("drift", "--env", "test", "--json", cwd=root, env=env)
    assert drift.code == 0 and drift.json["differences"] == [], drift


def test_adoption_before_redcap_15_6(tmp_path):
    """REDCap 14.5: per-form codes 0/2/1/3 (no per-form delete), randomisation columns present."""
    from redcap import Project

    with RedcapEmulator(version="14.5.0") as emu:
        token = emu.add_project(project_id=12, title="Registry", forms=FORMS, dags=[("mgh", "MGH")])
        Project(emu.url, token).import_users(
            [
                {
                    **_who("bob.old"),
                    "data_access_group": "",
                    "random_perform": 1,
                    "mobile_app": 1,
                    "forms": {"demographics": 3, "hba1c": 1, "adverse_events": 2},
                    "forms_export": {"demographics": 1, "hba1c": 0, "adverse_events": 2},
                },
                {
                    "username": "omar.haddad",
                    "data_access_group": "mgh",
                    "forms": {f: 2 for f in FORMS},
                    "forms_export": {f: 0 for f in FORMS},
                },
            ]
        )
        for rel, text in CONFIG.items():
            write(tmp_path, rel, text.format(url=emu.url) if "{url}" in text else text)
        env = {TOKEN_VAR: token}
        imported = run_cli("import", "redcap", "--env", "test", "--group", "staff", cwd=tmp_path, env=env)
        assert imported.code == 0, imported
        assert (
            run_cli("state", "import", "--env", "test", "redcap", "--study", "DIAB-03", cwd=tmp_path, env=env).code == 0
        )
        writes = len(_writes(emu))
        applied = run_cli("apply", "--env", "test", "--yes", cwd=tmp_path, env=env)
        assert applied.code == 0 and "No changes" in applied.out, applied
        assert len(_writes(emu)) == writes
        assert emu.project(12).users["bob.old"].rights.forms == {"demographics": 3, "hba1c": 1, "adverse_events": 2}


def test_an_undeclared_dag_or_instrument_refuses_the_import_and_nothing_is_written(adopted):
    emu, root, env = adopted
    before = {p: p.read_bytes() for p in root.rglob("*.yaml")}
    no_site = run_cli("import", "redcap", "--env", "test", "--study", "DIAB-03", "--group", "staff", cwd=root, env=env)
    assert no_site.code == 1 and "import-site" in no_site.err and "ucsf (UCSF)" in no_site.err, no_site
    study = root / "studies/diab.yaml"
    study.write_text(study.read_text().replace("    - {id: adverse_events}\n", ""))
    before[study] = study.read_bytes()
    no_form = run_cli(
        "import",
        "redcap",
        "--env",
        "test",
        "--study",
        "DIAB-03",
        "--group",
        "staff",
        "--site-country",
        "US",
        cwd=root,
        env=env,
    )
    assert no_form.code == 1 and "import-invalid" in no_form.err and "adverse_events" in no_form.err, no_form
    assert {p: p.read_bytes() for p in root.rglob("*.yaml")} == before


def test_a_generated_role_that_would_not_give_the_same_rights_refuses_the_import(adopted, tmp_path, monkeypatch):
    """The guard behind every generated role: it is resolved and compared with REDCap's record first."""
    from redcap import Project

    from edcconf.diagnostics import UserError
    from edcconf.imports import redcap as adoption

    emu, root, env = adopted
    users = tmp_path / "users.csv"
    users.write_text(Project(emu.url, env[TOKEN_VAR]).export_users(format_type="csv"))
    real = adoption._generated

    def lossy(*args):
        value = real(*args)
        value.get("redcap", {}).pop("mobile_app", None)  # as if a right were forgotten
        return value

    monkeypatch.setattr(adoption, "_generated", lossy)
    with pytest.raises(UserError) as refused:
        adoption.import_redcap_files(root, "test", "DIAB-03", users, None, None, None, "staff", "US")
    assert "import-no-role" in {d.code for d in refused.value.diagnostics}
