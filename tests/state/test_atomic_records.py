"""Atomic records: a committed version always has its audit entries (exactly once), a torn audit line is
moved aside and never glued to the next entry, and a journal is never cleared without the audit log
saying what became of it. Kills are placed exactly (os._exit at a chosen point of the commit)."""

import json

import pytest

from tests.conftest import run_inprocess
from tests.faults.test_kill_trials import Local, Postgres, csv_difference, unaudited
from tests.helpers import run_killed

DAY = "2026-11-24"

KILLED_APPLY = """
import itertools, json, os, sys
from datetime import date
from edcconf import workflow
from edcconf.state import local
from edcconf.state.local import LocalBackend

root, point = sys.argv[1], sys.argv[2]
real_write = local.write_atomically

def write_then_die(path, data, durable=True):
    real_write(path, data, durable)
    if point == "after-version" and "history" in path.parts:
        os._exit(9)
    if point == "after-state" and path.name == "test.json":
        os._exit(9)

local.write_atomically = write_then_die
real_append = LocalBackend.append_audit

def append_then_die(self, entries):
    entries = list(entries)
    if point == "mid-audit" and len(entries) > 6:   # the apply's entries: five whole lines, then half of one
        real_append(self, entries[:5])
        line = json.dumps(entries[5], sort_keys=True).encode() + b"\\n"
        fd = os.open(self.audit_path, os.O_WRONLY | os.O_APPEND)
        os.write(fd, line[: len(line) // 2])
        os._exit(9)
    return real_append(self, entries)

LocalBackend.append_audit = append_then_die
if point == "after-seal":
    from edcconf.state.journal import FileJournal
    real_seal = FileJournal.seal
    def seal_then_die(self, seal):
        real_seal(self, seal)
        os._exit(9)
    FileJournal.seal = seal_then_die
if point == "after-outputs-journaled":
    from edcconf.state.journal import FileJournal
    real_journal = FileJournal.append
    def journal_then_die(self, entries, prepared=None):
        entries = list(entries)
        real_journal(self, entries, prepared)
        if any("outputs" in e for e in entries):
            os._exit(9)
    FileJournal.append = journal_then_die
planned = workflow.plan_environment(root, "test", date(2026, 11, 24))
workflow.apply_planned(root, planned)
"""


def killed_apply(root, point, env=None):
    run_killed(KILLED_APPLY, str(root), point, env=env)


@pytest.mark.parametrize(
    "point", ["after-outputs-journaled", "after-version", "after-seal", "mid-audit", "after-state"]
)
def test_local_kill_while_committing_leaves_every_version_with_its_audit_entries(mini_repo, point):
    killed_apply(mini_repo, point)
    store = Local(mini_repo)
    assert unaudited(store, torn_tail_allowed=True) == []  # never a state without its entries, even now
    assert run_inprocess(mini_repo, "plan", "--env", "test", "--at", DAY)[0] == 0  # the next command finishes it
    assert unaudited(store) == [] and csv_difference(store) is None
    assert not store.journal_exists()
    audit = store.audit(torn_tail_allowed=False)
    events = [e["event"] for e in audit]
    assert events.count("change") == 14 and sum(e in ("apply", "recovered") for e in events) == 1
    if point == "mid-audit":
        torn = (mini_repo / ".edcconf/audit/test.jsonl.torn").read_bytes()
        assert torn.endswith(b"\n") and torn.startswith(b'{"actor"') and "audit-repaired" in events
    assert run_inprocess(mini_repo, "apply", "--env", "test", "--yes")[0] == 0  # nothing left
    assert unaudited(store) == [] and run_inprocess(mini_repo, "history", "--env", "test", "--changes")[0] == 0


FILES_KILLED = """
import os, sys
from datetime import date
from edcconf import workflow
from edcconf.providers.csvfiles import CsvProvider

real_finish = CsvProvider.finish
def finish_then_die(self, applied, effective):
    real_finish(self, applied, effective)
    os._exit(9)   # the provider has written its files; nothing has recorded them yet
CsvProvider.finish = finish_then_die
planned = workflow.plan_environment(sys.argv[1], "test", date(2026, 11, 24))
workflow.apply_planned(sys.argv[1], planned)
"""


@pytest.mark.parametrize("kind", ["local", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_files_written_but_not_recorded_are_not_in_place(mini_repo, kind, request, monkeypatch):
    """A kill after the csv provider wrote its files but before the journal recorded their changes: the
    files must not say more than the state (before: users.csv listed every grant, the state none)."""
    env = {}
    if kind == "postgres":
        env = {"EDCCONF_PG_DSN": request.getfixturevalue("pg_dsn")}
        monkeypatch.setenv("EDCCONF_PG_DSN", env["EDCCONF_PG_DSN"])
        envs = mini_repo / "environments/envs.yaml"
        envs.write_text(
            envs.read_text().replace(
                "  - name: test\n", "  - name: test\n    state: {backend: postgres, dsn_env: EDCCONF_PG_DSN}\n"
            )
        )
    run_killed(FILES_KILLED, str(mini_repo), env=env)
    store = Local(mini_repo) if kind == "local" else Postgres(mini_repo, env["EDCCONF_PG_DSN"], "edcconf")
    assert run_inprocess(mini_repo, "plan", "--env", "test", "--at", DAY)[0] == 2
    assert csv_difference(store) is None and unaudited(store) == []
    assert run_inprocess(mini_repo, "apply", "--env", "test", "--yes")[0] == 0
    assert csv_difference(store) is None and unaudited(store) == []


def test_torn_audit_tail_is_moved_aside_by_the_next_command_and_never_glued(mini_repo):
    assert run_inprocess(mini_repo, "apply", "--env", "test", "--yes")[0] == 0
    audit = mini_repo / ".edcconf/audit/test.jsonl"
    before = audit.read_bytes()
    torn = b'{"actor": "alice", "change": {"action": "create", "ki'
    audit.write_bytes(before + torn)
    assert run_inprocess(mini_repo, "plan", "--env", "test", "--at", DAY)[0] == 0
    after = audit.read_bytes()
    assert after.startswith(before) and after.endswith(b"\n")
    note = json.loads(after[len(before) :])
    assert note["event"] == "audit-repaired" and note["torn_bytes"] == len(torn)
    assert (mini_repo / ".edcconf/audit/test.jsonl.torn").read_bytes() == torn + b"\n"
    heart = mini_repo / "studies/heart.yaml"
    heart.write_text(heart.read_text().replace("sites: [BOS]}", "sites: [BOS, NYC]}"))
    assert run_inprocess(mini_repo, "apply", "--env", "test", "--yes")[0] == 0
    assert all(json.loads(line) for line in audit.read_text().splitlines())  # every line one entry
    assert run_inprocess(mini_repo, "history", "--env", "test", "--changes")[0] == 0


def _journal(root, header, *entries):
    path = root / ".edcconf/state/test.journal"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(x) + "\n" for x in ({"header": header}, *entries)))
    return path


def test_journal_of_an_apply_that_started_elsewhere_is_recorded_not_silently_cleared(mini_repo):
    assert run_inprocess(mini_repo, "apply", "--env", "test", "--yes")[0] == 0
    state = json.loads((mini_repo / ".edcconf/state/test.json").read_text())
    change = {
        "action": "create",
        "kind": "account",
        "key": "zed",
        "before": None,
        "after": {"status": "active"},
        "reason": "x",
        "source": None,
        "stored": {"status": "active"},
    }
    journal = _journal(
        mini_repo, {"id": "stale-apply", "base_serial": 0, "lineage": None, "environment": "test"}, change
    )
    assert run_inprocess(mini_repo, "plan", "--env", "test", "--at", DAY)[0] == 0
    assert not journal.exists()
    kept = mini_repo / ".edcconf/state/test.journal.discarded-stale-apply"
    assert json.loads(kept.read_text().splitlines()[1])["key"] == "zed"
    note = Local(mini_repo).audit(False)[-1]
    assert note["event"] == "journal-discarded" and note["discarded_apply"] == "stale-apply"
    assert note["changes"] == 1 and note["kept_as"] == str(kept) and note["serial"] == state["serial"]


def test_journal_of_an_apply_that_did_nothing_is_recorded_when_cleared(mini_repo):
    journal = _journal(mini_repo, {"id": "idle-apply", "base_serial": 0, "lineage": None, "environment": "test"})
    assert run_inprocess(mini_repo, "plan", "--env", "test", "--at", DAY)[0] == 2
    assert not journal.exists()
    [note] = Local(mini_repo).audit(False)
    assert note["event"] == "journal-cleared" and note["recovered_apply"] == "idle-apply" and note["applied"] == 0


PG_KILLED_APPLY = """
import os, sys
from datetime import date
import psycopg
from edcconf import workflow

real = psycopg.Cursor.executemany
def die_on_audit(self, query, params, **kw):
    if "audit" in repr(query):
        os._exit(9)   # killed while writing the audit entries of a version
    return real(self, query, params, **kw)
psycopg.Cursor.executemany = die_on_audit
planned = workflow.plan_environment(sys.argv[1], "test", date(2026, 11, 24))
workflow.apply_planned(sys.argv[1], planned)
"""


@pytest.mark.postgres
def test_postgres_version_and_its_audit_entries_are_one_transaction(pg_repo, pg_dsn, monkeypatch):
    run_killed(PG_KILLED_APPLY, str(pg_repo), env={"EDCCONF_PG_DSN": pg_dsn})
    store = Postgres(pg_repo, pg_dsn, "edcconf")
    assert store.versions() == [] and unaudited(store) == []  # neither the version nor its entries
    assert store.journal_exists()
    monkeypatch.setenv("EDCCONF_PG_DSN", pg_dsn)
    assert run_inprocess(pg_repo, "plan", "--env", "test", "--at", DAY)[0] == 0  # recovered: nothing left
    assert [v["note"] for v in store.versions()] == ["recovered 14 changes of an interrupted apply"]
    assert unaudited(store) == [] and not store.journal_exists() and csv_difference(store) is None


@pytest.mark.postgres
def test_postgres_journal_of_an_apply_that_did_nothing_is_recorded_when_cleared(pg_repo, pg_dsn, monkeypatch):
    import psycopg

    monkeypatch.setenv("EDCCONF_PG_DSN", pg_dsn)
    assert run_inprocess(pg_repo, "plan", "--env", "test", "--at", DAY)[0] == 2  # creates the tables
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(
            "INSERT INTO edcconf.journal VALUES ('test', 0, %s)",
            (json.dumps({"id": "idle-apply", "base_serial": 0, "lineage": None, "environment": "test"}),),
        )
    assert run_inprocess(pg_repo, "plan", "--env", "test", "--at", DAY)[0] == 2
    store = Postgres(pg_repo, pg_dsn, "edcconf")
    assert not store.journal_exists()
    [note] = store.audit(False)
    assert note["event"] == "journal-cleared" and note["recovered_apply"] == "idle-apply"


TORN_BATCH = """
import itertools, os, sys
from datetime import date
from edcconf import workflow
from edcconf.state import journal

real_write_lines = journal.write_lines
def write_part_then_die(fd, lines):
    lines = list(lines)
    if any(b'"outputs"' in line for line in lines):   # the csv provider's batch: its first lines only
        real_write_lines(fd, lines[:3])
        with open(os.path.join(sys.argv[1], "torn.jsonl"), "wb") as f:
            f.writelines(lines[1:3])   # the two changes journaled before the kill
        os._exit(9)
    real_write_lines(fd, lines)
journal.write_lines = write_part_then_die
planned = workflow.plan_environment(sys.argv[1], "test", date(2026, 11, 24))
workflow.apply_planned(sys.argv[1], planned)
"""


def test_a_torn_batch_of_file_changes_is_not_recorded_as_carried_out(mini_repo):
    """A first apply of a large organisation journals the csv provider's changes in many writes; a kill
    between two leaves the first of them in the journal while the files were never put in place. Before,
    the next command recorded those changes as carried out: the state said more than users.csv, and the
    next plan had nothing left to do."""
    run_killed(TORN_BATCH, str(mini_repo))
    store = Local(mini_repo)
    torn = [json.loads(line) for line in (mini_repo / "torn.jsonl").read_text().splitlines()]
    code, out, _ = run_inprocess(mini_repo, "plan", "--env", "test", "--at", DAY, "--json")
    left = {(c["kind"], c["key"]) for c in json.loads(out)["changes"]}
    assert code == 2 and len(torn) == 2 and {(c["kind"], c["key"]) for c in torn} <= left  # still to do
    assert csv_difference(store) is None and unaudited(store) == []
    assert not list(mini_repo.rglob(".*.staged"))  # the torn batch's staged files are gone
    recorded = [e for e in store.audit(torn_tail_allowed=False) if e["event"] in ("recovered", "journal-cleared")]
    assert len(recorded) == 1 and recorded[0]["not_carried_out"] == 2
    assert run_inprocess(mini_repo, "apply", "--env", "test", "--yes")[0] == 0
    assert csv_difference(store) is None and unaudited(store) == []
    assert run_inprocess(mini_repo, "plan", "--env", "test", "--at", DAY)[0] == 0
