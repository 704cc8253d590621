"""A failure or a kill mid-apply leaves the state equal to what really happened."""

import json
import os
import signal
import subprocess
import sys
import time
from datetime import date

import pytest

from edcconf import workflow
from edcconf.providers import ProviderError
from edcconf.state import LocalBackend

DAY = date(2026, 11, 24)


class ImmediateProvider:
    """Carries changes out one by one (as the REDCap API does) and can be told to fail."""

    system = "openclinica"
    batched = False

    def __init__(self, fail_at: int | None = None, delay: float = 0.0) -> None:
        self.fail_at, self.delay, self.done = fail_at, delay, []

    def apply(self, change):
        if self.fail_at is not None and len(self.done) + 1 == self.fail_at:
            raise ProviderError(change, f"refused by the EDC system (change {self.fail_at})")
        time.sleep(self.delay)
        self.done.append(change.key)

    def finish(self, applied, effective):
        return []

    def read_live(self):
        return None


@pytest.mark.parametrize("fail_at", [1, 5, 12])
def test_provider_failing_at_the_kth_change(mini_repo, monkeypatch, fail_at):
    provider = ImmediateProvider(fail_at=fail_at)
    monkeypatch.setattr(workflow, "providers_for", lambda *a, **k: {"openclinica": provider})
    planned = workflow.plan_environment(mini_repo, "test", DAY)
    total = len(planned.plan.changes)
    result = workflow.apply_planned(mini_repo, planned)
    assert result.failed is not None and len(provider.done) == fail_at - 1
    # every change before the refused one is applied (also those that concern no system: the group here)
    position = planned.plan.changes.index(result.failed.change)
    assert list(result.applied) == list(planned.plan.changes[:position])
    state = LocalBackend(mini_repo, "test").read()
    assert state.serial == (1 if position else 0)
    remaining = workflow.plan_environment(mini_repo, "test", DAY).plan
    assert len(remaining.changes) == total - position
    assert [c.key for c in remaining.changes] == [c.key for c in planned.plan.changes][position:]
    audit = [json.loads(x) for x in (mini_repo / ".edcconf/audit/test.jsonl").read_text().splitlines()]
    assert audit[-1]["event"] == "apply-failed" and "refused by the EDC system" in audit[-1]["error"]


SCRIPT = """
import sys, time
from datetime import date
from edcconf import workflow
from tests.apply.test_partial_failure import ImmediateProvider
provider = ImmediateProvider(delay=0.15)
workflow.providers_for = lambda *a, **k: {"openclinica": provider}
planned = workflow.plan_environment(sys.argv[1], "test", date(2026, 11, 24))
print(len(planned.plan.changes), flush=True)
workflow.apply_planned(sys.argv[1], planned)
"""


def test_killed_apply_is_recovered_and_only_the_rest_is_planned(mini_repo, tmp_path, cli):
    repo_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(mini_repo)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=repo_root,
        env={**os.environ, "PYTHONPATH": repo_root},
    )
    total = int(proc.stdout.readline())
    journal = mini_repo / ".edcconf/state/test.journal"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # wait until some, not all, changes are journaled
        if journal.exists() and len(journal.read_text().splitlines()) > 4:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    journaled = len(journal.read_text().splitlines()) - 1
    assert 3 <= journaled < total
    assert not (mini_repo / ".edcconf/state/test.json").exists()  # nothing committed yet

    r = cli("plan", "--env", "test", "--json", "--at", "2026-11-24", cwd=mini_repo)
    assert r.code == 2, r
    assert len(r.json["changes"]) == total - journaled
    assert r.json["state"]["serial"] == 1
    assert not journal.exists()
    state = json.loads((mini_repo / ".edcconf/state/test.json").read_text())
    assert state["note"] == f"recovered {journaled} changes of an interrupted apply"
    audit_lines = (mini_repo / ".edcconf/audit/test.jsonl").read_text().splitlines()
    assert all(json.loads(line) for line in audit_lines)  # no torn line
    assert json.loads(audit_lines[-1])["event"] == "recovered"
    history = cli("history", "--env", "test", cwd=mini_repo)
    assert "recovered" in history.out
    # and the rest applies normally, after which nothing is left
    assert cli("apply", "--env", "test", "--yes", cwd=mini_repo).code == 0
    assert cli("plan", "--env", "test", "--at", "2026-11-24", cwd=mini_repo).code == 0
