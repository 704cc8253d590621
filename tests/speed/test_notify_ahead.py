"""Notifications rendered by a child during the apply (speed/notify_ahead.py) are the files the apply
renders after it, used only when exactly the rendered changes were applied; a child that fails, or a
result that differs, leaves nothing of the child's behind and the messages are rendered as before."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from edcconf.speed import notify_ahead
from edcconf.speed.notify_ahead import NotificationsAhead
from tests.conftest import generate_org, run_cli


@pytest.fixture
def taken(monkeypatch):
    """Every take() answer of this test: None (rendered again) or the number of files the child wrote."""
    answers: list[int | None] = []
    original = NotificationsAhead.take

    def spy(self, *args, **kwargs):
        answer = original(self, *args, **kwargs)
        answers.append(None if answer is None else len(answer[1]))
        return answer

    monkeypatch.setattr(NotificationsAhead, "take", spy)
    monkeypatch.setattr(notify_ahead, "AHEAD_MIN_CHANGES", 1)
    return answers


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "build" / "test" / "notifications").iterdir() if p.name.startswith("."))


def test_messages_rendered_ahead_are_the_messages_rendered_after(tmp_path, taken):
    ahead, after = tmp_path / "ahead", tmp_path / "after"
    generate_org(ahead, 3)
    shutil.copytree(ahead, after)
    env = {"EDCCONF_ACTOR": "alice", "EDCCONF_NO_CACHE": "1"}
    r = run_cli("apply", "--env", "test", "--yes", "--reason", "PR 9", cwd=ahead, env=env)
    assert r.code == 0, r
    assert taken and taken[0], "the child's folder was used"
    r = run_cli("apply", "--env", "test", "--yes", "--reason", "PR 9", cwd=after, env={**env, "EDCCONF_WORKERS": "1"})
    assert r.code == 0, r
    folder = Path("build") / "test" / "notifications" / "0001"
    got, want = _files(ahead / folder), _files(after / folder)
    assert len(got) == taken[0] and got == want
    assert _leftovers(ahead) == []


def test_a_result_other_than_the_rendered_one_is_never_used(tmp_path, monkeypatch):
    root = tmp_path / "org"
    generate_org(root, 1)
    monkeypatch.setattr(notify_ahead, "AHEAD_MIN_CHANGES", 0)
    accounts = {"a": {"name": "A"}}
    for applied, account, serial, used in (
        ([], accounts, 1, True),  # what was rendered (no change: no message) was applied
        ([object()], accounts, 1, False),  # other changes
        ([], {"a": {"name": "B"}}, 1, False),  # other accounts
        ([], accounts, 2, False),  # another serial
    ):
        ahead = NotificationsAhead.start(root, [], {"accounts": accounts}, "test", 1, "alice", None)
        assert ahead is not None
        pid = ahead._pid
        answer = ahead.take(applied, account, serial, "alice", None)
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # stopped and reaped
        if used:
            assert answer is not None and answer[1] == [] and answer[0].is_dir()
            shutil.rmtree(answer[0])
        else:
            assert answer is None
        assert _leftovers(root) == []


def test_a_template_the_child_cannot_render_is_reported_by_the_apply(mini_repo, taken):
    templates = mini_repo / "templates" / "notifications"
    templates.mkdir(parents=True)
    (templates / "access_changed.txt.j2").write_text("Subject: x\n{{ no_such_placeholder }}\n")
    r = run_cli("apply", "--env", "test", "--yes", cwd=mini_repo)
    assert r.code == 0, r  # the apply happened; the notifications are what failed, and it says so
    assert taken == [None]
    assert "notifications were not written" in r.err and "no_such_placeholder" in r.err
    assert _leftovers(mini_repo) == []


def test_a_folder_that_exists_already_gets_the_messages_written_and_the_child_s_removed(tmp_path):
    from edcconf.apply.notify import Message, deliver, filling_folder, notification_folder

    folder = notification_folder(tmp_path, "test", 3)
    folder.mkdir(parents=True)  # a serial used again after a state restore
    (folder / "old-access_changed.txt").write_text("kept")
    filled = filling_folder(folder, 12345)
    filled.mkdir()
    (filled / "ann-access_changed.txt").write_text("from the child")
    message = Message("ann", "ann@x.org", "access_changed", "Subject", "Body")
    written, problems = deliver(tmp_path, [message], "test", 3, (filled, [str(folder / "ann-access_changed.txt")]))
    assert written == [str(folder / "ann-access_changed.txt")] and problems == []
    assert (folder / "ann-access_changed.txt").read_text() == "To: ann@x.org\nSubject: Subject\n\nBody"
    assert (folder / "old-access_changed.txt").read_text() == "kept" and not filled.exists()


def test_the_child_started_with_the_plan_is_used_and_one_of_a_refused_apply_leaves_nothing(
    tmp_path, taken, monkeypatch
):
    from edcconf import workflow
    from edcconf.diagnostics import UserError

    root = tmp_path / "org"
    generate_org(root, 2)
    started = []
    original = workflow.notifications_early

    def spy(*args):
        ahead = original(*args)
        started.append(ahead)
        return ahead

    monkeypatch.setattr("edcconf.cli.core.notifications_early", spy)

    def refuse(plan, allow):
        raise UserError("refused by a brake", code="mass-revocation")

    with monkeypatch.context() as m:
        m.setattr(workflow, "refuse_brakes", refuse)
        r = run_cli("apply", "--env", "test", "--yes", cwd=root, env={"EDCCONF_NO_CACHE": "1"})
    assert r.code == 1 and "refused by a brake" in r.err
    assert len(started) == 1 and started[0] is not None  # started with the plan, before the refusal
    with pytest.raises(ChildProcessError):
        os.waitpid(started[0]._pid, os.WNOHANG)  # stopped and reaped
    assert not (root / "build" / "test" / "notifications").exists() or _leftovers(root) == []
    r = run_cli("apply", "--env", "test", "--yes", cwd=root, env={"EDCCONF_NO_CACHE": "1"})
    assert r.code == 0, r
    assert len(started) == 2 and taken and taken[-1], "the early child's folder was used"
    assert _leftovers(root) == []
