"""bench/live.py at a small size: every step runs against the emulator and reports its figures."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STEPS = ["first_apply", "drift", "plan", "import", "noop_apply"]


def test_live_benchmark_small_run_prints_every_figure_as_json(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "live.py"),
            "--projects",
            "3",
            "--users-per-project",
            "5",
            "--latency-ms",
            "5",
            "--json",
            "--keep",
            str(tmp_path / "w"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert (report["projects"], report["users_per_project"], report["grants"]) == (3, 5, 15)
    assert report["latency_ms"] == 5 and report["parallelism_asked"] == 8 and report["machine"]["cores"]
    assert list(report["steps"]) == STEPS
    for name, step in report["steps"].items():
        assert step["seconds"] > 0 and step["requests"] > 0, (name, step)
        assert step["parallelism"] in (1, 8)
        assert step["ideal_s"] == pytest.approx(step["requests"] * 0.005 / step["parallelism"], abs=1e-3)
        assert step["ratio"] == pytest.approx(step["seconds"] / step["ideal_s"], rel=0.02)
        assert step["rejected_429"] == 0
    steps = report["steps"]
    assert steps["first_apply"]["writes"] == 15  # every grant written once
    assert all(steps[s]["writes"] == 0 for s in STEPS[1:])  # reads only, the no-op apply included
    assert all(steps[s]["requests"] >= 3 for s in STEPS[1:])  # every project read
    studies = sorted(p.name for p in (tmp_path / "w" / "org" / "studies").glob("*.yaml"))
    assert studies == ["rc-0001.yaml", "rc-0002.yaml", "rc-0003.yaml"]
    assert "provider: redcap" in (tmp_path / "w" / "org" / "environments" / "test.yaml").read_text()


def test_live_benchmark_text_output(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "live.py"),
            "--projects",
            "1",
            "--users-per-project",
            "2",
            "--latency-ms",
            "0",
            "--parallelism",
            "1",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[1].startswith("1 projects × 2 users (2 grants), latency 0 ± 0 ms, parallelism asked 1")
    assert [line.split()[0] for line in lines[3:]] == STEPS
    assert all(line.split()[-1] == "-" for line in lines[3:])  # no latency: no ideal, no ratio
