"""What an effective grant is in REDCap's terms, and what a live record differs in: every right of the
version, and each form's viewing level with its delete and survey bits (146 is not 130)."""

from __future__ import annotations

import pytest

from edcconf.providers.redcap_records import Unsayable, differences, expected_record, live_record
from edcconf.questions.drift import UNMANAGED, unmanaged_fields

ROLE = {
    "redcap": {"mobile_app": 1, "random_perform": 1, "dataExport": 1},
    "redcap_forms": {"demographics": {"view": 4, "export": 1}, "hba1c": {"view": 2, "export": 0}},
}
GRANT = {"user": "bob", "sites": [], "site_access": "all", "expires": None}


def test_the_expected_record_carries_every_right_in_the_versions_codes():
    new = expected_record(GRANT, ROLE, [], {}, "15.6.1")
    assert new.forms == {"demographics": 146, "hba1c": 130} and new.forms_export == {"demographics": 2, "hba1c": 0}
    assert new.rights["mobile_app"] == 1 and new.rights["random_perform"] == 1
    with pytest.raises(Unsayable, match="per-form delete needs REDCap 15.6"):
        expected_record(GRANT, ROLE, [], {}, "15.5.0")
    with pytest.raises(Unsayable, match="random_perform"):
        expected_record(GRANT, {**ROLE, "redcap_forms": {"hba1c": {"view": 2, "export": 0}}}, [], {}, "14.0.0")


def test_a_lost_delete_bit_and_rights_once_unmodelled_are_differences():
    want = expected_record(GRANT, ROLE, [], {}, "15.6.1")
    live = live_record(
        {
            "username": "bob",
            "mobile_app": 0,
            "random_perform": 1,
            "forms": {"demographics": 130, "hba1c": 130},
            "forms_export": {"demographics": 2, "hba1c": 0},
        },
        "15.6.1",
    )
    found = {(f, str(e), str(g)) for f, e, g in differences(want, live)}
    assert found == {("forms.demographics", "view & edit + delete", "view & edit"), ("mobile_app", "1", "0")}


def test_a_set_right_edcconf_has_no_model_of_is_reported():
    raw = [
        {"username": "bob", "design": 0, "forms": {}, "some_future_right": 1, "email": "b@x.org"},
        {"username": "api", "some_future_right": 1},
        {"username": "eve", "some_future_right": "0"},
    ]
    assert unmanaged_fields(raw, frozenset({"api"})) == [("bob", "some_future_right", 1)]
    assert UNMANAGED == "(not managed by edcconf)"


def test_the_upload_of_a_study_is_the_same_whether_its_roles_records_are_shared_or_not():
    """providers.bulk works a role's part of the records out once for all its grants, and the writer
    renders a shared part once: the bytes must be those of records made one by one."""
    from dataclasses import replace

    from edcconf.interchange.redcap_users import RedcapUser, write_redcap_users
    from edcconf.providers.bulk import redcap_users

    other = {"redcap": {"dataExport": 2}, "forms": {"demographics": "edit", "hba1c": "read"}}
    state = {"studies": {"S": {"sites": ["A", "B"]}}, "roles": {"r1": ROLE, "r2": other}}
    grants = [
        {"user": f"u{i}", "role_ref": "r1" if i % 3 else "r2", "sites": ["A"] if i % 2 else [], "expires": None}
        for i in range(9)
    ]
    rows = redcap_users("S", state, grants, "15.6.1")
    assert rows[1].forms is rows[2].forms  # u1 and u2 hold r1: one mapping
    alone = [
        RedcapUser(r.username, r.expiration, r.data_access_group, dict(r.rights), dict(r.forms), dict(r.forms_export))
        for r in rows
    ]
    assert write_redcap_users(rows, "15.6.1") == write_redcap_users(alone, "15.6.1")
    one_by_one = [expected_record(g, state["roles"][g["role_ref"]], ["A", "B"], {}, "15.6.1") for g in grants]
    assert [(r.username, r.data_access_group, r.rights, r.forms) for r in rows] == [
        (e.username, e.data_access_group, e.rights, e.forms) for e in one_by_one
    ]
    changed = [replace(alone[0], forms={"demographics": 128})] + alone[1:]  # an equal-looking row that differs
    assert write_redcap_users(changed, "15.6.1") != write_redcap_users(rows, "15.6.1")
    with pytest.raises(Unsayable, match="^u1: REDCap 15.5.0 cannot hold"):  # each grant's own user is named
        redcap_users("S", state, grants[1:], "15.5.0")
