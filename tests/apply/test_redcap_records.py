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
