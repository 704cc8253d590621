"""speed.decode.loads_shared: the values of json.loads, held in fewer objects (equal strings shared; a grant
or role equal to the desired state's is that very object), with or without a desired state to match."""

from __future__ import annotations

import json

from edcconf.speed.decode import loads_shared

ROLE = {"base_role": "crc", "forms": {"demo": "edit", "labs": "read"}, "redcap_forms": {"demo": {"view": 1}}}
GRANT = {"study": "S1", "user": "ana", "role": "crc", "role_ref": "S1/crc@ab12", "sites": ["A", "B"], "expires": None}
STATE = {
    "grants": {
        "S1/ana": GRANT,
        "S1/bob": {**GRANT, "user": "bob", "sites": ["A"]},
        "S2/ana": {**GRANT, "study": "S2", "role_ref": "S2/crc@cd34"},
    },
    "roles": {"S1/crc@ab12": ROLE, "S2/crc@cd34": {**ROLE, "forms": {"demo": "none"}}},
    "note": "a longer text than any id, repeated: " + "x" * 80,
    "again": "a longer text than any id, repeated: " + "x" * 80,
}


def test_without_a_desired_state_the_values_are_json_loads_with_strings_shared():
    text = json.dumps(STATE)
    got = loads_shared(text)
    assert got == json.loads(text)
    grants = got["grants"]
    assert grants["S1/ana"]["role"] is grants["S1/bob"]["role"]  # short text: interned
    assert grants["S1/ana"]["sites"][0] is grants["S1/bob"]["sites"][0]  # in lists too
    assert got["note"] is got["again"]  # longer text: shared within the decode
    assert got["roles"]["S1/crc@ab12"] is not ROLE  # nothing to match: decoded afresh


def test_with_a_desired_state_equal_grants_and_roles_are_its_objects():
    text = json.dumps(STATE)
    desired = {"grants": {"S1/ana": GRANT}, "roles": {"S1/crc@ab12": ROLE}}
    got = loads_shared(text, desired)
    assert got == json.loads(text)
    assert got["grants"]["S1/ana"] is GRANT and got["roles"]["S1/crc@ab12"] is ROLE
    assert got["grants"]["S1/bob"] is not GRANT  # a different value is never replaced
    assert got["roles"]["S2/crc@cd34"] is not ROLE
