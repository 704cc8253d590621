"""Positioned access to schema-valid documents for the builders: a node knows its file and line, every
declaration of one kind is found the same way, and a second use of an id is reported where it is met."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date
from typing import Any

from ..diagnostics import Diagnostic, Loc, error
from ..identity import fold, ignoring
from ..rules import files as files_rules
from ..rules import references as references_rules
from ..source.positions import child_entries, child_pos, child_record
from ..source.yamlfile import ParsedFile, Where

_PLURALS = {"environment": "environments", "group": "groups", "study": "studies"}


class _Node:
    """A value of a parsed file together with its path, so every field can say where it was written.

    Carries its own positions record and Loc: a field's position is then read from the node's record,
    not found by walking the file from its root again for every field of every grant."""

    __slots__ = ("file", "path", "value", "rec", "loc")

    def __init__(self, file: ParsedFile, path: tuple, value: Any, rec: Any, loc: Loc) -> None:
        self.file, self.path, self.value, self.rec, self.loc = file, path, value, rec, loc

    @classmethod
    def root(cls, file: ParsedFile) -> _Node:
        return cls(file, (), file.data, file.tree, file.loc(()))

    def get(self, key: str, default: Any = None) -> Any:
        return self.value.get(key, default)

    def at(self, key: str) -> Loc:
        if key not in self.value:
            return self.loc
        line, col = child_pos(self.rec, key) or (0, 0)
        return Loc(self.file.path, line, col)

    def child(self, key: Any) -> _Node:
        line, col = child_pos(self.rec, key) or (0, 0)
        return _Node(
            self.file, self.path + (key,), self.value[key], child_record(self.rec, key), Loc(self.file.path, line, col)
        )

    def items(self, key: str) -> Iterator[_Node]:
        values = self.value.get(key) or ()
        if not values:
            return
        rec = child_record(self.rec, key)
        entries = child_entries(rec) if rec is not None else ()
        if len(entries) != len(values):  # no positions recorded: as ParsedFile.loc says, position unknown
            entries = [((0, 0), None)] * len(values)
        file, name, base = self.file, self.file.path, self.path + (key,)
        for i, ((line, col), child) in enumerate(entries):
            yield _Node(file, base + (i,), values[i], child, Loc(name, line, col))

    def locs(self) -> LazyLocs:
        return LazyLocs(self.file.where, self.path)


class LazyLocs(Mapping):
    """Where each field of a declaration was written, computed only when a message needs it:
    building a Loc for every field of 200,000 grants would cost more than validating them. Holds the
    file's positions only (never its data), so the parsed data is freed with the sources."""

    __slots__ = ("_where", "_path")

    def __init__(self, where: Where, path: tuple) -> None:
        self._where, self._path = where, path

    def _keys(self) -> tuple:
        return self._where.keys(self._path) or ()

    def __getitem__(self, key: str) -> Loc:
        if key not in self._keys():
            raise KeyError(key)
        return self._where.loc(self._path + (key,))

    def nested(self, keys: tuple) -> Loc | None:
        """Where a field below one of these is written (keys: a path from here), None when it is not."""
        *above, last = keys
        if last not in (self._where.keys(self._path + tuple(above)) or ()):
            return None
        return self._where.loc(self._path + keys)

    def __iter__(self):
        return iter(self._keys())

    def __len__(self) -> int:
        return len(self._keys())


def declarations(files: tuple[ParsedFile, ...], kind: str) -> Iterator[_Node]:
    """Every declaration of one kind, singular (`study:`) or plural (`studies:`) form."""
    plural = _PLURALS.get(kind, kind)
    for f in files:
        if not isinstance(f.data, dict) or (kind not in f.data and plural not in f.data):
            continue  # (before its positions are unpacked: most files hold one kind of declaration)
        root = _Node.root(f)
        if kind in f.data and kind != plural:
            yield root.child(kind)
        if plural in f.data:
            yield from root.items(plural)


def parse_date(node: _Node, key: str, problems: list[Diagnostic]) -> date | None:
    text = node.get(key)
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except (TypeError, ValueError):
        problems.append(
            error(files_rules.SCHEMA.code, f"{key}: {text!r} is not a real date (YYYY-MM-DD)", node.at(key))
        )
        return None


class _Registry:
    """Ids seen so far of one kind; a second use is `duplicate-id` naming the first. Ids are compared
    folded (rules.identity: case, full-width and invisible characters), so that `HEART-01` and `heart-01`
    are never two studies (nor two directories, nor two REDCap groups). Holds the declaring node, not its
    Loc: a position is worked out only for the rare message."""

    def __init__(self, what: str, problems: list[Diagnostic]) -> None:
        self.what, self.problems = what, problems
        self.seen: dict[str, tuple[_Node, str, str]] = {}

    def claim(self, ident: str, node: _Node, field: str) -> bool:
        """ident, written in node's `field`."""
        key = fold(ident) if isinstance(ident, str) else ident
        if key in self.seen:
            first, first_field, first_ident = self.seen[key]
            how = ignoring(str(ident), str(first_ident))
            self.problems.append(
                error(
                    references_rules.DUPLICATE_ID.code,
                    f"{self.what} {ident!r} is declared twice"
                    f"{f' ({how})' if how else ''}; first at {first.at(first_field)}"
                    f"{f' as {first_ident!r}' if how else ''}",
                    node.at(field),
                )
            )
            return False
        self.seen[key] = node, field, ident
        return True
