"""Errors as data: every stage reports problems as Diagnostics, collected rather than raised.

A Diagnostic names a stable code (docs/format.md), a message that says what to change, and where the
problem is (file:line:col, relative to the configuration directory when it lies inside it).
"""

from __future__ import annotations

import difflib
import errno
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal

Severity = Literal["error", "warning"]


class Loc:
    """A place in a source file; line and col are 1-based (0 means unknown).

    Never changed once made (it is hashed and shared). A slotted class rather than a frozen dataclass:
    the model makes one per grant and form, and a frozen dataclass's __init__ costs five times as much.
    Equality, order, hash and repr are the dataclass's."""

    __slots__ = ("file", "line", "col")
    __match_args__ = ("file", "line", "col")

    def __init__(self, file: str, line: int = 0, col: int = 0) -> None:
        self.file = file
        self.line = line
        self.col = col

    def __reduce__(self) -> tuple:  # pickles with every protocol, as the dataclass did
        return Loc, (self.file, self.line, self.col)

    def __repr__(self) -> str:
        return f"Loc(file={self.file!r}, line={self.line!r}, col={self.col!r})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return (self.file, self.line, self.col) == (other.file, other.line, other.col)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.file, self.line, self.col))

    def __lt__(self, other: Loc) -> bool:
        if other.__class__ is self.__class__:
            return (self.file, self.line, self.col) < (other.file, other.line, other.col)
        return NotImplemented

    def __le__(self, other: Loc) -> bool:
        if other.__class__ is self.__class__:
            return (self.file, self.line, self.col) <= (other.file, other.line, other.col)
        return NotImplemented

    def __gt__(self, other: Loc) -> bool:
        if other.__class__ is self.__class__:
            return (self.file, self.line, self.col) > (other.file, other.line, other.col)
        return NotImplemented

    def __ge__(self, other: Loc) -> bool:
        if other.__class__ is self.__class__:
            return (self.file, self.line, self.col) >= (other.file, other.line, other.col)
        return NotImplemented

    def __str__(self) -> str:
        if self.line:
            return f"{self.file}:{self.line}"
        return self.file

    @property
    def long(self) -> str:
        if self.line and self.col:
            return f"{self.file}:{self.line}:{self.col}"
        return str(self)


NOWHERE = Loc("<none>")


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    loc: Loc = NOWHERE
    severity: Severity = "error"
    # Structured extras for --json consumers (e.g. the non-compliant rights of a ceiling error).
    details: tuple[tuple[str, object], ...] = field(default=(), compare=False)

    @property
    def source(self) -> str:
        return str(self.loc)

    def sort_key(self) -> tuple:
        return (self.loc.file, self.loc.line, self.loc.col, self.code, self.message)

    def format(self) -> str:
        """`path:line:col: error[code]: message`, the form compilers and editors understand."""
        return f"{self.loc.long}: {self.severity}[{self.code}]: {self.message}"

    def to_json(self) -> dict:
        out: dict = {"code": self.code, "message": self.message, "source": self.source}
        if self.details:
            out["details"] = dict(self.details)
        return out


def error(code: str, message: str, loc: Loc = NOWHERE, **details: object) -> Diagnostic:
    return Diagnostic(code, message, loc, "error", tuple(details.items()))


def warning(code: str, message: str, loc: Loc = NOWHERE, **details: object) -> Diagnostic:
    return Diagnostic(code, message, loc, "warning", tuple(details.items()))


class Diagnostics:
    """An append-only collection; stages add to it and the CLI reports it once, sorted."""

    def __init__(self, items: Iterable[Diagnostic] = ()) -> None:
        self._items: list[Diagnostic] = list(items)

    def add(self, diag: Diagnostic) -> None:
        self._items.append(diag)

    def extend(self, diags: Iterable[Diagnostic]) -> None:
        self._items.extend(diags)

    def __iter__(self) -> Iterator[Diagnostic]:
        return iter(sorted(self._items, key=Diagnostic.sort_key))

    def __len__(self) -> int:
        return len(self._items)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self if d.severity == "warning"]

    @property
    def has_errors(self) -> bool:
        return any(d.severity == "error" for d in self._items)

    def to_json(self) -> dict:
        return {"errors": [d.to_json() for d in self.errors], "warnings": [d.to_json() for d in self.warnings]}


class UserError(Exception):
    """A problem the user can fix (bad input, refused operation): exit 1, no traceback."""

    def __init__(self, message: str, diagnostics: Iterable[Diagnostic] = (), code: str = "error") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.diagnostics = Diagnostics(diagnostics)


# What the file system refuses is the user's to fix (free space, a writable checkout), never a bug.
_FS_HINTS = {
    "ENOSPC": "free some space, then run the command again",
    "EDQUOT": "free some space (the disk quota is used up), then run the command again",
    "EROFS": "run the command where the configuration's .edcconf directory is writable",
    "EACCES": "check the owner and permissions of that path",
    "EPERM": "check the owner and permissions of that path",
    "EISDIR": "a directory is where edcconf expects a file: remove or rename it",
    "ENOTDIR": "a file is where edcconf expects a directory: remove or rename it",
    "EIO": "the disk reported an input/output error: check it",
    "EFBIG": "the file would be larger than the file system allows",
    "EMFILE": "raise the limit of open files (ulimit -n)",
    "ENFILE": "too many files are open on this machine: try again later",
    "ENAMETOOLONG": "use a shorter configuration path",
    "ELOOP": "the path's symbolic links loop: fix them",
}
FILE_SYSTEM_ERRNOS = frozenset(getattr(errno, name) for name in _FS_HINTS if hasattr(errno, name))


def file_system_error(exc: OSError, doing: str = "") -> UserError:
    """A clear message for an OSError the file system raised: what was refused, where, and what to do."""
    what = exc.strerror or (os.strerror(exc.errno) if exc.errno else str(exc))
    where = f" {exc.filename}" if exc.filename is not None else ""
    hint = _FS_HINTS.get(errno.errorcode.get(exc.errno or 0, ""), "")
    doing = f" ({doing})" if doing else ""
    return UserError(f"cannot use{where}{doing}: {what}" + (f"; {hint}" if hint else ""), code="file-system")


def suggest(name: str, known: Iterable[str]) -> str:
    """A "; did you mean ...?" hint for a message about an unknown name (empty when nothing is close)."""
    known = list(known)
    lowered = {k.lower(): k for k in known}
    if name.lower() in lowered:
        return f"; did you mean {lowered[name.lower()]!r}?"
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if not close and len(name) >= 3:  # an abbreviation: `prod` for `production`
        close = sorted(k for k in known if k.lower().startswith(name.lower()))[:1]
    return f"; did you mean {close[0]!r}?" if close else ""
