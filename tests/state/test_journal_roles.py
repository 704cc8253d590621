"""The journal holds each role's value once: later lines name the ref alone, and read() gives every change
its role back, exactly as journaled."""

from __future__ import annotations

import json

import pytest

from edcconf.diagnostics import UserError
from edcconf.state.journal import FileJournal

MONITOR = {"base_role": "monitor", "forms": {f"form_{i}": "review" for i in range(12)}, "rights": {"export": 1}}
ENTRY = {"role": ["S1/monitor#abc", MONITOR]}


def grant(user: str, role: list | None = None) -> dict:
    return {"action": "create", "kind": "grant", "key": f"S1/{user}", "after": {"user": user}, "role": role}


def lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_role_value_is_written_once_and_read_back_for_every_change(tmp_path):
    journal = FileJournal(tmp_path / "test.journal")
    journal.begin({"id": "a"})
    journal.append([grant("u1", ENTRY["role"]), grant("u2", ENTRY["role"])])
    journal.append([grant("u3", ENTRY["role"]), grant("u4", None), {"outputs": [], "deferred": 0}])
    written = lines(journal.path)[1:]
    assert [len(e["role"]) if e.get("role") else 0 for e in written] == [2, 1, 1, 0, 0]
    header, entries, seal = journal.read()
    assert header == {"id": "a"} and seal is None
    assert [e.get("role") for e in entries] == [ENTRY["role"]] * 3 + [None, None]
    assert entries[0]["role"][1] is entries[2]["role"][1]  # one value, shared


def test_a_new_journal_holds_the_value_again(tmp_path):
    journal = FileJournal(tmp_path / "test.journal")
    journal.begin({"id": "a"})
    journal.append([grant("u1", ENTRY["role"])])
    journal.clear()
    journal.begin({"id": "b"})
    journal.append([grant("u2", ENTRY["role"])])
    assert lines(journal.path)[1]["role"] == ENTRY["role"]


def test_after_a_failed_append_the_next_lines_hold_the_value_again(tmp_path):
    journal = FileJournal(tmp_path / "test.journal")
    journal.begin({"id": "a"})

    def failing():
        yield grant("u1", ENTRY["role"])
        raise OSError("disk full")

    with pytest.raises(OSError):
        journal.append(failing())
    journal.append([grant("u2", ENTRY["role"])])
    assert lines(journal.path)[-1]["role"] == ENTRY["role"]


def test_a_ref_no_earlier_line_holds_is_a_damaged_journal(tmp_path):
    path = tmp_path / "test.journal"
    path.write_text(json.dumps({"header": {"id": "a"}}) + "\n" + json.dumps(grant("u1", ["S1/monitor#abc"])) + "\n")
    with pytest.raises(UserError) as refused:
        FileJournal(path).read()
    assert refused.value.code == "state-invalid" and "S1/monitor#abc" in refused.value.message


def test_a_grant_expanded_from_its_role_is_journaled_compact_and_read_back_whole(tmp_path):
    from edcconf.resolve.effective import expand_grant

    ref = "S1/monitor#abc"
    stored = {"study": "S1", "user": "u1", "role": "monitor", "sites": ["A"], "role_ref": ref}
    after = expand_grant({"roles": {ref: MONITOR}}, stored)
    odd = {**after, "sites": ["B"]}  # not what its compact value gives: kept as it is
    disabled = {**stored, "study_status": "disabled"}
    journal = FileJournal(tmp_path / "test.journal")
    journal.begin({"id": "a"})
    journal.append(
        [
            {"kind": "grant", "key": "S1/u1", "after": after, "stored": stored, "role": [ref, MONITOR]},
            {"kind": "grant", "key": "S1/u2", "after": odd, "stored": stored, "role": [ref, MONITOR]},
            {
                "kind": "grant",
                "key": "S1/u3",
                "after": expand_grant({"roles": {ref: MONITOR}}, disabled),
                "stored": disabled,
                "role": [ref, MONITOR],
            },
            {"kind": "grant", "key": "S1/u4", "after": None, "before": after, "stored": None, "role": [ref, MONITOR]},
        ]
    )
    written = lines(journal.path)[1:]
    assert ["after" in e for e in written] == [False, True, False, True]
    _, entries, _ = journal.read()
    assert json.loads(json.dumps([e["after"] for e in entries])) == json.loads(
        json.dumps([after, odd, expand_grant({"roles": {ref: MONITOR}}, disabled), None])
    )
    assert all(set(e["after"]["forms"].values()) == {"none"} for e in entries[2:3])  # disabled: no access
