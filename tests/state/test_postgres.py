"""PostgreSQL state backend against the real server on 127.0.0.1:5432, each test in its own database."""

import json
import os
import subprocess
import sys
import time
from contextlib import ExitStack

import pytest

psycopg = pytest.importorskip("psycopg")

from edcconf.diagnostics import UserError  # noqa: E402
from edcconf.state import StateRecord, next_record  # noqa: E402
from edcconf.state.postgres import MIGRATIONS, PostgresBackend  # noqa: E402
from tests.pg import PLANTED  # noqa: E402

pytestmark = pytest.mark.postgres
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def backend(dsn, env="test"):
    os.environ["EDCCONF_T_DSN"] = dsn
    return PostgresBackend(env, "EDCCONF_T_DSN")


def test_migrations_run_once_and_versions_are_rows(pg_dsn):
    b1, b2 = backend(pg_dsn), backend(pg_dsn)
    assert b1.read().serial == 0 and b2.read().serial == 0
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM edcconf.schema_migrations").fetchone()[0] == len(MIGRATIONS)
    first = next_record(StateRecord("test"), {"accounts": {"a": {}}}, {}, "c1", "alice", {"add": 1})
    b1.write(first, expected_serial=0)
    b1.write(next_record(first, {}, {}, "c2", "bob", {"revoke": 1}), expected_serial=1)
    assert [(v["serial"], v["actor"], v["commit"]) for v in b2.history()] == [(1, "alice", "c1"), (2, "bob", "c2")]
    assert b2.version(1).effective["accounts"] == {"a": {}}
    assert b2.read().serial == 2


def test_compare_and_swap_refuses_a_lost_update(pg_dsn):
    b = backend(pg_dsn)
    rec = next_record(StateRecord("test"), {}, {}, None)
    b.write(rec, expected_serial=0)
    with pytest.raises(UserError) as exc:
        b.write(rec, expected_serial=0)
    assert exc.value.code == "state-conflict"
    assert len(b.history()) == 1


def test_lock_is_exclusive_names_its_holder_and_can_be_forced(pg_dsn):
    holder_script = (
        f"import os, time; os.environ['EDCCONF_T_DSN'] = {pg_dsn!r}\n"
        "from edcconf.state.postgres import PostgresBackend\n"
        "b = PostgresBackend('test', 'EDCCONF_T_DSN')\n"
        "with b.lock('apply') as info:\n    print(info.id, flush=True)\n    time.sleep(60)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", holder_script],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "EDCCONF_ACTOR": "carol"},
    )
    try:
        lock_id = proc.stdout.readline().strip()
        b = backend(pg_dsn)
        with pytest.raises(UserError) as exc:
            with b.lock("apply", timeout=0.3):
                pass
        assert exc.value.code == "state-locked" and "carol" in exc.value.message and lock_id in exc.value.message
        assert b.force_unlock(lock_id)
        time.sleep(0.5)
        with b.lock("apply", timeout=5):  # the forced session's advisory lock is gone
            pass
    finally:
        proc.kill()
        proc.wait(10)


def test_a_holder_whose_process_is_gone_is_waited_for_briefly_never_taken_over(pg_dsn, monkeypatch):
    """A killed apply's session may outlive its process for a moment: the next command waits for the server
    to end it (up to DEAD_HOLDER_GRACE) instead of failing at once; a live holder is reported at once."""
    import threading

    from edcconf.state import postgres_locks

    b, holder = backend(pg_dsn), backend(pg_dsn)
    for gone, expect_wait in ((True, True), (False, False)):
        monkeypatch.setattr(postgres_locks, "_gone", lambda info, gone=gone: gone)
        with ExitStack() as held:
            held.enter_context(holder.lock("apply"))
            release = threading.Timer(0.6, held.close)  # the server ends the dead holder's session
            release.start()
            start = time.monotonic()
            try:
                if expect_wait:
                    with b.lock("apply", timeout=0):
                        assert time.monotonic() - start >= 0.5
                else:
                    with pytest.raises(UserError) as exc, b.lock("apply", timeout=0):
                        pass
                    assert exc.value.code == "state-locked" and time.monotonic() - start < 0.5
            finally:
                release.join()


def test_cli_apply_history_and_no_secret_anywhere(pg_repo, pg_dsn, cli):
    env = {"EDCCONF_PG_DSN": pg_dsn}
    outputs = []
    for args in (
        ["validate"],
        ["plan", "--env", "test"],
        ["apply", "--env", "test", "--yes"],
        ["plan", "--env", "test", "--json"],
        ["history", "--env", "test", "--changes"],
        ["show", "--env", "test"],
        ["show", "--env", "test", "--json"],
    ):
        r = (
            cli(*args, "--at", "2026-11-24", cwd=pg_repo, env=env)
            if args[0] == "plan"
            else cli(*args, cwd=pg_repo, env=env)
        )  # apply: always as of today
        outputs.append(r.out + r.err)
        assert r.code in (0, 2), r
    assert json.loads(outputs[3])["changes"] == []
    assert "+14 ~0 -0" in outputs[4]
    bad = cli(
        "plan", "--env", "test", cwd=pg_repo, env={"EDCCONF_PG_DSN": pg_dsn.replace("dbname=", "dbname=missing_")}
    )
    assert bad.code == 1 and "cannot reach the PostgreSQL state" in bad.err
    outputs.append(bad.out + bad.err)
    with psycopg.connect(pg_dsn) as conn:
        stored = json.dumps([r[0] for r in conn.execute("SELECT record FROM edcconf.states")]) + json.dumps(
            [r[0] for r in conn.execute("SELECT entry FROM edcconf.audit")]
        )
    for text in outputs + [stored]:
        assert PLANTED not in text and pg_dsn not in text
    for path in (p for p in pg_repo.rglob("*") if p.is_file()):  # state, audit, cache, bulk files
        assert PLANTED.encode() not in path.read_bytes(), path


CONCURRENT = """
import sys
from datetime import date
from edcconf import workflow
from edcconf.diagnostics import UserError
from tests.apply.test_partial_failure import ImmediateProvider
workflow.providers_for = lambda *a, **k: {"openclinica": ImmediateProvider(delay=0.1)}
planned = workflow.plan_environment(sys.argv[1], "test", date(2026, 11, 24))
print("planned", flush=True)
sys.stdin.readline()  # both start applying at the same moment
try:
    workflow.apply_planned(sys.argv[1], planned)
    print("applied")
except UserError as exc:
    print("refused:", exc.code, exc.message)
    sys.exit(1)
"""


def test_two_applies_at_the_same_moment_one_wins_one_is_refused(pg_repo, pg_dsn):
    env = {**os.environ, "EDCCONF_PG_DSN": pg_dsn, "PYTHONPATH": REPO}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CONCURRENT, str(pg_repo)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env=env,
        )
        for _ in range(2)
    ]
    for p in procs:
        assert p.stdout.readline().strip() == "planned"
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    results = sorted((p.wait(60), p.stdout.read()) for p in procs)
    assert results[0][0] == 0 and "applied" in results[0][1]
    assert results[1][0] == 1 and "refused: state-locked" in results[1][1] and "lock id" in results[1][1]
    os.environ["EDCCONF_T_DSN"] = pg_dsn
    assert [v["serial"] for v in PostgresBackend("test", "EDCCONF_T_DSN").history()] == [1]


def test_postgres_going_away_mid_apply_is_reported_and_resumable(pg_repo, pg_dsn, monkeypatch):
    """The database disappears after two changes were journaled: apply reports it, and the next plan
    (database back) folds the two into a recovered version and plans exactly the rest."""
    from datetime import date

    from edcconf import workflow
    from edcconf.diagnostics import UserError as UE
    from edcconf.state.postgres import PostgresJournal
    from tests.apply.test_partial_failure import ImmediateProvider

    monkeypatch.setenv("EDCCONF_PG_DSN", pg_dsn)
    monkeypatch.setattr(workflow, "providers_for", lambda *a, **k: {"openclinica": ImmediateProvider()})
    real_append = PostgresJournal.append
    calls = {"n": 0}

    def flaky(self, entries):
        calls["n"] += 1
        if calls["n"] == 3:
            raise UE("PostgreSQL state of test: server closed the connection unexpectedly", code="state-write")
        return real_append(self, entries)

    monkeypatch.setattr(PostgresJournal, "append", flaky)
    planned = workflow.plan_environment(pg_repo, "test", date(2026, 11, 24))
    total = len(planned.plan.changes)
    with pytest.raises(UE) as exc:
        workflow.apply_planned(pg_repo, planned)
    assert exc.value.code == "state-write" and "closed the connection" in exc.value.message
    monkeypatch.setattr(PostgresJournal, "append", real_append)
    again = workflow.plan_environment(pg_repo, "test", date(2026, 11, 24))
    assert again.previous.serial == 1 and again.previous.note == "recovered 2 changes of an interrupted apply"
    assert len(again.plan.changes) == total - 2
