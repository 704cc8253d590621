"""`compliance` as the ACG Reports tab (002) and the SAG module's project status page (004) give it:
filters by user, group, study and right; CSV for each of the six reports; each study's status; and users
the configuration never declared, reported as undeclared (not as expired)."""

import csv
import io

import pytest
from redcap import Project

from tests.apply.test_redcap_end_to_end import TOKEN_VAR, _repo, emulator  # noqa: F401  (the fixture)
from tests.conftest import run_cli


# in-process CLI runs: these tests check exit codes, outputs and files, which a subprocess shows no differently
@pytest.fixture
def cli():
    return run_cli


AT = ["--at", "2026-11-24"]


def lowered(mini_repo, cli):
    """Applied, then the staff ceiling is lowered (form_access review, data_export de-identified) and cara
    expires: ivan (investigator: edit) and dina (data_manager: edit, full export) are above it, cara too but
    expired; mona (safety_monitor: review) and vera (viewer: read) comply."""
    assert cli("plan", "--env", "production", "--out", "p.plan", cwd=mini_repo).code == 2
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


def report(cli, root, *args):
    r = cli("compliance", "--env", "production", "--json", *AT, *args, cwd=root)
    assert r.code == 0, r
    return r.json


def test_filters_by_user_group_study_and_right(mini_repo, cli):
    lowered(mini_repo, cli)
    everyone = report(cli, mini_repo)["reports"]
    assert sorted(p["user"] for p in everyone["pairs_all"]) == ["cara.crc", "dina.dm", "ivan.inv"]
    assert [p["user"] for p in report(cli, mini_repo, "--user", "dina.dm")["reports"]["pairs_all"]] == ["dina.dm"]
    # a right by its name: only dina exports above the ceiling; the other rights of her pair stay listed
    (dina,) = report(cli, mini_repo, "--right", "data_export")["reports"]["pairs_all"]
    assert dina["user"] == "dina.dm" and len(dina["non_compliant"]) == 2
    assert report(cli, mini_repo, "--group", "no-rights")["reports"]["users_all"] == []
    assert len(report(cli, mini_repo, "--group", "staff", "--study", "HEART-01")["reports"]["users_all"]) == 3
    doc = report(cli, mini_repo, "--user", "ivan.inv", "--user", "cara.crc")
    assert doc["filters"] == {"users": ["cara.crc", "ivan.inv"]}
    assert sorted(u["user"] for u in doc["reports"]["users_all"]) == ["cara.crc", "ivan.inv"]
    assert [u["user"] for u in doc["reports"]["users_non_expired"]] == ["ivan.inv"]
    unknown = cli("compliance", "--env", "production", "--group", "stafff", cwd=mini_repo)
    assert unknown.code == 1 and "did you mean 'staff'" in unknown.err
    text = cli("compliance", "--env", "production", "--user", "dina.dm", *AT, cwd=mini_repo).out
    assert "filtered: users dina.dm" in text and "ivan.inv in HEART-01" not in text


def test_each_study_has_the_status_of_the_sag_project_page(mini_repo, cli):
    lowered(mini_repo, cli)
    (heart,) = report(cli, mini_repo)["studies"]
    assert heart == {
        "study": "HEART-01",
        "status": None,
        "compliance": "non-compliant",
        "users": 5,
        "non_compliant_users": ["dina.dm", "ivan.inv"],
        "expired_users": ["cara.crc"],
    }
    assert report(cli, mini_repo)["reports"]["studies_all"][0]["compliance"] == "non-compliant"
    # the ceiling allows edit again but keeps export low: only dina (full export) is above it
    staff = mini_repo / "groups/staff.yaml"
    staff.write_text(staff.read_text().replace("form_access: review", "form_access: edit"))
    (heart,) = report(cli, mini_repo)["studies"]
    assert heart["compliance"] == "non-compliant" and heart["non_compliant_users"] == ["dina.dm"]
    assert heart["expired_users"] == []
    # dina expires: the one user above the ceiling is expired
    staff.write_text(staff.read_text().replace("name: Dina Manager}", "name: Dina Manager, expires: 2026-11-02}"))
    (heart,) = report(cli, mini_repo)["studies"]
    assert heart["compliance"] == "expired users only" and heart["expired_users"] == ["dina.dm"]
    assert (
        "HEART-01 (no status): EXPIRED USERS ONLY, 5 users (expired: dina.dm)"
        in cli("compliance", "--env", "production", *AT, cwd=mini_repo).out
    )
    staff.write_text(staff.read_text().replace("data_export: de-identified", "data_export: full"))
    assert report(cli, mini_repo)["studies"][0]["compliance"] == "compliant"


def test_csv_for_all_six_reports(mini_repo, cli, tmp_path):
    lowered(mini_repo, cli)
    out = tmp_path / "reports"
    wrote = cli("compliance", "--env", "production", "--out", str(out), *AT, cwd=mini_repo)
    assert wrote.code == 0, wrote
    files = sorted(p.name for p in out.iterdir())
    assert files == sorted(
        f"compliance-production-{r}.csv"
        for r in (
            "users_non_expired",
            "users_all",
            "studies_non_expired",
            "studies_all",
            "pairs_non_expired",
            "pairs_all",
        )
    )

    def rows(name):
        return list(csv.DictReader(io.StringIO((out / f"compliance-production-{name}.csv").read_text())))

    assert sorted(r["user"] for r in rows("users_all")) == ["cara.crc", "dina.dm", "ivan.inv"]
    assert [r["user"] for r in rows("users_non_expired") if r["user"] == "dina.dm"][0] == "dina.dm"
    dina = next(r for r in rows("users_all") if r["user"] == "dina.dm")
    assert dina == {
        "user": "dina.dm",
        "group": "staff",
        "undeclared": "no",
        "studies": "HEART-01",
        "rights": "form_access data_export",
    }
    assert rows("studies_all") == [
        {"study": "HEART-01", "study_status": "", "compliance": "non-compliant", "users": "cara.crc dina.dm ivan.inv"}
    ]
    assert len(rows("pairs_all")) == 4 and len(rows("pairs_non_expired")) == 3
    stdout = cli(
        "compliance", "--env", "production", "--format", "csv", "--report", "studies_non_expired", *AT, cwd=mini_repo
    ).out
    assert stdout.splitlines() == ["study,study_status,compliance,users", "HEART-01,,non-compliant,dina.dm ivan.inv"]


def test_live_users_never_declared_are_undeclared_not_expired(tmp_path, emulator):  # noqa: F811
    emu, token = emulator
    root = _repo(tmp_path, emu.url)
    env = {TOKEN_VAR: token}
    assert run_cli("apply", "--env", "test", "--yes", cwd=root, env=env).code == 0
    project = Project(emu.url, token)
    project.import_users(
        [
            {"username": "zed.stray", "design": 1},
            {"username": "old.stray", "design": 1, "expiration": "2020-01-31"},
            {"username": "quiet.stray"},
        ]
    )
    live = run_cli("compliance", "--env", "test", "--live", "--json", cwd=root, env=env)
    assert live.code == 0, live
    doc = live.json
    pairs = {p["user"]: p for p in doc["reports"]["pairs_all"]}
    assert pairs["zed.stray"]["undeclared"] is True and pairs["zed.stray"]["expired"] is False
    assert pairs["zed.stray"]["group"] == "no-rights"
    assert {"right": "design", "granted": "full", "allowed": "none"} in pairs["zed.stray"]["non_compliant"]
    assert "zed.stray" in [p["user"] for p in doc["reports"]["pairs_non_expired"]]
    assert "zed.stray" in [u["user"] for u in doc["reports"]["users_non_expired"]]
    # expired in the project (REDCap's expiration date): expired, and still undeclared
    assert pairs["old.stray"]["expired"] is True and pairs["old.stray"]["undeclared"] is True
    undeclared = {u["user"]: u for u in doc["undeclared"]}
    assert sorted(undeclared) == ["old.stray", "quiet.stray", "zed.stray"]
    assert undeclared["zed.stray"]["non_compliant"] is True and undeclared["zed.stray"]["study"] == "DIAB-03"
    text = run_cli("compliance", "--env", "test", "--live", cwd=root, env=env).out
    assert "Undeclared users" in text and "zed.stray in DIAB-03" in text and "[undeclared]" in text
