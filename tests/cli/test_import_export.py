"""Import with proof: export → import → state import → plan shows no changes → export gives identical
files; malformed files are refused with row-numbered errors and nothing is written."""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import pytest

# in-process CLI runs: these tests check exit codes, outputs and files, which a subprocess shows no differently
from tests.conftest import REPO, copy_config, run_cli


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*.yaml")):
        h.update(p.relative_to(root).as_posix().encode() + p.read_bytes())
    return h.hexdigest()


@pytest.fixture
def exported(tmp_path: Path) -> Path:
    out = tmp_path / "exported"
    result = run_cli("export", "files", "--env", "production", "-o", out, cwd=REPO)
    assert result.code == 0, result
    return out


def test_sag_round_trip_and_zero_plan(tmp_path: Path, exported: Path) -> None:
    root = tmp_path / "fresh"
    shutil.copytree(REPO / "environments", root / "environments")
    defs, assigns = exported / "groups" / "sag-definitions.csv", exported / "groups" / "sag-assignments.csv"
    result = run_cli("import", "sag", defs, assigns, cwd=root)
    assert result.code == 0, result
    assert "Wrote groups/" in result.out
    assert run_cli("validate", cwd=root).code == 0
    assert run_cli("state", "import", "--env", "test", "sag", defs, assigns, cwd=root).code == 0
    plan = run_cli("plan", "--env", "test", "--json", cwd=root)
    assert plan.code == 0, plan
    assert plan.json["changes"] == []
    again = tmp_path / "again"
    assert run_cli("export", "files", "--env", "test", "-o", again, cwd=root).code == 0
    for name in ("sag-definitions.csv", "sag-assignments.csv"):
        assert (again / "groups" / name).read_bytes() == (exported / "groups" / name).read_bytes(), name
    # importing the same files again declares nothing new
    second = run_cli("import", "sag", defs, assigns, cwd=root)
    assert second.code == 0 and "Nothing to import" in second.out, second


def test_acg_round_trip(tmp_path: Path, exported: Path) -> None:
    """ACG assignments carry no e-mail: with the SAG files imported first, the ACG files name the same groups
    (matched by name) and people: nothing new; the ACG files round-trip."""
    root = tmp_path / "fresh"
    shutil.copytree(REPO / "environments", root / "environments")
    defs, assigns = exported / "groups" / "acg-definitions.csv", exported / "groups" / "acg-assignments.csv"
    sag = exported / "groups" / "sag-definitions.csv", exported / "groups" / "sag-assignments.csv"
    assert run_cli("import", "sag", *sag, cwd=root).code == 0
    result = run_cli("import", "acg", defs, assigns, cwd=root)
    assert result.code == 0 and "Nothing to import" in result.out, result
    assert run_cli("state", "import", "--env", "test", "acg", defs, assigns, cwd=root).code == 0
    plan = run_cli("plan", "--env", "test", "--json", cwd=root)
    assert plan.code == 0 and plan.json["changes"] == [], plan
    again = tmp_path / "again"
    assert run_cli("export", "files", "--env", "test", "-o", again, cwd=root).code == 0
    assert (again / "groups" / "acg-assignments.csv").read_bytes() == assigns.read_bytes()
    assert (again / "groups" / "acg-definitions.csv").read_bytes() == defs.read_bytes()


def test_acg_import_declares_people_without_email(tmp_path: Path, exported: Path) -> None:
    """People new to the configuration come from an ACG assignment file without an e-mail (a warning each);
    the configuration is valid, each of them with a person-without-email warning."""
    root = tmp_path / "fresh"
    shutil.copytree(REPO / "environments", root / "environments")
    defs, assigns = exported / "groups" / "acg-definitions.csv", exported / "groups" / "acg-assignments.csv"
    users = [line.split(",")[0] for line in assigns.read_text().splitlines()[1:]]
    result = run_cli("import", "acg", defs, assigns, "--json", cwd=root)
    assert result.code == 0, result
    no_email = [w for w in result.json["warnings"] if w["code"] == "import-no-email"]
    assert len(no_email) == len(users) > 0 and no_email[0]["source"] == f"{assigns}:2", no_email
    declared = [p for members in result.json["declared"]["members"].values() for p in members] + [
        p for g in result.json["declared"]["groups"] for p in g.get("members", [])
    ]
    assert sorted(p["username"] for p in declared) == sorted(users) and not any("email" in p for p in declared)
    checked = run_cli("validate", "--json", cwd=root)
    assert checked.code == 0, checked
    assert sum(w["code"] == "person-without-email" for w in checked.json["warnings"]) == len(users)


def test_acg_import_takes_emails_and_names_from_the_redcap_user_export(tmp_path: Path, exported: Path) -> None:
    from edcconf.interchange.redcap_users import RedcapUser, write_redcap_users

    root = tmp_path / "fresh"
    shutil.copytree(REPO / "environments", root / "environments")
    defs, assigns = exported / "groups" / "acg-definitions.csv", exported / "groups" / "acg-assignments.csv"
    first, second = [line.split(",")[0] for line in assigns.read_text().splitlines()[1:3]]
    export = tmp_path / "redcap-users.csv"
    export.write_bytes(
        write_redcap_users(
            [
                RedcapUser(
                    first.upper(), extra={"email": "first@hospital.example.org", "firstname": "Ada", "lastname": "Lind"}
                ),
                RedcapUser(
                    "someone.else", extra={"email": "else@hospital.example.org", "firstname": "", "lastname": ""}
                ),
            ]
        )
    )
    result = run_cli("import", "acg", defs, assigns, "--users", export, "--json", cwd=root)
    assert result.code == 0, result
    declared = {p["username"]: p for members in result.json["declared"]["members"].values() for p in members}
    declared.update({p["username"]: p for g in result.json["declared"]["groups"] for p in g.get("members", [])})
    assert declared[first] == {"username": first, "email": "first@hospital.example.org", "name": "Ada Lind"}
    assert "email" not in declared[second] and "someone.else" not in declared
    assert f"{second} is declared without an e-mail" in " ".join(w["message"] for w in result.json["warnings"])
    assert run_cli("validate", cwd=root).code == 0
    bad = tmp_path / "bad-users.csv"
    bad.write_text("user,email\nx,y\n")  # REDCap's exports vary by version; the username column never lacks
    refused = run_cli("import", "acg", defs, assigns, "--users", bad, "--json", cwd=root)
    assert refused.code == 1 and any(
        e["code"] == "csv-missing-column" and e["source"] == f"{bad}:1" for e in refused.json["errors"]
    ), refused


def test_sag_import_of_someone_sharing_an_email_warns(tmp_path: Path, exported: Path) -> None:
    """REDCap accepts two users with one e-mail, and so does the import (only OpenClinica refuses it, which
    validate judges from the access declared)."""
    root = copy_config(REPO, tmp_path / "example")
    assigns = exported / "groups" / "sag-assignments.csv"
    text = assigns.read_bytes().decode("utf-8")
    first = next(line for line in text.split("\n") if line.startswith('"rita.vogel"')).split('","')  # no access
    assigns.write_bytes((text + "\n" + '","'.join(['"lab.shared', "Lab Shared"] + first[2:])).encode("utf-8"))
    result = run_cli("import", "sag", exported / "groups" / "sag-definitions.csv", assigns, "--json", cwd=root)
    assert result.code == 0, result
    (shared,) = [w for w in result.json["warnings"] if w["code"] == "shared-email"]
    assert shared["source"].endswith(f":{len(text.splitlines()) + 1}") and first[0][1:] in shared["message"], shared
    checked = run_cli("validate", "--json", cwd=root)
    assert checked.code == 0 and "shared-email" in {w["code"] for w in checked.json["warnings"]}, checked


def _strip_access(study_file: Path) -> None:
    text = study_file.read_text()
    head, _, _ = text.partition("  access:")
    study_file.write_text(head)


def test_vault_round_trip_and_zero_plan(tmp_path: Path, exported: Path) -> None:
    root = copy_config(REPO, tmp_path / "example")
    _strip_access(root / "studies" / "onc-04.yaml")
    before = _digest(root)
    vault_file = exported / "ONC-04" / "vault-users.csv"
    result = run_cli("import", "vault", vault_file, "--study", "ONC-04", cwd=root)
    assert result.code == 0, result
    assert "studies/onc-04.yaml (appended): 6 grants in study ONC-04" in result.out  # jane.doe's is disabled
    assert _digest(root) != before
    assert run_cli("validate", cwd=root).code == 0
    state = run_cli("state", "import", "--env", "production", "vault", vault_file, "--study", "ONC-04", cwd=root)
    assert state.code == 0, state
    plan = run_cli("plan", "--env", "production", "--json", cwd=root)
    assert plan.code == 2, plan  # only ONC-04 was recorded: the plan creates every other study
    users = {line.split(",")[3] for line in vault_file.read_text().splitlines()[1:]}
    onc = {"ONC-04", "MGH", "CHU-LYON", "APHP", "OUS"}
    assert [c for c in plan.json["changes"] if c["key"].split("/")[0] in onc or c["key"] in users] == []
    assert {c["key"].split("/")[0] for c in plan.json["changes"] if c["kind"] == "study"} == {
        "CARDIO-01",
        "DIAB-03",
        "NEURO-02",
    }
    again = tmp_path / "again"
    assert run_cli("export", "files", "--env", "production", "-o", again, cwd=root).code == 0
    assert (again / "ONC-04" / "vault-users.csv").read_bytes() == vault_file.read_bytes()


MALFORMED = {
    # name: (importer args builder, file mutation, expected code, expected line)
    "sag-missing-column": (
        "sag-definitions.csv",
        lambda t: t.replace('"sag_name",', '"name",', 1),
        "csv-missing-column",
        1,
    ),
    "sag-unknown-value": (
        "sag-definitions.csv",
        lambda t: re.sub(r'(\n"[^"]*","[^"]*",)"0"', r'\1"7"', t, count=1),
        "csv-unknown-value",
        2,
    ),
    "acg-missing-column": (
        "acg-definitions.csv",
        lambda t: t.replace("group_name,", "name,", 1),
        "csv-missing-column",
        1,
    ),
    "acg-unknown-value": (
        "acg-definitions.csv",
        lambda t: re.sub(r'(\nG-[0-9A-F]{13},(?:"[^"]*"|[^,]*),)0,', r"\g<1>7,", t, count=1),
        "csv-unknown-value",
        3,
    ),
    "vault-unknown-value": ("vault-users.csv", lambda t: t.replace(",Enabled,", ",Active,", 1), "invalid-status", 2),
    "vault-missing-column": (
        "vault-users.csv",
        lambda t: t.replace("Security Profile,", "Profile,", 1),
        "csv-missing-column",
        1,
    ),
    "vault-duplicate-row": (
        "vault-users.csv",
        lambda t: t + t.split("\r\n")[1] + "\r\n",
        "duplicate-user-record",
        None,
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_files_are_refused_and_nothing_is_written(tmp_path: Path, exported: Path, case: str) -> None:
    name, mutate, code, line = MALFORMED[case]
    root = copy_config(REPO, tmp_path / "example")
    _strip_access(root / "studies" / "onc-04.yaml")
    folder = "ONC-04" if name.startswith("vault") else "groups"
    bad = exported / folder / name
    bad.write_bytes(mutate(bad.read_bytes().decode("utf-8")).encode("utf-8"))
    before = _digest(root)
    if name.startswith("vault"):
        args = ["vault", bad, "--study", "ONC-04"]
    else:
        kind = name.split("-")[0]
        args = [kind, exported / "groups" / f"{kind}-definitions.csv", exported / "groups" / f"{kind}-assignments.csv"]
    result = run_cli("import", *args, "--json", cwd=root)
    assert result.code == 1, result
    errors = result.json["errors"]
    found = [e for e in errors if e["code"] == code]
    assert found, errors
    if line is not None:
        assert any(e["source"].endswith(f"{name}:{line}") for e in found), found
    else:
        assert all(re.search(r":\d+$", e["source"]) for e in found), found
    assert _digest(root) == before


@pytest.mark.parametrize("kind", ["sag", "acg"])
def test_a_username_assigned_twice_keeps_its_last_row(tmp_path: Path, exported: Path, kind: str) -> None:
    """REDCap keeps the last row of a username listed twice in an assignment upload; so does the import,
    with a warning that names both lines."""
    root = copy_config(REPO, tmp_path / "example")
    assigns = exported / "groups" / f"{kind}-assignments.csv"
    text = assigns.read_bytes().decode("utf-8")
    lines = text.rstrip("\n").split("\n")
    assigns.write_bytes((text + "\n" + lines[1] if kind == "sag" else text + lines[1] + "\n").encode("utf-8"))
    result = run_cli("import", kind, exported / "groups" / f"{kind}-definitions.csv", assigns, "--json", cwd=root)
    assert result.code == 0, result
    dups = [w for w in result.json["warnings"] if w["code"] == "csv-duplicate-row"]
    assert [w["source"].rsplit(":", 1)[1] for w in dups] == [str(len(lines) + 1)], result.json["warnings"]
    assert f"on line 2; REDCap keeps the last row (line {len(lines) + 1})" in dups[0]["message"]


def test_vault_new_people_need_a_group_and_disabled_rows_are_declared_disabled(tmp_path: Path, exported: Path) -> None:
    root = copy_config(REPO, tmp_path / "example")
    _strip_access(root / "studies" / "onc-04.yaml")
    vault_file = exported / "ONC-04" / "vault-users.csv"
    text = vault_file.read_bytes().decode()
    lines = text.split("\r\n")
    lines[1] = lines[1].replace(",Enabled,", ",Disabled,")
    new_row = (
        "production,Novak,Ivo,ivo.novak,Enabled,EDC User,CDMS Read Only,,ivo.novak@hospital.example.org,"
        "Europe/Oslo,OUS,,,en,en_US,Basic"
    )
    vault_file.write_bytes(("\r\n".join(lines[:-1] + [new_row]) + "\r\n").encode())
    refused = run_cli("import", "vault", vault_file, "--study", "ONC-04", "--json", cwd=root)
    assert refused.code == 1, refused
    assert [(e["code"], e["source"].rsplit(":", 1)[1]) for e in refused.json["errors"]] == [("import-group", "8")]
    result = run_cli(
        "import", "vault", vault_file, "--study", "ONC-04", "--group", "trained-monitors", "--json", cwd=root
    )
    assert result.code == 0, result
    assert "import-disabled" in {w["code"] for w in result.json["warnings"]}
    assert [p["username"] for p in result.json["declared"]["members"]["trained-monitors"]] == ["ivo.novak"]
    granted = {g["user"]: g.get("study_status") for g in result.json["declared"]["grants"]["ONC-04"]}
    assert granted["ivo.novak"] is None and granted[lines[1].split(",")[3]] == "disabled"
    # every grant of the example requires gcp (environments/qualifications.yaml), which an import cannot know
    monitors = root / "groups" / "monitors.yaml"
    text = monitors.read_text()
    assert text.endswith("      name: Ivo Novak\n"), text
    monitors.write_text(text + "      qualifications: {gcp: {completed: 2025-01-01}}\n")
    assert run_cli("validate", cwd=root).code == 0


def test_vault_columns_edcconf_does_not_manage_come_from_the_target(exported: Path) -> None:
    rows = (exported / "ONC-04" / "vault-users.csv").read_bytes().decode().split("\r\n")
    header = rows[0].split(",")
    profile = header.index("Security Profile")
    assert {r.split(",")[profile] for r in rows[1:] if r} == {"EDC Study User"}  # environments/production.yaml


def _vault_file(root: Path, path: Path):
    """The file as Vault's checks see it, with the study's own sites, countries, roles and environments."""
    from edcconf.imports import current_model
    from edcconf.imports.vault import read_for_study, vault_study

    model = current_model(root)
    parsed, diags = read_for_study(model, vault_study(model, "ONC-04"), path)
    assert not [d for d in diags if d.severity == "error"], diags
    return {r.user_name: (r.study_status, r.site_access, r.country_access) for r in parsed.rows}


def test_export_disables_vault_access_of_deactivated_people_and_expired_grants(tmp_path: Path) -> None:
    root = copy_config(REPO, tmp_path / "example")
    staff = root / "groups" / "study-staff.yaml"
    staff.write_text(
        staff.read_text().replace(
            "name: Claire Martin, type: user}", "name: Claire Martin, type: user, status: deactivated}"
        )
    )
    onc = root / "studies" / "onc-04.yaml"
    onc.write_text(
        onc.read_text().replace(
            "environments: all, sites: [APHP]}", "environments: all, sites: [APHP], expires: 2020-01-31}"
        )
    )
    out = tmp_path / "out"
    assert run_cli("export", "files", "--env", "test", "-o", out, cwd=root).code == 0
    rows = _vault_file(root, out / "ONC-04" / "vault-users.csv")
    assert rows == {
        "claire.martin": ("Disabled", ("CHU-LYON",), ()),
        "paul.girard": ("Disabled", ("APHP",), ()),
        "dina.park": ("Enabled", (), ()),
        "mona.reyes": ("Enabled", (), ("US",)),
        "jane.doe": ("Disabled", ("MGH",), ()),
    }  # nora: production only; jane: study_status disabled


def test_apply_that_revokes_a_vault_grant_writes_it_disabled(tmp_path: Path) -> None:
    root = copy_config(REPO, tmp_path / "example")
    assert run_cli("apply", "--env", "test", "--yes", cwd=root).code == 0
    written = root / "build" / "test" / "vault" / "ONC-04" / "vault-users.csv"
    assert {u for u, (s, _, _) in _vault_file(root, written).items() if s != "Enabled"} == {
        "jane.doe"
    }  # declared disabled
    onc = root / "studies" / "onc-04.yaml"
    onc.write_text(
        onc.read_text().replace("    - {user: mona.reyes, role: cra, environments: all, countries: [US]}\n", "")
    )
    result = run_cli("apply", "--env", "test", "--yes", cwd=root)
    assert result.code == 0, result
    rows = _vault_file(root, written)
    assert rows["mona.reyes"] == ("Disabled", (), ("US",))
    assert {u: s for u, (s, _, _) in rows.items() if u != "mona.reyes"} == {
        **dict.fromkeys(["claire.martin", "dina.park", "paul.girard"], "Enabled"),
        "jane.doe": "Disabled",
    }


def test_state_import_of_a_vault_study_keeps_the_rest_of_the_recorded_state(tmp_path: Path) -> None:
    """Only ONC-04's grants change: other studies' grants stay as applied (not as declared now), and a
    study never applied is not recorded; a Disabled row records a disabled grant; parts import as one file."""
    from edcconf.state.local import LocalBackend

    root = copy_config(REPO, tmp_path / "example")
    cardio = root / "studies" / "cardio-01.yaml"
    aside = cardio.read_text()
    cardio.unlink()
    assert run_cli("apply", "--env", "test", "--yes", cwd=root).code == 0
    cardio.write_text(aside)  # declared, never applied
    neuro = root / "studies" / "neuro-02.yaml"
    neuro.write_text(
        neuro.read_text().replace("    - {user: ann.lee, role: imaging_reader, environments: all, sites: all}\n", "")
    )
    before = LocalBackend(root, "test").read().effective
    assert "NEURO-02/ann.lee" in before["grants"] and "CARDIO-01" not in before["studies"]
    out = tmp_path / "out"
    assert run_cli("export", "files", "--env", "test", "-o", out, cwd=root).code == 0
    lines = (out / "ONC-04" / "vault-users.csv").read_text().splitlines()
    kept = [
        line.replace(",Enabled,", ",Disabled,") if ",claire.martin," in line else line
        for line in lines[1:]
        if ",mona.reyes," not in line
    ]
    whole, first, second = tmp_path / "whole.csv", tmp_path / "vault-users-001.csv", tmp_path / "vault-users-002.csv"
    for path, rows in ((whole, kept), (first, kept[:2]), (second, kept[2:])):
        path.write_text("\r\n".join([lines[0], *rows]) + "\r\n")

    def state_import(*files):
        result = run_cli("state", "import", "--env", "test", "vault", *files, "--study", "ONC-04", cwd=root)
        assert result.code == 0, result
        return LocalBackend(root, "test").read().effective

    bad = tmp_path / "vault-users-003.csv"
    bad.write_text(second.read_text().replace(",Enabled,", ",Active,", 1))
    refused = run_cli("state", "import", "--env", "test", "vault", first, bad, "--study", "ONC-04", cwd=root)
    assert refused.code == 1 and f"{bad}:2" in refused.err and "invalid-status" in refused.err, refused
    assert LocalBackend(root, "test").read().effective == before
    after = state_import(first, second)
    others = {k: v for k, v in before["grants"].items() if not k.startswith("ONC-04/")}
    assert {k: v for k, v in after["grants"].items() if not k.startswith("ONC-04/")} == others
    assert sorted(k for k in after["grants"] if k.startswith("ONC-04/")) == [
        "ONC-04/claire.martin",
        "ONC-04/dina.park",
        "ONC-04/jane.doe",
        "ONC-04/paul.girard",
    ]
    assert after["grants"]["ONC-04/dina.park"] == before["grants"]["ONC-04/dina.park"]
    assert after["grants"]["ONC-04/jane.doe"] == before["grants"]["ONC-04/jane.doe"]  # declared disabled, as applied
    assert after["grants"]["ONC-04/claire.martin"] == {
        **before["grants"]["ONC-04/claire.martin"],
        "study_status": "disabled",
    }
    assert "CARDIO-01" not in after["studies"] and after["studies"] == before["studies"]
    assert after["accounts"] == before["accounts"] and after["sites"] == before["sites"]
    assert {g["role_ref"] for g in after["grants"].values()} == set(after["roles"])
    assert state_import(whole) == after
    sources = LocalBackend(root, "test").read().sources
    assert "grant:ONC-04/mona.reyes" not in sources and "grant:NEURO-02/ann.lee" in sources


def test_vault_export_with_last_login_declares_the_same_and_shows_it(tmp_path: Path, exported: Path) -> None:
    root = copy_config(REPO, tmp_path / "example")
    _strip_access(root / "studies" / "onc-04.yaml")
    plain = exported / "ONC-04" / "vault-users.csv"
    lines = plain.read_text().splitlines()
    lines[1] = lines[1].replace(",Enabled,", ",Disabled,")
    plain.write_text("\r\n".join(lines) + "\r\n")
    with_login = tmp_path / "vault-export.csv"
    with_login.write_text(
        "\r\n".join([lines[0] + ",Last Login"] + [f"{line},2025-11-0{n} 09:30" for n, line in enumerate(lines[1:], 1)])
        + "\r\n"
    )
    one, two = (
        run_cli("import", "vault", f, "--study", "ONC-04", "--dry-run", "--json", cwd=root) for f in (plain, with_login)
    )
    assert one.code == two.code == 0, (one, two)
    assert one.json["declared"] == two.json["declared"] and one.json["declared"]["grants"]["ONC-04"]
    shown = [w["message"] for w in two.json["warnings"] if w["code"] == "import-disabled"]
    assert len(shown) == 2 and "(last login 2025-11-01 09:30)" in shown[0]  # and jane.doe's declared one


def test_state_import_of_group_files_records_only_groups_and_accounts(tmp_path: Path, exported: Path) -> None:
    """SAG files say nothing about studies: a state import of them keeps every recorded grant, and never
    records a study that was not applied."""
    import json

    root = copy_config(REPO, tmp_path / "example")
    sag = exported / "groups" / "sag-definitions.csv", exported / "groups" / "sag-assignments.csv"
    fresh = run_cli("state", "import", "--env", "production", "sag", *sag, cwd=root)
    assert fresh.code == 0, fresh
    state = json.loads((root / ".edcconf" / "state" / "production.json").read_text())["effective"]
    assert state["grants"] == {} and state["studies"] == {} and state["groups"] and state["accounts"]
    assert run_cli("apply", "--env", "test", "--yes", cwd=root).code == 0
    before = json.loads((root / ".edcconf" / "state" / "test.json").read_text())["effective"]
    assert run_cli("state", "import", "--env", "test", "sag", *sag, cwd=root).code == 0
    after = json.loads((root / ".edcconf" / "state" / "test.json").read_text())["effective"]
    assert after["grants"] == before["grants"] and after["studies"] == before["studies"]
