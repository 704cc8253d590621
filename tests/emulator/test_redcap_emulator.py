"""The REDCap API emulator, driven through PyCap where PyCap has a method."""

import json
import re
import threading

import pytest
import requests
from redcap import Project
from redcap.request import RedcapError

from edcconf.emulator.redcap import RedcapEmulator, parse_project_spec

from .conftest import TOKEN

NO_PERM = "You do not have permissions to use the API"


def post(emu, **fields):
    return requests.post(emu.url, data=fields, timeout=5)


# -- token, errors, protocol ------------------------------------------------------------
def test_bad_token_is_403_with_redcaps_json_error(emu):
    r = post(emu, token="BAD00000000000000000000000000000", content="user", format="json")
    assert r.status_code == 403
    assert r.text == '{"error":"You do not have permissions to use the API"}'
    assert r.json() == {"error": NO_PERM}


def test_bad_token_in_csv_and_missing_token(emu):
    r = post(emu, token="BAD00000000000000000000000000000", content="user", format="csv")
    assert (r.status_code, r.text) == (403, "ERROR: " + NO_PERM)
    r = post(emu, content="version")
    assert r.status_code == 403


def test_bad_token_raises_in_pycap(emu):
    with pytest.raises(RedcapError) as exc:
        Project(emu.url, "BAD00000000000000000000000000000").export_users()
    assert NO_PERM in str(exc.value)


def test_error_follows_return_format(emu):
    r = post(emu, token=TOKEN, content="nope", format="json", returnFormat="csv")
    assert (r.status_code, r.text) == (400, 'ERROR: The value of the parameter "content" is not valid')
    r = post(emu, token=TOKEN, content="user", format="xml")
    assert r.status_code == 400 and "<error>" in r.text
    r = post(emu, token=TOKEN, content="user", action="rename", format="json")
    assert r.json() == {"error": 'The value of the parameter "action" is not valid'}


def test_version_and_project_info(emu, proj):
    assert str(proj.export_version()) == "14.5.0"
    info = proj.export_project_info()
    assert (info["project_id"], info["project_title"]) == (12, "Type 2 diabetes registry")
    assert post(emu, token=TOKEN, content="version").text == "14.5.0"


def test_multipart_is_accepted(emu):
    files = {
        k: (None, v)
        for k, v in {
            "token": TOKEN,
            "content": "user",
            "format": "json",
            "data": json.dumps([{"username": "amy"}]),
        }.items()
    }
    r = requests.post(emu.url, files=files, timeout=5)
    assert (r.status_code, r.text) == (200, "1")
    assert emu.project(12).users["amy"].dag == ""


def test_wrong_path_is_404(emu):
    r = requests.post(emu.url.replace("/api/", "/other/"), data={"token": TOKEN}, timeout=5)
    assert r.status_code == 404


# -- users --------------------------------------------------------------------------------
def test_new_user_has_no_rights(proj):
    assert proj.import_users([{"username": "bob"}]) == 1
    [user] = proj.export_users()
    assert list(user)[:8] == [
        "username",
        "email",
        "firstname",
        "lastname",
        "expiration",
        "data_access_group",
        "data_access_group_id",
        "data_access_group_label",
    ]
    assert list(user)[-2:] == ["forms", "forms_export"]
    assert len(user) == 40  # 14.5.0 has every field (see test_redcap_versions)
    assert all(
        user[k] == 0
        for k in user
        if k
        not in (
            "username",
            "email",
            "firstname",
            "lastname",
            "expiration",
            "data_access_group",
            "data_access_group_id",
            "data_access_group_label",
            "forms",
            "forms_export",
        )
    )
    assert user["forms"] == {"demographics": 0, "hba1c": 0}
    assert user["forms_export"] == {"demographics": 0, "hba1c": 0}


def test_import_updates_only_given_fields_and_users_sort_by_name(proj):
    proj.import_users([{"username": "zoe", "design": 1, "forms": {"hba1c": 3}}, {"username": "al", "user_rights": 2}])
    proj.import_users([{"username": "zoe", "api_export": 1}])
    users = proj.export_users()
    assert [u["username"] for u in users] == ["al", "zoe"]
    assert (users[1]["design"], users[1]["api_export"]) == (1, 1)
    assert users[1]["forms"] == {"demographics": 0, "hba1c": 3}
    assert users[0]["user_rights"] == 2


def test_omitted_dag_is_dropped_on_import(emu, proj):
    proj.import_users([{"username": "bob", "data_access_group": "ucsf", "design": 1}])
    assert proj.export_users()[0]["data_access_group"] == "ucsf"
    assert proj.export_users()[0]["data_access_group_id"] == 2
    proj.import_users([{"username": "bob", "design": 1}])
    user = proj.export_users()[0]
    assert (user["data_access_group"], user["data_access_group_id"]) == ("", "")
    assert proj.export_user_dag_assignment() == [{"username": "bob", "redcap_data_access_group": ""}]
    assert emu.project(12).users["bob"].dag == ""


def test_unknown_field_is_400_naming_it(emu, proj):
    r = post(
        emu,
        token=TOKEN,
        content="user",
        format="json",
        data=json.dumps([{"username": "bob", "desing": 1, "colour": "red"}]),
    )
    assert r.status_code == 400
    assert r.json() == {"error": 'The following fields are not valid: "desing", "colour"'}
    with pytest.raises(RedcapError, match="desing"):
        proj.import_users([{"username": "bob", "desing": 1}])
    assert proj.export_users() == []


def test_unknown_dag_is_400(emu):
    r = post(
        emu,
        token=TOKEN,
        content="user",
        format="json",
        data=json.dumps([{"username": "bob", "data_access_group": "stanford"}]),
    )
    assert r.status_code == 400
    assert r.json()["error"].startswith('The Data Access Group "stanford" for user "bob" does not exist')
    assert emu.project(12).users == {}


@pytest.mark.parametrize(
    "row, word",
    [
        ({"username": "bob", "design": 2}, '"design"'),
        ({"username": "bob", "user_rights": 3}, '"user_rights"'),
        ({"username": "bob", "forms": {"hba1c": 5}}, '"hba1c"'),
        ({"username": "bob", "forms": {"hba1c": 130}}, '"hba1c"'),  # 15.6 value on 14.5
        ({"username": "bob", "forms_export": {"hba1c": 4}}, '"forms_export"'),
        ({"username": "bob", "forms": {"labs": 1}}, '"labs"'),
        ({"username": "bob", "expiration": "31/12/2025"}, "expiration"),
        ({"design": 1}, '"username"'),
    ],
)
def test_bad_values_are_400(emu, row, word):
    r = post(emu, token=TOKEN, content="user", format="json", data=json.dumps([row]))
    assert r.status_code == 400
    assert word in r.json()["error"]
    assert emu.project(12).users == {}


def test_user_rights_read_only_needs_14_1():
    emu = RedcapEmulator(version="14.0.3")
    token = emu.add_project(1, "p", ["f"])
    with emu:
        r = post(
            emu, token=token, content="user", format="json", data=json.dumps([{"username": "bob", "user_rights": 2}])
        )
        assert r.status_code == 400
        assert re.fullmatch(r"[0-9A-F]{32}", token)


def test_forms_in_csv_before_15_6(emu, proj):
    csv_in = (
        "username,data_access_group,design,forms,forms_export\n"
        'bob,mgh,1,"demographics:1,hba1c:2","demographics:3,hba1c:1"\n'
    )
    assert proj.import_users(csv_in, import_format="csv") == 1
    text = proj.export_users(format_type="csv")
    header, row = text.strip().split("\n")
    assert header.split(",")[-2:] == ["forms", "forms_export"]
    assert row.startswith("bob,,,,,mgh,1,MGH,1,0,")
    assert row.endswith(',"demographics:1,hba1c:2","demographics:3,hba1c:1"')


def test_forms_encoding_from_15_6(emu156):
    proj = Project(emu156.url, TOKEN)
    proj.import_users([{"username": "bob", "forms": {"hba1c": 154}}])
    assert proj.export_users()[0]["forms"] == {"demographics": 128, "hba1c": 154}
    assert (
        proj.export_users(format_type="csv").strip().endswith(',"demographics:128,hba1c:154","demographics:0,hba1c:0"')
    )
    with pytest.raises(RedcapError, match="hba1c"):
        proj.import_users([{"username": "bob", "forms": {"hba1c": 1}}])
    proj.import_users([{"username": "bob", "forms": "demographics:146"}])
    assert proj.export_users()[0]["forms"] == {"demographics": 146, "hba1c": 128}  # unlisted


def test_delete_users(emu, proj):
    proj.import_users([{"username": "a"}, {"username": "b"}, {"username": "c"}])
    assert proj.delete_users(["a", "c"]) == 1 + 1
    assert [u["username"] for u in proj.export_users()] == ["b"]
    r = post(
        emu, token=TOKEN, content="user", action="delete", returnFormat="json", **{"users[0]": "b", "users[1]": "ghost"}
    )
    assert r.status_code == 400
    assert r.json() == {"error": 'The following users do not exist in the project: "ghost"'}
    assert list(emu.project(12).users) == ["b"]


# -- roles ----------------------------------------------------------------------------------
def test_role_creation_update_and_delete(emu, proj):
    assert proj.import_user_roles([{"role_label": "Monitor", "reports": 1, "forms": {"demographics": 2}}]) == 1
    [role] = proj.export_user_roles()
    assert re.fullmatch(r"U-[0-9A-Z]{10}", role["unique_role_name"])
    assert (role["role_label"], role["reports"], role["design"]) == ("Monitor", "1", "0")
    assert role["forms"] == {"demographics": 2, "hba1c": 0}
    name = role["unique_role_name"]
    proj.import_user_roles([{"unique_role_name": name, "role_label": "Site monitor", "design": 1}])
    role = proj.export_user_roles()[0]
    assert (role["role_label"], role["reports"], role["design"]) == ("Site monitor", "1", "1")
    with pytest.raises(RedcapError, match="U-NOSUCHROLE"):
        proj.import_user_roles([{"unique_role_name": "U-NOSUCHROLE", "role_label": "x"}])
    assert proj.delete_user_roles([name]) == 1
    assert proj.export_user_roles() == []


def test_role_assignment_with_dag(emu, proj):
    proj.import_user_roles([{"role_label": "Data entry", "record_create": 1}])
    name = proj.export_user_roles()[0]["unique_role_name"]
    proj.import_users([{"username": "bob"}])
    assert (
        proj.import_user_role_assignment([{"username": "bob", "unique_role_name": name, "data_access_group": "mgh"}])
        == 1
    )
    assert proj.export_user_role_assignment() == [
        {"username": "bob", "unique_role_name": name, "data_access_group": "mgh"}
    ]
    assert proj.export_users()[0]["record_create"] == 1  # a role's rights apply
    with pytest.raises(RedcapError, match="ghost"):
        proj.import_user_role_assignment([{"username": "ghost", "unique_role_name": name}])


# -- DAGs -------------------------------------------------------------------------------------
def test_dags_import_rename_delete(emu, proj):
    assert proj.export_dags() == [
        {"data_access_group_name": "MGH", "unique_group_name": "mgh", "data_access_group_id": 1},
        {"data_access_group_name": "UCSF", "unique_group_name": "ucsf", "data_access_group_id": 2},
    ]
    assert (
        proj.import_dags(
            [
                {"data_access_group_name": "Stanford Hospital", "unique_group_name": ""},
                {"data_access_group_name": "Mass General", "unique_group_name": "mgh"},
            ]
        )
        == 2
    )
    dags = proj.export_dags()
    assert [(d["unique_group_name"], d["data_access_group_name"]) for d in dags] == [
        ("mgh", "Mass General"),
        ("ucsf", "UCSF"),
        ("stanford_hospital", "Stanford Hospital"),
    ]
    proj.import_users([{"username": "bob", "data_access_group": "ucsf"}])
    assert proj.delete_dags(["ucsf"]) == 1
    assert proj.export_user_dag_assignment() == [{"username": "bob", "redcap_data_access_group": ""}]
    with pytest.raises(RedcapError, match="ucsf"):
        proj.delete_dags(["ucsf"])


def test_user_dag_assignment(emu, proj):
    proj.import_users([{"username": "bob"}, {"username": "amy"}])
    assert proj.import_user_dag_assignment([{"username": "bob", "redcap_data_access_group": "ucsf"}]) == 1
    assert proj.export_user_dag_assignment(format_type="csv") == ("username,redcap_data_access_group\namy,\nbob,ucsf\n")
    r = post(
        emu,
        token=TOKEN,
        content="userDagMapping",
        action="import",
        format="json",
        data=json.dumps([{"username": "bob", "redcap_data_access_group": "nope"}]),
    )
    assert r.status_code == 400 and '"nope"' in r.json()["error"]


# -- test hooks -----------------------------------------------------------------------------
def test_fail_next_then_recover_and_requests_log(emu, proj):
    emu.fail_next(2, status=503, body="Service Unavailable")
    for _ in range(2):
        r = post(emu, token=TOKEN, content="version")
        assert (r.status_code, r.text) == (503, "Service Unavailable")
    assert post(emu, token=TOKEN, content="version").status_code == 200
    proj.import_users([{"username": "bob", "data_access_group": "mgh"}])
    assert len(emu.requests) == 4
    assert all("token" not in r for r in emu.requests)
    assert emu.requests[-1]["content"] == "user"
    assert json.loads(emu.requests[-1]["data"])[0]["data_access_group"] == "mgh"


def test_delay_next_times_out_once(emu):
    # a second's margin each way: a busy machine answers late, never as late as the delay
    emu.delay_next(1, 3.0)
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.post(emu.url, data={"token": TOKEN, "content": "version"}, timeout=1.0)
    r = requests.post(emu.url, data={"token": TOKEN, "content": "version"}, timeout=2.0)
    assert r.text == "14.5.0"


def test_concurrent_imports(emu):
    errors = []

    def worker(i):
        try:
            r = post(
                emu,
                token=TOKEN,
                content="user",
                format="json",
                data=json.dumps([{"username": f"user{i:02d}", "design": i % 2}]),
            )
            assert r.text == "1"
        except Exception as exc:  # noqa: BLE001  (any failure in a thread is reported below)
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    users = Project(emu.url, TOKEN).export_users()
    assert [u["username"] for u in users] == [f"user{i:02d}" for i in range(24)]
    assert len(emu.requests) == 25


def test_cli_project_spec():
    assert parse_project_spec("12:ABC:demographics,hba1c:mgh=MGH,ucsf=UCSF") == {
        "project_id": 12,
        "token": "ABC",
        "forms": ["demographics", "hba1c"],
        "dags": [("mgh", "MGH"), ("ucsf", "UCSF")],
    }
    assert parse_project_spec("3::f")["token"] is None


def test_command_line_serves_the_given_projects():
    import os
    import subprocess
    import sys

    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "edcconf.emulator.redcap",
            "--port",
            "0",
            "--project",
            f"12:{TOKEN}:demographics,hba1c:mgh=MGH,ucsf=UCSF",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout.readline().strip() == f"project 12: token {TOKEN}"
        line = proc.stdout.readline().strip()
        url = re.search(r"http://127\.0\.0\.1:\d+/api/$", line).group(0)
        assert [d["unique_group_name"] for d in Project(url, TOKEN).export_dags()] == ["mgh", "ucsf"]
    finally:
        proc.terminate()
        proc.wait(timeout=5)
