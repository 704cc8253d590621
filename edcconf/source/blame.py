"""Who wrote each line of a file and when, from git (`git blame --porcelain`): the attribution of an access
review's decisions (docs/reviews.md: "who and when from git").

git runs as a subprocess with a list of arguments (never a shell), in the configuration's directory; only
the file's path relative to it is passed, and nothing read from a YAML file is ever run. Outside a git
repository, for a file git does not track, or when git is missing, every line is uncommitted
(`UNCOMMITTED`), which the reviews' rules treat as not attested (rules.reviews).
"""

from __future__ import annotations

import subprocess
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

from ..model import Attribution

UNCOMMITTED = Attribution("uncommitted", None, None, None)
_ZERO = "0" * 40
_TIMEOUT = 60  # seconds: a blame of a small file in a large history


def _git(root: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=_TIMEOUT,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


def head(root: Path) -> str:
    """The commit checked out in root ("none" outside git): with a file's bytes, what its blame depends on."""
    out = _git(Path(root), "rev-parse", "--verify", "-q", "HEAD")
    return out.strip() if out else "none"


def line_authors(root: Path, rel: str) -> dict[int, Attribution]:
    """Line number (1-based) -> who wrote that line of root/rel as it is now; a line missing from the
    answer (or every line, outside git) is uncommitted."""
    out = _git(Path(root), "blame", "--porcelain", "--", rel)
    if out is None:
        return {}
    return parse_porcelain(out)


def _day(seconds: str, tz: str) -> date | None:
    try:
        offset = int(tz[1:3]) * 60 + int(tz[3:5])
        zone = timezone(timedelta(minutes=-offset if tz.startswith("-") else offset))
        return datetime.fromtimestamp(int(seconds), tz=UTC).astimezone(zone).date()
    except (ValueError, IndexError, OverflowError):
        return None


def parse_porcelain(text: str) -> dict[int, Attribution]:
    """`git blame --porcelain` output -> line (1-based, in the file as it is) -> its attribution."""
    commits: dict[str, dict[str, str]] = {}
    out: dict[int, Attribution] = {}
    current: dict[str, str] | None = None
    sha, line = "", 0
    for raw in text.splitlines():
        if raw.startswith("\t"):  # the line's content ends its entry
            if current is not None:
                out[line] = (
                    UNCOMMITTED
                    if sha == _ZERO
                    else Attribution(
                        current.get("author", "unknown"),
                        current.get("author-mail", "").strip("<>") or None,
                        sha,
                        _day(current.get("author-time", ""), current.get("author-tz", "+0000")),
                    )
                )
            current = None
            continue
        parts = raw.split(" ")
        if current is None and len(parts) >= 3 and len(parts[0]) == 40:
            sha, line = parts[0], int(parts[2])
            current = commits.setdefault(sha, {})
            continue
        if current is not None:
            key, _, value = raw.partition(" ")
            current[key] = value
    return out
