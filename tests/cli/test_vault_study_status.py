"""Vault Study Status (003): a grant declared `study_status: disabled` is on record in Vault (its role and
sites, written Disabled in the user import) but gives no access; enabling or disabling it is an update."""

from __future__ import annotations

from pathlib import Path

# in-process CLI runs: these tests check exit codes, outputs and files, which a subprocess shows no differently
from tests.conftest import REPO, copy_config, run_cli

JANE = "    - {user: jane.doe, role: crc, environments: all, sites: [MGH], study_status: disabled}"


def _example(tmp_path: Path) -> Path:
    root = copy_config(REPO, tmp_path / "example")
    assert JANE in (root / "studies" / "onc-04.yaml").read_text()  # the example declares one
    return root


def _set_status(root: Path, status: str | None) -> None:
    onc = root / "studies" / "onc-04.yaml"
    line = JANE.replace(", study_status: disabled}", f", study_status: {status}}}" if status else "}")
    text = onc.read_text()
    current = next(x for x in text.splitlines() if x.startswith("    - {user: jane.doe,"))
    onc.write_text(text.replace(current, line))


def _vault_rows(path: Path) -> dict[str, list[str]]:
    lines = path.read_bytes().decode().split("\r\n")
    header = lines[0].split(",")
    return {row.split(",")[3]: dict(zip(header, row.split(","))) for row in lines[1:] if row}


def test_a_disabled_grant_is_planned_shown_and_written_disabled_but_gives_no_access(tmp_path: Path) -> None:
    root = _example(tmp_path)
    plan = run_cli("plan", "--env", "test", "--json", cwd=root)
    assert plan.code == 2, plan
    (change,) = [c for c in plan.json["changes"] if c["key"] == "ONC-04/jane.doe"]
    assert change["action"] == "create" and change["after"]["study_status"] == "disabled"
    assert set(change["after"]["forms"].values()) == {"none"} and change["after"]["sites"] == ["MGH"]
    assert change["after"]["close_queries"] == [] and change["source"] == "studies/onc-04.yaml:22"
    text = run_cli("plan", "--env", "test", cwd=root).out
    assert "granted crc at MGH with study status disabled" in text and "at MGH, study status disabled" in text

    # who-can and explain do not count it; explain says why, with the file:line
    who = run_cli("who-can", "read", "eligibility", "--study", "ONC-04", "--env", "test", "--json", cwd=root)
    assert who.code == 0 and "jane.doe" not in {r["user"] for r in who.json["people"]}, who
    assert {"claire.martin", "paul.girard"} <= {r["user"] for r in who.json["people"]}
    why = run_cli("explain", "jane.doe", "--study", "ONC-04", "--env", "test", "--json", cwd=root)
    (entry,) = why.json["environments"][0]["studies"]
    assert entry["access"] is False and entry["study_status"] == "disabled", entry
    assert entry["source"] == "studies/onc-04.yaml:22" and entry["grant"]["sites"] == ["MGH"]
    shown = run_cli("explain", "jane.doe", "--study", "ONC-04", "--env", "test", cwd=root).out
    assert "ONC-04: no access — study status disabled" in shown

    # the Vault file holds the row Disabled, with the role and site kept on record
    out = tmp_path / "out"
    assert run_cli("export", "files", "--env", "test", "-o", out, cwd=root).code == 0
    jane = _vault_rows(out / "ONC-04" / "vault-users.csv")["jane.doe"]
    assert (jane["Study Status"], jane["Study Role"], jane["Site Access"]) == (
        "Disabled",
        "CDMS Clinical Research Coordinator",
        "MGH",
    )

    # applied: show marks it and shows no form level
    assert run_cli("apply", "--env", "test", "--yes", cwd=root).code == 0
    listed = (root / "build" / "test" / "vault" / "ONC-04" / "users.csv").read_text()
    assert "jane.doe" not in listed and "claire.martin" in listed  # the list of who has access
    table = run_cli("show", "--env", "test", cwd=root).out.split("Study ONC-04", 1)[1]
    row = next(line for line in table.splitlines() if line.strip().startswith("jane.doe"))
    assert "crc [disabled]" in row and "E" not in row.split("MGH", 1)[1], row
    shown_json = run_cli("show", "--env", "test", "--json", cwd=root).json
    assert shown_json["grants"]["ONC-04/jane.doe"]["study_status"] == "disabled"

    # enabling is one update of that grant, with the forms it now gives; disabling again is one too
    _set_status(root, None)
    enabled = run_cli("plan", "--env", "test", "--json", cwd=root)
    assert [(c["action"], c["key"]) for c in enabled.json["changes"]] == [("update", "ONC-04/jane.doe")], enabled
    (up,) = enabled.json["changes"]
    assert "study_status" not in up["after"] and up["after"]["forms"]["eligibility"] == "edit"
    assert up["reason"].startswith("study status enabled: access restored")
    assert run_cli("apply", "--env", "test", "--yes", cwd=root).code == 0
    written = root / "build" / "test" / "vault" / "ONC-04" / "vault-users.csv"
    assert _vault_rows(written)["jane.doe"]["Study Status"] == "Enabled"
    _set_status(root, "disabled")
    disabled = run_cli("plan", "--env", "test", "--json", cwd=root)
    assert [(c["action"], c["key"]) for c in disabled.json["changes"]] == [("update", "ONC-04/jane.doe")], disabled
    assert disabled.json["changes"][0]["reason"].startswith("study status disabled")
    assert run_cli("apply", "--env", "test", "--yes", cwd=root).code == 0
    assert _vault_rows(written)["jane.doe"]["Study Status"] == "Disabled"
    assert run_cli("plan", "--env", "test", cwd=root).code == 0
    # `study_status: enabled` says the default: no change
    _set_status(root, "enabled")
    assert run_cli("plan", "--env", "test", "--json", cwd=root).json["changes"][0]["key"] == "ONC-04/jane.doe"


def test_access_tests_do_not_count_a_disabled_grant(tmp_path: Path) -> None:
    root = _example(tmp_path)
    (root / "tests" / "access").mkdir(parents=True)
    (root / "tests" / "access" / "onc.yaml").write_text(
        "tests:\n  - {user: jane.doe, study: ONC-04, env: test, form: eligibility, level: none}\n"
    )
    result = run_cli("test", cwd=root)
    assert result.code == 0, result
    _set_status(root, None)
    assert run_cli("test", cwd=root).code == 1


def test_study_status_disabled_outside_vault_is_an_error_at_its_line(tmp_path: Path) -> None:
    root = _example(tmp_path)
    diab = root / "studies" / "diab-03.yaml"
    diab.write_text(
        diab.read_text().replace(
            "{user: kofi.mensah, role: coordinator, environments: all, sites: [UCSF]}",
            "{user: kofi.mensah, role: coordinator, environments: all, sites: [UCSF], study_status: disabled}",
        )
    )
    result = run_cli("validate", "--json", cwd=root)
    assert result.code == 1, result
    (err,) = result.json["errors"]
    assert err["code"] == "study-status-not-vault" and err["source"].startswith("studies/diab-03.yaml:23"), err
    assert "DIAB-03 is a REDCap study" in err["message"]


def test_a_deactivated_person_s_vault_row_is_disabled_and_reactivating_enables_it(tmp_path: Path) -> None:
    """003 has no user status column in its import file: a person's `status: deactivated` (or expiry)
    is written as their Study Status Disabled, and reactivating them writes Enabled again."""
    root = _example(tmp_path)
    assert run_cli("apply", "--env", "test", "--yes", cwd=root).code == 0
    written = root / "build" / "test" / "vault" / "ONC-04" / "vault-users.csv"
    assert _vault_rows(written)["claire.martin"]["Study Status"] == "Enabled"
    staff = root / "groups" / "study-staff.yaml"
    active = staff.read_text()
    staff.write_text(
        active.replace("name: Claire Martin, type: user}", "name: Claire Martin, type: user, status: deactivated}")
    )
    assert run_cli("apply", "--env", "test", "--yes", cwd=root).code == 0
    claire = _vault_rows(written)["claire.martin"]
    assert (claire["Study Status"], claire["Site Access"]) == ("Disabled", "CHU-LYON")
    staff.write_text(
        active.replace("name: Claire Martin, type: user}", "name: Claire Martin, type: user, expires: 2020-01-01}")
    )
    assert run_cli("apply", "--env", "test", "--yes", cwd=root).code == 0
    assert _vault_rows(written)["claire.martin"]["Study Status"] == "Disabled"  # expired: still disabled
    staff.write_text(active)
    assert run_cli("apply", "--env", "test", "--yes", cwd=root).code == 0
    assert _vault_rows(written)["claire.martin"]["Study Status"] == "Enabled"
