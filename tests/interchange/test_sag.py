from hypothesis import given, settings
from hypothesis import strategies as st

from edcconf.interchange.sag import (
    ALLOWED,
    RIGHT_KEYS,
    SagAssignment,
    SagDefinition,
    read_sag_assignments,
    read_sag_definitions,
    write_sag_assignments,
    write_sag_definitions,
)
from tests.conftest import examples

from .conftest import codes_at

ZEROS = ",".join(['"0"'] * 40)


def test_right_keys_are_designs_order():
    assert RIGHT_KEYS[:5] == ("design", "user_rights", "data_access_groups", "dataViewing", "dataExport")
    assert RIGHT_KEYS[-3:] == ("api_import", "mobile_app_download_data", "lock_record_multiform")
    assert len(RIGHT_KEYS) == 40 and ALLOWED["user_rights"] == (0, 2, 1) and ALLOWED["dataViewing"][-1] == 5


def test_golden_definitions():
    rights = {"design": 1, "user_rights": 2, "dataViewing": 3, "lock_record_multiform": 1}
    got = write_sag_definitions(
        [
            SagDefinition("sag_Default", "Default SAG", {}),
            SagDefinition("sag_31200ab5dce9a", 'Hôpital "Pitié"', rights),
            SagDefinition("", "=cmd", {}),
        ]
    )
    header = '"sag_name","sag_id",' + ",".join(f'"{k}"' for k in RIGHT_KEYS)
    row2 = '"1","2","0","3"' + ',"0"' * 35 + ',"1"'
    assert got == (
        header
        + "\n"
        + '"Default SAG","sag_Default",'
        + ZEROS
        + "\n"
        + '"Hôpital ""Pitié""","sag_31200ab5dce9a",'
        + row2
        + "\n"
        + '"\'=cmd","",'
        + ZEROS
    ).encode("utf-8")  # no final newline, no BOM


def test_read_module_template_with_bom_crlf_and_missing_columns():
    data = "\ufeffsag_name,sag_id,dataViewing,api_modules\r\nNew,,4,1\r\n'=x,sag_0123456789abc,0,0\r\n".encode()
    parsed = read_sag_definitions(data, "s.csv")
    assert parsed.ok, parsed.diagnostics
    new, x = parsed.rows
    assert new.sag_id == "" and new.rights["dataViewing"] == 4 and new.rights["design"] == 0
    assert new.rights["api_modules"] == 1 and x.sag_name == "=x"
    again = write_sag_definitions(parsed.rows)
    assert write_sag_definitions(read_sag_definitions(again, "s.csv").rows) == again
    assert again.splitlines()[0].endswith(b'"lock_record_multiform","api_modules"')


def test_malformed_corpus():
    cases = {
        b"sag_id,design\nsag_Default,0\n": [("csv-missing-column", 1)],
        b"sag_name,sag_id,bogus\nA,,0\n": [("csv-unknown-column", 1)],
        b"sag_name,sag_id,user_rights\nA,,3\nB,sag_XYZ,0\n": [("csv-unknown-value", 2), ("csv-unknown-value", 3)],
        b"sag_name,sag_id\nA,sag_Default\nB,sag_Default\nC,\nC,\n": [
            ("csv-duplicate-row", 3),
            ("csv-duplicate-row", 5),
        ],
        b'sag_name,sag_id\n"multi\nline",\n,sag_Default\n': [("csv-required", 4)],
        b"sag_name,sag_id\nA,,1\n": [("csv-malformed", 2)],
        b"sag_name,sag_id\n\xff,\n": [("csv-malformed", 2)],
    }
    for data, expected in cases.items():
        assert codes_at(read_sag_definitions(data, "s.csv")) == expected, data


def test_every_problem_is_reported():
    parsed = read_sag_definitions(b"sag_name,sag_id,design,dataExport\nA,,2,4\n,sag_Default,0,0\n", "s.csv")
    assert codes_at(parsed) == [("csv-required", 3), ("csv-unknown-value", 2), ("csv-unknown-value", 2)]
    assert not parsed.ok and "use one of 0, 1" in parsed.errors[0].message + parsed.errors[1].message


def test_golden_assignments_and_round_trip():
    rows = [SagAssignment("ibergstrom", "sag_Default", "Ingrid Bergström", "ib@example.org", "Default SAG")]
    got = write_sag_assignments(rows)
    assert (
        got
        == (
            '"username","name","email","sag","sag_id"\n'
            '"ibergstrom","Ingrid Bergström","ib@example.org","Default SAG","sag_Default"'
        ).encode()
    )
    assert read_sag_assignments(got, "a.csv").rows == tuple(rows)


def test_assignment_problems():
    data = b"username,sag_id,comment\nalice,sag_Default,x\nbob,,z\ncarol,sag_1,w\n"
    assert codes_at(read_sag_assignments(data, "a.csv")) == [("csv-required", 3), ("csv-unknown-value", 4)]
    assert codes_at(read_sag_assignments(b"user,sag_id\n", "a.csv")) == [("csv-missing-column", 1)]


text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=12)
sag_ids = st.one_of(
    st.just(""), st.just("sag_Default"), st.text("0123456789abcdef", min_size=13, max_size=13).map(lambda h: "sag_" + h)
)
rights = st.fixed_dictionaries({k: st.sampled_from(ALLOWED[k]) for k in RIGHT_KEYS})


@settings(max_examples=examples(60), deadline=None)
@given(st.lists(st.tuples(sag_ids, text.filter(lambda s: s.strip() == s and s), rights), max_size=5))
def test_property_export_import_export(raw):
    seen, rows = set(), []
    for sag_id, name, r in raw:
        key = sag_id or "new:" + name
        if key not in seen:
            seen.add(key)
            rows.append(SagDefinition(sag_id, name, r))
    first = write_sag_definitions(rows)
    parsed = read_sag_definitions(first, "p.csv")
    assert parsed.ok, parsed.diagnostics
    assert write_sag_definitions(parsed.rows) == first


def test_repeated_username_keeps_the_last_row():
    """The module, like REDCap, keeps a username's last row: a warning naming both lines, not an error."""
    data = (
        b"username,sag_id,email\nalice,sag_Default,a@x.org\nbob,sag_Default,b@x.org\nALICE,sag_0123456789abc,a2@x.org\n"
    )
    parsed = read_sag_assignments(data, "a.csv")
    assert parsed.ok and codes_at(parsed) == [("csv-duplicate-row", 4)]
    assert [(r.username, r.sag_id, r.email) for r in parsed.rows] == [
        ("bob", "sag_Default", "b@x.org"),
        ("ALICE", "sag_0123456789abc", "a2@x.org"),
    ]
    assert parsed.warnings[0].message == "user ALICE is also assigned on line 2; REDCap keeps the last row (line 4)"
    bad_last = read_sag_assignments(b"username,sag_id\nalice,sag_Default\nalice,sag_1\n", "a.csv")
    assert codes_at(bad_last) == [("csv-duplicate-row", 3), ("csv-unknown-value", 3)] and not bad_last.rows
