"""A state file edited by hand to hold a value of another type (a serial in quotes or negative, a section
that is a number): every command refuses it with a clear error naming the value (exit 1), never takes it
for what it is not, never a traceback."""

import json

import pytest

from tests.conftest import run_inprocess

DAY = "2026-11-24"


def run(root, *args):
    code, out, err = run_inprocess(root, *args)
    assert "Traceback" not in out + err and code != 3, (code, out, err)
    return code, out, err


STATE_EDITS = [
    ('"serial":1,', '"serial":"1",', '"serial" is "1"'),
    ('"serial":1,', '"serial":-5,', '"serial" is -5'),
    ('"serial":1,', '"serial":true,', '"serial" is true'),
    ('"serial":1,', '"serial":1.5,', '"serial" is 1.5'),
    ('"effective":{', '"effective":7,"was":{', '"effective" is 7'),
    ('"accounts":{', '"accounts":5,"was":{', '"effective.accounts" is 5'),
    ('"grants":{', '"grants":[],"was":{', '"effective.grants" is []'),
    ('"cara.crc":{', '"cara.crc":3,"was":{', '"effective.accounts.cara.crc" is 3'),
    ('"lineage":"', '"lineage":12,"was":"', '"lineage" is 12'),
    ('"sources":{', '"sources":9,"was":{', '"sources" is 9'),
]


@pytest.mark.parametrize("old,new,says", STATE_EDITS, ids=[e[2] for e in STATE_EDITS])
def test_a_state_value_edited_to_the_wrong_type(mini_repo, old, new, says):
    assert run(mini_repo, "apply", "--env", "test", "--yes")[0] == 0
    path = mini_repo / ".edcconf/state/test.json"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    for args in (
        ("plan", "--env", "test", "--at", DAY),
        ("show", "--env", "test"),
        ("drift", "--env", "test"),
        ("apply", "--env", "test", "--yes"),
    ):
        code, out, err_text = run(mini_repo, *args)
        assert code == 1 and says in err_text and "test.json.backup" in err_text, (args, err_text)
    code, out, _ = run(mini_repo, "plan", "--env", "test", "--at", DAY, "--json")
    assert code == 1 and json.loads(out)["errors"][0]["code"] == "state-invalid"
