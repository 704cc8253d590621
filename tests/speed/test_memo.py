"""The exact-input memo of `plan`: a memoised plan equals the fresh one (text and JSON, warnings
included), and any change of an input (configuration, state, date, refresh, code) is a miss."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from tests.conftest import generate_org, run_edcconf

REPO = Path(__file__).resolve().parents[2]
AT = ("--at", "2026-11-24")


@pytest.fixture(scope="module")
def applied(tmp_path_factory):
    """A generated organisation applied to test, then one grant changed: plans have changes and warnings."""
    root = tmp_path_factory.mktemp("memo") / "org"
    generate_org(root, 6)
    r = run_edcconf("apply", "--env", "test", "--yes", cwd=root, env={"EDCCONF_NO_CACHE": "1"})
    assert r.code == 0, r
    study = sorted((root / "studies").glob("*.yaml"))[2]
    text = study.read_text()
    i = text.rfind("environments: all")
    study.write_text(text[:i] + "environments: [production]" + text[i + len("environments: all") :])
    return root


def _copy(applied: Path, dest: Path) -> Path:
    shutil.copytree(applied, dest, ignore=shutil.ignore_patterns("cache"))
    return dest


def _entries(root: Path) -> list[Path]:
    d = root / ".edcconf" / "cache" / "plans"
    return sorted(p for p in d.iterdir() if not p.name.endswith(".extra")) if d.is_dir() else []


def _plans(root: Path, *extra: str, env: dict | None = None) -> tuple[str, str]:
    text = run_edcconf("plan", "--env", "test", *AT, *extra, cwd=root, env=env)
    js = run_edcconf("plan", "--env", "test", "--json", *AT, *extra, cwd=root, env=env)
    assert text.code == js.code == 2, (text, js)
    return text.out, js.out


def test_memoised_plan_equals_fresh_plan(applied, tmp_path):
    root = _copy(applied, tmp_path / "org")
    fresh = _plans(root, env={"EDCCONF_NO_CACHE": "1"})
    assert not _entries(root)  # EDCCONF_NO_CACHE: nothing written
    first = _plans(root)  # made and remembered
    assert len(_entries(root)) == 1
    memoised = _plans(root)  # answered from the memo
    assert fresh == first == memoised
    assert "warning" in fresh[0].lower() and '"warnings": [\n    {' in fresh[1]  # warnings are compared too
    md_fresh = run_edcconf(
        "plan", "--env", "test", "--format", "markdown", *AT, cwd=root, env={"EDCCONF_NO_CACHE": "1"}
    )
    md_memo = run_edcconf("plan", "--env", "test", "--format", "markdown", *AT, cwd=root)
    assert md_fresh.out == md_memo.out


def test_saved_plan_from_memo_applies(applied, tmp_path):
    root = _copy(applied, tmp_path / "org")
    _plans(root)
    out = tmp_path / "plan.json"
    saved = run_edcconf("plan", "--env", "test", *AT, "--out", out, cwd=root)
    assert saved.code == 2, saved
    fresh = tmp_path / "fresh.json"
    run_edcconf("plan", "--env", "test", *AT, "--out", fresh, cwd=root, env={"EDCCONF_NO_CACHE": "1"})
    import json

    strip = lambda p: {k: v for k, v in json.loads(p.read_text()).items() if k not in ("created_at", "digest")}  # noqa: E731
    assert strip(out) == strip(fresh)
    for extra in (root / ".edcconf" / "cache" / "plans").glob("*.extra"):
        extra.write_bytes(b"damaged")  # a damaged entry is a miss, never a wrong saved plan
    again = run_edcconf("plan", "--env", "test", *AT, "--out", out, cwd=root)
    assert again.code == 2 and strip(out) == strip(fresh)
    assert run_edcconf("apply", out, "--allow-other-date", cwd=root).code == 0  # planned --at: test is unprotected


def test_every_input_change_misses(applied, tmp_path):
    root = _copy(applied, tmp_path / "org")
    base = _plans(root)

    def fresh(*extra: str) -> tuple[str, str]:
        return _plans(root, *extra, env={"EDCCONF_NO_CACHE": "1"})

    # the date
    other_day = ("--at", "2027-07-01")
    assert (
        run_edcconf("plan", "--env", "test", "--json", *other_day, cwd=root).out
        == run_edcconf("plan", "--env", "test", "--json", *other_day, cwd=root, env={"EDCCONF_NO_CACHE": "1"}).out
    )
    # the refresh setting has its own entry
    assert _plans(root, "--no-refresh") == fresh("--no-refresh")
    # the configuration: one more grant change
    study = sorted((root / "studies").glob("*.yaml"))[4]
    text = study.read_text()
    i = text.rfind("environments: all")
    study.write_text(text[:i] + "environments: [production]" + text[i + len("environments: all") :])
    changed = _plans(root)
    assert changed == fresh() and changed != base
    # the state: apply, then plan again (same configuration, new state)
    assert run_edcconf("apply", "--env", "test", "--yes", cwd=root).code == 0
    after = run_edcconf("plan", "--env", "test", "--json", *AT, cwd=root)
    assert (
        after.code == 0
        and after.json["changes"] == []
        and after.out
        == run_edcconf("plan", "--env", "test", "--json", *AT, cwd=root, env={"EDCCONF_NO_CACHE": "1"}).out
    )


def test_state_edit_with_same_serial_misses(applied, tmp_path):
    """The state's bytes are in the key, not only its serial: an edited state file is a miss."""
    import json

    root = _copy(applied, tmp_path / "org")
    base = _plans(root)
    path = root / ".edcconf" / "state" / "test.json"
    state = json.loads(path.read_text())
    grant = sorted(state["effective"]["grants"])[0]
    del state["effective"]["grants"][grant]
    path.write_text(json.dumps(state))
    edited = _plans(root)
    assert edited == _plans(root, env={"EDCCONF_NO_CACHE": "1"}) and edited != base


def test_key_covers_code_version_and_inputs(tmp_path, monkeypatch):
    from edcconf.speed import memo

    m = memo.PlanMemo(tmp_path)
    day = date(2026, 11, 24)
    base = m.key("test", day, True, "a" * 64)
    assert (
        len(
            {
                base,
                m.key("prod", day, True, "a" * 64),
                m.key("test", date(2026, 11, 25), True, "a" * 64),
                m.key("test", day, False, "a" * 64),
                m.key("test", day, True, "b" * 64),
            }
        )
        == 5
    )
    monkeypatch.setattr(memo, "package_digest", lambda: "another version")
    assert m.key("test", day, True, "a" * 64) != base


def test_journal_or_damage_is_a_miss(applied, tmp_path):
    root = _copy(applied, tmp_path / "org")
    base = _plans(root)
    for entry in _entries(root):
        entry.write_bytes(b"\x00garbage")
    assert _plans(root) == base
    from edcconf.speed.memo import state_digest

    assert state_digest(root, "test") not in (None, "absent")
    (root / ".edcconf" / "state" / "test.journal").write_text("")
    assert state_digest(root, "test") is None


def test_live_refresh_is_never_memoised(tmp_path):
    """A plan that reads live access (redcap target, refresh) is made every time; --no-refresh is memoised."""
    from edcconf.emulator.redcap import RedcapEmulator
    from tests.apply.test_redcap_end_to_end import TOKEN_VAR, _repo

    with RedcapEmulator(version="15.6.1") as emu:
        token = emu.add_project(
            project_id=12, title="Type 2 diabetes registry", forms=["demographics", "hba1c", "adverse_events"]
        )
        root = _repo(tmp_path, emu.url)
        env = {TOKEN_VAR: token}
        assert run_edcconf("apply", "--env", "test", "--yes", cwd=root, env=env).code == 0
        assert run_edcconf("plan", "--env", "test", cwd=root, env=env).code == 0
        assert run_edcconf("plan", "--env", "test", cwd=root, env=env).code == 0
        assert not _entries(root)
        blind = run_edcconf("plan", "--env", "test", "--json", "--allow-unread", cwd=root, env={TOKEN_VAR: ""})
        assert "drift-unchecked" in {w["code"] for w in blind.json["warnings"]}
        assert run_edcconf("plan", "--env", "test", "--no-refresh", cwd=root, env=env).code == 0
        assert len(_entries(root)) == 1


def test_the_state_digest_is_kept_only_for_the_file_it_was_taken_of(tmp_path, monkeypatch):
    """The digest of a state file is remembered with the file's identity, once the file is old enough that
    it cannot change again within its timestamps; any other file (new inode, size or times) is hashed again."""
    import hashlib
    import os
    import time

    from edcconf import fs
    from edcconf.speed import memo

    state = tmp_path / ".edcconf" / "state" / "test.json"
    state.parent.mkdir(parents=True)

    def sha(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()

    state.write_text('{"serial": 1}')
    assert memo.state_digest(tmp_path, "test") == sha('{"serial": 1}')
    assert memo._known_digest(tmp_path, "test") is None  # just written: not remembered
    monkeypatch.setattr(fs, "settled", lambda st: True)  # as if it had been written long ago
    assert memo.state_digest(tmp_path, "test") == sha('{"serial": 1}')
    assert memo._known_digest(tmp_path, "test") is not None
    # an edit in place keeping the size and, by hand, the modification time: the change time differs
    before = state.stat()
    time.sleep(0.05)  # past the file system's clock tick: the edit gets a later change time
    with open(state, "r+") as f:
        f.write('{"serial": 2}')
    os.utime(state, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert memo.state_digest(tmp_path, "test") == sha('{"serial": 2}')
    # a damaged entry is hashed again, never trusted
    memo._digest_entry(tmp_path, "test").write_text("{")
    assert memo.state_digest(tmp_path, "test") == sha('{"serial": 2}')
    # the remembered digest is what answers while the file is that file (shown by lying about it)
    identity, _ = memo._known_digest(tmp_path, "test")
    memo._remember_digest(tmp_path, "test", identity, "f" * 64)
    assert memo.state_digest(tmp_path, "test") == "f" * 64


def test_the_scan_memory_answers_as_a_scan_and_survives_damage(tmp_path, monkeypatch):
    import edcconf.fs as fs
    import edcconf.source as source
    from edcconf.speed import memo
    from tests.conftest import FIXTURES, copy_config

    root = copy_config(FIXTURES / "mini", tmp_path / "mini")
    monkeypatch.setattr(fs, "settled", lambda st: True)
    entry = root / ".edcconf" / "cache" / "scan.marshal"
    assert memo.scanned(root) == source.scan(root) and entry.exists()
    (root / "groups" / "staff.yaml").unlink()  # a deleted file is forgotten
    assert memo.scanned(root) == source.scan(root)
    import marshal

    assert "groups/staff.yaml" not in marshal.loads(entry.read_bytes())
    for damage in (b"\x00garbage", marshal.dumps({"studies/heart.yaml": 5}), marshal.dumps([1, 2])):
        entry.write_bytes(damage)
        assert memo.scanned(root) == source.scan(root)
