"""The providers' bulk files written by a child while the apply journals (speed/finish_beside.py) are the
files, journal and state of an apply that does both itself; a child that fails leaves nothing of its own and
the files are written here; a provider's error is reported as without the child; the child dies with the
apply; journal lines prepared ahead are the lines append writes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edcconf.providers.csvfiles import CsvProvider
from edcconf.speed import finish_beside
from edcconf.speed.finish_beside import FilesBeside
from edcconf.state.journal import FileJournal
from tests.conftest import generate_org, run_cli

ENV = {"EDCCONF_ACTOR": "alice", "EDCCONF_NO_CACHE": "1"}


@pytest.fixture
def taken(monkeypatch):
    """Every take() answer of this test: None (written here) or how many files the child staged."""
    answers: list[int | None] = []
    original = FilesBeside.take

    def spy(self, staged):
        before = len(staged.files)
        answer = original(self, staged)
        answers.append(None if answer is None else len(staged.files) - before)
        return answer

    monkeypatch.setattr(FilesBeside, "take", spy)
    monkeypatch.setattr(finish_beside, "BESIDE_MIN_CHANGES", 1)
    return answers


def _tree(root: Path) -> dict[str, bytes]:
    """Every file the apply wrote but the audit log (it holds times and ids) and the notifications."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and not rel.startswith((".edcconf/audit", ".edcconf/cache", "build/test/notifications")):
            out[rel] = path.read_bytes()
    return out


def _without_times(tree: dict[str, bytes]) -> dict[str, object]:
    """State files hold the time and the apply's id: compare them without those."""
    out: dict[str, object] = {}
    for rel, data in tree.items():
        if rel.endswith(".json") and rel.startswith(".edcconf/state"):
            value = json.loads(data)
            for key in ("applied_at", "lineage"):
                value.pop(key, None)
            out[rel] = value
        else:
            out[rel] = data
    return out


def _audit(root: Path) -> list[dict]:
    """The audit log's entries without what differs between two applies (time, ids, lineage); each line
    is exactly its entry's JSON with sorted keys."""
    out = []
    for line in (root / ".edcconf" / "audit" / "test.jsonl").read_bytes().splitlines():
        entry = json.loads(line)
        assert line == json.dumps(entry, sort_keys=True).encode()
        out.append({k: v for k, v in entry.items() if k not in ("time", "apply_id", "lineage")})
    return out


def _two_orgs(tmp_path: Path, n: int = 3) -> tuple[Path, Path]:
    beside, here = tmp_path / "beside", tmp_path / "here"
    generate_org(beside, n)
    shutil.copytree(beside, here)
    return beside, here


def test_files_written_beside_are_the_files_written_here(tmp_path, taken):
    beside, here = _two_orgs(tmp_path)
    r = run_cli("apply", "--env", "test", "--yes", cwd=beside, env=ENV)
    assert r.code == 0, r
    assert taken and taken[0], "the child's staged files were used"
    r2 = run_cli("apply", "--env", "test", "--yes", cwd=here, env={**ENV, "EDCCONF_WORKERS": "1"})
    assert r2.code == 0, r2
    assert r.out.replace(str(beside), "ROOT") == r2.out.replace(str(here), "ROOT")
    got, want = _tree(beside), _tree(here)
    assert sorted(got) == sorted(want)
    assert _without_times(got) == _without_times(want)
    assert _audit(beside) == _audit(here) and len(_audit(here)) > 100
    assert not [p for p in beside.rglob("*.staged")] and not [p for p in beside.rglob("*.prepared")]


def test_a_child_that_fails_leaves_nothing_and_the_files_are_written_here(tmp_path, taken, monkeypatch):
    beside, here = _two_orgs(tmp_path)
    real_finish = CsvProvider.finish

    def finish_then_fail_in_the_child(self, applied, effective):
        written = real_finish(self, applied, effective)
        if os.getpid() != parent:
            raise RuntimeError("the child fails after staging its files")
        return written

    parent = os.getpid()
    monkeypatch.setattr(CsvProvider, "finish", finish_then_fail_in_the_child)
    r = run_cli("apply", "--env", "test", "--yes", cwd=beside, env=ENV)
    assert r.code == 0, r
    assert taken == [None]
    r2 = run_cli("apply", "--env", "test", "--yes", cwd=here, env={**ENV, "EDCCONF_WORKERS": "1"})
    assert _without_times(_tree(beside)) == _without_times(_tree(here))
    assert _audit(beside) == _audit(here)
    assert not [p for p in beside.rglob("*.staged")] and not [p for p in beside.rglob("*.prepared")]
    assert r.out.replace(str(beside), "ROOT") == r2.out.replace(str(here), "ROOT")


def test_a_provider_error_is_reported_as_without_the_child(tmp_path, taken, monkeypatch):
    beside, here = _two_orgs(tmp_path, 2)
    from edcconf.providers import ProviderError

    def refuse(self, applied, effective):
        raise ProviderError(applied[0], "disk on fire")

    monkeypatch.setattr(CsvProvider, "finish", refuse)
    r = run_cli("apply", "--env", "test", "--yes", cwd=beside, env=ENV)
    r2 = run_cli("apply", "--env", "test", "--yes", cwd=here, env={**ENV, "EDCCONF_WORKERS": "1"})
    assert taken == [None]
    same = [
        (x.code, x.out.replace(str(root), "ROOT"), x.err.replace(str(root), "ROOT"))
        for x, root in ((r, beside), (r2, here))
    ]
    assert same[0] == same[1] and r.code != 0
    assert "disk on fire" in r.err + r.out
    assert not (beside / ".edcconf" / "state" / "test.json").exists() or json.loads(
        (beside / ".edcconf" / "state" / "test.json").read_text()
    ) == json.loads((here / ".edcconf" / "state" / "test.json").read_text())
    assert not [p for p in beside.rglob("*.staged")] and not [p for p in beside.rglob("*.prepared")]


def test_not_for_a_small_plan_nor_a_provider_that_does_more_than_write_files(monkeypatch):
    class Files:
        finishes_in_files = True

    class Elsewhere:
        pass

    monkeypatch.setattr(finish_beside, "BESIDE_MIN_CHANGES", 10)
    assert finish_beside.finish_beside({"a": Files()}, [object()] * 9, {}) is None
    assert finish_beside.finish_beside({"a": Files(), "b": Elsewhere()}, [object()] * 10, {}) is None
    monkeypatch.setenv("EDCCONF_WORKERS", "1")
    assert finish_beside.finish_beside({"a": Files()}, [object()] * 10, {}) is None


CHILD_OF_A_KILLED_PARENT = """
import os, sys, time
from edcconf.speed.child import _die_with
parent = os.getpid()
pid = os.fork()
if pid == 0:
    _die_with(parent)
    time.sleep(60)
    os._exit(0)
print(pid, flush=True)
time.sleep(60)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_the_child_dies_with_the_apply():
    proc = subprocess.Popen([sys.executable, "-c", CHILD_OF_A_KILLED_PARENT], stdout=subprocess.PIPE, text=True)
    child = int(proc.stdout.readline())
    time.sleep(0.2)  # the child has set its signal
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    for _ in range(100):
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.kill(child, signal.SIGKILL)
    pytest.fail("the child outlived its parent")


def _entries() -> list[dict]:
    role = ["S/crc@1", {"forms": {f"f{i}": "edit" for i in range(10)}, "name": "CRC"}]
    return [
        {"kind": "grant", "key": f"S/u{i}", "role": list(role), "stored": None, "after": {"user": f"u{i}"}}
        for i in range(5)
    ] + [{"kind": "account", "key": "u9"}]


def test_prepared_lines_are_the_lines_append_writes(tmp_path):
    first = [{"outputs": [["a.staged", "a", "0"]], "deferred": 6}]
    plain = FileJournal(tmp_path / "plain.journal")
    plain.begin({"id": 1})
    plain.append(first + _entries())
    ahead = FileJournal(tmp_path / "ahead.journal")
    ahead.begin({"id": 1})
    prepared = ahead.prepare(_entries())
    assert prepared.path.exists()
    ahead.append(first, prepared)
    assert not prepared.path.exists()
    assert ahead.path.read_bytes() == plain.path.read_bytes()
    assert ahead.read() == plain.read()
    assert ahead._roles == plain._roles == {"S/crc@1"}


def test_a_failed_append_of_prepared_lines_forgets_their_roles(tmp_path):
    journal = FileJournal(tmp_path / "j.journal")
    journal.begin({"id": 1})
    prepared = journal.prepare(_entries())
    assert journal._roles == {"S/crc@1"}
    os.unlink(journal.path)  # append cannot open the journal
    with pytest.raises(FileNotFoundError):
        journal.append([{"outputs": [], "deferred": 6}], prepared)
    assert journal._roles == set() and not prepared.path.exists()
    with pytest.raises(ValueError):  # lines before prepared ones naming a role would be misread
        journal.append([_entries()[0]], journal.prepare([]))


def test_audit_lines_from_prepared_changes_are_the_entries_encoded(tmp_path):
    from edcconf.state.audit_lines import AuditStream, prepare_changes
    from edcconf.state.jsonlines import AUDIT_PATHS, LineEncoder

    forms = {f"form_{i}": "edit" for i in range(12)}
    changes = [
        {"action": "create", "key": f"S/u{i}", "after": {"forms": forms, "user": f"u{i}", "note": 'é\n"x"'}}
        for i in range(4)
    ] + [{"action": "revoke", "key": "S/v", "before": {"forms": dict(forms)}, "after": None}]
    base = {"actor": "ann", "time": "2026-12-02T00:00:00+00:00", "reason": 'PR "9"\n\u2028', "serial": 3}
    tail = [{**base, "event": "apply", "applied": 5}]
    prepared = prepare_changes(tmp_path / "changes.prepared", changes)
    framed = b"".join(prepared.lines(base)) + b"".join(map(LineEncoder(AUDIT_PATHS, sort_keys=True).line, tail))
    plain = b"".join(
        json.dumps(e, sort_keys=True, default=str).encode() + b"\n" for e in AuditStream(base, changes, tail)
    )
    assert framed == plain


def test_lines_prepared_and_never_appended_are_forgotten_and_a_clear_removes_what_a_kill_left(tmp_path):
    journal = FileJournal(tmp_path / "j.journal")
    journal.begin({"id": 1})
    prepared = journal.prepare(_entries())
    assert journal._roles == {"S/crc@1"}
    prepared.discard()  # the apply failed before the batch was journaled
    assert journal._roles == set() and not prepared.path.exists()
    journal.append(_entries()[:1])  # the role's value is written again, as its first line
    assert json.loads(journal.path.read_bytes().splitlines()[1])["role"][1]["name"] == "CRC"
    for leftover in journal.prepared_files():  # a kill between making them and using them
        leftover.write_bytes(b"x")
    journal.clear()
    assert not [p for p in journal.prepared_files() if p.exists()] and not journal.path.exists()


def test_a_ctrl_c_while_the_child_works_leaves_nothing_made_ahead(tmp_path, taken, monkeypatch):
    root = tmp_path / "org"
    generate_org(root, 2)

    def interrupted(self, staged):
        raise KeyboardInterrupt

    monkeypatch.setattr(FilesBeside, "take", interrupted)
    r = run_cli("apply", "--env", "test", "--yes", cwd=root, env=ENV)
    assert r.code == 130, r
    assert not [p for p in root.rglob("*.prepared")]
    monkeypatch.undo()
    assert run_cli("apply", "--env", "test", "--yes", cwd=root, env=ENV).code == 0  # the next apply goes on
    assert run_cli("plan", "--env", "test", cwd=root, env=ENV).code == 0
