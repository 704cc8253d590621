"""--parallelism against the REDCap API emulator on 127.0.0.1, through the real CLI: the same output, state
and audit log at parallelism 8 as at 1 (also when the server answers 429 to most of what it is sent), one
project failing while the others are applied, and an apply interrupted by Ctrl-C that a re-run finishes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.live import project_id, start_emulator, study_id, write_repository
from tests.conftest import CHECKOUT_SITE, REPO, run_edcconf

PROJECTS, USERS = 5, 6
VOLATILE = {"time", "apply_id", "lineage", "actor", "commit", "plan_digest"}


def _setup(
    tmp_path: Path,
    name: str,
    latency_ms: float = 5,
    jitter_ms: float = 3,
    max_concurrent: int | None = None,
    projects: int = PROJECTS,
    users: int = USERS,
):
    emu, tokens = start_emulator(projects, latency_ms, jitter_ms, max_concurrent)
    root = tmp_path / name
    write_repository(root, emu.url, projects, users)
    return emu, root, tokens


def _state(root: Path) -> dict:
    return json.loads((root / ".edcconf/state/test.json").read_text())["effective"]


def _audit(root: Path) -> list[dict]:
    lines = (root / ".edcconf/audit/test.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k not in VOLATILE} for line in lines]


def _held(emu, projects: int = PROJECTS) -> dict[str, set[str]]:
    """study -> the usernames its REDCap project holds."""
    return {study_id(n): set(emu.project(project_id(n)).users) for n in range(1, projects + 1)}


def _granted(state: dict) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for grant in state.get("grants", {}).values():
        out.setdefault(grant["study"], set()).add(grant["user"])
    return out


def _run_all(tmp_path: Path, name: str, parallelism: int, max_concurrent: int | None = None) -> dict:
    """apply, then a change by hand, then drift, plan, compliance --live and import redcap: each result."""
    emu, root, tokens = _setup(tmp_path, name, max_concurrent=max_concurrent)
    p = ["--parallelism", str(parallelism)]
    try:
        out = {}
        applied = run_edcconf("apply", "--env", "test", "--yes", *p, cwd=root, env=tokens)
        assert applied.code == 0, applied
        out["apply"] = (applied.code, applied.out.replace(str(root), "<root>"))
        out["state"], out["audit"] = _state(root), _audit(root)
        assert _granted(out["state"]) == {s: u for s, u in _held(emu).items() if u}
        imported = run_edcconf(
            "import",
            "redcap",
            "--env",
            "test",
            "--dry-run",
            "--json",
            "--group",
            "staff",
            "--site-country",
            "US",
            *p,
            cwd=root,
            env=tokens,
        )
        assert imported.code == 0, imported
        out["import"] = imported.out
        # a change by hand in two projects: a stray user, and someone's rights
        from redcap import Project

        Project(emu.url, tokens["EDCCONF_BENCH_TOKEN_2"]).import_users([{"username": "eve.stray", "design": 1}])
        someone = sorted(emu.project(project_id(4)).users)[0]
        Project(emu.url, tokens["EDCCONF_BENCH_TOKEN_4"]).import_users(
            [{"username": someone, "design": 1, "data_access_group": ""}]
        )
        assert "eve.stray" in emu.project(project_id(2)).users
        for what, args in (
            ("drift", ["drift", "--json"]),
            ("drift_text", ["drift"]),
            ("plan", ["plan", "--json"]),
            ("compliance", ["compliance", "--live", "--json"]),
        ):
            result = run_edcconf(args[0], "--env", "test", *args[1:], *p, cwd=root, env=tokens)
            assert result.code in (0, 2), (what, result)
            out[what] = (result.code, result.out)
        out["rejected"] = emu.counts["rejected"]
    finally:
        emu.stop()
    return out


def _normal(out: dict) -> dict:
    plan_code, plan_text = out["plan"]
    plan = json.loads(plan_text)
    plan.get("state", {}).pop("lineage", None)
    plan.pop("lineage", None)
    drift_code, drift_text = out["drift"]
    drift = json.loads(drift_text)
    drift["state"].pop("lineage", None)
    compliance_code, compliance_text = out["compliance"]
    compliance = json.loads(compliance_text)
    compliance.get("state", {}).pop("lineage", None)
    return {
        **{k: v for k, v in out.items() if k not in ("plan", "drift", "compliance", "rejected")},
        "plan": (plan_code, plan),
        "drift": (drift_code, drift),
        "compliance": (compliance_code, compliance),
    }


@pytest.fixture(scope="module")
def sequential(tmp_path_factory):
    return _normal(_run_all(tmp_path_factory.mktemp("seq"), "org", 1))


def test_parallel_results_are_those_of_one_at_a_time(tmp_path, sequential):
    parallel = _normal(_run_all(tmp_path, "org", 8))
    assert sequential["drift"][0] == 2 and sequential["drift"][1]["differences"]  # the change by hand is seen
    assert sequential["plan"][0] == 2 and json.loads(sequential["import"])
    for what in sequential:
        assert parallel[what] == sequential[what], what


def test_a_429_storm_gives_the_same_results(tmp_path, sequential):
    stormy = _run_all(tmp_path, "org", 8, max_concurrent=2)
    assert stormy["rejected"] > 0  # the server did refuse requests above its cap
    normal = _normal(stormy)
    for what in sequential:
        assert normal[what] == sequential[what], what


def test_one_project_failing_does_not_stop_the_others(tmp_path):
    emu, root, tokens = _setup(tmp_path, "org")
    try:
        emu.fail_next(
            1000,
            status=403,
            body='{"error": "You do not have permissions to use the API"}',
            content="user",
            action="import",
            project=project_id(3),
        )
        failed = run_edcconf("apply", "--env", "test", "--yes", "--parallelism", "8", cwd=root, env=tokens)
        assert failed.code == 1, failed
        assert study_id(3) in failed.err and "permissions to use the API" in failed.err
        held, state = _held(emu), _state(root)
        assert held[study_id(3)] == set() and all(held[study_id(n)] for n in (1, 2, 4, 5))
        assert _granted(state) == {s: u for s, u in held.items() if u}  # the others are recorded
        last = _audit(root)[-1]
        assert last["event"] == "apply-failed" and study_id(3) in json.dumps(last["failed_change"])
        emu.clear_failures()
        plan = run_edcconf("plan", "--env", "test", "--json", cwd=root, env=tokens)
        assert {c["key"].split("/")[0] for c in plan.json["changes"] if c["kind"] == "grant"} == {study_id(3)}
        again = run_edcconf("apply", "--env", "test", "--yes", cwd=root, env=tokens)
        assert again.code == 0, again
        assert _granted(_state(root)) == _held(emu) and all(_held(emu).values())
    finally:
        emu.stop()


def test_an_unread_project_is_named_and_fails_closed(tmp_path):
    emu, root, tokens = _setup(tmp_path, "org")
    try:
        assert run_edcconf("apply", "--env", "test", "--yes", cwd=root, env=tokens).code == 0
        emu.fail_next(
            1000, status=403, body='{"error": "You do not have permissions to use the API"}', project=project_id(2)
        )
        refused = run_edcconf("drift", "--env", "test", "--json", "--parallelism", "8", cwd=root, env=tokens)
        assert refused.code == 1 and refused.json["errors"][0]["code"] == "live-unread", refused
        assert study_id(2) in refused.json["errors"][0]["message"]
        blind = run_edcconf("drift", "--env", "test", "--json", "--allow-unread", cwd=root, env=tokens)
        assert blind.code == 0 and [u["study"] for u in blind.json["unread"]] == [study_id(2)]
        assert study_id(2) not in blind.json["checked"] and len(blind.json["checked"]) == PROJECTS - 1
    finally:
        emu.stop()


def _writes(emu) -> int:
    return sum(1 for r in list(emu.requests) if "data" in r or r.get("action") in ("import", "delete"))


def test_an_interrupted_parallel_apply_records_what_it_did_and_a_rerun_finishes(tmp_path):
    projects, users = 8, 10
    emu, root, tokens = _setup(tmp_path, "org", latency_ms=40, jitter_ms=0, projects=projects, users=users)
    try:
        env = {**os.environ, "NO_COLOR": "1", **tokens, "PYTHONPATH": os.pathsep.join([str(REPO), str(CHECKOUT_SITE)])}
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "edcconf",
                "--config",
                str(root),
                "apply",
                "--env",
                "test",
                "--yes",
                "--parallelism",
                "3",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        while _writes(emu) < 6 and proc.poll() is None:  # some grants written, most not yet
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 130, (out, err)
        assert "applied and recorded" in err and "Traceback" not in err
        held, state = _held(emu, projects), _state(root)
        assert _granted(state) == {s: u for s, u in held.items() if u}  # recorded exactly what REDCap holds
        assert 0 < sum(map(len, held.values())) < projects * users
        assert _audit(root)[-1]["event"] == "apply-interrupted"
        again = run_edcconf("apply", "--env", "test", "--yes", "--parallelism", "3", cwd=root, env=tokens)
        assert again.code == 0, again
        resumed = _state(root)
        assert _granted(resumed) == _held(emu, projects)
    finally:
        emu.stop()
    # an uninterrupted run of the same configuration ends in the same state
    emu2, root2, tokens2 = _setup(tmp_path, "whole", latency_ms=0, jitter_ms=0, projects=projects, users=users)
    try:
        assert run_edcconf("apply", "--env", "test", "--yes", cwd=root2, env=tokens2).code == 0
        whole = _state(root2)
    finally:
        emu2.stop()
    assert resumed["grants"] == whole["grants"]
