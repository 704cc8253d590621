"""The incremental planner (edcconf.speed.incremental): after one-file changes of every kind (a grant, a role,
a new and a removed study file, a person's expiry in a group file, a site), the plan (text and JSON,
warnings and brakes included) equals the plan made with EDCCONF_NO_CACHE=1; a study-file change is
answered incrementally, a global change by the full path; damaged entries and another code version are
misses, never trusted."""

from __future__ import annotations

import re
import shutil
from datetime import date
from pathlib import Path

import pytest

# in-process CLI runs: the caches compared here are all on disk, which a subprocess sees no differently
from tests.conftest import generate_org, run_cli

REPO = Path(__file__).resolve().parents[2]
AT = ("--at", "2026-11-24")
AS_OF = date(2026, 11, 24)


@pytest.fixture(scope="module")
def applied(tmp_path_factory):
    root = tmp_path_factory.mktemp("incremental") / "org"
    generate_org(root, 6)
    for env in ("test", "production"):
        r = run_cli("apply", "--env", env, "--yes", cwd=root, env={"EDCCONF_NO_CACHE": "1"})
        assert r.code in (0, 1), r  # production is protected: it applies only from a saved plan
        if r.code == 1:
            saved = root / "prod.plan"
            assert (
                run_cli(
                    "plan",
                    "--env",
                    env,
                    "--out",
                    saved,
                    cwd=root,  # as of today, as apply is
                    env={"EDCCONF_NO_CACHE": "1"},
                ).code
                == 2
            )
            assert run_cli("apply", str(saved), cwd=root, env={"EDCCONF_NO_CACHE": "1"}).code == 0
            saved.unlink()
    return root


def _plans(root: Path, env_name: str, cached: bool) -> tuple[int, str, str]:
    extra = None if cached else {"EDCCONF_NO_CACHE": "1"}
    js = run_cli("plan", "--env", env_name, "--json", *AT, cwd=root, env=extra)
    text = run_cli("plan", "--env", env_name, *AT, cwd=root, env=extra)
    assert text.code == js.code and text.code in (0, 2), (text, js)
    return text.code, text.out, js.out


def _incremental_in_process(root: Path, env_name: str) -> bool:
    """Whether plan_for_review answers incrementally (in this process; the cache is on)."""
    from edcconf.speed.incremental.replay import IncrementalPlanned
    from edcconf.workflow import plan_for_review

    return isinstance(plan_for_review(root, env_name, AS_OF, True), IncrementalPlanned)


def _edit(path: Path, pattern: str, replacement: str) -> None:
    text = path.read_text()
    new, n = re.subn(pattern, replacement, text, count=1)
    assert n == 1, (path, pattern)
    path.write_text(new)


def _studies(root: Path) -> list[Path]:
    return sorted((root / "studies").glob("*.yaml"))


EDITS = [
    (
        "grant",
        False,
        lambda root: _edit(
            _studies(root)[2], r"environments: all, sites: all\}", "environments: [production], sites: all}"
        ),
    ),
    (
        "role",
        False,
        lambda root: _edit(
            _studies(root)[0], r"(custom_0: \{base: \w+), tags: \{(\w+): \w+", r"\1, default: read, tags: {\2: none"
        ),
    ),
    ("grant removed", False, lambda root: _edit(_studies(root)[4], r"\n    - \{user: [^\n]*", "")),
    (
        "new study file",
        False,
        lambda root: (root / "studies" / "zz-copy.yaml").write_text(
            re.sub(r"id: (\w+)-(\d+)\n", r"id: \1-9\2\n", _studies(root)[1].read_text(), count=1)
        ),
    ),
    ("study file removed", False, lambda root: _studies(root)[3].unlink()),
    (
        "person expiry",
        True,
        lambda root: _edit(
            root / "groups" / "staff.yaml", r"name: Person (\d+)\}", r"name: Person \1, expires: 2026-01-01}"
        ),
    ),
    ("site", True, lambda root: _edit(root / "environments" / "sites.yaml", r"country: US", "country: CA")),
    (
        "another role at another site",
        False,
        lambda root: _edit(
            _studies(root)[0],
            r"\{user: (\w+), role: crc, environments: all, sites: \[(\w+), (\w+)\]\}",
            r"{user: \1, role: crc, environments: all, sites: [\2]}\n    - {user: \1, role: viewer, environments: all, sites: [\3]}",
        ),
    ),
    (
        "grant after a global change",
        False,
        lambda root: _edit(_studies(root)[5], r"sites: all\}", "sites: all, expires: 2030-01-01}"),
    ),
    # 000: an external person's agreement moves after the plan's day (global), then one of their grants changes
    (
        "external agreement later",
        True,
        lambda root: _edit(
            root / "groups" / "external.yaml",
            r"(username: u00012, [^\n]*agreement_signed: )2026-01-15",
            r"\g<1>2026-12-01",
        ),
    ),
    (
        "grant of an external person not yet allowed",
        False,
        lambda root: _edit(
            next(p for p in _studies(root) if "{user: u00012," in p.read_text()),
            r"(\{user: u00012, [^}\n]*)\}",
            r"\1, expires: 2026-12-31}",
        ),
    ),
]


# production (protected: brakes, saved plans) repeats test's ~100 plan runs: `make test-long`
@pytest.mark.parametrize("env_name", ["test", pytest.param("production", marks=pytest.mark.long)])
def test_plan_after_each_kind_of_change_equals_the_uncached_plan(applied, tmp_path, env_name):
    root = tmp_path / "org"
    shutil.copytree(applied, root, ignore=shutil.ignore_patterns("cache"))
    _plans(root, env_name, cached=True)  # the full plan that stores the base
    seen_warning = False
    for what, is_global, edit in EDITS:
        edit(root)
        incremental = _incremental_in_process(root, env_name)
        assert incremental != is_global, what
        cached, fresh = _plans(root, env_name, cached=True), _plans(root, env_name, cached=False)
        assert cached == fresh, what
        seen_warning = seen_warning or "[queries-hidden]" in fresh[1]
        if what.startswith("grant of an external"):
            assert "[external-access-not-yet]" in fresh[1] and "u00012" in fresh[1], what
        if is_global:
            _plans(root, env_name, cached=True)  # the full path stored a base for the new inputs
    assert seen_warning


def test_damaged_entries_and_another_code_version_are_misses(applied, tmp_path, monkeypatch):
    import edcconf.speed.incremental as incremental

    root = tmp_path / "org"
    shutil.copytree(applied, root, ignore=shutil.ignore_patterns("cache"))
    _plans(root, "test", cached=True)
    EDITS[0][2](root)
    fresh = _plans(root, "test", cached=False)
    store = root / ".edcconf" / "cache" / "incremental"
    entries = sorted(p for p in store.rglob("*") if p.is_file())
    assert entries
    for i, p in enumerate(entries):  # every kind of damage: truncated, garbage, gone
        data = p.read_bytes()
        p.write_bytes(data[: len(data) // 2] if i % 3 == 0 else b"\x00garbage" if i % 3 == 1 else data)
        if i % 3 == 2:
            p.unlink()
    assert _plans(root, "test", cached=True) == fresh
    _plans(root, "test", cached=True)  # a full plan stores a sound base again
    EDITS[1][2](root)
    assert _incremental_in_process(root, "test")
    monkeypatch.setattr(incremental, "_code", lambda: "another version of edcconf")
    assert not _incremental_in_process(root, "test")  # nothing stored by another version is read
    monkeypatch.undo()
    assert _plans(root, "test", cached=True) == _plans(root, "test", cached=False)


def test_saved_plan_made_incrementally_equals_the_fresh_one(applied, tmp_path):
    import json

    from edcconf.speed.incremental.replay import IncrementalPlanned
    from edcconf.workflow import plan_environment, plan_for_review

    root = tmp_path / "org"
    shutil.copytree(applied, root, ignore=shutil.ignore_patterns("cache"))
    _plans(root, "test", cached=True)
    EDITS[0][2](root)
    EDITS[3][2](root)
    planned, fresh = (
        plan_for_review(root, "test", AS_OF, True, need_sources=True),
        plan_environment(root, "test", AS_OF),
    )
    assert isinstance(planned, IncrementalPlanned)
    assert planned.plan == fresh.plan and planned.config_digest == fresh.config_digest
    assert list(planned.sources.items()) == list(fresh.sources.items())  # the same order too
    assert list(planned.systems.items()) == list(fresh.systems.items())
    out, again = tmp_path / "plan.json", tmp_path / "fresh.json"
    assert run_cli("plan", "--env", "test", *AT, "--out", out, cwd=root).code == 2
    run_cli("plan", "--env", "test", *AT, "--out", again, cwd=root, env={"EDCCONF_NO_CACHE": "1"})
    strip = lambda p: {k: v for k, v in json.loads(p.read_text()).items() if k not in ("created_at", "digest")}  # noqa: E731
    assert strip(out) == strip(again)
    assert run_cli("apply", out, "--allow-other-date", cwd=root).code == 0  # planned --at: test is unprotected


def test_a_guard_change_is_planned_incrementally_as_in_full(applied, tmp_path):
    """The environment's guards come from a global file and the state: the base keeps their planned change
    and the applied values the brakes are held to, so a study-file change after a guard change is planned
    incrementally with both, exactly as the full path plans it."""
    import json

    root = tmp_path / "org"
    shutil.copytree(applied, root, ignore=shutil.ignore_patterns("cache"))
    _edit(root / "environments" / "test.yaml", r"max_revocations: 100000", "max_revocations: 0")
    _plans(root, "test", cached=True)  # the full plan that stores the base
    EDITS[2][2](root)  # a grant removed: the declared 0 would brake it
    assert _incremental_in_process(root, "test")
    cached, fresh = _plans(root, "test", cached=True), _plans(root, "test", cached=False)
    assert cached == fresh
    plan = json.loads(fresh[2])
    assert plan["changes"][0]["kind"] == "environment" and plan["changes"][0]["details"] == [
        "safety.max_revocations: 100000 → 0"
    ]
    assert any(c["action"] == "revoke" for c in plan["changes"]) and plan["brakes"] == []  # held to 100000


def _git(root: Path, *args: str) -> None:
    import subprocess

    subprocess.run(
        ["git", "-c", "user.name=Pat PI", "-c", "user.email=pat@example.org", "-C", str(root), *args],
        check=True,
        capture_output=True,
    )


def test_access_reviews_are_planned_incrementally_as_in_full(applied, tmp_path, monkeypatch):
    """Review files (#20) are global files: a study file's re-planned grants see their revocations and
    expiries; who decided comes from git, so the commit checked out is in the base's key (a new commit: the
    full path, which stores a base for it)."""
    root = tmp_path / "org"
    shutil.copytree(applied, root, ignore=shutil.ignore_patterns("cache"))
    folder = root / "reviews" / "t1"
    folder.mkdir(parents=True)
    (folder / "campaign.yaml").write_text(
        "review_campaign: {id: t1, environment: test, started: 2026-11-01, due: 2026-11-20, warn_days: 14, "
        "after_due: expire, state_serial: 1}\n"
    )
    reviewed = []
    for path in _studies(root)[:3]:
        text = path.read_text()
        sid = re.search(r"\n  id: (\S+)", text).group(1)
        reviewed.append(f"reviews/t1/{sid}.yaml")
        users = re.findall(r"\{user: (\w+), role: \w+, environments: all", text)[:6]
        (folder / f"{sid}.yaml").write_text(
            f"access_review:\n  campaign: t1\n  study: {sid}\n  grants:\n"
            + "".join(f"    - {sid}/{u}\n" for u in users)
            + f"  confirmed:\n    - {users[0]}\n    - {users[1]}\n  revoke:\n    - {users[2]}\n"
        )
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "campaign t1, two confirmed and one revoked per study")
    first = _plans(root, "test", cached=True)  # the full plan that stores the base
    assert "revoked in access review t1 by Pat PI" in first[1] and "not confirmed in access review t1" in first[1]
    EDITS[0][2](root)  # a grant of the third reviewed study
    _edit(_studies(root)[1], r"sites: all\}", "sites: all, expires: 2030-01-01}")  # one of a reviewed study
    import edcconf.speed.incremental.replay as replay

    read: list[str] = []
    load = replay._load_files
    monkeypatch.setattr(replay, "_load_files", lambda where, rels: read.extend(rels) or load(where, rels))
    assert _incremental_in_process(root, "test")
    # the re-planned studies are validated with their own review files only (and the campaign's)
    assert reviewed[1] in read and reviewed[2] in read and reviewed[0] not in read  # studies 1, 2 changed
    assert "reviews/t1/campaign.yaml" in read
    monkeypatch.undo()
    cached, fresh = _plans(root, "test", cached=True), _plans(root, "test", cached=False)
    assert cached == fresh
    _git(root, "commit", "-q", "-am", "another commit: who decided may read differently")
    assert not _incremental_in_process(root, "test")
    assert _plans(root, "test", cached=True) == _plans(root, "test", cached=False)
