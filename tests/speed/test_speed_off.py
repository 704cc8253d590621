"""edcconf.speed changes how fast, never what: on random organisations, `plan --json` and `validate --json`
print the same with speed on (file cache, memo, incremental planner, ...) as with EDCCONF_SPEED=off (the
core alone), on a cold run, a second run (memo and cache) and after an edit of one study file
(incremental). With speed off nothing is written under .edcconf/cache/."""

import copy
import tempfile
from datetime import date
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import FIXTURES, copy_config, run_inprocess
from tests.properties.test_organisations import organisations, write_org

DAY = "2026-11-24"
AS_OF = date(2026, 11, 24)
EDITS = ["drop-grant", "test-only", "expires", "rename", "unknown-user", "add-grant"]


def _run(root: Path, speed: str, *args: str) -> tuple[int, str, str]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EDCCONF_SPEED", speed)
        mp.delenv("EDCCONF_NO_CACHE", raising=False)
        mp.setenv("EDCCONF_WORKERS", "1")  # no fork inside the test process
        return run_inprocess(root, *args)


def _same(root: Path, *args: str) -> None:
    """The command prints the same with speed on and off (speed on first: it may answer from its caches)."""
    on = _run(root, "on", *args)
    off = _run(root, "off", *args)
    assert on == off, args


def _edit(doc: dict, edit: str, person: str) -> dict:
    doc = copy.deepcopy(doc)
    study = doc["study"]
    access = study["access"]
    if edit == "drop-grant" and access:
        access.pop()
    elif edit == "test-only" and access:
        access[0]["environments"] = ["test"]
    elif edit == "expires" and access:
        access[-1]["expires"] = "2026-12-31"
    elif edit == "rename":
        study["name"] = "Renamed"
    elif edit == "unknown-user":
        access.append({"user": "nobody", "role": "viewer", "environments": "all", "sites": "all"})
    elif edit == "add-grant" and not any(g["user"] == person for g in access):
        access.append({"user": person, "role": "viewer", "environments": "all", "sites": "all"})
    return doc


def _with_second_study(org: dict) -> dict:
    """Two study files: an edit of one is what the incremental planner answers."""
    second = copy.deepcopy(org["studies/s.yaml"])
    second["study"]["id"] = "S-2"
    second["study"]["name"] = "Second"
    return {**org, "studies/t.yaml": second, "policies/sod.yaml": POLICIES}


POLICIES = {  # warnings, so that every example applies: judged per study file (the incremental planner)
    "access_policies": [
        {
            "id": "editors",
            "kind": "max_holders",
            "right": "form_access",
            "at_least": "edit",
            "max": 1,
            "enforcement": "warn",
        },
        {"id": "export", "kind": "requires", "right": "data_export", "requires": "contact_data", "enforcement": "warn"},
        {"id": "one-role", "kind": "exclusive", "roles": ["crc", "viewer", "monitor"], "enforcement": "warn"},
        {"id": "four-eyes", "kind": "requester_not_approver", "enforcement": "warn"},
    ]
}


SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(org=organisations(), edit=st.sampled_from(EDITS))
def test_plan_and_validate_are_the_same_with_speed_off(tmp_path, org, edit):
    root = Path(tempfile.mkdtemp(dir=tmp_path)) / "org"  # a fresh directory per example: no cache carried over
    org = _with_second_study(org)
    write_org(root, org)
    assert _run(root, "off", "apply", "--env", "test", "--yes")[0] == 0  # a state for the planners to diff
    assert not (root / ".edcconf" / "cache").exists()  # speed off: nothing cached
    for _ in range(2):  # cold (full path, memo and incremental base recorded), then again (memo, file cache)
        for env in ("test", "production"):
            _same(root, "plan", "--env", env, "--at", DAY, "--format", "json")
        _same(root, "validate", "--json")
    assert (root / ".edcconf" / "cache" / "plans").is_dir()  # speed on did cache
    person = org["groups/all.yaml"]["group"]["members"][-1]["username"]
    (root / "studies/t.yaml").write_text(yaml.safe_dump(_edit(org["studies/t.yaml"], edit, person), sort_keys=False))
    for _ in range(2):  # after the edit: the incremental planner, then the memo
        for env in ("test", "production"):
            _same(root, "plan", "--env", env, "--at", DAY, "--format", "json")
        _same(root, "validate", "--json")


def test_the_fast_paths_are_taken_and_agree(tmp_path, monkeypatch):
    """On the mini organisation with a second study file: the second plan comes from the memo, the plan
    after a one-file edit from the incremental planner, and both print what the core alone prints."""
    import edcconf.speed.incremental as incremental
    import edcconf.speed.memo as memo

    root = copy_config(FIXTURES / "mini", tmp_path / "org")
    heart = root / "studies" / "heart.yaml"
    doc = yaml.safe_load(heart.read_text())
    doc["study"]["id"] = "HEART-02"
    (root / "studies" / "heart2.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    assert _run(root, "off", "apply", "--env", "test", "--yes")[0] == 0

    answered: list[str] = []
    real_get, real_incremental = memo.PlanMemo.get, incremental.plan_incrementally

    def get(self, key, state):
        hit = real_get(self, key, state)
        answered.append("memo" if hit is not None else "miss")
        return hit

    def incrementally(*args):
        planned = real_incremental(*args)
        answered.append("incremental" if planned is not None else "full")
        return planned

    monkeypatch.setattr(memo.PlanMemo, "get", get)
    monkeypatch.setattr(incremental, "plan_incrementally", incrementally)
    plan = ("plan", "--env", "test", "--at", DAY, "--format", "json")
    _same(root, *plan)
    _same(root, *plan)
    assert answered == ["miss", "full", "memo"]
    doc["study"]["access"].pop(0)  # a revocation in one study file (cara.crc, granted in every environment)
    (root / "studies" / "heart2.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    answered.clear()
    _same(root, *plan)
    assert answered == ["miss", "incremental"]
    assert '"changes": []' not in _run(root, "off", *plan)[1]
