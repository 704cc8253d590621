"""Decode a large local state file in a forked process while this one loads the configuration.

A plan needs the applied state only after the desired one is resolved, and decoding a state of 200,000
grants (a 114 MB JSON file) is about 1.8 s of one core: serial work, on the critical path, while the
machine's other core sits idle during validate and resolve. So the state file is decoded by a child
forked at the start of the command (when this process is still small: the child's memory is its own
work), at the lowest priority (it takes a core only when the parse workers and this process leave one
idle), and handed back as marshal data, which this process loads in a fraction of the time.

What is handed back is used only if the file is still the one the child read (same inode, size and
modification time: writes replace the file by a rename) and the child succeeded; otherwise the caller
reads the file as before, and reports any problem the way it always does. EDCCONF_WORKERS=1 (never
fork) turns it off.
"""

from __future__ import annotations

import marshal
import os
from collections.abc import Callable, Mapping
from pathlib import Path

from ..state.local import json_text
from .child import Child
from .decode import loads_shared, share_like
from .parse_pool import may_fork

PREFETCH_MIN_BYTES = 8 * 1024 * 1024  # below this the read costs less than the fork


def _identity(st: os.stat_result) -> tuple:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


class StatePrefetch:
    def __init__(self, path: Path, child: Child) -> None:
        self.path, self._child, self._pid = path, child, child.pid
        self.also_result: object = None  # what `also` returned in the child, once taken

    @classmethod
    def start(
        cls, path: Path, min_bytes: int | None = None, also: Callable[[dict], object] | None = None
    ) -> StatePrefetch | None:
        """A child decoding path, or None when it is not worth one (small or absent file, no fork).
        also(decoded) runs in the child too, on the decoded file (e.g. storing what a later step
        derives from the applied state alone); its result (plain data, or None if it failed) is
        also_result after take()."""

        if not may_fork():
            return None
        try:
            if os.stat(path).st_size < (PREFETCH_MIN_BYTES if min_bytes is None else min_bytes):
                return None
        except OSError:
            return None
        return cls(path, Child.fork(lambda: _decoded(path, also)))

    def take(self, like: Mapping[str, Mapping] | None = None) -> object:
        """The decoded state, plain JSON data (its values shared with `like`, as LocalBackend.read does), or
        None: the child failed, or the file was replaced since it read it."""
        blob = self._child.answer()
        if blob is None:
            return None
        try:
            identity, data, also_result = marshal.loads(blob)
            del blob
            if identity != _identity(os.stat(self.path)):
                return None
            self.also_result = also_result
        except (OSError, ValueError, EOFError, TypeError):
            return None

        return share_like(data, like)

    def cancel(self) -> None:
        """Stop the child and forget what it read (e.g. the environment's state is not this file)."""
        self._child.stop()


def _decoded(path: Path, also: Callable[[dict], object] | None) -> bytes:
    """In the child: the file's identity, its decoded data and also's result, marshalled."""
    os.nice(19)  # a core the others leave idle, not one they need
    with open(path, "rb") as f:
        identity = _identity(os.fstat(f.fileno()))
        raw = f.read()
    text = json_text(raw)
    del raw
    data = loads_shared(text)
    del text
    also_result = None
    if also is not None and isinstance(data, dict):
        try:
            also_result = also(data)
        except Exception:  # noqa: BLE001 - only the state is needed; the caller does the rest itself
            also_result = None
    # plain JSON data and also's plain result: marshallable, though typed `object` here
    return marshal.dumps((identity, data, also_result))  # type: ignore[arg-type]
