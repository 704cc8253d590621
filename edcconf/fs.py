"""Every path edcconf reads from the configuration or writes beside it stays inside the configuration
directory.

A symbolic link in a repository is content like any other: a pull request can add `groups/x.yaml ->
/etc/passwd` or make `.edcconf/audit` point at another directory. Followed, the first would print the
foreign file in error messages and review annotations (or load a file nobody reviewed), the second would
append the audit log somewhere else. So a link may point anywhere *inside* the configuration directory
(it is then read or written like the file it names), and a path that reaches outside through a link is
refused with `unsafe-path`, naming the link, never showing what lies behind it.
"""

from __future__ import annotations

import os
from pathlib import Path

from .diagnostics import UserError
from .rules import files as files_rules


def real(path: Path) -> Path:
    """path with every symbolic link followed (never raises: a loop of links stays a link)."""
    return Path(os.path.realpath(path))


def within(base: Path, target: Path) -> bool:
    """target (a resolved path) is base (resolved) or below it."""
    return target == base or base in target.parents


def leaving_link(root: Path, path: Path) -> Path | None:
    """The first part of path below root (path itself included) that leaves root through a symbolic link
    (or is a loop of links), or None when the path, with every link on it followed, stays inside root. A
    part that does not exist yet is inside (it will be created there)."""
    root, path = Path(root), Path(path)
    base = real(root)
    target = real(path)
    if within(base, target) and not os.path.islink(target):
        return None
    try:
        rel = path.relative_to(root)
    except ValueError:
        rel = Path(os.path.abspath(path)).relative_to(os.path.abspath(root))  # raises if not below root
    current = root
    for part in rel.parts:
        current = current / part
        if os.path.islink(current):
            target = real(current)
            if not within(base, target) or os.path.islink(target):
                return current
    return path  # a path that leaves without a link (`..`): name it as given


def relative_name(root: Path, path: Path) -> str:
    """path as the user knows it: relative to the configuration directory when it is below it."""
    try:
        return Path(os.path.abspath(path)).relative_to(os.path.abspath(root)).as_posix()
    except ValueError:
        return str(path)


def refuse_leaving(root: Path, path: Path, doing: str) -> Path:
    """path, unless `doing` (e.g. "write the audit log") there would go through a link to outside root:
    then unsafe-path, naming the link."""
    link = leaving_link(root, path)
    if link is not None:
        name = relative_name(root, link)
        raise UserError(
            f"{name} is a symbolic link to a place outside the configuration directory "
            f"{real(root)}; edcconf will not {doing} through it. Remove the link "
            f"(or point it inside the configuration directory)",
            code=files_rules.UNSAFE_PATH.code,
        )
    return path


def refuse_leaving_folder(root: Path, folder: Path, doing: str) -> Path:
    """refuse_leaving for a folder edcconf writes files into, one level deep (bulk files: a folder per
    study and one for the groups): the folder, and every link directly in it."""
    refuse_leaving(root, folder, doing)
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return folder
    for entry in entries:
        if entry.is_symlink():
            refuse_leaving(root, Path(folder) / entry.name, doing)
    return folder


def refuse_leaving_output(root: Path, path: Path, doing: str) -> Path:
    """A folder given on the command line (--out): checked like refuse_leaving_folder when it lies inside
    the configuration directory as written (`--out build/report`); a path elsewhere is the user's own
    choice."""
    try:
        Path(os.path.abspath(path)).relative_to(os.path.abspath(root))
    except ValueError:
        return path
    return refuse_leaving_folder(root, path, doing)
