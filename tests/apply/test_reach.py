"""Every recorded change reached its system: changes of accounts, groups and sites alone are carried out
by the providers of the systems they concern, not only recorded in the state."""

import csv

import pytest

from tests.conftest import run_cli, write


# in-process CLI runs: these tests check exit codes, outputs and files, which a subprocess shows no differently
@pytest.fixture
def cli():
    return run_cli


DAY = "2026-11-24"


def rows(path):
    return list(csv.DictReader(path.open(newline="", encoding="utf-8-sig")))


def apply(cli, root):
    r = cli("apply", "--env", "test", "--yes", cwd=root)
    assert r.code == 0, r
    return r


def test_a_changed_name_alone_reaches_the_system_the_person_has_access_in(mini_repo, cli):
    apply(cli, mini_repo)
    staff = mini_repo / "groups/staff.yaml"
    staff.write_text(staff.read_text().replace("name: Cara Coordinator", "name: Cara Coordinatrice"))
    apply(cli, mini_repo)
    out = mini_repo / "build/test/openclinica"
    checklist = rows(out / "accounts-checklist-0002.csv")
    assert [(r["action"], r["username"], r["name"]) for r in checklist] == [
        ("update", "cara.crc", "Cara Coordinatrice")
    ]
    users = {r["username"]: r for r in rows(out / "HEART-01/users.csv")}
    assert users["cara.crc"]["name"] == "Cara Coordinatrice"


def test_a_group_move_alone_reaches_the_group_files(example_repo, cli):
    """bob.smith has no access in test: moving him to another group concerns only REDCap's group files,
    whose assignments list every account with its group."""
    apply(cli, example_repo)
    monitors, team = example_repo / "groups/monitors.yaml", example_repo / "groups/edc-team.yaml"
    text = monitors.read_text()
    start = text.index("    - username: bob.smith\n")
    end = text.index("    - username: ", start + 1)  # bob.smith's entry only
    monitors.write_text(text[:start] + text[end:])
    team.write_text(team.read_text() + text[start:end])
    r = cli("plan", "--env", "test", "--at", DAY, "--json", cwd=example_repo)
    assert [(c["kind"], c["key"], c["details"]) for c in r.json["changes"]] == [
        ("account", "bob.smith", ["group: trained-monitors → edc-team"])
    ]
    apply(cli, example_repo)
    groups = example_repo / "build/test/redcap/groups"
    sag = {r["username"]: r for r in rows(groups / "sag-assignments.csv")}
    acg = {r["Username"]: r for r in rows(groups / "acg-assignments.csv")}
    assert (
        sag["bob.smith"]["sag"]
        == acg["bob.smith"]["Group Name (For Reference Only)"]
        == "The EDC administration team; full rights, admins see every study"
    )
    assert [r["username"] for r in rows(example_repo / "build/test/redcap/accounts-checklist-0002.csv")] == [
        "bob.smith"
    ]
    assert not (example_repo / "build/test/openclinica/accounts-checklist-0002.csv").exists()  # no access there


def test_account_and_group_changes_reach_every_system_of_the_person_and_the_group_files(example_repo, cli):
    apply(cli, example_repo)
    monitors = example_repo / "groups/monitors.yaml"
    text = monitors.read_text()
    monitors.write_text(
        text.replace(
            "name: Mona Reyes, type: user}",
            "name: Mona Reyes-Ito, type: user}",
        ).replace("description: Completed monitoring training;", "description: Trained monitors;")
    )
    r = cli("plan", "--env", "test", "--at", DAY, "--json", cwd=example_repo)
    assert sorted((c["kind"], c["key"]) for c in r.json["changes"]) == [
        ("account", "mona.reyes"),
        ("group", "trained-monitors"),
    ]
    apply(cli, example_repo)
    build = example_repo / "build/test"
    # Vault: her row in the study she has access to shows the new name
    vault = {r["User Name"]: r for r in rows(build / "vault/ONC-04/vault-users.csv")}
    assert vault["mona.reyes"]["Last Name"] == "Reyes-Ito"
    # REDCap's group files: the group's new name and her assignment (every account is in them)
    sag = {r["username"]: r for r in rows(build / "redcap/groups/sag-assignments.csv")}
    assert sag["mona.reyes"]["name"] == "Mona Reyes-Ito"
    assert "Trained monitors" in (build / "redcap/groups/sag-definitions.csv").read_text()
    assert "Trained monitors" in (build / "redcap/groups/acg-definitions.csv").read_text()
    # each system that carried the account change lists it in its account checklist
    for system in ("vault", "redcap"):
        listed = [r["username"] for r in rows(build / system / "accounts-checklist-0002.csv")]
        assert listed == ["mona.reyes"], system


def test_a_site_change_reaches_the_studies_at_that_site(example_repo, cli):
    apply(cli, example_repo)
    sites = next(p for p in (example_repo / "environments").glob("*.yaml") if "APHP" in p.read_text())
    sites.write_text(
        sites.read_text().replace("timezone: Europe/Paris, city: Paris", "timezone: Europe/Berlin, city: Paris")
    )
    r = cli("plan", "--env", "test", "--at", DAY, "--json", cwd=example_repo)
    assert [(c["kind"], c["key"]) for c in r.json["changes"]] == [("site", "APHP")]
    apply(cli, example_repo)
    vault = {r["User Name"]: r for r in rows(example_repo / "build/test/vault/ONC-04/vault-users.csv")}
    assert vault["paul.girard"]["Site Access"] == "APHP" and vault["paul.girard"]["Timezone"] == "Europe/Berlin"


def test_a_group_file_target_needs_no_study_change(tmp_path, cli):
    """A REDCap target whose files carry groups gets a group change even when no study changes."""
    root = tmp_path / "r"
    write(
        root,
        "environments/envs.yaml",
        """\
        environment:
          name: test
          targets:
            redcap: {provider: csv, out: build/test/redcap}
        """,
    )
    write(
        root,
        "groups/g.yaml",
        """\
        group:
          id: readers
          description: Readers
          ceiling: {form_access: read}
          members:
            - {username: ann.a, email: ann@example.org, name: Ann A}
        """,
    )
    apply(cli, root)
    g = root / "groups/g.yaml"
    g.write_text(g.read_text().replace("description: Readers", "description: Careful readers"))
    apply(cli, root)
    assert "Careful readers" in (root / "build/test/redcap/groups/sag-definitions.csv").read_text()
