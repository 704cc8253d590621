"""Where each node of a parsed file was written, stored compactly.

One record per mapping or list (never per scalar), nested like the data, so no path tuple is stored:

    (line, col, keys, packed, children)

- line, col: 1-based position of the container itself;
- keys: the mapping's keys in order (the same string objects as the data's), None for a list;
- packed: bytes of an array of unsigned 32-bit ints, four per child: value line, value col, key line,
  key col (0 for list items, which have no key);
- children: None when every child is a scalar, else a tuple with each child's record or None.

Records are plain tuples, bytes and strings, so the file cache can marshal them. At N=2,000 a dict of
path tuples to (line, col) pairs for values and another for keys held about 1.4 million entries each;
these records take a few bytes per node.
"""

from __future__ import annotations

import marshal
from array import array
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

Record = tuple  # (line, col, keys | None, packed bytes, children | None)
Pos = tuple  # (line, col), 1-based

_EMPTY = array("I").tobytes()


def make_record(line: int, col: int, keys: tuple | None, entries: Iterable[tuple]) -> Record:
    """entries: (value_line, value_col, key_line, key_col, child_record_or_None) per child, in order."""
    packed = array("I")
    children = []
    for vl, vc, kl, kc, child in entries:
        packed.extend((vl, vc, kl, kc))
        children.append(child)
    has_child = any(c is not None for c in children)
    return (line, col, keys, packed.tobytes() if packed else _EMPTY, tuple(children) if has_child else None)


def pack(tree: Record | None) -> bytes | None:
    """A file's records as marshal bytes: about a quarter of their size in memory (at N=2,000 the
    unpacked records of every file were about 185 MB, kept for the whole command for its messages)."""
    return None if tree is None else marshal.dumps(tree)


def unpack(packed: bytes | None) -> Record | None:
    return None if packed is None else _unpacked(packed)


@lru_cache(maxsize=64)  # the files being built or reported on: bytes keep their hash, lookups are cheap
def _unpacked(packed: bytes) -> Record:
    return marshal.loads(packed)


def _slot(record: Record, step: Any) -> int | None:
    """The index of the child named by step (a key or a list index), or None when absent."""
    keys = record[2]
    if keys is not None:
        if not isinstance(step, str):
            return None
        try:
            return keys.index(step)
        except ValueError:
            return None
    if isinstance(step, int) and not isinstance(step, bool) and 0 <= step < len(record[3]) // 16:
        return step
    return None


def _ints(record: Record, index: int) -> tuple[int, int, int, int]:
    view = memoryview(record[3]).cast("I")
    return view[4 * index], view[4 * index + 1], view[4 * index + 2], view[4 * index + 3]


def _parent(root: Record | None, path: tuple) -> tuple[Record | None, int | None]:
    """The record holding path's last step, and that step's index in it (None, None when absent)."""
    record = root
    for step in path[:-1]:
        if record is None:
            return None, None
        index = _slot(record, step)
        if index is None or record[4] is None:
            return None, None
        record = record[4][index]
    if record is None:
        return None, None
    index = _slot(record, path[-1])
    return (record, index) if index is not None else (None, None)


def value_pos(root: Record | None, path: tuple) -> Pos | None:
    if not path:
        return (root[0], root[1]) if root is not None else None
    record, index = _parent(root, path)
    if record is None or index is None:  # both or neither
        return None
    vl, vc, _, _ = _ints(record, index)
    return vl, vc


def key_pos(root: Record | None, path: tuple) -> Pos | None:
    if not path:
        return None
    record, index = _parent(root, path)
    if record is None or index is None or record[2] is None:
        return None
    _, _, kl, kc = _ints(record, index)
    return kl, kc


def keys_at(root: Record | None, path: tuple) -> tuple | None:
    """The keys of the mapping at path (None when path is not a mapping)."""
    record = record_at(root, path)
    return record[2] if record is not None else None


def record_at(root: Record | None, path: tuple) -> Record | None:
    """The record of the mapping or list at path (None when absent or a scalar)."""
    record = root
    for step in path:
        if record is None:
            return None
        index = _slot(record, step)
        if index is None or record[4] is None:
            return None
        record = record[4][index]
    return record


def child_pos(record: Record | None, step: Any) -> Pos | None:
    """The value position of one child of a record: what value_pos gives for the child's path, without
    walking from the root."""
    index = _slot(record, step) if record is not None else None
    if record is None or index is None:
        return None
    vl, vc, _, _ = _ints(record, index)
    return vl, vc


def child_record(record: Record | None, step: Any) -> Record | None:
    """The record of one child of a record (None when absent or a scalar)."""
    index = _slot(record, step) if record is not None else None
    if record is None or index is None or record[4] is None:
        return None
    return record[4][index]


def child_entries(record: Record) -> list[tuple[Pos, Record | None]]:
    """((value line, value col), child record) of every child of a record, in order, read in one pass:
    a list of 100 grants costs one walk, not 100."""
    view = memoryview(record[3]).cast("I")
    children = record[4] or (None,) * (len(view) // 4)
    return list(zip(zip(view[0::4], view[1::4]), children))


class ValuePositions:
    """Read-only mapping view: path tuple -> (line, col) of the value (what `positions` used to be)."""

    __slots__ = ("root",)
    _find = staticmethod(value_pos)

    def __init__(self, root: Record | None) -> None:
        self.root = root

    def get(self, path: tuple, default: Any = None) -> Any:
        found = self._find(self.root, tuple(path))
        return default if found is None else found

    def __getitem__(self, path: tuple) -> Pos:
        found = self._find(self.root, tuple(path))
        if found is None:
            raise KeyError(path)
        return found

    def __contains__(self, path: object) -> bool:
        return isinstance(path, tuple) and self._find(self.root, path) is not None


class KeyPositions(ValuePositions):
    """path tuple -> (line, col) of the mapping key naming the value."""

    __slots__ = ()
    _find = staticmethod(key_pos)
