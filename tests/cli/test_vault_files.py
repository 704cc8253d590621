"""Vault user files (003) through the CLI: Vault's "User exists. Applying Study access." warning on import,
the export's Last Login kept by state import and shown by show and explain, and more than 1,000 users split into numbered
files that read back as one."""

from __future__ import annotations

import json
from pathlib import Path

# in-process CLI runs: these tests check exit codes, outputs and files, which a subprocess shows no differently
from tests.conftest import REPO, copy_config, run_cli, write


def _strip_access(study_file: Path) -> None:
    head, _, _ = study_file.read_text().partition("  access:")
    study_file.write_text(head)


def _export(root: Path, tmp_path: Path, env: str = "production") -> Path:
    out = tmp_path / f"exported-{env}"
    result = run_cli("export", "files", "--env", env, "-o", out, cwd=root)
    assert result.code == 0, result
    return out


def test_import_warns_user_exists_at_each_row_of_a_declared_person(tmp_path: Path) -> None:
    root = copy_config(REPO, tmp_path / "example")
    vault_file = _export(root, tmp_path) / "ONC-04" / "vault-users.csv"
    _strip_access(root / "studies" / "onc-04.yaml")
    lines = vault_file.read_bytes().decode().split("\r\n")
    new_row = (
        "production,Novak,Ivo,ivo.novak,Enabled,EDC User,CDMS Read Only,,ivo.novak@hospital.example.org,"
        "Europe/Oslo,OUS,,,en,en_US,Basic"
    )
    vault_file.write_bytes(("\r\n".join(lines[:-1] + [new_row]) + "\r\n").encode())
    result = run_cli(
        "import", "vault", vault_file, "--study", "ONC-04", "--group", "trained-monitors", "--json", cwd=root
    )
    assert result.code == 0, result
    exists = [w for w in result.json["warnings"] if w["code"] == "user-exists-applying-study-access"]
    users = [line.split(",")[3] for line in lines[1:-1]]
    # every row but ivo.novak's (new) names a declared person: one warning each, at that row's line
    assert [w["source"] for w in exists] == [f"{vault_file}:{n}" for n in range(2, len(users) + 2)], exists
    for user, warning in zip(users, exists):
        assert warning["message"].startswith(f"User exists. Applying Study access.: {user} is already declared ("), (
            warning
        )
        assert "only the row's access to ONC-04 is declared" in warning["message"]
    assert [p["username"] for p in result.json["declared"]["members"]["trained-monitors"]] == ["ivo.novak"]
    assert {g["user"] for g in result.json["declared"]["grants"]["ONC-04"]} == set(users) | {"ivo.novak"}
    text = run_cli(
        "import", "vault", vault_file, "--study", "ONC-04", "--group", "trained-monitors", "--dry-run", cwd=root
    )
    assert f"{vault_file}:2: warning[user-exists-applying-study-access]" in text.out + text.err, text


def test_state_import_keeps_last_login_and_show_displays_it(tmp_path: Path) -> None:
    root = copy_config(REPO, tmp_path / "example")
    assert run_cli("apply", "--env", "test", "--yes", cwd=root).code == 0
    plain = _export(root, tmp_path, "test") / "ONC-04" / "vault-users.csv"
    lines = plain.read_bytes().decode().split("\r\n")
    export = tmp_path / "vault-export.csv"  # Vault's export: the import's columns and Last Login
    export.write_bytes(
        (
            "\r\n".join(
                [lines[0] + ",Last Login"] + [f"{line},2026-11-0{n} 08:1{n}" for n, line in enumerate(lines[1:-1], 1)]
            )
            + "\r\n"
        ).encode()
    )
    users = [line.split(",")[3] for line in lines[1:-1]]
    result = run_cli("state", "import", "--env", "test", "vault", export, "--study", "ONC-04", cwd=root)
    assert result.code == 0, result
    state = json.loads((root / ".edcconf" / "state" / "test.json").read_text())["effective"]
    assert {u: v["vault_last_login"] for u, v in state["observed"].items()} == {
        u: f"2026-11-0{n} 08:1{n}" for n, u in enumerate(users, 1)
    }
    assert state["observed"][users[0]] == {
        "vault_last_login": "2026-11-01 08:11",
        "study": "ONC-04",
        "source": f"{export}:2",
    }
    # Last Login is never planned, and an apply keeps it
    assert run_cli("plan", "--env", "test", cwd=root).code == 0
    shown = run_cli("show", "--env", "test", cwd=root)
    onc = shown.out.split("Study ONC-04", 1)[1].split("\n\n", 1)[0]
    assert "last login" in onc and "2026-11-01 08:11" in onc, shown.out
    assert "last login" not in shown.out.split("Study ONC-04", 1)[0]  # only Vault studies have it
    assert (
        run_cli("show", "--env", "test", "--json", cwd=root).json["observed"][users[1]]["vault_last_login"]
        == "2026-11-02 08:12"
    )
    why = run_cli("explain", users[0], "--env", "test", "--json", cwd=root)
    assert why.json["environments"][0]["vault_last_login"] == {
        "value": "2026-11-01 08:11",
        "study": "ONC-04",
        "source": f"{export}:2",
    }, why.json
    assert (
        "Vault last login 2026-11-01 08:11 (Vault's export of ONC-04"
        in run_cli("explain", users[0], "--env", "test", cwd=root).out
    )
    assert (
        "vault_last_login"
        not in run_cli("explain", users[0], "--env", "production", "--json", cwd=root).json["environments"][0]
    )  # nothing kept there
    onc_file = root / "studies" / "onc-04.yaml"
    onc_file.write_text(onc_file.read_text().replace("sites: [APHP]}", "sites: [APHP], expires: 2030-01-01}"))
    assert run_cli("apply", "--env", "test", "--yes", cwd=root).code == 0
    after = json.loads((root / ".edcconf" / "state" / "test.json").read_text())["effective"]
    assert after["observed"] == state["observed"]
    # the file edcconf writes for Vault's import leaves the column out
    written = root / "build" / "test" / "vault" / "ONC-04" / "vault-users.csv"
    assert "Last Login" not in written.read_text()


def _big_vault_org(root: Path, n: int) -> list[str]:
    users = [f"user{i:04d}" for i in range(n)]
    write(
        root,
        "environments/test.yaml",
        """\
        environment:
          name: test
          targets:
            vault: {provider: csv, out: build/test/vault}
        sites:
          - {id: OSLO, name: Oslo University Hospital, country: "NO", timezone: Europe/Oslo}
          - {id: BERGEN, name: Haukeland, country: "NO", timezone: Europe/Oslo}
        """,
    )
    members = "".join(
        f"    - {{username: {u}, email: {u}@hospital.example.org, name: User {i:04d}}}\n" for i, u in enumerate(users)
    )
    write(root, "groups/staff.yaml", "group:\n  id: staff\n  ceiling: {form_access: edit}\n  members:\n" + members)
    access = "".join(f"    - {{user: {u}, role: crc, environments: all, sites: [OSLO]}}\n" for u in users)
    write(
        root,
        "studies/big.yaml",
        "study:\n  id: BIG-01\n  name: Big\n  system: vault\n  environments: [test]\n"
        "  sites: [OSLO, BERGEN]\n  forms: [{id: dosing}]\n  access:\n" + access,
    )
    return users


def test_more_than_1000_users_are_split_in_numbered_files_that_read_back_as_one(tmp_path: Path) -> None:
    root = tmp_path / "big"
    users = _big_vault_org(root, 1001)
    assert run_cli("validate", cwd=root).code == 0
    result = run_cli("apply", "--env", "test", "--yes", cwd=root)
    assert result.code == 0, result
    folder = root / "build" / "test" / "vault" / "BIG-01"
    parts = sorted(p.name for p in folder.glob("vault-users*.csv"))
    assert parts == ["vault-users-001.csv", "vault-users-002.csv"], parts  # no single vault-users.csv
    first, second = (folder / name for name in parts)
    header = first.read_bytes().split(b"\r\n")[0]
    assert header.startswith(b"Study Environment,Last Name,First Name,User Name,Study Status,")
    rows1 = first.read_bytes().decode().split("\r\n")[1:-1]
    rows2 = second.read_bytes().decode().split("\r\n")
    assert rows2[0].encode() == header and len(rows2) == 3 and rows2[-1] == ""  # header, one row, final CRLF
    assert len(rows1) == 1000
    assert [r.split(",")[3] for r in rows1 + rows2[1:-1]] == users  # by user name, the last part shorter

    # reading: state import takes both parts as one study (nothing to plan after), import vault as well
    recorded = run_cli("state", "import", "--env", "test", "vault", first, second, "--study", "BIG-01", cwd=root)
    assert recorded.code == 0, recorded
    assert run_cli("plan", "--env", "test", cwd=root).code == 0
    (root / "studies" / "big.yaml").write_text((root / "studies" / "big.yaml").read_text().partition("  access:")[0])
    imported = run_cli("import", "vault", first, second, "--study", "BIG-01", "--json", cwd=root)
    assert imported.code == 0, imported
    assert len(imported.json["declared"]["grants"]["BIG-01"]) == 1001
    exists = {w["source"] for w in imported.json["warnings"] if w["code"] == "user-exists-applying-study-access"}
    assert f"{second}:2" in exists and f"{first}:1001" in exists and len(exists) == 1001
    assert run_cli("plan", "--env", "test", cwd=root).code == 0  # the same access, declared again

    # revoking the 1,001st grant keeps it in the second part, Disabled: Vault keeps access a file leaves out
    lines = (root / "studies" / "big.yaml").read_text().splitlines()
    (root / "studies" / "big.yaml").write_text("\n".join(lines[:-1]) + "\n")
    assert run_cli("apply", "--env", "test", "--yes", cwd=root).code == 0
    assert sorted(p.name for p in folder.glob("vault-users*.csv")) == parts
    last = second.read_bytes().decode().split("\r\n")[1].split(",")
    assert (last[3], last[4]) == ("user1000", "Disabled")
