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
