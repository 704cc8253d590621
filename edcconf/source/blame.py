"""Who wrote each line of a file and when, from git (`git blame --porcelain`): the attribution of an access
review's decisions (docs/reviews.md: "who and when from git").

One `git log -p` over the review folders answers for most files (source.blame_log); the others cost a
`git blame` each (a walk of their path's history), several at a time. A store (the hook edcconf.speed fills:
`.edcconf/cache/blame/`) keeps each file's answer under a digest of its path, its bytes and the commit
checked out, which together decide what blame says, all in one entry per commit checked out.

git runs as a subprocess with a list of arguments (never a shell), in the configuration's directory; only
the file's path relative to it is passed, and nothing read from a YAML file is ever run. Outside a git
repository, for a file git does not track, or when git is missing, every line is uncommitted
(`UNCOMMITTED`), which the reviews' rules treat as not attested (rules.reviews).
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Protocol

from ..model import Attribution
from ..parallel import run_ordered
from .blame_log import log_authors

UNCOMMITTED = Attribution("uncommitted", None, None, None)
# a line whose commit lies beyond a shallow clone's history: git cannot say who wrote it (fail closed)
SHALLOW = Attribution("unknown (shallow clone)", None, None, None)
_ZERO = "0" * 40
_TIMEOUT = 60  # seconds: a blame of a small file in a large history
_VERSION = "3"  # 2: keyed by the commit checked out; 3: one entry per commit for all files


class BlameStore(Protocol):
    """Where answers are kept between commands (edcconf.speed's cache); a miss is None."""

    def get(self, root: Path, key: str) -> Any | None: ...

    def put(self, root: Path, key: str, value: Any) -> None: ...


_store: BlameStore | None = None


def use_store(store: BlameStore | None) -> None:
    """The store blame_files uses (the hook edcconf.speed fills); None: none, every file is blamed."""
    global _store
    _store = store


def blame_files(root: Path, rels: Sequence[str], workers: int = 8) -> dict[str, dict[int, Attribution]]:
    """line_authors of each file (paths relative to root), from the store where it holds them. The store
    keeps one entry per commit checked out, holding every file's answer under its own key: one file to
    read and to write, not one per review file (each write is a file created in the cache)."""
    root = Path(root)
    store = _store
    commit = head(root) if rels else "none"  # one git process: the commit checked out, and whether shallow
    keys = _keys(root, rels, commit) if store is not None else {}
    pack_key = hashlib.sha256(f"{_VERSION}\0pack\0{commit}".encode()).hexdigest() if keys else None
    pack = store.get(root, pack_key) if store is not None and pack_key else None
    pack = pack if isinstance(pack, dict) else {}
    out: dict[str, dict[int, Attribution]] = {}
    missing = []
    for rel in rels:
        key = keys.get(rel)
        found = _decode(pack.get(key)) if key else None
        if found is None:
            missing.append(rel)
        else:
            out[rel] = found
    shallow = commit.startswith("true")
    # one `git log` answers for most files (source.blame_log); a shallow clone's edge, or a file it cannot
    # answer for exactly, is blamed on its own
    logged = log_authors(root, missing, _git, _day) if missing and not shallow else {}
    out.update(logged)
    rest = [rel for rel in missing if rel not in logged]
    blamed = run_ordered(rest, lambda rel, _stop: line_authors(root, rel, shallow), "git blame", workers=workers)
    out.update(zip(rest, blamed))
    added = False
    for rel in missing:
        authors = out[rel]
        key = keys.get(rel)
        if key and SHALLOW not in authors.values():  # fetching more history changes it
            pack[key] = _encode(authors)
            added = True
    if added and store is not None and pack_key is not None:
        store.put(root, pack_key, pack)
    return out


def _keys(root: Path, rels: Sequence[str], commit: str) -> dict[str, str]:
    """rel -> digest of (rel, its bytes, commit: head(root), the commit checked out and whether the clone
    is shallow); none outside git. The commit checked out decides what blame says of a file's bytes (a new
    commit is a miss for every file: one `git log` answers again for all of them, source.blame_log)."""
    if commit == "none":
        return {}
    keys = {}
    for rel in rels:
        try:
            raw = (root / rel).read_bytes()
        except OSError:
            continue
        digest = hashlib.sha256(b"\0".join([_VERSION.encode(), rel.encode(), raw, commit.encode()]))
        keys[rel] = digest.hexdigest()
    return keys


def _encode(authors: dict[int, Attribution]) -> dict[int, tuple]:
    return {line: (a.author, a.email, a.commit, a.when.isoformat() if a.when else None) for line, a in authors.items()}


def _decode(value: Any) -> dict[int, Attribution] | None:
    try:
        made: dict[tuple, Attribution] = {}  # one per commit: a file has few
        out = {}
        for line, entry in value.items():
            found = made.get(entry)
            if found is None:
                author, email, commit, when = entry
                found = made[entry] = Attribution(author, email, commit, date.fromisoformat(when) if when else None)
            out[int(line)] = found
        return out
    except (AttributeError, TypeError, ValueError):
        return None  # absent or damaged: a miss


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
    """The commit checked out in root, and whether the clone is shallow ("none" outside git): with a file's
    bytes, what its blame depends on."""
    out = _git(Path(root), "rev-parse", "--is-shallow-repository", "HEAD")
    return " ".join(out.split()) if out else "none"


def line_authors(root: Path, rel: str, shallow: bool = False) -> dict[int, Attribution]:
    """Line number (1-based) -> who wrote that line of root/rel as it is now; a line missing from the
    answer (or every line, outside git) is uncommitted. In a shallow clone (shallow=True) a line git
    attributes to the edge of the history it has is SHALLOW: it may have been written earlier."""
    # a full history: --root, so that the first commit is attributed (otherwise blame's boundary); shallow:
    # the edge is a boundary (with --root git would attribute everything older to it)
    args = ("blame", "--porcelain") if shallow else ("blame", "--porcelain", "--root")
    out = _git(Path(root), *args, "--", rel)
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
    made: dict[str, Attribution] = {}  # one per commit
    current: dict[str, str] | None = None
    sha, line = "", 0
    for raw in text.splitlines():
        if raw.startswith("\t"):  # the line's content ends its entry
            if current is not None:
                found = made.get(sha)
                if found is None:
                    found = made[sha] = (
                        UNCOMMITTED
                        if sha == _ZERO
                        else SHALLOW
                        if "boundary" in current
                        else Attribution(
                            current.get("author", "unknown"),
                            current.get("author-mail", "").strip("<>") or None,
                            sha,
                            _day(current.get("author-time", ""), current.get("author-tz", "+0000")),
                        )
                    )
                out[line] = found
            current = None
            continue
        parts = raw.split(" ")
        if current is None and len(parts) >= 3 and len(parts[0]) == 40:
            sha, line = parts[0], int(parts[2])
            current = commits.setdefault(sha, {})
            continue
        if current is not None:
            key, _, value = raw.partition(" ")
            current[key] = value  # `boundary` (no value): the commit is the edge of a shallow clone
    return out
