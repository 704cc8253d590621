"""JSON lines for the journal and the audit log, each shared value encoded once.

A first apply writes a line per grant twice (journal, then audit), and most of each line is the grant's
form levels, which are its role's dict, shared by every grant of that role version (resolve's
expand_grant). Encoding that dict again for each grant was most of the time spent writing both files.
`LineEncoder.encode(entry)` gives exactly `json.dumps(entry, sort_keys=..., default=str)`: each large
`forms` dict at a known place in the entry is replaced by a placeholder, encoded once per object, and
spliced into the line. An encoder lives for one append: entries are not changed while they are written.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

MIN_SPLICED = 8  # smaller dicts cost less to encode than to splice
MAX_MEMO = 200_000  # distinct dicts remembered; beyond that they are encoded as they come

Path = tuple[str | int, ...]
JOURNAL_PATHS: tuple[Path, ...] = (("after", "forms"), ("before", "forms"), ("role", 1, "forms"))  # saved changes
AUDIT_PATHS: tuple[Path, ...] = (("change", "after", "forms"), ("change", "before", "forms"))


class LineEncoder:
    """paths: where the shared dicts are in an entry (looking everywhere cost more than it saved)."""

    def __init__(self, paths: tuple[Path, ...], sort_keys: bool = False) -> None:
        self._encode = json.JSONEncoder(sort_keys=sort_keys, default=str).encode
        # a placeholder no configuration can spell: a NUL and a number chosen per process
        self._token = f"\x00{uuid.uuid4().hex}:"
        self._memo: dict[int, tuple[object, str]] = {}  # id -> (the dict, kept alive; its encoding)
        self._placeholders: list[str] = []
        self._trie: dict = {}
        for path in paths:
            node = self._trie
            for step in path[:-1]:
                node = node.setdefault(step, {})
            node[path[-1]] = None

    def encode(self, entry: Any) -> str:
        spliced: list[str] = []
        light = self._lighten(entry, self._trie, spliced)
        text = self._encode(light)
        for i, encoded in enumerate(spliced):
            text = text.replace(self._placeholder(i), encoded, 1)
        return text

    def _placeholder(self, i: int) -> str:
        """The i-th placeholder as it appears in a line (JSON-encoded once, not for every line)."""
        while len(self._placeholders) <= i:
            self._placeholders.append(self._encode(f"{self._token}{len(self._placeholders)}"))
        return self._placeholders[i]

    def line(self, entry: Any) -> bytes:
        return self.encode(entry).encode() + b"\n"

    def _lighten(self, value: Any, trie: dict, spliced: list[str]) -> Any:
        """value with each large dict at the end of a path replaced by a placeholder; new dicts and lists on
        the way down only."""
        if not isinstance(value, Mapping | list | tuple):
            return value
        out: Any = None
        for step, below in trie.items():
            try:
                item = value[step]
            except (KeyError, IndexError, TypeError):
                continue
            if below is not None:
                new = self._lighten(item, below, spliced)
            elif isinstance(item, Mapping) and len(item) >= MIN_SPLICED:
                new = f"{self._token}{len(spliced)}"
                spliced.append(self._shared(item))
            else:
                continue
            if new is not item:
                if out is None:
                    out = dict(value) if isinstance(value, Mapping) else list(value)
                out[step] = new
        return value if out is None else out

    def _shared(self, value: Mapping) -> str:
        known = self._memo.get(id(value))
        if known is not None and known[0] is value:
            return known[1]
        encoded = self._encode(value)
        if len(self._memo) < MAX_MEMO:
            self._memo[id(value)] = (value, encoded)
        return encoded
