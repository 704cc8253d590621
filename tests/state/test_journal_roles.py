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
