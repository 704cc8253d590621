"""The local backend's OS lock (state/oslock.py): one holder at a time across processes, released when the
holder's process dies; on Windows the package still imports and the local backend refuses to lock with a
clear message instead of failing on a missing fcntl."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from edcconf.diagnostics import UserError
from edcconf.state import oslock
from edcconf.state.local import LocalBackend
from edcconf.workflow import read_recovered
from tests.conftest import REPO, copy_config

HOLDER = textwrap.dedent("""
    import os, sys
    from edcconf.state import oslock
    fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
    print(oslock.try_lock(fd, "test"), flush=True)
    sys.stdin.readline()        # hold until told, or until killed
""")


def _holder(path) -> subprocess.Popen:
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert child.stdout.readline().strip() == "True"
    return child


def _try(path) -> bool:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        taken = oslock.try_lock(fd, "test")
        if taken:
            oslock.unlock(fd)
        return taken
    finally:
        os.close(fd)


def test_one_holder_across_processes_released_on_exit_and_on_kill(tmp_path):
    path = tmp_path / "test.lock"
    child = _holder(path)
    assert _try(path) is False
    child.communicate("\n", timeout=60)  # the holder exits normally
    assert _try(path) is True
    child = _holder(path)
    assert _try(path) is False
    child.kill()  # SIGKILL: the kernel releases the lock
    child.wait(timeout=60)
    assert _try(path) is True


def test_windows_refuses_the_local_backend_before_creating_anything(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "platform", "win32")
    assert not oslock.supported()
    backend = LocalBackend(tmp_path, "test")
    with pytest.raises(UserError) as refused, backend.lock("apply"):
        pass
    assert refused.value.code == "state-local-unsupported"
    assert "Windows" in str(refused.value) and "postgres" in str(refused.value)
    assert not (tmp_path / ".edcconf").exists()


def test_windows_reads_the_state_without_the_lock_unless_an_apply_left_a_journal(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "platform", "win32")
    backend = LocalBackend(tmp_path, "test")
    assert read_recovered(backend).serial == 0
    backend.dir.mkdir(parents=True)
    backend.journal.path.write_text(json.dumps({"header": {"apply_id": "a1", "base_serial": 0}}) + "\n")
    with pytest.raises(UserError) as refused:  # recording that journal needs the lock
        read_recovered(backend)
    assert refused.value.code == "state-local-unsupported"


WINDOWS = textwrap.dedent("""
    import importlib, pkgutil, sys
    sys.modules["fcntl"] = None          # Windows has none: importing it raises ImportError
    import edcconf
    for module in pkgutil.walk_packages(edcconf.__path__, "edcconf."):
        if module.name != "edcconf.__main__":     # it runs the command line
            importlib.import_module(module.name)
    from edcconf.cli import main
    sys.platform = "win32"               # after the imports: other libraries import Windows modules on it
    main(sys.argv[1:])
""")


@pytest.mark.parametrize(
    "args,code", [(("validate",), 0), (("plan", "--env", "test"), 2), (("apply", "--env", "test", "--yes"), 1)]
)
def test_without_fcntl_every_module_imports_and_only_the_local_lock_is_refused(tmp_path, args, code):
    root = copy_config(REPO, tmp_path / "org")
    ran = subprocess.run(
        [sys.executable, "-c", WINDOWS, *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1"},
        check=False,
    )
    assert ran.returncode == code and "Traceback" not in ran.stderr, ran.stdout[-2000:] + ran.stderr[-2000:]
    if code == 1:
        assert "cannot lock its state on Windows" in ran.stderr, ran.stderr
        assert not (root / ".edcconf" / "state" / "test.json").exists()
