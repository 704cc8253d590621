"""validate's environments worked out side by side (speed/resolve_ahead.py): the findings are exactly those
worked out one after another, a child that fails is replaced by the work done here, and the children are
used only where a fork pays (and never with EDCCONF_WORKERS=1)."""

from __future__ import annotations

from functools import partial

import pytest

from edcconf.speed import resolve_ahead
from edcconf.speed.child import Child
from tests import helpers
from tests.conftest import run_cli

edit = partial(helpers.edit, count=1)


@pytest.fixture
def findings_repo(mini_repo):
    """Findings in both environments: grants above a lowered ceiling (errors with details) and warnings."""
    assert run_cli("apply", "--env", "test", "--yes", cwd=mini_repo).code == 0
    edit(mini_repo, "groups/staff.yaml", "ceiling: {form_access: edit,", "ceiling: {form_access: read,")
    return mini_repo


@pytest.fixture
def forks(monkeypatch):
    """The children forked, on a machine of two cores (one spare: one child), whatever this one has."""
    monkeypatch.setattr(resolve_ahead.os, "cpu_count", lambda: 2)
    made = []
    real = Child.fork.__func__

    def spy(cls, work, only_the_pipe=False):
        child = real(cls, work, only_the_pipe)
        made.append(child.pid)
        return child

    monkeypatch.setattr(Child, "fork", classmethod(spy))
    return made


def _validate(root, monkeypatch, **env):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    out = run_cli("validate", "--json", cwd=root)
    for name in env:
        monkeypatch.delenv(name)
    return out


def test_the_findings_are_those_worked_out_one_after_another(findings_repo, monkeypatch, forks):
    alone = _validate(findings_repo, monkeypatch, EDCCONF_WORKERS="1")
    assert forks == []  # never with EDCCONF_WORKERS=1
    assert _validate(findings_repo, monkeypatch).json == alone.json
    assert forks == []  # a small organisation: no fork
    monkeypatch.setattr(resolve_ahead, "AHEAD_MIN_STUDIES", 0)
    answers = []
    real_decoded = resolve_ahead._decoded
    monkeypatch.setattr(resolve_ahead, "_decoded", lambda blob: answers.append(real_decoded(blob)) or answers[-1])
    beside = _validate(findings_repo, monkeypatch)
    assert len(forks) == 1  # production, while this process works out test
    assert len(answers) == 1 and answers[0] is not None and answers[0].diagnostics  # the child's findings, used
    assert beside.code == alone.code == 1
    assert beside.json == alone.json and beside.out == alone.out
    codes = {d["code"] for d in alone.json["errors"]}
    assert "ceiling-exceeded" in codes, alone.json  # findings with details crossed the pipe


def test_a_child_that_fails_is_replaced_by_the_work_done_here(findings_repo, monkeypatch, forks):
    alone = _validate(findings_repo, monkeypatch, EDCCONF_WORKERS="1")
    monkeypatch.setattr(resolve_ahead, "AHEAD_MIN_STUDIES", 0)

    def broken(done):
        raise ValueError("marshal cannot carry this")

    monkeypatch.setattr(resolve_ahead, "_encoded", broken)
    failed = _validate(findings_repo, monkeypatch)
    assert len(forks) == 1
    assert failed.json == alone.json and failed.code == alone.code


def test_no_child_without_a_spare_core(findings_repo, monkeypatch, forks):
    monkeypatch.setattr(resolve_ahead, "AHEAD_MIN_STUDIES", 0)
    monkeypatch.setattr(resolve_ahead.os, "cpu_count", lambda: 1)
    assert _validate(findings_repo, monkeypatch).code == 1
    assert forks == []
