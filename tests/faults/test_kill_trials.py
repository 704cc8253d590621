"""Kill (SIGKILL), terminate (SIGTERM) or interrupt (SIGINT) `edcconf apply` at random moments, many times, on
both state backends.

After every kill, after the next plan (which recovers) and after one more apply:
- the state is the old or a new complete version, and every committed version has exactly its audit
  entries (one per change and one outcome): no state without its audit entries, none twice;
- the audit log has no torn line once the next command has run;
- the csv provider's users.csv says exactly what the state says (no difference between the record
  and what the provider wrote);
and the last plan is empty.

They run in `make test-long` (marked long), 200 per backend; EDCCONF_KILL_TRIALS sets the number of
trials per backend (default 10, for a run by hand). Each test's time limit grows with the number of
trials (TRIAL_BUDGET), far above what a trial takes on a loaded machine, so a long run is never cut short.
"""

import csv
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edcconf.state import StateRecord
from tests.conftest import FIXTURES, REPO, copy_config, run_inprocess

TRIALS = int(os.environ.get("EDCCONF_KILL_TRIALS", "10"))
# seconds: a REDCap trial takes ~2.5 s, a local or PostgreSQL one ~1 s, on 2 busy cores
TRIAL_BUDGET = 120 + 15 * TRIALS
DAY = "2026-11-24"
OUTCOMES = ("apply", "apply-failed", "apply-interrupted", "recovered", "state-import", "state-restore")
SIGNALS = (signal.SIGKILL, signal.SIGTERM, signal.SIGINT)


STOP_WITHIN = 30  # seconds a signalled apply may take to end


def start_apply(command: list[str], env: dict, stderr_path: Path) -> subprocess.Popen:
    """The apply, its standard error kept (faulthandler on): what a trial that does not end shows."""
    with open(stderr_path, "wb") as err:
        return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err, env={**env, "PYTHONFAULTHANDLER": "1"})


def ended_within(proc: subprocess.Popen, stderr_path: Path, what: str) -> None:
    """Wait for a signalled apply; one still running after STOP_WITHIN seconds fails the trial with every
    thread's stack (SIGABRT: faulthandler prints them), so that a hang says where it hangs."""
    try:
        proc.wait(STOP_WITHIN)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        stacks = stderr_path.read_text(errors="replace")[-12000:]
        pytest.fail(f"{what}: the apply was still running {STOP_WITHIN} s after the signal; its threads:\n{stacks}")


def run_quietly(root: Path, *args: str) -> int:
    code, out, err = run_inprocess(root, *args)
    assert "Traceback" not in out + err, out + err
    return code


class Local:
    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = root

    def versions(self) -> list[dict]:
        """Every committed version (history files up to the state's serial), oldest first."""
        state_path = self.root / ".edcconf/state/test.json"
        if not state_path.exists():
            return []
        current = StateRecord.from_json(json.loads(state_path.read_text()), "state")  # never half-written
        out = []
        for path in sorted((self.root / ".edcconf/state/history/test").glob("*.json")):
            if int(path.stem) <= current.serial:
                out.append(json.loads(path.read_text()))
        assert out and out[-1]["serial"] == current.serial and out[-1]["lineage"] == current.lineage
        out[-1] = json.loads(state_path.read_text())
        return out

    def audit(self, torn_tail_allowed: bool) -> list[dict]:
        path = self.root / ".edcconf/audit/test.jsonl"
        if not path.exists():
            return []
        data = path.read_bytes()
        if not torn_tail_allowed:
            assert data == b"" or data.endswith(b"\n"), "a torn audit tail was left for the next entry to glue to"
        lines = data.split(b"\n")
        if torn_tail_allowed:
            lines = lines[:-1]  # whatever follows the last newline is the kill's torn write
        return [json.loads(line) for line in lines if line.strip()]

    def journal_exists(self) -> bool:
        return (self.root / ".edcconf/state/test.journal").exists()


class Postgres:
    name = "postgres"

    def __init__(self, root: Path, dsn: str, schema: str) -> None:
        self.root, self.dsn, self.schema = root, dsn, schema

    def _rows(self, query: str) -> list:
        import psycopg

        with psycopg.connect(self.dsn) as conn:
            exists = conn.execute("SELECT to_regclass(%s)", (f"{self.schema}.states",)).fetchone()[0]
            return conn.execute(query.format(s=self.schema)).fetchall() if exists else []

    def versions(self) -> list[dict]:
        return [r[0] for r in self._rows("SELECT record FROM {s}.states WHERE environment = 'test' ORDER BY serial")]

    def audit(self, torn_tail_allowed: bool) -> list[dict]:
        return [r[0] for r in self._rows("SELECT entry FROM {s}.audit WHERE environment = 'test' ORDER BY id")]

    def journal_exists(self) -> bool:
        return bool(self._rows("SELECT 1 FROM {s}.journal WHERE environment = 'test'"))


def unaudited(store, torn_tail_allowed: bool = False) -> list[str]:
    """Committed versions without exactly their audit entries (one per change, one outcome)."""
    audit = store.audit(torn_tail_allowed)
    out = []
    for v in store.versions():
        mine = [e for e in audit if e.get("serial") == v["serial"] and e.get("lineage") == v["lineage"]]
        outcomes = [e for e in mine if e.get("event") in OUTCOMES]
        changes = [e for e in mine if e.get("event") == "change"]
        if len(outcomes) != 1 or len(changes) != sum((v.get("summary") or {}).values()):
            out.append(
                f"serial {v['serial']}: {len(outcomes)} outcome entries, {len(changes)} change entries for "
                f"{sum((v.get('summary') or {}).values())} changes"
            )
    return out


def current_serial(store) -> int:
    versions = store.versions()
    return versions[-1]["serial"] if versions else 0


def csv_difference(store) -> str | None:
    """How the users.csv the csv provider wrote differs from the grants the state records (None: it does not)."""
    versions = store.versions()
    grants = versions[-1]["effective"]["grants"] if versions else {}
    recorded = sorted((g["user"], g["role"], " ".join(g["sites"])) for g in grants.values() if g["study"] == "HEART-01")
    users = store.root / "build/test/openclinica/HEART-01/users.csv"
    written = []
    if users.exists():
        written = sorted((row["username"], row["role"], row["sites"]) for row in csv.DictReader(users.open(newline="")))
    return None if written == recorded else f"users.csv lists {len(written)} grants, the state {len(recorded)}"


def make_store(kind: str, root: Path, trial: int, dsn: str | None):
    if kind == "local":
        return Local(root)
    schema = f"kill_{trial}"
    envs = root / "environments/envs.yaml"
    envs.write_text(
        envs.read_text().replace(
            "  - name: test\n",
            f"  - name: test\n    state: {{backend: postgres, dsn_env: EDCCONF_PG_DSN, schema: {schema}}}\n",
        )
    )
    return Postgres(root, dsn, schema)


@pytest.mark.long
@pytest.mark.timeout(TRIAL_BUDGET)
@pytest.mark.parametrize("kind", ["local", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_kill_during_apply_many_times(tmp_path, kind, request, monkeypatch):
    dsn = request.getfixturevalue("pg_dsn") if kind == "postgres" else None
    if dsn:
        monkeypatch.setenv("EDCCONF_PG_DSN", dsn)
    rng = random.Random(20261124)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests/checkout_site")])}
    command = [sys.executable, "-m", "edcconf", "apply", "--env", "test", "--yes"]  # apply is as of today
    full = float("inf")  # how long a whole first apply takes on this machine, now: kills land within it
    for attempt in range(3):  # the quickest of three: the first pays for cold caches, any may meet a busy moment
        timing = copy_config(FIXTURES / "mini", tmp_path / f"timing{attempt}")
        make_store(kind, timing, 9999 - attempt, dsn)
        start = time.monotonic()
        subprocess.run([*command[:3], "--config", str(timing), *command[3:]], check=True, capture_output=True, env=env)
        full = min(full, time.monotonic() - start)
    counts = {"killed before any state": 0, "killed with a journal or state": 0}
    problems: list[str] = []

    def check(trial: int, when: str, files: bool = True, torn_tail_allowed: bool = False) -> None:
        problems.extend(f"trial {trial}, {when}: {p}" for p in unaudited(store, torn_tail_allowed))
        difference = csv_difference(store) if files else None
        if difference:
            problems.append(f"trial {trial}, {when}: {difference}")

    for trial in range(TRIALS):
        root = copy_config(FIXTURES / "mini", tmp_path / f"t{trial}")
        store = make_store(kind, root, trial, dsn)
        stderr_path = tmp_path / f"t{trial}.stderr"
        # every other trial with the bulk files written by a child while the apply journals (speed/finish_beside)
        trial_env = {**env, "EDCCONF_BESIDE_FROM": "1"} if trial % 2 else env
        proc = start_apply([*command[:3], "--config", str(root), *command[3:]], trial_env, stderr_path)
        # in the later part of the apply, where its journal, state and audit are written: the first half is
        # mostly the interpreter's start-up and the plan, which a faster plan made a larger share of it
        time.sleep(rng.uniform(0.75, 1.05) * full)
        signalled = rng.choice(SIGNALS)
        proc.send_signal(signalled)  # killed, terminated or interrupted (Ctrl-C)
        ended_within(proc, stderr_path, f"trial {trial} ({signalled.name})")
        check(trial, "right after the kill", files=False, torn_tail_allowed=True)
        serial = current_serial(store)
        assert serial in (0, 1)
        landed = serial or store.journal_exists()
        counts["killed with a journal or state" if landed else "killed before any state"] += 1
        # the next plan recovers whatever was done; one more apply finishes; then nothing is left
        assert run_quietly(root, "plan", "--env", "test", "--at", DAY) in (0, 2)
        check(trial, "after the next plan")
        assert run_quietly(root, "apply", "--env", "test", "--yes") == 0
        check(trial, "after one more apply")
        assert run_quietly(root, "plan", "--env", "test", "--at", DAY) == 0
        assert not store.journal_exists()
    print(
        f"kill trials ({kind}): {TRIALS} (a whole apply took {full:.2f} s): {counts}, "
        f"states without their audit entries or csv differences: {len(problems)}"
    )
    assert not problems, "\n".join(problems)
    assert counts["killed with a journal or state"] >= max(1, TRIALS // 20)  # the kills really landed inside applies
