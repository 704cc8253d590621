"""An apply's audit entries, and the changes' part of their lines encoded ahead.

The audit entries of an apply are one per change (the fields every entry of the apply has, `base`, with
the event and the change), then the outcome (`tail`). AuditStream yields exactly those dicts, to any
backend. A file backend writes each as one JSON line with sorted keys; a large apply encodes the changes'
part of those lines while its bulk files are written by another process (apply.finish), into a file beside
the state (PreparedChanges), and each line is then the base's text around a change's (the change is one
value of the entry, so its text within the line is its own encoding): the same bytes as
json.dumps(entry, sort_keys=True, default=str) and a newline.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..fs import write_work_file
from .jsonlines import LineEncoder

CHANGE_PATHS = (("after", "forms"), ("before", "forms"))  # jsonlines.AUDIT_PATHS, within the change


class PreparedChanges:
    """Each change's JSON text (sorted keys), one per line, in a file that is not part of the state."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def lines(self, base: dict[str, Any]) -> Iterator[bytes]:
        """The audit lines of the prepared changes with this base (in AuditStream's shape)."""
        token = f"\x00{uuid.uuid4().hex}"  # a value no base can hold
        text = json.dumps({**base, "event": "change", "change": token}, sort_keys=True, default=str)
        prefix, found, suffix = text.partition(json.dumps(token))
        if not found:
            raise AssertionError("the change's place in an audit line was not found")
        before, after = prefix.encode(), (suffix + "\n").encode()
        with open(self.path, "rb") as changes:
            for line in changes:
                yield before + line[:-1] + after

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self.path.unlink()


def prepare_changes(path: Path, changes: Iterable[dict[str, Any]]) -> PreparedChanges:
    """The changes' text written into path now (over whatever a killed apply left there)."""
    encoder = LineEncoder(CHANGE_PATHS, sort_keys=True)  # each role's form levels encoded once
    write_work_file(path, map(encoder.line, changes))
    return PreparedChanges(path)


class AuditStream:
    """One entry per change (greppable by key, person or study), then the outcome. Made one at a time as
    the backend writes them (a first apply has one per grant), and made again, the same, from the journal
    when a commit is finished after a kill. prepared: the same changes' text, made ahead (a file backend
    writes the lines from it instead of encoding the entries)."""

    def __init__(
        self,
        base: dict[str, Any],
        changes: Iterable[dict[str, Any]],
        tail: Iterable[dict[str, Any]],
        prepared: PreparedChanges | None = None,
    ) -> None:
        self.base, self.changes, self.tail, self.prepared = base, changes, tail, prepared

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for change in self.changes:
            yield {**self.base, "event": "change", "change": change}
        yield from self.tail
