"""The state decoded by a forked child (speed/prefetch.py) is the state LocalBackend.read decodes, values
shared with the desired state the same way; a file replaced after the child read it, a damaged file
and a cancelled child are never used, and the plan is the same with and without the child."""

from __future__ import annotations

import json
import os
import time
from datetime import date
from pathlib import Path

import pytest

from edcconf.speed import prefetch as prefetch_module
from edcconf.speed.prefetch import StatePrefetch
from edcconf.state.local import LocalBackend
from tests.conftest import generate_org, run_edcconf

AS_OF = date(2026, 11, 24)


@pytest.fixture(scope="module")
def applied(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("prefetch") / "org"
    generate_org(root, 4)
    assert run_edcconf("apply", "--env", "test", "--yes", cwd=root, env={"EDCCONF_NO_CACHE": "1"}).code == 0
    return root


def _no_zombie(pid: int) -> None:
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def test_the_child_decodes_what_read_decodes_and_shares_the_same_values(applied):
    from edcconf.pipeline import load_desired

    backend = LocalBackend(applied, "test")
    like = load_desired(applied, AS_OF, ["test"]).resolution.environments["test"].state
    fetched = StatePrefetch.start(backend.path, min_bytes=0)
    assert fetched is not None
    record = backend.record_of(fetched.take(like))
    _no_zombie(fetched._pid)
    assert record == backend.read(like)
    grants = record.effective["grants"]
    assert grants and all(grants[k] is like["grants"][k] for k in grants if like["grants"].get(k) == grants[k])
    assert sum(grants[k] is like["grants"].get(k) for k in grants) == len(grants)  # nothing changed since apply
    assert all(v is like["roles"][ref] for ref, v in record.effective["roles"].items())
    assert fetched.take(like) is None  # taken once


def test_a_file_replaced_after_the_child_read_it_is_not_used(tmp_path):
    small = '{"format_version": 1, "environment": "test", "serial": 1, "effective": {}, "sources": {}}'
    path = tmp_path / "test.json"
    for replaced in (False, True):
        path.write_text(small)
        fetched = StatePrefetch.start(path, min_bytes=0)
        _wait_until_finished(fetched._pid)  # small enough for the pipe: the child has read, written and ended
        if replaced:
            (tmp_path / "new.json").write_text(small)
            os.replace(tmp_path / "new.json", path)  # as every state write does: a new file, the same name
        taken = fetched.take()
        assert (taken is None) == replaced
        assert replaced or taken["serial"] == 1


def _wait_until_finished(pid: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(") ", 1)[1].startswith(("Z", "X")):
                    return
        except OSError:
            return
        time.sleep(0.01)
    raise AssertionError("the child did not finish")


def test_a_damaged_file_or_a_small_one_or_workers_1_is_read_in_this_process(applied, tmp_path, monkeypatch):
    damaged = tmp_path / "damaged.json"
    damaged.write_text('{"format_version": 1, "environment": "test", "serial": ')
    fetched = StatePrefetch.start(damaged, min_bytes=0)
    assert fetched.take() is None
    assert StatePrefetch.start(tmp_path / "absent.json", min_bytes=0) is None
    assert StatePrefetch.start(LocalBackend(applied, "test").path) is None  # under the size that pays a fork
    monkeypatch.setenv("EDCCONF_WORKERS", "1")
    assert StatePrefetch.start(LocalBackend(applied, "test").path, min_bytes=0) is None


def test_cancel_stops_the_child(applied):
    fetched = StatePrefetch.start(LocalBackend(applied, "test").path, min_bytes=0)
    pid = fetched._pid
    fetched.cancel()
    fetched.cancel()
    _no_zombie(pid)
    assert fetched.take() is None


def test_the_plan_is_the_same_with_the_child(applied, tmp_path, monkeypatch):
    import shutil

    from edcconf.workflow import plan_now

    applied = shutil.copytree(applied, tmp_path / "org")

    taken = []
    real_take = StatePrefetch.take

    def spy(self, like=None):
        out = real_take(self, like)
        taken.append(out is not None)
        return out

    study = sorted((applied / "studies").glob("*.yaml"))[1]
    study.write_text(
        study.read_text().replace("environments: all, sites: all}", "environments: [production], sites: all}", 1)
    )
    monkeypatch.setenv("EDCCONF_WORKERS", "1")
    alone = plan_now(applied, "test", AS_OF)
    monkeypatch.delenv("EDCCONF_WORKERS")
    monkeypatch.setattr(prefetch_module, "PREFETCH_MIN_BYTES", 0)
    monkeypatch.setattr(StatePrefetch, "take", spy)
    with_child = plan_now(applied, "test", AS_OF)
    assert taken == [True]
    assert with_child.plan == alone.plan and not alone.plan.empty
    assert with_child.previous == alone.previous


def test_the_applied_side_stored_by_the_child_serves_the_next_incremental_plan(applied, tmp_path, monkeypatch):
    """The child also stores the applied half of the incremental planner's base (a full plan records the
    rest): the plan after a one-file change is made incrementally from it and equals a fresh plan."""
    import shutil

    from edcconf.speed.incremental.replay import IncrementalPlanned
    from edcconf.workflow import plan_environment, plan_for_review

    root = tmp_path / "org"
    shutil.copytree(applied, root, ignore=shutil.ignore_patterns("cache"))
    monkeypatch.setattr(prefetch_module, "PREFETCH_MIN_BYTES", 0)
    sides = []
    real_take = StatePrefetch.take

    def spy(self, like=None):
        out = real_take(self, like)
        sides.append(self.also_result)
        return out

    monkeypatch.setattr(StatePrefetch, "take", spy)
    first = plan_for_review(root, "test", AS_OF, True)
    from edcconf.speed.spool import spool

    spool.flush()  # the base is written by the spool thread, as the CLI flushes it before it returns
    assert len(sides) == 1 and sides[0] is not None and sides[0][2], "the child stored the applied parts"
    study = sorted((root / "studies").glob("*.yaml"))[2]
    study.write_text(
        study.read_text().replace("environments: all, sites: all}", "environments: [production], sites: all}", 1)
    )
    again = plan_for_review(root, "test", AS_OF, True)
    assert isinstance(again, IncrementalPlanned) and not isinstance(first, IncrementalPlanned)
    monkeypatch.setenv("EDCCONF_WORKERS", "1")
    fresh = plan_environment(root, "test", AS_OF)
    assert again.plan == fresh.plan and not fresh.plan.empty


def test_sections_sent_in_many_frames_arrive_whole_and_in_order(applied, monkeypatch):
    """Grants, roles and sources come in frames of CHUNK items, each shared as it arrives: with frames of
    three items the state is the one read decodes, with the file's key order."""
    from edcconf.pipeline import load_desired

    monkeypatch.setattr(prefetch_module, "CHUNK", 3)
    backend = LocalBackend(applied, "test")
    like = load_desired(applied, AS_OF, ["test"]).resolution.environments["test"].state
    fetched = StatePrefetch.start(backend.path, min_bytes=0)
    data = fetched.take(like)
    read = backend.read(like)
    assert backend.record_of(data) == read
    assert len(data["effective"]["grants"]) > 3 * 3 and len(data["sources"]) > 3 * 3
    for section in ("grants", "roles"):
        assert list(data["effective"][section]) == list(read.effective[section])
    assert list(data) == list(json.loads(backend.path.read_text()))
    assert all(v is like["roles"][ref] for ref, v in data["effective"]["roles"].items())


def test_a_child_that_dies_between_frames_gives_nothing(tmp_path):
    """A partial answer is never used: frames() raises ChildFailed after the frames that did arrive."""
    from edcconf.speed.child import Child, ChildFailed

    def work():
        yield b"first"
        yield b"second"
        raise RuntimeError("the child fails half-way")

    child = Child.fork(work)
    got = []
    with pytest.raises(ChildFailed):
        for frame in child.frames():
            got.append(frame)
    assert got == [b"first", b"second"]
    _no_zombie(child.pid)


def test_a_consumer_that_stops_early_stops_a_child_blocked_writing(tmp_path):
    """A child blocked on a full pipe would never end: closing the frames kills and reaps it."""
    from edcconf.speed.child import Child

    def work():
        yield b"x"
        for _ in range(64):
            yield bytes(1 << 20)  # far more than a pipe holds

    child = Child.fork(work)
    frames = child.frames()
    assert next(frames) == b"x"
    frames.close()
    _no_zombie(child.pid)


def test_a_large_file_replaced_while_the_child_waits_to_send_is_not_used(applied, tmp_path, monkeypatch):
    """The identity arrives first; a replaced file stops the child before its sections are read."""
    import shutil

    monkeypatch.setattr(prefetch_module, "CHUNK", 1)
    path = tmp_path / "test.json"
    shutil.copyfile(LocalBackend(applied, "test").path, path)
    fetched = StatePrefetch.start(path, min_bytes=0)
    time.sleep(0.2)
    shutil.copyfile(path, tmp_path / "new.json")
    os.replace(tmp_path / "new.json", path)
    assert fetched.take() is None
    _no_zombie(fetched._pid)
