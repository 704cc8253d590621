"""Who wrote each line of many files, from ONE `git log -p` over their folders instead of a `git blame` per file.

A `git blame` walks the history of its one path: in a repository of a few thousand files each walk costs
~0.15 s, and a campaign of 2,000 studies with 200 decided reviews paid half a minute of CPU for them. The
history of the review folders read once, with each commit's changes to each file (`--raw`, its blob ids;
`-p --unified=0`, its hunks), gives every file's lines their commit by replaying the hunks in order: what
blame does for a file whose history is a chain (each change made to the version before it), with the diffs
git itself computed. A file whose history is not such a chain (changed on two branches, then merged), that
differs in the working tree from HEAD, or anything this reader does not expect, is left to `git blame`
(source.blame), which the caller runs for what this returns no answer for.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..model import Attribution

_HUNK_PREFIX = "@@ -"


def _count(text: str) -> tuple[int, int]:
    start, _, count = text.partition(",")
    return int(start), int(count) if count else 1


class _File:
    __slots__ = ("blob", "origins", "broken")

    def __init__(self) -> None:
        self.blob = ""
        self.origins: list[Attribution] = []
        self.broken = False


def replay(log: str, wanted: Iterable[str], day) -> dict[str, tuple[str, list[Attribution]]]:
    """The output of `git log --reverse --topo-order --raw -p --unified=0 --no-renames --full-index --no-abbrev
    --format=%x01%H%x00%an%x00%ae%x00%at%x00%ad --date=format:%z` -> path -> (its last blob id, the
    attribution of each of its lines), for the wanted paths whose history is a chain."""
    wanted = set(wanted)
    files: dict[str, _File] = {}
    who: Attribution | None = None
    path: str | None = None  # the file whose hunks follow
    old: list[Attribution] = []
    new: list[Attribution] = []
    cursor = 0
    remaining = 0  # content lines of the hunk just read, to skip (never read as headers)
    changes: dict[str, str] = {}  # this commit's path -> new blob (from --raw)

    def finish() -> None:
        nonlocal path
        if path is not None and path in files and not files[path].broken:
            files[path].origins = new + old[cursor:]
        path = None

    lines = log.split("\n")
    at, end = 0, len(lines)
    while at < end:
        raw = lines[at]
        at += 1
        if remaining:  # a hunk's content: skipped as a block, not read line by line (most of the log)
            at += remaining - 1
            remaining = 0
            # a "\ No newline at end of file" inside the hunk shifted it: the rest of its lines follow
            while at < end and lines[at][:1] in ("+", "-"):
                at += 1
            continue
        if raw.startswith("\\"):  # "\ No newline at end of file"
            continue
        if raw.startswith("\x01"):
            finish()
            sha, name, email, seconds, tz = (raw[1:].split("\x00") + [""] * 5)[:5]
            who = Attribution(name or "unknown", email or None, sha, day(seconds, tz or "+0000"))
            changes = {}
        elif raw.startswith(":"):  # :old_mode new_mode old_blob new_blob status\tpath
            meta, _, rel = raw.partition("\t")
            fields = meta.split(" ")
            if rel not in wanted or len(fields) < 5:
                continue
            state = files.setdefault(rel, _File())
            before, after = fields[2], fields[3]
            if state.blob != (before if before.strip("0") else ""):
                state.broken = True  # changed from another version than the one replayed: not a chain
            state.blob = after if after.strip("0") else ""
            if not state.blob:
                state.origins = []  # deleted
            changes[rel] = state.blob
        elif raw.startswith("diff --git "):
            finish()
        elif raw.startswith("+++ "):
            target = raw[4:]
            rel = target[2:] if target.startswith("b/") else target
            if rel in files and rel in changes and not files[rel].broken:
                path, old, new, cursor = rel, files[rel].origins, [], 0
        elif raw.startswith(_HUNK_PREFIX):  # every file's hunks: their content is skipped as a block
            try:
                minus, plus = raw[3:].split(" @@", 1)[0].split(" ")
                start, removed = _count(minus.lstrip("-"))
                _, added = _count(plus.lstrip("+"))
            except ValueError:
                if path is not None:
                    files[path].broken = True
                path = None
                continue
            remaining = removed + added
            if path is None:  # a file not wanted, or one already known not to be a chain
                continue
            keep = start if removed == 0 else start - 1  # old lines before the hunk
            if keep < cursor or keep > len(old):
                files[path].broken = True
                path = None
                continue
            new.extend(old[cursor:keep])
            cursor = keep + removed
            assert who is not None
            new.extend([who] * added)
    finish()
    return {rel: (f.blob, f.origins) for rel, f in files.items() if not f.broken and f.blob}


def blob_id(data: bytes, length: int) -> str:
    """git's object id of a file's bytes (SHA-1, or SHA-256 in a repository of that format)."""
    header = b"blob %d\x00" % len(data)
    return (hashlib.sha1 if length == 40 else hashlib.sha256)(header + data).hexdigest()


def log_authors(root: Path, rels: Sequence[str], git, day) -> dict[str, dict[int, Attribution]]:
    """line_authors for each of rels whose answer one `git log` gives exactly (see the module docstring);
    the others are absent. git(root, *args) -> stdout or None."""
    folders = sorted({str(Path(rel).parent) for rel in rels})
    log = git(
        root,
        "log",
        "--reverse",
        "--topo-order",
        "--relative",
        "--no-renames",
        "--raw",
        "-p",
        "--unified=0",
        "--full-index",
        "--no-abbrev",
        "--no-ext-diff",
        "--no-color",
        "--diff-algorithm=myers",
        "--date=format:%z",
        "--format=format:%x01%H%x00%an%x00%ae%x00%at%x00%ad",
        "--",
        *folders,
    )
    if log is None:
        return {}
    out: dict[str, dict[int, Attribution]] = {}
    for rel, (blob, origins) in replay(log, rels, day).items():
        try:
            data = (Path(root) / rel).read_bytes()
        except OSError:
            continue
        lines = data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
        if blob_id(data, len(blob)) != blob or lines != len(origins):
            continue  # changed since it was committed (or not what was replayed): git blame says it
        out[rel] = dict(enumerate(origins, 1))
    return out
