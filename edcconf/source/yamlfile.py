"""Parse one YAML file into plain data plus the position of every node.

PyYAML's composer (the C one when present) builds the node tree; we construct values ourselves so that:
- scalars follow a small YAML 1.2-like core schema: `NO`, `on`, `yes`, dates and the like stay text
  (YAML 1.1 would turn them into booleans and dates); the schema later asks for text where it wants text;
- a mapping with a duplicate key is an error (PyYAML silently keeps the last value);
- only plain data is accepted: an explicit tag such as `!!python/object` is an error, nothing is executed;
- alias expansion and nesting are bounded, so a "billion laughs" document is refused quickly.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import yaml

from ..diagnostics import Diagnostic, Loc, error
from ..rules import files as files_rules
from .positions import KeyPositions, ValuePositions, key_pos, keys_at, make_record, pack, unpack, value_pos


class _NoImplicitResolver(yaml.resolver.BaseResolver):
    """We resolve plain scalars ourselves; PyYAML's implicit (YAML 1.1) resolver would run a Python
    regex chain on every scalar for a tag we then ignore."""

    yaml_implicit_resolvers: dict = {}
    _DEFAULT_TAGS = {
        yaml.ScalarNode: yaml.resolver.BaseResolver.DEFAULT_SCALAR_TAG,
        yaml.SequenceNode: yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG,
        yaml.MappingNode: yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    }

    def resolve(self, kind, value, implicit):  # called for every untagged node: what BaseResolver.resolve
        return self._DEFAULT_TAGS[kind]  # answers with no implicit and no path resolvers, directly


try:  # libyaml's composer is several times faster than the pure-Python one
    from yaml._yaml import CParser as _CParser  # what yaml.cyaml re-exports (PyYAML >= 6)

    class _Loader(_CParser, yaml.constructor.SafeConstructor, _NoImplicitResolver):
        def __init__(self, stream: str) -> None:
            _CParser.__init__(self, stream)
            yaml.constructor.SafeConstructor.__init__(self)
            _NoImplicitResolver.__init__(self)
except ImportError:  # pragma: no cover - depends on how PyYAML was built

    class _Loader(  # type: ignore[no-redef]
        yaml.reader.Reader,
        yaml.scanner.Scanner,
        yaml.parser.Parser,
        yaml.composer.Composer,
        yaml.constructor.SafeConstructor,
        _NoImplicitResolver,
    ):
        def __init__(self, stream: str) -> None:
            yaml.reader.Reader.__init__(self, stream)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)
            yaml.composer.Composer.__init__(self)
            yaml.constructor.SafeConstructor.__init__(self)
            _NoImplicitResolver.__init__(self)


Path_ = tuple  # a JSON-pointer-like path: keys and list indices from the document root

# Tags the resolver assigns by itself; any other tag was written explicitly by the author.
_T = "tag:yaml.org,2002:"
_IMPLICIT_SCALAR_TAGS = {_T + t for t in ("str", "int", "float", "bool", "null", "timestamp", "merge", "value")}
_COLLECTION_TAGS = {_T + "map", _T + "seq"}
_MERGE_TAG = _T + "merge"

_NULL = {"", "~", "null", "Null", "NULL"}
_TRUE = {"true", "True", "TRUE"}
_FALSE = {"false", "False", "FALSE"}
_INT = re.compile(r"[-+]?[0-9]+\Z")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?\Z")

MAX_DEPTH = 64  # deeper than any real declaration; bounds recursion
MAX_ALIASED_NODES = 100_000  # nodes constructed through aliases, per file


@dataclass(frozen=True)
class ParsedFile:
    path: str  # as shown to users (relative to the configuration directory)
    data: Any  # plain dicts, lists, str, int, float, bool, None
    packed: bytes | None  # positions of every node (source.positions records), marshalled
    plain_text: dict  # path tuple -> source text of plain scalars read as non-strings
    cache_key: str | None = None  # content address in the file cache (speed/file_cache.py)
    checked: tuple | None = None  # schema diagnostics already known for these bytes (from the cache)

    @property
    def tree(self) -> Any:
        """The positions records, unpacked on demand (a few files at a time stay unpacked)."""
        return unpack(self.packed)

    @property
    def positions(self) -> ValuePositions:
        """path tuple -> (line, col) of the value, 1-based (a read-only mapping view)."""
        return ValuePositions(self.tree)

    @property
    def key_positions(self) -> KeyPositions:
        """path tuple -> (line, col) of the mapping key naming the value."""
        return KeyPositions(self.tree)

    def loc(self, path: Path_ = ()) -> Loc:
        line, col = value_pos(self.tree, tuple(path)) or (0, 0)
        return Loc(self.path, line, col)

    def key_loc(self, path: Path_) -> Loc:
        path = tuple(path)
        line, col = key_pos(self.tree, path) or value_pos(self.tree, path) or (0, 0)
        return Loc(self.path, line, col)

    def nearest_loc(self, path: Path_) -> Loc:
        """The position of the deepest existing node along path (for errors about absent keys)."""
        path = tuple(path)
        while path and value_pos(self.tree, path) is None:
            path = path[:-1]
        return self.loc(path)

    @cached_property
    def where(self) -> Where:
        """The file's positions without its data: what the model keeps for its messages."""
        return Where(self.path, self.packed)


class Where:
    """A file's name and positions, no data: the model's declarations say where each field was
    written through this, so the parsed data can be freed once the model is built. The positions stay
    packed (a quarter of their unpacked size) and are unpacked when a message asks for a place."""

    __slots__ = ("path", "packed")

    def __init__(self, path: str, packed: bytes | None) -> None:
        self.path, self.packed = path, packed

    @property
    def tree(self) -> Any:
        return unpack(self.packed)

    def loc(self, path: Path_) -> Loc:
        line, col = value_pos(self.tree, path) or (0, 0)
        return Loc(self.path, line, col)

    def keys(self, path: Path_) -> tuple | None:
        """The keys of the mapping at path (None when there is none)."""
        return keys_at(self.tree, path)


class _Refused(Exception):
    def __init__(self, code: str, message: str, mark: Any) -> None:
        super().__init__(message)
        self.code, self.message, self.mark = code, message, mark


_NUMBER_START = frozenset("0123456789+-.")
SHARED_MAX = 64  # ids, names, levels and keys; longer text (descriptions) rarely repeats


def shared(text: str) -> str:
    """One object per short text, across every file of the process (sys.intern): a configuration repeats
    a few thousand ids, roles and levels hundreds of thousands of times, and the model keeps them (at
    N = 2,000 studies, 1.1 million string objects for 69,000 distinct values). marshal keeps the mark, so
    what a parse worker interns arrives interned (and shared) in the process that loads its entries."""
    return sys.intern(text) if len(text) <= SHARED_MAX else text


def resolve_plain_scalar(text: str) -> Any:
    if text and text[0] not in _NUMBER_START and len(text) > 5:  # most scalars: ids, names, levels
        return shared(text)
    if text in _NULL:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    if _INT.match(text):
        return int(text)
    if _FLOAT.match(text):
        return float(text)
    return shared(text)


class _Builder:
    def __init__(self) -> None:
        self.plain_text: dict = {}
        self.aliased = 0
        self.seen: dict[int, int] = {}  # id(node) -> times constructed (a second time means an alias)
        self.written_at: Any = None  # mark of the innermost node read in place (not through an alias)

    def build(self, node: yaml.Node, path: Path_, depth: int, via_alias: bool) -> tuple[Any, Any]:
        """The value, and its positions record (positions.py) when it is a mapping or a list."""
        if depth > MAX_DEPTH:
            raise _Refused(files_rules.YAML_SYNTAX.code, f"nesting deeper than {MAX_DEPTH} levels", node.start_mark)
        times = self.seen.get(id(node), 0)
        self.seen[id(node)] = times + 1
        via_alias = via_alias or times > 0
        if via_alias:
            self.aliased += 1
            if self.aliased > MAX_ALIASED_NODES:  # name where the expansion is written, not the anchor
                raise _Refused(
                    files_rules.YAML_SYNTAX.code,
                    f"aliases expand to more than {MAX_ALIASED_NODES:,} nodes (an alias bomb?); write the values out",
                    self.written_at or node.start_mark,
                )
        else:
            self.written_at = node.start_mark
        mark = node.start_mark
        kind = type(node)  # the composer makes exactly these classes; `is` is the fast test
        if kind is yaml.ScalarNode:
            return self._scalar(node, path), None  # type: ignore[arg-type]  # kind is type(node), tested fast
        if kind is yaml.SequenceNode:
            if node.tag not in _COLLECTION_TAGS:
                self._check_tag(node, _COLLECTION_TAGS)
            items, entries = [], []
            for i, item in enumerate(node.value):
                value, record = self.build(item, path + (i,), depth + 1, via_alias)
                items.append(value)
                item_mark = item.start_mark
                entries.append((item_mark.line + 1, item_mark.column + 1, 0, 0, record))
            return items, make_record(mark.line + 1, mark.column + 1, None, entries)
        if kind is yaml.MappingNode:
            if node.tag not in _COLLECTION_TAGS:
                self._check_tag(node, _COLLECTION_TAGS)
            result, by_key = self._mapping(node, path, depth, via_alias)  # type: ignore[arg-type]  # as above
            keys = tuple(result)
            return result, make_record(mark.line + 1, mark.column + 1, keys, [by_key[k] for k in keys])
        raise _Refused(files_rules.YAML_SYNTAX.code, "unsupported YAML node", node.start_mark)  # pragma: no cover

    @staticmethod
    def _check_tag(node: yaml.Node, allowed: set) -> None:
        if node.tag not in allowed:
            raise _Refused(
                files_rules.YAML_SYNTAX.code,
                f"the tag {node.tag.replace(_T, '!!')} is not allowed: edcconf reads plain data only (remove the tag)",
                node.start_mark,
            )

    def _scalar(self, node: yaml.ScalarNode, path: Path_) -> Any:
        if node.tag not in _IMPLICIT_SCALAR_TAGS:
            self._check_tag(node, _IMPLICIT_SCALAR_TAGS)
        if node.style:  # quoted or block scalar: always text (plain is None or "" by composer)
            return shared(node.value)
        value = resolve_plain_scalar(node.value)
        if value is not None and not isinstance(value, str):  # null stays null: it means "nothing"
            self.plain_text[path] = node.value
        return value

    def _mapping(self, node: yaml.MappingNode, path: Path_, depth: int, via_alias: bool) -> tuple[dict, dict]:
        """The mapping, and per key (value line, value col, key line, key col, child record)."""
        result: dict = {}
        entries: dict = {}
        explicit: dict[str, Any] = {}  # key -> mark of its own (non-merged) definition
        merged_keys: set = set()
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and (
                key_node.tag == _MERGE_TAG or (key_node.value == "<<" and not key_node.style)
            ):
                merged, merged_entries = self._merge(value_node, path, depth, via_alias)
                for k, v in merged.items():
                    if k not in explicit and k not in merged_keys:
                        result[k] = v
                        entries[k] = merged_entries[k]
                        merged_keys.add(k)
                continue
            if type(key_node) is not yaml.ScalarNode:
                raise _Refused(files_rules.YAML_SYNTAX.code, "a mapping key must be plain text", key_node.start_mark)
            if key_node.tag not in _IMPLICIT_SCALAR_TAGS:
                self._check_tag(key_node, _IMPLICIT_SCALAR_TAGS)
            key = shared(key_node.value)  # keys are always text: `NO:` or `1.10:` stay as written
            if key in explicit:
                first = explicit[key]
                raise _Refused(
                    files_rules.DUPLICATE_KEY.code,
                    f"duplicate key {key!r} (first defined at line "
                    f"{first.line + 1}); YAML would silently keep only the last one",
                    key_node.start_mark,
                )
            explicit[key] = key_node.start_mark
            value, record = self.build(value_node, path + (key,), depth + 1, via_alias)
            result[key] = value
            value_mark, key_mark = value_node.start_mark, key_node.start_mark
            entries[key] = (value_mark.line + 1, value_mark.column + 1, key_mark.line + 1, key_mark.column + 1, record)
        return result, entries

    def _merge(self, value_node: yaml.Node, path: Path_, depth: int, via_alias: bool) -> tuple[dict, dict]:
        """`<<: *base` or `<<: [*a, *b]`: earlier sources win, explicit keys win over all."""
        sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
        merged: dict = {}
        merged_entries: dict = {}
        for source in sources:
            if not isinstance(source, yaml.MappingNode):
                raise _Refused(
                    files_rules.YAML_SYNTAX.code,
                    "a merge key `<<` takes a mapping or a list of mappings",
                    source.start_mark,
                )
            values, entries = self._mapping(source, path, depth, True)
            for k, v in values.items():
                if k not in merged:
                    merged[k] = v
                    merged_entries[k] = entries[k]
        return merged, merged_entries


def _decode(raw: bytes, path: str) -> tuple[str | None, Diagnostic | None]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, error(
            files_rules.YAML_SYNTAX.code,
            f"the file is not UTF-8 text (byte 0x{raw[exc.start]:02x}); save it as UTF-8",
            Loc(path, line, 1),
        )
    return text.removeprefix("\ufeff"), None  # a byte-order mark is harmless: drop it


_SCAN_LIMIT = 4 * MAX_DEPTH  # generous: only the composer's recursion is being guarded here
_DEEP_INDENT = re.compile(rf"^ {{{_SCAN_LIMIT + 1}}}", re.M)
_DASH_CHAIN = re.compile(rf"^ *(?:- +){{{_SCAN_LIMIT // 4}}}", re.M)
# Tokens that matter for flow depth: quoted scalars (a quote opens one only where a token may start)
# and comments are skipped whole; brackets are counted. The regex engine walks the rest at C speed:
# each alternative starts with its character and looks behind only then (a lookbehind first, tried at
# every position of the text, made this ten times slower).
_SKIPPED = r"""'(?<![^\s\[{,:?-]')(?:[^']|'')*'|"(?<![^\s\[{,:?-]")(?:[^"\\]|\\.)*"|#(?<!\S#)[^\n]*"""
_FLOW_TOKENS = re.compile(_SKIPPED + r"|[\[\]{}]")
_SKIPPED_TOKENS = re.compile(_SKIPPED)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
_AS_PARENS = str.maketrans("[{]}", "(())")


def flow_depth_bound(text: str) -> int:
    """At least the deepest flow nesting that nesting_problem counts, in a few passes at C speed: a
    study file has hundreds of brackets (a flow mapping per grant) and counting them one by one in
    Python cost about a millisecond per file. Matched pairs are removed innermost first; a bracket
    inside a pair removed in round r is at most r deep within its pairs, plus the opens never closed."""
    brackets = _NOT_BRACKETS.sub("", _SKIPPED_TOKENS.sub("", text)).translate(_AS_PARENS)
    rounds = 0
    while "()" in brackets and rounds <= _SCAN_LIMIT:
        brackets = brackets.replace("()", "")
        rounds += 1
    return rounds + brackets.count("(")


def nesting_problem(text: str) -> tuple[int, str] | None:
    """A cheap scan for nesting that would make PyYAML's composer recurse too deep (the C composer
    crashes the process well before Python could object). Returns (line, message) when refused.

    Counts flow brackets outside quotes and comments, and block nesting by indentation and by
    `- - -` chains. It may over-count odd but valid text; no declaration comes near the limit."""
    message = f"nesting deeper than {_SCAN_LIMIT} levels"
    if text.count("[") + text.count("{") > _SCAN_LIMIT and flow_depth_bound(text) > _SCAN_LIMIT:
        depth = 0
        for token in _FLOW_TOKENS.finditer(text):
            ch = token.group()
            if ch in "[{":
                depth += 1
                if depth > _SCAN_LIMIT:
                    return text.count("\n", 0, token.start()) + 1, message
            elif ch in "]}" and depth:
                depth -= 1
    if _DEEP_INDENT.search(text) or _DASH_CHAIN.search(text):
        indents: list[int] = []
        for number, line in enumerate(text.split("\n"), 1):
            body = line.lstrip(" ")
            if not body or body.startswith("#"):
                continue
            indent = len(line) - len(body)
            while indents and indents[-1] >= indent:
                indents.pop()
            indents.append(indent)
            dashes = 0
            while body.startswith("- ") or body == "-":
                dashes += 1
                body = body[2:].lstrip(" ")
            if len(indents) + dashes > _SCAN_LIMIT:
                return number, message
    return None


def _tab_at(text: str, mark: Any) -> bool:
    if mark is None:
        return False
    lines = text.splitlines()
    return mark.line < len(lines) and "\t" in lines[mark.line][: mark.column + 1]


def parse_yaml(raw: bytes, path: str) -> tuple[ParsedFile | None, list[Diagnostic]]:
    text, problem = _decode(raw, path)
    if problem:
        return None, [problem]
    assert text is not None  # _decode gives the text or a problem
    too_deep = nesting_problem(text)
    if too_deep:
        line, message = too_deep
        return None, [
            error(
                files_rules.YAML_SYNTAX.code,
                f"{message}: declarations are never this deep; is the file generated or corrupted?",
                Loc(path, line, 1),
            )
        ]
    from . import fast_yaml  # local: rapidyaml loads with the first file read, not with every command

    if fast_yaml.available() and os.environ.get("EDCCONF_YAML") != "pyyaml":
        fast = fast_yaml.read(text)
        if fast is not None:
            data, tree, plain_text = fast
            return ParsedFile(path, data, pack(tree), plain_text), []
    try:
        loader = _Loader(text)  # the pure-Python reader checks characters already here
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Loc(path, mark.line + 1, mark.column + 1) if mark else Loc(path)
        what = " ".join(p for p in (exc.context, exc.problem) if p) or str(exc)
        hint = "; YAML does not allow tabs for indentation, use spaces" if _tab_at(text, mark) else ""
        return None, [error(files_rules.YAML_SYNTAX.code, f"malformed YAML: {what}{hint}", where)]
    except yaml.YAMLError as exc:  # e.g. a reader error on a control character
        return None, [error(files_rules.YAML_SYNTAX.code, f"malformed YAML: {exc}", Loc(path, 1, 1))]
    builder = _Builder()
    if node is None:
        return ParsedFile(path, None, None, {}), []
    try:
        data, tree = builder.build(node, (), 0, False)
    except _Refused as exc:
        return None, [error(exc.code, exc.message, Loc(path, exc.mark.line + 1, exc.mark.column + 1))]
    if tree is None:  # a document that is one scalar: its own position only
        tree = make_record(node.start_mark.line + 1, node.start_mark.column + 1, None, ())
    return ParsedFile(path, data, pack(tree), builder.plain_text), []
