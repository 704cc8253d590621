"""Kill `edcconf apply` at random moments, many times: the state is always the old or a new consistent
version, the audit log never has a torn line, and the next plan recovers and finishes the work."""
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
from tests.conftest import FIXTURES, copy_config, run_inprocess

TRIALS = int(os.environ.get("EDCCONF_KILL_TRIALS", "200"))


def run_quietly(root: Path, *args: str) -> int:
    code, out, err = run_inprocess(root, *args)
    assert "Traceback" not in out + err
    return code


def check_consistent(root: Path) -> int:
    state_path = root / ".edcconf/state/test.json"
    serial = 0
    if state_path.exists():
        record = StateRecord.from_json(json.loads(state_path.read_text()), "state")  # never half-written
        serial = record.serial
        assert serial in (1, 2)
    audit = root / ".edcconf/audit/test.jsonl"
    if audit.exists():
        for line in audit.read_text().splitlines():
            json.loads(line)  # no torn line
    return serial


@pytest.mark.slow
def test_kill_during_apply_many_times(tmp_path):
    rng = random.Random(20261124)
    command = [sys.executable, "-m", "edcconf", "apply", "--env", "test", "--yes"]
    timing = copy_config(FIXTURES / "mini", tmp_path / "timing")
    start = time.monotonic()  # how long a whole apply takes on this machine, now: kills land within it
    subprocess.run([*command[:3], "--config", str(timing), *command[3:]], check=True, capture_output=True)
    full = time.monotonic() - start
    outcomes = {"before": 0, "during_or_after": 0}
    for trial in range(TRIALS):
        root = copy_config(FIXTURES / "mini", tmp_path / f"t{trial}")
        proc = subprocess.Popen([*command[:3], "--config", str(root), *command[3:]], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.4, 1.0) * full)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        serial = check_consistent(root)
        outcomes["during_or_after" if serial or (root / ".edcconf/state/test.journal").exists() else "before"] += 1
        # the next plan recovers whatever was done; one more apply finishes; then nothing is left
        assert run_quietly(root, "plan", "--env", "test", "--at", "2026-11-24") in (0, 2)
        check_consistent(root)
        assert run_quietly(root, "apply", "--env", "test", "--yes") == 0
        assert run_quietly(root, "plan", "--env", "test", "--at", "2026-11-24") == 0
        assert not (root / ".edcconf/state/test.journal").exists()
    print(f"kill trials: {TRIALS} (a whole apply took {full:.2f} s), killed before any state: {outcomes['before']}, "
          f"killed during or after apply: {outcomes['during_or_after']}")
    assert outcomes["during_or_after"] > TRIALS // 10  # the kills really landed inside applies
