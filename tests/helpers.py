"""Helpers that tests share (fixtures live in conftest.py)."""

from __future__ import annotations

import os
from pathlib import Path


def edit(root: Path, rel: str, old: str, new: str, count: int = -1) -> None:
    """Replace `old` by `new` in a file of a temporary configuration; the text must be there (a test that
    edits nothing would pass for the wrong reason). count=1: only the first occurrence."""
    path = Path(root) / rel
    text = path.read_text()
    assert old in text, f"{old!r} not in {rel}"
    path.write_text(text.replace(old, new, count))


def read_terminal(primary: int) -> str:
    """Everything written to a pseudo-terminal until its other side is closed (the child exited). Read while
    the child runs: a pseudo-terminal's buffer is small, and a writer would wait on a full one."""
    chunks = []
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(primary)
    return b"".join(chunks).decode("utf-8", "replace")


def run_killed(script: str, *args: str, env: dict | None = None) -> None:
    """Run a Python script that patches edcconf and kills itself (os._exit(9)) at a chosen point of a
    command; it must have reached that point."""
    import subprocess
    import sys

    from tests.conftest import REPO

    proc = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {}), "PYTHONPATH": str(REPO)},
        timeout=120,
    )
    assert proc.returncode == 9, proc.stderr
