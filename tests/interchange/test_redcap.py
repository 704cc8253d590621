import pytest

from edcconf.catalogs.redcap_versions import DEFAULT_VERSION
from edcconf.interchange.acg import (
    DQR_CODES,
    RIGHT_NAMES,
    SAG_KEY_OF_ACG,
    AcgAssignment,
    AcgDefinition,
    acg_rights_from_sag,
    read_acg_assignments,
    read_acg_definitions,
    sag_rights_from_acg,
    write_acg_assignments,
    write_acg_definitions,
)
from edcconf.interchange.redcap_users import (
    API_TO_INTERNAL,
    RedcapDagAssignment,
    RedcapRole,
    RedcapRoleAssignment,
    RedcapUser,
    read_redcap_dag_assignments,
    read_redcap_role_assignments,
    read_redcap_roles,
    read_redcap_users,
    user_header,
    write_redcap_dag_assignments,
    write_redcap_role_assignments,
    write_redcap_roles,
    write_redcap_users,
)

from .conftest import codes_at


def test_acg_golden_and_round_trip():
    got = write_acg_definitions(
        [
            AcgDefinition("G-NORIGHTS", "No Rights", True, {}),
            AcgDefinition("G-0123456789abc", "Data entry", False, {"data_entry": 2, "user_rights": 2}),
        ]
    )
    zeros = ",0" * 37
    assert (
        got
        == (
            "group_id,group_name,is_default_group," + ",".join(RIGHT_NAMES) + "\n"
            'G-NORIGHTS,"No Rights",1' + zeros + "\n"
            'G-0123456789abc,"Data entry",0' + ",0" * 10 + ",2" + ",0" * 6 + ",2" + ",0" * 19 + "\n"
        ).encode()
    )
    assert write_acg_definitions(read_acg_definitions(got, "g.csv").rows) == got
    assign = write_acg_assignments([AcgAssignment("ibergstrom", "G-NORIGHTS", "No Rights")])
    assert assign == b'Username,"ACG ID","Group Name (For Reference Only)"\nibergstrom,G-NORIGHTS,"No Rights"\n'
    assert write_acg_assignments(read_acg_assignments(assign, "a.csv").rows) == assign


def test_acg_malformed_corpus():
    h = "group_id,group_name,is_default_group"
    cases = {
        "group_id,group_name\nG-NORIGHTS,No Rights\n": [("csv-missing-column", 1)],
        h + ",bogus\nG-NORIGHTS,No Rights,1,0\n": [("csv-unknown-column", 1)],
        h + ",data_entry\nG-NORIGHTS,No Rights,1,6\nG-1,X,0,0\n": [("csv-unknown-value", 2), ("csv-unknown-value", 3)],
        h + "\nG-NORIGHTS,No Rights,1\nG-NORIGHTS,No Rights,0\n": [("csv-duplicate-row", 3), ("csv-duplicate-row", 3)],
        h + "\nG-0123456789abc,,0\n": [("csv-required", 2)],
    }
    for data, expected in cases.items():
        assert codes_at(read_acg_definitions(data.encode(), "g.csv")) == expected, data
    blank = b"Username,ACG ID\nalice,G-NORIGHTS\nbob,\n"
    assert codes_at(read_acg_assignments(blank, "a.csv")) == [("csv-required", 3)]


def test_acg_assignment_repeated_username_keeps_the_last_row():
    """REDCap keeps the last row of a username listed twice: so does the reader, with a warning."""
    dup = b"Username,ACG ID\nalice,G-NORIGHTS\nbob,G-NORIGHTS\nALICE,G-0123456789abc\nalice,G-00000000000ff\n"
    parsed = read_acg_assignments(dup, "a.csv")
    assert parsed.ok and codes_at(parsed) == [("csv-duplicate-row", 4), ("csv-duplicate-row", 5)]
    assert [(r.username, r.group_id, r.line) for r in parsed.rows] == [
        ("bob", "G-NORIGHTS", 3),
        ("alice", "G-00000000000ff", 5),
    ]
    first = parsed.warnings[0]
    assert first.severity == "warning" and str(first.loc) == "a.csv:4"
    assert first.message == "user ALICE is also assigned on line 2; REDCap keeps the last row (line 5)"


def test_role_and_dag_assignment_repeated_username_keeps_the_last_row():
    roles = read_redcap_role_assignments(b"username,unique_role_name\nbob,U-1\nBob,U-2\n", "ra.csv")
    assert roles.ok and codes_at(roles) == [("csv-duplicate-row", 3)]
    assert roles.rows == (RedcapRoleAssignment("Bob", "U-2"),)
    assert "also assigned on line 2; REDCap keeps the last row (line 3)" in roles.warnings[0].message
    dags = read_redcap_dag_assignments(b"username,redcap_data_access_group\nbob,site_a\nbob,site_b\nann,\n", "d.csv")
    assert dags.ok and codes_at(dags) == [("csv-duplicate-row", 3)]
    assert dags.rows == (RedcapDagAssignment("bob", "site_b"), RedcapDagAssignment("ann", ""))


def test_acg_sag_correspondence_round_trips():
    assert SAG_KEY_OF_ACG["data_entry"] == ("dataViewing",)
    assert SAG_KEY_OF_ACG["data_export_instruments"] == ("dataExport",)
    assert SAG_KEY_OF_ACG["double_data"] == ("double_data_reviewer", "double_data_person")
    for code in DQR_CODES:
        acg = {
            "data_entry": 3,
            "data_export_instruments": 1,
            "double_data": 1,
            "user_rights": 2,
            "data_quality_resolution": code,
        }
        sag = sag_rights_from_acg(acg)
        assert sag["dataViewing"] == 3 and sag["double_data_person"] == 1
        assert acg_rights_from_sag(sag) == acg


USERS = [
    RedcapUser(
        "ibergstrom",
        "2026-06-30",
        "hopital_pitie",
        {"design": 1, "user_rights": 2, "lock_records": 2},
        {"demographics": 1, "adverse_events": 2},
        {"demographics": 3},
        {"firstname": "Ingrid"},
    ),
    RedcapUser("jdoe"),
]


def test_users_golden_and_round_trip():
    got = write_redcap_users(USERS)
    # the current LTS's columns: DESIGN's, then api_modules, the mobile app and randomisation ones
    assert (
        got
        == (
            ",".join(user_header(DEFAULT_VERSION)) + ",firstname\n"
            "ibergstrom,2026-06-30,hopital_pitie,1,2"
            + ",0" * 19
            + ",2,0,0"
            + ",0" * 6
            + ',"demographics:1,adverse_events:2",demographics:3,Ingrid\n'
            "jdoe,,,0,0" + ",0" * 28 + ",,,\n"
        ).encode()
    )
    parsed = read_redcap_users(got, "u.csv")
    assert (
        parsed.ok
        and [r.forms for r in parsed.rows] == [u.forms for u in USERS]
        and write_redcap_users(parsed.rows) == got
    )
    assert (
        API_TO_INTERNAL["stats_and_charts"] == "graphical"
        and API_TO_INTERNAL["forms_export"] == "data_export_instruments"
    )


def test_form_rights_versions():
    new = write_redcap_users([RedcapUser("a", forms={"f": 154, "g": 128})])
    assert read_redcap_users(new, "u.csv").ok and read_redcap_users(new, "u.csv", version="15.6.0").ok
    assert codes_at(read_redcap_users(new, "u.csv", version="15.5.9")) == [("csv-unknown-value", 2)] * 2
    mixed = write_redcap_users([RedcapUser("a", forms={"f": 154}), RedcapUser("b", forms={"f": 1})])
    assert ("csv-unknown-value", 1) in codes_at(read_redcap_users(mixed, "u.csv"))


def test_users_malformed_corpus():
    good = write_redcap_users(USERS).decode()
    header, first, second = good.splitlines()
    cases = {
        header.replace("username,", "") + "\n": [("csv-missing-column", 1)],
        header + ",bogus\n": [("csv-unknown-column", 1)],
        header + "\n" + first.replace("hopital_pitie,1,2", "hopital_pitie,1,3") + "\n": [("csv-unknown-value", 2)],
        header + "\n" + first + "\n" + second + "\n" + first + "\n": [("csv-duplicate-row", 4)],
        header + "\n" + second[4:] + "\n": [("csv-required", 2)],
    }
    for data, expected in cases.items():
        assert codes_at(read_redcap_users(data.encode(), "u.csv")) == expected, data


def test_roles_and_assignments():
    role = RedcapRole("U-527D39JXAC", "Site coordinator, Pitié", {"record_create": 1}, {"demographics": 1}, {})
    data = write_redcap_roles([role])
    assert data.startswith(b"unique_role_name,role_label,design,") and b'"Site coordinator, Piti\xc3\xa9"' in data
    assert (
        read_redcap_roles(data, "r.csv").rows[0].rights["record_create"] == 1
        and write_redcap_roles(read_redcap_roles(data, "r.csv").rows) == data
    )
    ra = write_redcap_role_assignments([RedcapRoleAssignment("alice", "U-527D39JXAC", "")])
    assert ra == b"username,unique_role_name,data_access_group\nalice,U-527D39JXAC,\n"
    assert write_redcap_role_assignments(read_redcap_role_assignments(ra, "ra.csv").rows) == ra
    # a blank role is a user in no role (REDCap's own export writes it so); a user listed twice keeps the last row
    parsed = read_redcap_role_assignments(b"username,unique_role_name\nalice,\nbob,U-1\nbob,U-2\n", "ra.csv")
    assert [(r.username, r.unique_role_name) for r in parsed.rows] == [("alice", ""), ("bob", "U-2")]
    assert [(d.code, d.severity) for d in parsed.diagnostics] == [("csv-duplicate-row", "warning")]
    dag = write_redcap_dag_assignments([RedcapDagAssignment("alice", "hopital_pitie"), RedcapDagAssignment("bob")])
    assert dag == b"username,redcap_data_access_group\nalice,hopital_pitie\nbob,\n"
    assert write_redcap_dag_assignments(read_redcap_dag_assignments(dag, "d.csv").rows) == dag
    assert codes_at(read_redcap_dag_assignments(b"username,dag\n", "d.csv")) == [
        ("csv-missing-column", 1),
        ("csv-unknown-column", 1),
    ]


def test_the_upload_has_each_versions_columns_and_refuses_a_right_it_cannot_carry():
    """A REDCap before 14.5 has no randomisation columns: the file for it has none, and a user holding
    such a right is refused rather than written as if the right were 0."""
    old = write_redcap_users([RedcapUser("a", rights={"design": 1})], version="14.0.0")
    assert b"random_setup" not in old and b"api_modules" in old and b"mycap_participants" in old
    assert b"api_modules" not in write_redcap_users([RedcapUser("a")], version="13.7.0")
    with pytest.raises(ValueError, match="random_perform"):
        write_redcap_users([RedcapUser("a", rights={"random_perform": 1})], version="14.0.0")
    # a REDCap 13 export lacks the newer columns: they read as 0, the file is accepted
    exported = write_redcap_users([RedcapUser("b", rights={"design": 1}, forms={"f": 1})], version="13.7.0")
    (row,) = read_redcap_users(exported, "u.csv").rows
    assert row.rights["design"] == 1 and row.rights.get("random_setup", 0) == 0
