"""Decode a large local state file in a forked process while this one loads the configuration.

A plan needs the applied state only after the desired one is resolved, and decoding a state of 200,000
grants (a 114 MB JSON file) is about 1.8 s of one core: serial work, on the critical path, while the
machine's other core sits idle during validate and resolve. So the state file is decoded by a child
forked at the start of the command (when this process is still small: the child's memory is its own
work), at the lowest priority (it takes a core only when the parse workers and this process leave one
idle), and handed back as marshal data, which this process loads in a fraction of the time.

What is handed back is used only if the file is still the one the child read (fs.file_identity: same
device, inode, size, modification and change times; writes replace the file by a rename) and the child
succeeded; otherwise the caller reads the file as before, and reports any problem the way it always
does. EDCCONF_WORKERS=1 (never fork) turns it off.
"""

from __future__ import annotations

import marshal
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from ..fs import file_identity
from ..state.local import json_text
from .child import Child, ChildFailed
from .decode import loads_shared, shared_items
from .parse_pool import may_fork

PREFETCH_MIN_BYTES = 8 * 1024 * 1024  # below this the read costs less than the fork


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
        None: the child failed, or the file was replaced since it read it. The large sections arrive in
        frames of CHUNK items, each shared with `like` before the next is decoded: the whole file is never
        held twice (at N = 2,000, 150 MB less at the plan's peak)."""
        frames = self._child.frames()
        try:
            identity, data, also_result, sections = marshal.loads(next(frames))
            if identity != file_identity(os.stat(self.path)):
                frames.close()
                return None
            # `like` is an effective state: the file's ("effective", "grants") is its ("grants",)
            parts = [
                (_section(data, path), _section(like or {}, path[1:]) if path[0] == "effective" else {})
                for path in sections
            ]
            for frame in frames:
                index, items = marshal.loads(frame)
                into, desired = parts[index]
                into.update(shared_items(items, desired) if desired else items)
            self.also_result = also_result
        except (ChildFailed, StopIteration, OSError, ValueError, EOFError, TypeError, IndexError, KeyError):
            frames.close()
            return None
        return data

    def cancel(self) -> None:
        """Stop the child and forget what it read (e.g. the environment's state is not this file)."""
        self._child.stop()


# The state's large sections, sent in frames after the rest (a path of keys from the top of the file).
SECTIONS = (("effective", "grants"), ("effective", "roles"), ("sources",))
CHUNK = 4096


def _section(data: object, path: tuple[str, ...]) -> dict:
    for key in path:
        data = data.get(key) if isinstance(data, Mapping) else None
    return data if isinstance(data, dict) else {}


def _decoded(path: Path, also: Callable[[dict], object] | None) -> Iterator[bytes]:
    """In the child: frames of marshal data. First the file's identity, its decoded data without the
    large sections (each left empty, in its place), also's result and the sections' paths; then each
    section's items, CHUNK at a time, as (section's index, [(key, value), ...])."""
    os.nice(19)  # a core the others leave idle, not one they need
    with open(path, "rb") as f:
        identity = file_identity(os.fstat(f.fileno()))
        raw = f.read()
    text = json_text(raw)
    del raw
    data = loads_shared(text)
    del text
    if not isinstance(data, dict):
        raise ValueError("not a state")  # the parent reads the file itself and reports it
    also_result = None
    if also is not None:
        try:
            also_result = also(data)
        except Exception:  # noqa: BLE001 - only the state is needed; the caller does the rest itself
            also_result = None
    sections, detached = [], []
    for keys in SECTIONS:
        parent = _section(data, keys[:-1])  # () is the file itself
        if isinstance(parent.get(keys[-1]), dict):
            detached.append(list(parent[keys[-1]].items()))
            parent[keys[-1]] = {}  # same place in its mapping: the key order of the file is kept
            sections.append(keys)
    # plain JSON data and also's plain result: marshallable, though typed `object` here
    yield marshal.dumps((identity, data, also_result, sections))  # type: ignore[arg-type]
    for index, items in enumerate(detached):
        for start in range(0, len(items), CHUNK):
            yield marshal.dumps((index, items[start : start + CHUNK]))
