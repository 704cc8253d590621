"""Pages as a person's browser shows them: Debian's headless Chromium, run as a child process.

`dump_dom` returns the DOM after the page's scripts ran (and the console messages it printed, from
Chromium's own log: uncaught errors appear there as "Uncaught ..."), `screenshot` writes a PNG. Without
Chromium a test skips, except under CI=true, where it fails: CI installs Chromium (.ci/run).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[1] / "build" / "screenshots"
# [pid:tid:time:INFO:CONSOLE:12] "message", source: file:///... (12)
_CONSOLE = re.compile(r':CONSOLE[^\]]*\] "(.*)", source: (\S*)')


@dataclass(frozen=True)
class Page:
    dom: str
    console: list[str]  # every console message, "message (source)": Chromium's log gives no level


def chromium() -> str:
    if not CHROMIUM:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium must be installed under CI=true (.ci/run installs it)")
        pytest.skip("chromium is not installed")
    return CHROMIUM


def _run(args: list[str], timeout: int = 120) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        proc = subprocess.run(
            [chromium(), *FLAGS, f"--user-data-dir={profile}", *args],
            check=False,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


def url_of(page: Path, fragment: str = "") -> str:
    return page.resolve().as_uri() + (f"#{fragment}" if fragment else "")


def dump_dom(page: Path, fragment: str = "") -> Page:
    """The DOM after load, and what the page wrote to the console."""
    proc = _run(["--enable-logging=stderr", "--v=0", "--dump-dom", url_of(page, fragment)])
    console = [f"{m.group(1)} ({m.group(2)})" for m in _CONSOLE.finditer(proc.stderr)]
    return Page(proc.stdout, console)


def screenshot(page: Path, out: Path, width: int = 1280, height: int = 1600, fragment: str = "") -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    _run(["--hide-scrollbars", f"--window-size={width},{height}", f"--screenshot={out}", url_of(page, fragment)])
    assert out.is_file() and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"no screenshot written to {out}"
    return out


def keep_screenshot(page: Path, name: str, **kwargs) -> Path | None:
    """Under CI=true, a screenshot in build/screenshots/NAME.png for a person to look at afterwards."""
    if os.environ.get("CI") != "true":
        return None
    return screenshot(page, SCREENSHOTS / f"{name}.png", **kwargs)
