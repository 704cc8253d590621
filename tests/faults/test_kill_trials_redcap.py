"""Kill `edcconf apply` at random moments while the `redcap` provider talks to a REDCap project (the
emulator on 127.0.0.1), many times. After every kill, the next plan (which recovers the journal) and one
more apply:
- every committed version has exactly its audit entries;
- what the state records is what the project holds: `drift` finds nothing;
and the last plan is empty.

EDCCONF_KILL_TRIALS sets the number of trials (default 10; `make test-long`, which runs it, 200).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from textwrap import dedent

import pytest

from edcconf.emulator.redcap import RedcapEmulator
from tests.conftest import REPO, run_edcconf, write
from tests.faults.test_kill_trials import TRIAL_BUDGET, TRIALS, Local, ended_within, start_apply, unaudited

TOKEN_VAR = "EDCCONF_TEST_KILL_TOKEN"
FORMS = ["demographics", "hba1c", "adverse_events"]
CONFIG = {
    "environments/test.yaml": """
        environment:
          name: test
          targets:
            redcap: {{provider: redcap, url: "{url}"}}
        sites:
          - {{id: MGH, name: Massachusetts General Hospital, country: US}}
          - {{id: UCSF, name: UCSF Medical Center, country: US}}
        """,
    "groups/staff.yaml": dedent("""
        group:
          id: staff
          ceiling: {unnamed: unlimited}
          members:
        """)
    + "".join(
        f"    - {{username: user.{i:02d}, email: u{i}@hospital.example.org, name: User {i}}}\n" for i in range(12)
    ),
    "studies/diab.yaml": dedent("""
        study:
          id: DIAB-03
          name: Type 2 diabetes registry
          system: redcap
          redcap: {project_id: PROJECT, token_env: EDCCONF_TEST_KILL_TOKEN}
          environments: [test]
          sites: [MGH, UCSF]
          forms:
            - {id: demographics, contact_data: true}
            - {id: hba1c}
            - {id: adverse_events}
          roles:
            deleter: {base: data_entry, redcap: {mobile_app: 1}, redcap_forms: {demographics: {view: 4, export: 1}}}
          access:
        """)
    + "".join(
        f"    - {{user: user.{i:02d}, role: {'deleter' if i % 3 == 0 else 'data_entry'}, "
        f"sites: [{'MGH' if i % 2 else 'UCSF'}]}}\n"
        for i in range(12)
    ),
}
SIGNALS = (signal.SIGKILL, signal.SIGTERM, signal.SIGINT)


def _child_env(token: str) -> dict:
    return {
        **os.environ,
        TOKEN_VAR: token,
        "NO_COLOR": "1",
        "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests/checkout_site")]),
    }


@pytest.mark.long
@pytest.mark.timeout(TRIAL_BUDGET)
def test_kill_during_a_redcap_apply_many_times(tmp_path):
    rng = random.Random(20261130)
    counts = {"killed before any state": 0, "killed with a journal or state": 0}
    problems: list[str] = []
    with RedcapEmulator(version="15.6.1") as emu:

        def repo(name: str, project_id: int) -> tuple:
            token = emu.add_project(project_id=project_id, title="Registry", forms=FORMS)
            root = tmp_path / name
            for rel, text in CONFIG.items():
                write(
                    root,
                    rel,
                    text.format(url=emu.url).replace("PROJECT", str(project_id))
                    if "{url}" in text
                    else text.replace("PROJECT", str(project_id)),
                )
            return root, _child_env(token)

        timing, env = repo("timing", 1000)
        command = [sys.executable, "-m", "edcconf", "apply", "--env", "test", "--yes"]
        start = time.monotonic()  # how long a whole apply takes now: the kills land within it
        first = subprocess.run([*command, "--config", str(timing)], capture_output=True, text=True, env=env)
        assert first.returncode == 0, first.stderr
        full = time.monotonic() - start
        for trial in range(TRIALS):
            root, env = repo(f"t{trial}", 2000 + trial)
            stderr_path = tmp_path / f"t{trial}.stderr"
            proc = start_apply([*command, "--config", str(root)], env, stderr_path)
            time.sleep(rng.uniform(0.3, 1.05) * full)
            signalled = rng.choice(SIGNALS)
            proc.send_signal(signalled)  # killed, terminated or interrupted (Ctrl-C)
            ended_within(proc, stderr_path, f"trial {trial} ({signalled.name})")
            store = Local(root)
            landed = (root / ".edcconf/state/test.json").exists() or (root / ".edcconf/state/test.journal").exists()
            counts["killed with a journal or state" if landed else "killed before any state"] += 1
            child = {k: v for k, v in env.items() if k == TOKEN_VAR}
            assert run_edcconf("plan", "--env", "test", cwd=root, env=child).code in (0, 2)
            problems += [f"trial {trial}, after the next plan: {p}" for p in unaudited(store)]
            again = run_edcconf("apply", "--env", "test", "--yes", cwd=root, env=child)
            assert again.code == 0, again
            problems += [f"trial {trial}, after one more apply: {p}" for p in unaudited(store)]
            drift = run_edcconf("drift", "--env", "test", "--json", cwd=root, env=child)
            if drift.code != 0 or drift.json["differences"]:
                problems.append(f"trial {trial}: the state and the project differ: {drift.out[:400]}")
            assert run_edcconf("plan", "--env", "test", "--json", cwd=root, env=child).json["changes"] == []
    print(f"redcap kill trials: {TRIALS} (a whole apply took {full:.2f} s): {counts}, problems: {len(problems)}")
    assert not problems, "\n".join(problems)
    assert counts["killed with a journal or state"] >= max(1, TRIALS // 20)
