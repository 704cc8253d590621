"""Ctrl-C ends a command at once with "Interrupted." and 130, wherever it lands: never a traceback, never a
wait on something that may not end (a cache write stuck behind a lock or a hung disk)."""

from __future__ import annotations

import threading
import time

import pytest

from edcconf import cli, speed
from edcconf.speed.spool import spool


def _exit_code(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    return exited.value.code


def test_ctrl_c_does_not_wait_for_a_stuck_cache_write(monkeypatch, capsys):
    release = threading.Event()

    def interrupted_run(argv):
        spool.call(release.wait)  # queued by the command; never ends by itself
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_run", interrupted_run)
    start = time.monotonic()
    try:
        assert _exit_code(["plan"]) == cli.EXIT_INTERRUPTED
        assert time.monotonic() - start < cli.FLUSH_AFTER_INTERRUPT + 3
    finally:
        release.set()
        spool.flush()
    err = capsys.readouterr().err
    assert err == "Interrupted.\n"


def test_ctrl_c_while_the_hooks_are_filled_is_no_traceback(monkeypatch, capsys):
    def install():
        raise KeyboardInterrupt

    monkeypatch.setattr(speed, "install", install)
    assert _exit_code(["--version"]) == cli.EXIT_INTERRUPTED
    assert capsys.readouterr().err == "Interrupted.\n"


def test_a_finished_command_waits_for_its_cache_writes(monkeypatch, tmp_path):
    written = tmp_path / "entry"

    def slow_write():
        time.sleep(0.3)
        written.write_bytes(b"x")

    def run(argv):
        spool.call(slow_write)
        return cli.EXIT_OK

    monkeypatch.setattr(cli, "_run", run)
    assert _exit_code(["plan"]) == cli.EXIT_OK
    assert written.read_bytes() == b"x"  # flushed before the command returned


class _InterruptsWhenNamed:
    def __set_name__(self, owner, name):
        raise KeyboardInterrupt


def _wrapped_interrupt() -> RuntimeError:
    """What Python raises for a Ctrl-C that lands while a class is being made (a module loading): a
    RuntimeError whose cause is the KeyboardInterrupt."""
    try:

        class Loading:  # made only to be interrupted
            field = _InterruptsWhenNamed()

    except RuntimeError as exc:
        assert isinstance(exc.__cause__, KeyboardInterrupt)
        return exc
    raise AssertionError("Python no longer wraps it: this test needs another way in")


def test_ctrl_c_while_a_module_loads_lazily_is_an_interrupt_not_a_bug(monkeypatch, capsys):
    def run(*args, **kwargs):
        raise _wrapped_interrupt()

    monkeypatch.setattr(cli.cli, "main", run)
    assert _exit_code(["plan"]) == cli.EXIT_INTERRUPTED
    assert capsys.readouterr().err == "Interrupted.\n"


def test_a_runtime_error_of_our_own_is_still_a_bug(monkeypatch, capsys):
    def run(*args, **kwargs):
        raise RuntimeError("a real bug")

    monkeypatch.setattr(cli.cli, "main", run)
    assert _exit_code(["plan"]) == cli.EXIT_BUG
    err = capsys.readouterr().err
    assert "RuntimeError: a real bug" in err and "internal error" in err


def test_ctrl_c_while_the_cli_itself_loads_is_an_interrupt(tmp_path):
    """The console script imports edcconf.cli, which imports click and every command: a Ctrl-C there that
    Python wraps (class creation in click's imports, as a stress run of SIGINTs met) is still Ctrl-C."""
    import subprocess
    import sys

    script = f"""
import sys
sys.path.insert(0, {str(tmp_path)!r})
from wrapped import raise_wrapped

class Boom:
    def find_spec(self, name, path=None, target=None):
        if name == "click":
            raise_wrapped()
        return None

sys.meta_path.insert(0, Boom())
for name in [m for m in sys.modules if m == "click" or m.startswith(("click.", "edcconf"))]:
    del sys.modules[name]
from edcconf.cli import main
"""
    (tmp_path / "wrapped.py").write_text(
        "class Named:\n"
        "    def __set_name__(self, owner, name):\n"
        "        raise KeyboardInterrupt\n\n"
        "def raise_wrapped():\n"
        "    class Loading:\n"
        "        field = Named()\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr) == (cli.EXIT_INTERRUPTED, "Interrupted.\n"), done.stderr


_CTRL_C_AT_SHUTDOWN = """
import atexit, os, signal, sys, time
def ctrl_c():  # as a user's Ctrl-C lands after the command has printed its result
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.2)
    print("went on after the Ctrl-C", file=sys.stderr)
if sys.argv[1] == "late":
    import edcconf.cli  # its exit work registered first: this hook runs before it
atexit.register(ctrl_c)
if sys.argv[1] == "last":
    import edcconf.cli  # this hook runs after its exit work, as Python's own finalization does
sys.argv = ["edcconf", *sys.argv[2:]]
import runpy
runpy.run_module("edcconf", run_name="__main__")
"""


@pytest.mark.parametrize("when, goes_on", [("late", False), ("last", True)])
@pytest.mark.parametrize("args, code", [(["--version"], 0), (["plan", "--env", "nowhere"], 1)])
def test_ctrl_c_during_shutdown_keeps_the_commands_exit_code(tmp_path, args, code, when, goes_on):
    """The command's work is done and reported: a Ctrl-C while the interpreter shuts down ends it at once
    with the command's own code (late: during the exit work of what it imported), or is ignored (last: after
    that work, where Python would put back death by SIGINT); never Python's "Exception ignored ...
    KeyboardInterrupt", never -2."""
    import subprocess
    import sys

    (tmp_path / "environments").mkdir()
    done = subprocess.run(
        [sys.executable, "-c", _CTRL_C_AT_SHUTDOWN, when, *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == code, done
    assert "KeyboardInterrupt" not in done.stderr, done.stderr
    assert ("went on after the Ctrl-C" in done.stderr) == goes_on, done.stderr
    assert "Interrupted." not in done.stderr  # nothing was interrupted: the command had finished


def test_the_program_leaves_its_objects_to_the_process_end(tmp_path):
    """The console script freezes the collector's objects once the command is done: Python's last cyclic
    collection at exit has nothing to walk. In-process callers (the tests) are left alone."""
    import subprocess
    import sys

    script = (
        "import atexit, gc, runpy, sys\n"
        "atexit.register(lambda: sys.stderr.write(f'frozen {gc.get_freeze_count()}\\n'))\n"
        "sys.argv = ['edcconf', '--version']\n"
        "runpy.run_module('edcconf', run_name='__main__')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done
    assert int(done.stderr.split("frozen ")[1]) > 10_000, done.stderr
    before = __import__("gc").get_freeze_count()
    _exit_code(["--version"])
    assert __import__("gc").get_freeze_count() == before
