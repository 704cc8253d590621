"""`apply --env E --lock-timeout N` takes the lock before it plans: after waiting for another apply it
plans from the state that apply left (it used to plan first, wait, and then always fail as stale)."""

import json
import multiprocessing
import shutil
import time

from edcconf.state import LocalBackend, StateRecord, next_record
from tests.conftest import FIXTURES, copy_config
from tests.conftest import run_inprocess as run

AT = ["--at", "2026-11-24"]


def _hold_and_write(root, env, state_bytes, ready, hold_for):
    """Another apply: takes the lock, works a while (the apply under test starts meanwhile and would plan
    from the state as it is now), commits a new state version, and releases the lock a moment later."""
    backend = LocalBackend(root, env)
    with backend.lock("apply"):
        ready.set()
        time.sleep(hold_for)
        effective, sources = {}, {}
        if state_bytes:
            record = StateRecord.from_json(json.loads(state_bytes), "state")
            effective, sources = record.effective, record.sources
        backend.write(next_record(StateRecord(env), effective, sources, None, "other.admin"), expected_serial=0)
        time.sleep(0.2)


def _holder(root, state_bytes=b"", hold_for=1.5, env="test"):
    ctx = multiprocessing.get_context("fork")
    ready = ctx.Event()
    proc = ctx.Process(target=_hold_and_write, args=(root, env, state_bytes, ready, hold_for))
    proc.start()
    assert ready.wait(20)
    return proc


def test_apply_waits_for_the_lock_then_plans_from_the_state_read_under_it(mini_repo):
    proc = _holder(mini_repo)  # holds the lock 1.5 s, then moves the state to serial 1 (nothing applied)
    try:
        started = time.monotonic()
        code, out, err = run(mini_repo, "apply", "--env", "test", "--yes", "--lock-timeout", "30s")
        waited = time.monotonic() - started
    finally:
        proc.join(20)
    assert code == 0, (out, err)
    assert "stale" not in out + err and "changed since this plan was made" not in err
    assert waited >= 0.5  # it did wait for the other apply
    assert LocalBackend(mini_repo, "test").read().serial == 2  # planned against serial 1, applied as 2


def test_the_plan_made_under_the_lock_sees_what_the_other_apply_did(mini_repo, tmp_path):
    twin = copy_config(FIXTURES / "mini", tmp_path / "twin")  # the same changes, applied elsewhere
    assert run(twin, "apply", "--env", "test", "--yes")[0] == 0
    done = (twin / ".edcconf/state/test.json").read_bytes()
    proc = _holder(mini_repo, done)  # "another apply" commits exactly these changes while we wait
    try:
        code, out, err = run(mini_repo, "apply", "--env", "test", "--yes", "--lock-timeout", "30s", "--json")
    finally:
        proc.join(20)
    assert code == 0, (out, err)
    assert json.loads(out)["applied"] == 0 and json.loads(out)["serial"] == 1  # nothing left to do
    shutil.rmtree(twin)


def test_without_a_timeout_a_held_lock_is_refused_at_once_and_names_its_holder(mini_repo):
    proc = _holder(mini_repo, hold_for=3.0)
    try:
        started = time.monotonic()
        code, out, err = run(mini_repo, "apply", "--env", "test", "--yes")
        elapsed = time.monotonic() - started
    finally:
        proc.join(20)
    assert code == 1 and "the state of test is locked" in err and "Traceback" not in err
    assert "stale" not in err and elapsed < 2.9
    assert not (mini_repo / "build").exists()  # nothing planned into files while someone else applied


def test_a_saved_plan_still_refuses_when_the_state_moved_while_it_waited(mini_repo, monkeypatch):
    monkeypatch.chdir(mini_repo)
    assert run(mini_repo, "plan", "--env", "test", "--out", "p.plan")[0] == 2
    proc = _holder(mini_repo)
    try:
        code, out, err = run(mini_repo, "apply", "p.plan", "--lock-timeout", "30s")
    finally:
        proc.join(20)
    assert code == 1 and "plan again" in err and "Traceback" not in err, (out, err)
    assert LocalBackend(mini_repo, "test").read().serial == 1


def test_a_protected_environment_is_refused_before_waiting_for_its_lock(mini_repo):
    proc = _holder(mini_repo, hold_for=5.0, env="production")
    try:
        started = time.monotonic()
        code, out, err = run(mini_repo, "apply", "--env", "production", "--yes", "--lock-timeout", "30s")
        elapsed = time.monotonic() - started
    finally:
        proc.join(20)
    assert code == 1 and "production is protected" in err and elapsed < 4.5
