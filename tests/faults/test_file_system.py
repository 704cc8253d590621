"""The file system refuses: a full disk, a read-only checkout, a directory where the lock file belongs.
Every command says what is wrong and what to do (exit 1), never a traceback; a plan (and drift) only
reads, so it works without the lock where nothing needs recording."""

import builtins
import contextlib
import errno
import io
import json
import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import run_inprocess

DAY = "2026-11-24"
WRITING = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def run(root, *args):
    code, out, err = run_inprocess(root, *args)
    assert "Traceback" not in out + err and code != 3, (code, out, err)
    return code, out, err


@contextlib.contextmanager
def refusing(monkeypatch, root: Path, err: int, only=lambda path: True):
    """Every write below root fails with err (os.open for writing, mkdir, replace, open(…, "w"), pwrite),
    as on a read-only mount or a full disk; reads work."""
    base = str(root.resolve())
    real_open, real_mkdir, real_replace, real_io_open, real_pwrite = os.open, os.mkdir, os.replace, io.open, os.pwrite

    def hit(path) -> bool:
        try:
            text = os.path.abspath(os.fspath(path))
        except TypeError:
            return False
        return text.startswith(base) and only(text)

    def refuse(path):
        raise OSError(err, os.strerror(err), os.fspath(path))

    def fake_open(path, flags, *a, **k):
        if flags & WRITING and hit(path):
            refuse(path)
        return real_open(path, flags, *a, **k)

    def fake_mkdir(path, *a, **k):
        if hit(path) and not os.path.isdir(path):
            refuse(path)
        return real_mkdir(path, *a, **k)

    def fake_replace(src, dst, *a, **k):
        if hit(dst):
            refuse(dst)
        return real_replace(src, dst, *a, **k)

    def fake_io_open(file, mode="r", *a, **k):
        if isinstance(file, (str, os.PathLike)) and any(c in mode for c in "wax+") and hit(file):
            refuse(file)
        return real_io_open(file, mode, *a, **k)

    def fake_pwrite(fd, data, offset):
        if err == errno.ENOSPC:
            raise OSError(err, os.strerror(err))
        return real_pwrite(fd, data, offset)

    monkeypatch.setattr(os, "open", fake_open)
    monkeypatch.setattr(os, "mkdir", fake_mkdir)
    monkeypatch.setattr(os, "replace", fake_replace)
    monkeypatch.setattr(io, "open", fake_io_open)
    monkeypatch.setattr(builtins, "open", fake_io_open)
    monkeypatch.setattr(os, "pwrite", fake_pwrite)
    yield
    monkeypatch.undo()


@pytest.mark.parametrize("err", [errno.EROFS, errno.EACCES, errno.ENOSPC])
def test_plan_and_drift_work_when_the_lock_holder_cannot_be_written(mini_repo, monkeypatch, err):
    assert run(mini_repo, "apply", "--env", "test", "--yes")[0] == 0
    staff = mini_repo / "groups/staff.yaml"
    staff.write_text(staff.read_text().replace("name: Cara Coordinator", "name: Cara C."))
    with refusing(monkeypatch, mini_repo, err, only=lambda path: path.endswith(".lock")):
        code, out, _ = run(mini_repo, "plan", "--env", "test", "--at", DAY)
        assert code == 2 and "account cara.crc will be changed" in out
        code, out, _ = run(mini_repo, "plan", "--env", "test", "--at", DAY, "--json")
        assert code == 2 and [c["key"] for c in json.loads(out)["changes"]] == ["cara.crc"]
        assert run(mini_repo, "drift", "--env", "test")[0] == 0
        code, out, err_text = run(mini_repo, "apply", "--env", "test", "--yes")
        assert code == 1 and os.strerror(err) in err_text and "test.lock" in err_text
        code, out, _ = run(mini_repo, "apply", "--env", "test", "--yes", "--json")
        assert code == 1 and json.loads(out)["errors"][0]["code"] == "file-system"
    assert json.loads((mini_repo / ".edcconf/state/test.json").read_text())["serial"] == 1


def test_plan_on_a_read_only_checkout(mini_repo, monkeypatch):
    """Nothing below the configuration can be written (not even .edcconf, the cache or the lock)."""
    assert run(mini_repo, "apply", "--env", "test", "--yes")[0] == 0
    staff = mini_repo / "groups/staff.yaml"
    staff.write_text(staff.read_text().replace("name: Cara Coordinator", "name: Cara C."))
    for fresh in (False, True):  # with the state of an apply, and on a checkout that never had one
        if fresh:
            shutil.rmtree(mini_repo / ".edcconf")
        with refusing(monkeypatch, mini_repo, errno.EROFS):
            code, out, _ = run(mini_repo, "plan", "--env", "test", "--at", DAY)
            assert code == 2 and ("14 to add" if fresh else "1 to change") in out, out
            assert run(mini_repo, "drift", "--env", "test")[0] == 0
            assert run(mini_repo, "validate")[0] == 0
            code, out, err_text = run(mini_repo, "apply", "--env", "test", "--yes")
            assert code == 1 and "Read-only file system" in err_text and "writable" in err_text
    assert not (mini_repo / ".edcconf").exists()


def test_a_full_disk_when_apply_writes(mini_repo, monkeypatch):
    """The lock is taken, then the disk fills: a clear error, the state as it was."""
    real_write = os.write

    def full(fd, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", full)
    code, out, err_text = run(mini_repo, "apply", "--env", "test", "--yes")
    monkeypatch.setattr(os, "write", real_write)
    assert code == 1 and "No space left on device" in err_text
    assert not (mini_repo / ".edcconf/state/test.json").exists()
    assert run(mini_repo, "apply", "--env", "test", "--yes")[0] == 0  # once there is space


def test_a_directory_where_the_lock_file_belongs(mini_repo, cli):
    (mini_repo / ".edcconf/state/test.lock").mkdir(parents=True)
    assert cli("plan", "--env", "test", "--at", DAY, cwd=mini_repo).code == 2  # a plan needs no lock
    r = cli("apply", "--env", "test", "--yes", cwd=mini_repo)
    assert r.code == 1 and "test.lock" in r.err and "Is a directory" in r.err and "remove or rename it" in r.err
    r = cli("apply", "--env", "test", "--yes", "--json", cwd=mini_repo)
    assert r.code == 1 and r.json["errors"][0]["code"] == "file-system"
    r = cli("force-unlock", "test", "some-id", cwd=mini_repo)
    assert r.code == 1


def test_a_journal_that_cannot_be_recorded_is_said(mini_repo, monkeypatch):
    """An interrupted apply left a journal, and the lock cannot be taken to record it: planning without it
    would show work already done, so the plan says why it cannot go on."""
    journal = mini_repo / ".edcconf/state/test.journal"
    journal.parent.mkdir(parents=True)
    journal.write_text(json.dumps({"header": {"base_serial": 0, "lineage": None}}) + "\n")
    with refusing(monkeypatch, mini_repo, errno.EROFS):
        code, out, err_text = run(mini_repo, "plan", "--env", "test", "--at", DAY)
    assert code == 1 and "interrupted apply" in err_text and "Read-only file system" in err_text


def test_a_staged_file_whose_bytes_could_not_be_made_is_not_left_behind(tmp_path):
    from edcconf.fs import staged_outputs, write_atomically

    def chunks():
        yield b"username,email\n"
        raise ValueError("a row that cannot be rendered")

    with pytest.raises(ValueError), staged_outputs():
        write_atomically(tmp_path / "users.csv", b"first\n", durable=False)
        write_atomically(tmp_path / "out" / "users.csv", chunks(), durable=False)
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == []  # neither staged file is left
