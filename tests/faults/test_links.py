"""No path leaves the configuration directory through a symbolic link (unsafe-path), and no declaration
file is parsed above the size limit (file-too-large): every refusal is exit 1 with the link's or file's
own path, never a traceback, never the foreign file's content, and nothing written outside."""

import json
import os
from pathlib import Path

import pytest

from edcconf.source import MAX_FILE_BYTES, config_files, load_sources
from tests.conftest import run_inprocess as run
from tests.conftest import write

AT = ["--at", "2026-11-24"]
PASSWD = [line for line in Path("/etc/passwd").read_text().splitlines() if line.strip()]


def tree(path: Path) -> dict[str, bytes]:
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.fixture
def outside(tmp_path):
    """A directory beside the repository that must stay exactly as it is."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "keep.txt").write_text("untouched\n")
    return folder


# -- reading --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["validate"],
        ["validate", "--json"],
        ["validate", "--format", "github"],
        ["plan", "--env", "test"],
        ["plan", "--env", "test", "--json"],
        ["plan", "--env", "test", "--format", "markdown"],
    ],
)
def test_a_yaml_link_to_etc_passwd_is_refused_and_never_echoed(mini_repo, args):
    (mini_repo / "groups/x.yaml").symlink_to("/etc/passwd")
    code, out, err = run(mini_repo, *args)
    assert code == 1 and "Traceback" not in out + err
    assert "groups/x.yaml" in out + err and "unsafe-path" in out + err
    for line in PASSWD:
        assert line not in out + err
    if args == ["validate"]:
        assert "groups/x.yaml: error[unsafe-path]: groups/x.yaml is a symbolic link" in err


def test_a_link_to_a_valid_file_outside_is_not_loaded(mini_repo, outside):
    (outside / "extra.yaml").write_text(
        "group:\n  id: extra\n  ceiling: {form_access: edit}\n"
        "  members:\n    - {username: eve.x, email: eve@x.org, name: Eve}\n"
    )
    (mini_repo / "groups/extra.yaml").symlink_to(outside / "extra.yaml")
    sources = load_sources(mini_repo)
    assert "groups/extra.yaml" not in {f.path for f in sources.files}
    assert [(d.code, d.loc.file) for d in sources.diagnostics] == [("unsafe-path", "groups/extra.yaml")]
    code, out, err = run(mini_repo, "validate", "--json")
    assert code == 1 and [e["code"] for e in json.loads(out)["errors"]] == ["unsafe-path"]


def test_a_relative_link_climbing_out_and_a_linked_config_directory_are_refused(mini_repo, outside):
    (outside / "s.yaml").write_text("study: {id: S}\n")
    (mini_repo / "studies/up.yaml").symlink_to(Path("..") / ".." / "outside" / "s.yaml")
    (mini_repo / "groups").rename(mini_repo / "groups-real")
    (mini_repo / "groups").symlink_to(outside)
    got = {(d.code, d.loc.file) for d in load_sources(mini_repo).diagnostics}
    assert got == {("unsafe-path", "studies/up.yaml"), ("unsafe-path", "groups")}


def test_links_inside_are_followed_and_each_file_read_once(mini_repo):
    write(mini_repo, "common/extra.yaml", "group:\n  id: extra\n  ceiling: {form_access: read}\n")
    (mini_repo / "groups/extra.yaml").symlink_to("../common/extra.yaml")
    (mini_repo / "studies/heart-again.yaml").symlink_to("heart.yaml")  # the same file: read once
    (mini_repo / "groups/studies-too").symlink_to("../studies")  # a directory already read
    (mini_repo / "studies/loop").symlink_to(".")  # a loop of directories
    rels = [p.relative_to(mini_repo).as_posix() for p in config_files(mini_repo)]
    assert rels == ["environments/envs.yaml", "groups/extra.yaml", "groups/staff.yaml", "studies/heart.yaml"]
    code, out, err = run(mini_repo, "validate")
    assert code == 0, err


def test_a_file_reached_only_through_a_linked_directory_is_read_under_the_link(mini_repo):
    write(mini_repo, "common/groups/extra.yaml", "group:\n  id: extra\n  ceiling: {form_access: read}\n")
    (mini_repo / "groups/common").symlink_to("../common/groups")
    assert "groups/common/extra.yaml" in [p.relative_to(mini_repo).as_posix() for p in config_files(mini_repo)]


def test_an_access_test_file_linked_outside_is_refused(mini_repo):
    (mini_repo / "tests/access").mkdir(parents=True)
    (mini_repo / "tests/access/x.yaml").symlink_to("/etc/passwd")
    code, out, err = run(mini_repo, "test")
    assert code == 1 and "Traceback" not in out + err
    assert "tests/access/x.yaml" in err and "unsafe-path" in err
    for line in PASSWD:
        assert line not in out + err


# -- size -----------------------------------------------------------------------------------------------


def test_a_file_over_the_limit_is_refused_before_it_is_parsed(mini_repo, monkeypatch):
    import edcconf.speed.parse_pool as pool

    big = mini_repo / "groups/big.yaml"
    with open(big, "wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)  # sparse: instant to make
    parsed = []
    real_parse_all = pool.parse_all
    monkeypatch.setattr(
        pool, "parse_all", lambda jobs, *a: (parsed.extend(rel for rel, *_ in jobs), real_parse_all(jobs, *a))[1]
    )
    from edcconf.speed.reader import FastReader

    monkeypatch.setenv("EDCCONF_NO_CACHE", "1")
    sources = load_sources(mini_repo, reader=FastReader())  # the reader that hands files to the parse pool
    assert [(d.code, d.loc.file) for d in sources.diagnostics] == [("file-too-large", "groups/big.yaml")]
    assert f"{MAX_FILE_BYTES + 1:,} bytes" in sources.diagnostics[0].message
    assert "groups/big.yaml" not in parsed
    code, out, err = run(mini_repo, "validate")
    assert code == 1 and "groups/big.yaml: error[file-too-large]" in err and "Traceback" not in err


def test_the_limit_is_ten_mebibytes():
    assert MAX_FILE_BYTES == 10 * 1024 * 1024


def test_a_fifo_is_not_waited_on(mini_repo):
    os.mkfifo(mini_repo / "groups/pipe.yaml")
    sources = load_sources(mini_repo, rels=["groups/pipe.yaml"])
    assert [d.code for d in sources.diagnostics] == ["yaml-syntax"]
    assert "not a regular file" in sources.diagnostics[0].message


# -- writing --------------------------------------------------------------------------------------------


def _apply(repo, *extra):
    return run(repo, "apply", "--env", "test", "--yes", *extra)  # apply is always as of today


def _refused(repo, outside, link: str, *, before=None):
    before = tree(outside) if before is None else before
    code, out, err = _apply(repo)
    assert code == 1 and "Traceback" not in out + err, (code, out, err)
    assert f"{link} is a symbolic link to a place outside the configuration directory" in err
    assert "unsafe-path" not in out and tree(outside) == before
    return err


def test_an_audit_directory_linked_outside_refuses_the_apply(mini_repo, outside):
    (mini_repo / ".edcconf").mkdir()
    (mini_repo / ".edcconf/audit").symlink_to(outside)
    _refused(mini_repo, outside, ".edcconf/audit")
    assert not (mini_repo / ".edcconf/state/test.json").exists()  # refused before anything changed
    assert not (mini_repo / "build").exists()


def test_an_audit_file_linked_outside_refuses_the_apply(mini_repo, outside):
    (mini_repo / ".edcconf/audit").mkdir(parents=True)
    (mini_repo / ".edcconf/audit/test.jsonl").symlink_to(outside / "keep.txt")
    _refused(mini_repo, outside, ".edcconf/audit/test.jsonl")


@pytest.mark.parametrize("link", [".edcconf", ".edcconf/state", ".edcconf/state/history"])
def test_a_state_directory_linked_outside_refuses_plan_and_apply(mini_repo, outside, link):
    (mini_repo / link).parent.mkdir(parents=True, exist_ok=True)
    (mini_repo / link).symlink_to(outside)
    _refused(mini_repo, outside, link)
    code, out, err = run(mini_repo, "plan", "--env", "test", *AT)  # it takes the lock to recover a journal
    assert code == 1 and f"{link} is a symbolic link" in err and tree(outside) == {"keep.txt": b"untouched\n"}


def test_a_lock_file_linked_outside_refuses_the_apply(mini_repo, outside):
    (mini_repo / ".edcconf/state").mkdir(parents=True)
    (mini_repo / ".edcconf/state/test.lock").symlink_to(outside / "keep.txt")
    _refused(mini_repo, outside, ".edcconf/state/test.lock")


def test_force_unlock_does_not_truncate_a_lock_file_linked_outside(mini_repo, outside):
    (mini_repo / ".edcconf/state").mkdir(parents=True)
    (outside / "lock").write_text('{"id": "x", "who": "a", "host": "h", "pid": 1, "operation": "apply", "since": "t"}')
    (mini_repo / ".edcconf/state/test.lock").symlink_to(outside / "lock")
    before = tree(outside)
    code, out, err = run(mini_repo, "force-unlock", "test", "x")
    assert code == 1 and ".edcconf/state/test.lock is a symbolic link" in err and tree(outside) == before


def test_a_journal_linked_outside_refuses_the_apply(mini_repo, outside):
    (mini_repo / ".edcconf/state").mkdir(parents=True)
    (mini_repo / ".edcconf/state/test.journal").symlink_to(outside / "j")
    _refused(mini_repo, outside, ".edcconf/state/test.journal")


def test_a_build_directory_linked_outside_refuses_validate_and_apply(mini_repo, outside):
    (mini_repo / "build").symlink_to(outside)
    code, out, err = run(mini_repo, "validate")
    assert code == 1 and "unsafe-path" in err and "leads through build, a symbolic link" in err
    code, out, err = _apply(mini_repo)
    assert code == 1 and "leads through build, a symbolic link" in err and "Traceback" not in err
    assert tree(outside) == {"keep.txt": b"untouched\n"} and not (mini_repo / ".edcconf/state/test.json").exists()


def test_a_study_folder_linked_outside_refuses_the_apply(mini_repo, outside):
    (mini_repo / "build/test/openclinica").mkdir(parents=True)
    (mini_repo / "build/test/openclinica/HEART-01").symlink_to(outside)
    _refused(mini_repo, outside, "build/test/openclinica/HEART-01")
    assert not (mini_repo / ".edcconf/state/test.json").exists()


def test_notifications_linked_outside_refuse_the_apply(mini_repo, outside):
    (mini_repo / "build/test").mkdir(parents=True)
    (mini_repo / "build/test/notifications").symlink_to(outside)
    _refused(mini_repo, outside, "build/test/notifications")
    assert not (mini_repo / ".edcconf/state/test.json").exists()


def test_a_notification_template_linked_outside_refuses_the_apply(mini_repo, outside):
    (mini_repo / "templates/notifications").mkdir(parents=True)
    (mini_repo / "templates/notifications/access_changed.txt.j2").symlink_to("/etc/passwd")
    err = _refused(mini_repo, outside, "templates/notifications/access_changed.txt.j2")
    assert not (mini_repo / ".edcconf/state/test.json").exists()
    for line in PASSWD:
        assert line not in err


def test_a_cache_linked_outside_is_refused(mini_repo, outside, monkeypatch):
    monkeypatch.delenv("EDCCONF_NO_CACHE", raising=False)
    (mini_repo / ".edcconf").mkdir()
    (mini_repo / ".edcconf/cache").symlink_to(outside)
    code, out, err = run(mini_repo, "validate")
    assert code == 1 and ".edcconf/cache is a symbolic link" in err and "Traceback" not in err
    assert tree(outside) == {"keep.txt": b"untouched\n"}
    monkeypatch.setenv("EDCCONF_NO_CACHE", "1")  # the way out: no cache at all
    assert run(mini_repo, "validate")[0] == 0


@pytest.mark.parametrize(
    "args",
    [
        ["plan", "--env", "test", "--out", "build/p.plan"],
        ["report", "--out", "build/report"],
        ["export", "files", "--env", "test", "--out", "build/files"],
    ],
)
def test_an_out_path_inside_the_repository_through_a_link_out_is_refused(mini_repo, outside, args, monkeypatch):
    monkeypatch.chdir(mini_repo)
    (mini_repo / "build").symlink_to(outside)
    code, out, err = run(mini_repo, *args, *AT)
    assert code == 1 and "build is a symbolic link to a place outside" in err and "Traceback" not in err
    assert tree(outside) == {"keep.txt": b"untouched\n"}


def test_an_out_path_outside_the_repository_is_the_users_choice(mini_repo, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(mini_repo, "report", "--out", str(tmp_path / "elsewhere"), *AT)
    assert code == 0, err
    assert (tmp_path / "elsewhere/test.html").exists()


def test_links_inside_the_repository_are_written_through(mini_repo):
    (mini_repo / "elsewhere").mkdir()
    (mini_repo / ".edcconf").mkdir()
    (mini_repo / ".edcconf/audit").symlink_to("../elsewhere")
    code, out, err = _apply(mini_repo)
    assert code == 0, err
    assert (mini_repo / "elsewhere/test.jsonl").read_text().count('"event": "apply"') == 1


def test_an_import_refuses_to_write_a_new_file_through_a_link_out(mini_repo, outside):
    from edcconf.diagnostics import UserError
    from edcconf.source.writer import Edit, write_edits

    (mini_repo / "groups/new.yaml").symlink_to(outside / "new.yaml")  # dangling, pointing out
    with pytest.raises(UserError) as exc:
        write_edits(mini_repo, [(Edit("groups/new.yaml", "created", "group new"), "group: {id: new}\n")])
    assert exc.value.code == "unsafe-path" and "groups/new.yaml" in exc.value.message
    assert tree(outside) == {"keep.txt": b"untouched\n"}
