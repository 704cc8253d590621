"""User imports as REDCap treats them: per-form rights a row lists replace all of them, and\nthe rights of a user in a user role cannot be imported."""

import json

import pytest
import requests
from redcap import Project
from redcap.request import RedcapError

from .conftest import TOKEN, make


def post(emu, **fields):
    return requests.post(emu.url, data=fields, timeout=5)


@pytest.mark.parametrize("version, none", [("14.5.0", 0), ("15.6.0", 128)])
def test_instruments_a_forms_cell_leaves_out_lose_access(version, none):
    emu = make(version)
    try:
        proj = Project(emu.url, TOKEN)
        edit = 1 if none == 0 else 130
        proj.import_users(
            [
                {
                    "username": "bob",
                    "design": 1,
                    "forms": {"demographics": edit, "hba1c": edit},
                    "forms_export": {"demographics": 1, "hba1c": 2},
                }
            ]
        )
        proj.import_users([{"username": "bob", "forms": {"hba1c": edit}, "forms_export": {"demographics": 3}}])
        user = proj.export_users()[0]
        assert user["forms"] == {"demographics": none, "hba1c": edit}
        assert user["forms_export"] == {"demographics": 3, "hba1c": 0}
        assert user["design"] == 1  # other omitted fields keep their values
        # the same through CSV, where forms is one "form:value,..." cell
        proj.import_users(f"username,forms\nbob,demographics:{edit}\n", import_format="csv")
        user = proj.export_users()[0]
        assert user["forms"] == {"demographics": edit, "hba1c": none}
        assert user["forms_export"] == {"demographics": 3, "hba1c": 0}  # not sent: kept
    finally:
        emu.stop()


def test_a_row_without_forms_keeps_the_per_form_rights(proj):
    proj.import_users([{"username": "bob", "forms": {"demographics": 2, "hba1c": 1}, "forms_export": {"hba1c": 1}}])
    proj.import_users([{"username": "bob", "api_export": 1}])
    user = proj.export_users()[0]
    assert user["forms"] == {"demographics": 2, "hba1c": 1}
    assert user["forms_export"] == {"demographics": 0, "hba1c": 1}


IN_ROLE = (
    "The following users are currently assigned to a user role, so their user rights cannot be modified via the API: "
)


def _put_in_a_role(proj, *usernames):
    proj.import_user_roles([{"role_label": "Data entry", "record_create": 1}])
    role = proj.export_user_roles()[-1]["unique_role_name"]
    proj.import_users([{"username": u} for u in usernames])
    proj.import_user_role_assignment([{"username": u, "unique_role_name": role} for u in usernames])
    return role


def test_rights_of_users_in_a_role_are_refused_with_redcaps_message(emu, proj):
    _put_in_a_role(proj, "bob", "amy")
    rows = [{"username": "amy", "design": 1}, {"username": "carl", "design": 1}, {"username": "bob", "design": 1}]
    r = post(emu, token=TOKEN, content="user", format="json", data=json.dumps(rows))
    assert (r.status_code, r.json()) == (400, {"error": IN_ROLE + "amy, bob"})
    r = post(emu, token=TOKEN, content="user", format="json", returnFormat="csv", data=json.dumps(rows[2:]))
    assert (r.status_code, r.text) == (400, "ERROR: " + IN_ROLE + "bob")
    with pytest.raises(RedcapError, match="currently assigned to a user role"):
        proj.import_users([{"username": "bob", "email": "bob@example.org"}])
    assert "carl" not in emu.project(12).users  # all or nothing
    assert {u["username"]: (u["design"], u["record_create"]) for u in proj.export_users()} == {
        "amy": (0, 1),
        "bob": (0, 1),
    }


def test_taking_the_user_out_of_the_role_lets_the_import_through(emu, proj):
    _put_in_a_role(proj, "bob")
    assert proj.import_user_role_assignment([{"username": "bob", "unique_role_name": "", "data_access_group": ""}]) == 1
    assert proj.export_users()[0]["record_create"] == 1  # the role's rights stay
    assert proj.import_users([{"username": "bob", "design": 1, "data_access_group": "mgh"}]) == 1
    user = proj.export_users()[0]
    assert (user["design"], user["record_create"], user["data_access_group"]) == (1, 1, "mgh")
