"""Fenced locks: once force-unlock has taken an environment's lock from a holder that is still running
(paused, stuck, resumed on a suspended machine), that holder writes nothing more, on either backend:
not the state, not the audit log, not the journal, not its csv provider's files."""

import json
import multiprocessing
import os
import subprocess
import sys

import pytest

from edcconf.diagnostics import UserError
from edcconf.state import LocalBackend, StateRecord, next_record
from tests.conftest import REPO

DAY = "2026-11-24"


def make_backend(kind, root, dsn):
    if kind == "local":
        return LocalBackend(root, "test")
    from edcconf.state.postgres import PostgresBackend

    os.environ["EDCCONF_T_DSN"] = dsn
    return PostgresBackend("test", "EDCCONF_T_DSN")


def _paused_holder(kind, root, dsn, ready, go, results):
    """Takes the lock, waits for `go`, then tries every kind of write; reports each outcome."""
    os.environ["EDCCONF_ACTOR"] = "alice"
    backend = make_backend(kind, root, dsn)
    with backend.lock("apply") as info:
        ready.put(info.id)
        go.wait(30)
        for name, write in (
            ("journal", lambda: backend.journal.begin({"base_serial": 0, "lineage": None})),
            ("audit", lambda: backend.append_audit([{"event": "apply", "actor": "alice"}])),
            ("state", lambda: backend.write(next_record(StateRecord("test"), {}, {}, None, "alice"), 0)),
        ):
            try:
                write()
                results.put((name, "written"))
            except UserError as exc:
                results.put((name, exc.code))
        results.put(("done", None))


@pytest.mark.parametrize("kind", ["local", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_holder_whose_lock_was_forced_open_writes_nothing(tmp_path, kind, request):
    dsn = request.getfixturevalue("pg_dsn") if kind == "postgres" else None
    ctx = multiprocessing.get_context("fork")
    ready, results, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    proc = ctx.Process(target=_paused_holder, args=(kind, tmp_path, dsn, ready, go, results))
    proc.start()
    try:
        lock_id = ready.get(timeout=30)
        backend = make_backend(kind, tmp_path, dsn)
        assert backend.force_unlock(lock_id)  # the holder's process is alive, and paused
        with backend.lock("apply", timeout=10):  # the next holder (PostgreSQL: once the old session is gone)
            backend.write(next_record(StateRecord("test"), {"accounts": {"bob": {}}}, {}, None, "bob"), 0)
            backend.append_audit([{"event": "apply", "actor": "bob", "serial": 1}])
        state, audit = backend.read(), backend.read_audit()
        go.set()
        outcomes = dict(iter(lambda: results.get(timeout=30), ("done", None)))
    finally:
        go.set()
        proc.join(30)
    assert outcomes == {"journal": "lock-lost", "audit": "lock-lost", "state": "lock-lost"}
    after = make_backend(kind, tmp_path, dsn)
    assert after.read() == state and state.actor == "bob" and state.serial == 1
    assert after.read_audit() == audit and [e["actor"] for e in audit] == ["bob"]
    assert after.journal.read() is None


def test_lock_lost_names_the_lock_and_what_to_do(tmp_path):
    backend = LocalBackend(tmp_path, "test")
    other = LocalBackend(tmp_path, "test")
    with backend.lock("apply") as info:
        assert info.generation == 1
        holder = other.force_unlock(info.id)
        assert holder.id == info.id and holder.pid == os.getpid()
        with pytest.raises(UserError) as exc:
            backend.write(next_record(StateRecord("test"), {}, {}, None), 0)
    assert exc.value.code == "lock-lost"
    assert info.id in exc.value.message and "force-unlock" in exc.value.message
    assert "edcconf plan --env test" in exc.value.message
    with other.lock("apply") as again:  # forced (2), then taken (3): the token only grows
        assert again.generation == 3
    assert not backend.path.exists()


PAUSED_APPLY = """
import sys
from datetime import date
from edcconf import workflow
from edcconf.diagnostics import UserError
from edcconf.providers.csvfiles import CsvProvider

root = sys.argv[1]
planned = workflow.plan_environment(root, "test", date(2026, 11, 24))
last = planned.plan.changes[-1]
real_apply = CsvProvider.apply

def pausing(self, change):
    if change is last:   # every change but the last accepted; the files are written after it
        print("paused", flush=True)
        sys.stdin.readline()
    return real_apply(self, change)

CsvProvider.apply = pausing
try:
    workflow.apply_planned(root, planned)
    print("applied", flush=True)
except UserError as exc:
    print("refused", exc.code, exc.message, flush=True)
"""


def _lock_id(root, dsn):
    if dsn is None:
        return json.loads((root / ".edcconf/state/test.lock").read_text())["id"]
    import psycopg

    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT lock_id FROM edcconf.locks WHERE environment = 'test'").fetchone()[0]


def _snapshot(root, kind, dsn):
    files = {str(p.relative_to(root)): p.read_bytes() for p in sorted((root / "build").rglob("*")) if p.is_file()}
    backend = make_backend(kind, root, dsn)
    return files, backend.read().to_json(), backend.read_audit()


@pytest.mark.parametrize("kind", ["local", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_paused_apply_resumed_after_force_unlock_overwrites_nothing(mini_repo, kind, request, cli):
    """The issue's attack: apply A pauses before its csv provider writes its files; force-unlock; apply B
    runs with a changed configuration; A resumes. A is refused, and the state, audit log and files are B's."""
    dsn = request.getfixturevalue("pg_dsn") if kind == "postgres" else None
    env = {"EDCCONF_PG_DSN": dsn} if dsn else {}
    if dsn:
        envs = mini_repo / "environments/envs.yaml"
        envs.write_text(
            envs.read_text().replace(
                "  - name: test\n", "  - name: test\n    state: {backend: postgres, dsn_env: EDCCONF_PG_DSN}\n"
            )
        )
    a = subprocess.Popen(
        [sys.executable, "-c", PAUSED_APPLY, str(mini_repo)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, **env, "PYTHONPATH": str(REPO), "EDCCONF_ACTOR": "alice"},
    )
    try:
        assert a.stdout.readline().strip() == "paused"
        lock_id = _lock_id(mini_repo, dsn)
        heart = mini_repo / "studies/heart.yaml"  # B applies another configuration than A planned
        heart.write_text(
            heart.read_text().replace("    - {user: cara.crc, role: crc, environments: all, sites: [BOS]}\n", "")
        )
        forced = cli("force-unlock", "test", lock_id, cwd=mini_repo, env=env)
        assert forced.code == 0 and "is still running; its next write" in forced.out, forced
        b = cli(
            "apply",
            "--env",
            "test",
            "--yes",
            "--lock-timeout",
            "10s",
            cwd=mini_repo,
            env={**env, "EDCCONF_ACTOR": "bob"},
        )
        assert b.code == 0, b
        after_b = _snapshot(mini_repo, kind, dsn)
        a.stdin.write("go\n")
        a.stdin.flush()
        said = a.stdout.read()
    finally:
        a.kill() if a.poll() is None else None
        a.wait(30)
    files, state, audit = _snapshot(mini_repo, kind, dsn)
    assert files == after_b[0], "the paused apply wrote its files over the next apply's"
    assert (state, audit) == after_b[1:], "the paused apply wrote to the state or the audit log"
    assert said.startswith("refused lock-lost"), said
    users = files["build/test/openclinica/HEART-01/users.csv"].decode()
    assert "cara.crc" not in users and "ivan.inv" in users
    assert state["actor"] == "bob" and "cara.crc" not in json.dumps(state["effective"]["grants"])
    # A's journal lines written before the force-unlock (changes that reach no system) are recorded by B as
    # `recovered`, before B's own apply; nothing of A's comes after B started
    assert {e["actor"] for e in audit if e.get("event") == "apply"} == {"bob"}
    first_b = next(i for i, e in enumerate(audit) if e.get("actor") == "bob")
    assert {e.get("actor") for e in audit[first_b:]} == {"bob"}
    assert {e.get("event") for e in audit[:first_b]} <= {"change", "recovered"}
    assert cli("plan", "--env", "test", "--at", DAY, cwd=mini_repo, env=env).code == 0  # nothing left, nothing stray


@pytest.mark.parametrize("kind", ["local", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_second_threads_write_section_waits_for_the_first(tmp_path, kind, request):
    """Sections nest within a thread; a section of another thread of the same holder waits until the first
    ends and then makes its own fence check, rather than riding on the first one's (apply's lanes run in
    threads; today they enter one at a time, and this makes it so by construction)."""
    import threading
    import time

    dsn = request.getfixturevalue("pg_dsn") if kind == "postgres" else None
    backend = make_backend(kind, tmp_path, dsn)
    events: list[str] = []
    inside = threading.Event()

    def second() -> None:
        inside.wait(10)
        with backend.fenced():
            events.append("second in")

    with backend.lock("apply"):
        other = threading.Thread(target=second)
        other.start()
        with backend.fenced():
            with backend.fenced():  # nests within this thread
                inside.set()
                time.sleep(0.5)  # the other thread is trying to enter meanwhile
                events.append("first out")
        other.join(10)
        assert not other.is_alive()
        backend.check_fence()  # the section is free again for this thread
    assert events == ["first out", "second in"]
