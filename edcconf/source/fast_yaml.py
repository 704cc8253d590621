"""A faster reading of a YAML file with rapidyaml (`ryml`), giving exactly what yamlfile's PyYAML path gives.

rapidyaml's Python binding exposes no node locations (no parser options, no location lookup), but each
scalar is a pointer into the buffer it parsed in place (ryml_nodes reads them all at once), so a scalar's
byte offset in the file is known; containers are placed from their first child and the characters around
it, the way libyaml's marks place them (a block mapping at its first key, a block sequence at its first
`-`, a flow collection at its bracket, a block scalar at its `|` or `>`, an empty value just after its `:`).

Only what can be read exactly is read here: anything else (tags, anchors, aliases, merge keys, duplicate
keys, tabs, unusual characters or line breaks, directives, several documents, empty list items, a plain
scalar libyaml might read differently, a position the text around a node does not confirm, any ryml
error) returns None, and the caller reads the file with PyYAML, which gives the value or the diagnostic.
The fast path never decides an error itself.
"""

from __future__ import annotations

import re
from array import array
from bisect import bisect_right
from typing import Any

from . import ryml_nodes
from .positions import make_record

_EMPTY = make_record(0, 0, None, ())[3]  # the packed bytes of a record without children

MAX_DEPTH = 64  # yamlfile.MAX_DEPTH (deeper files go to PyYAML for its message)

# Anything libyaml refuses or counts differently: control characters, NEL/LS/PS line breaks, a BOM or
# non-characters inside the text, a lone CR, tabs (their rules differ between the two parsers), and
# directives, tags, anchors, aliases, explicit keys and merge keys (this skips the parse).
_ODD_CHARACTER = re.compile(
    "[^\n\r\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]|\r(?!\n)"
)
_UNSURE = re.compile(r"^%|(?:^|[\s\[{,])[!&*?]|<<", re.M)  # tried only when one of `%!&*?<` is there
_INDICATORS = frozenset(b"[]{},#&*!|>'\"%@`")  # a plain scalar never starts with one (libyaml refuses)
_NEWLINE = re.compile(b"\n")
_PLAIN_UNSURE = re.compile(r": |\s#|:\Z|\n")  # where libyaml might end or refuse a plain scalar
_PLAIN_UNSURE_IN_FLOW = re.compile(r": |\s#|:\Z|\n|[\[\]{},]")
_FLOW_INDICATORS = re.compile(r"[\[\]{},]")
_ITEM_BLOCK_HEADER = re.compile(rb" *(?:- +)+([|>])[-+0-9]*(?: +#[^\n]*)?\r?\Z")
_SQUO_REST = re.compile(rb"(?:[^']|'')*'")  # from just after an opening quote to past the closing one
_DQUO_REST = re.compile(rb'(?:[^"\\]|\\.)*"', re.S)

if ryml_nodes.ryml is not None:
    _r = ryml_nodes.ryml
    _MAP, _SEQ, _STREAM, _DOC = _r.MAP, _r.SEQ, _r.STREAM, _r.DOC
    _FLOW, _BLOCK = _r.FLOW_SL | _r.FLOW_ML, _r.BLOCK
    _KEY_FORBIDDEN = _r.KEYTAG | _r.KEYANCH | _r.KEYREF
    _VAL_FORBIDDEN = _r.VALTAG | _r.VALANCH | _r.VALREF
    _KEY_PLAIN, _KEY_SQUO, _KEY_DQUO = _r.KEY_PLAIN, _r.KEY_SQUO, _r.KEY_DQUO
    _VAL_PLAIN, _VAL_SQUO, _VAL_DQUO = _r.VAL_PLAIN, _r.VAL_SQUO, _r.VAL_DQUO
    _VAL_BLOCK_SCALAR = _r.VAL_LITERAL | _r.VAL_FOLDED
NONE = ryml_nodes.NONE


class _Unsure(Exception):
    """Something this reader cannot place or value exactly: PyYAML reads the file."""


class _Reader:
    def __init__(self, source: bytes, nodes: ryml_nodes.Nodes) -> None:
        self.src, self.nodes, self.text = source, nodes, nodes.text  # text: the scalars after filtering
        self.ascii = source.isascii()
        self.plain_text: dict = {}
        from .yamlfile import resolve_plain_scalar, shared  # yamlfile imports this module

        self.resolve, self.shared = resolve_plain_scalar, shared
        self._last: tuple = (-1, None)
        self.starts = [0, *(m.end() for m in _NEWLINE.finditer(source))]  # offset of each line

    def pos(self, off: int) -> tuple[int, int]:
        """1-based (line, column in characters) of a byte offset, as libyaml counts them."""
        if off == self._last[0]:  # a collection's place, asked again by its parent
            return self._last[1]
        line = bisect_right(self.starts, off)
        start = self.starts[line - 1]
        found = (line, off - start + 1) if self.ascii else (line, len(self.src[start:off].decode("utf-8")) + 1)
        self._last = (off, found)
        return found

    def before(self, off: int, expected: int) -> int:
        """The offset of byte `expected` just before off, with only spaces between (on the same line)."""
        i, src = off - 1, self.src
        while i >= 0 and src[i] == 0x20:
            i -= 1
        if i < 0 or src[i] != expected:
            raise _Unsure
        return i

    def after(self, off: int, expected: int) -> int:
        """The offset of byte `expected` at or after off, with only spaces between (on the same line)."""
        i, src = off, self.src
        while i < len(src) and src[i] == 0x20:
            i += 1
        if i >= len(src) or src[i] != expected:
            raise _Unsure
        return i

    def plain_ok(self, text: str, start: int, flow: bool) -> bool:
        """Whether libyaml surely reads this plain scalar as ryml did: ryml lets some through that
        libyaml refuses or splits (an indicator first, `: ` or ` #` inside, flow indicators in a flow)."""
        src = self.src
        first = src[start]
        if first in _INDICATORS or (first in b"-?:" and src[start + 1 : start + 2] in (b" ", b"\n", b"\r", b"")):
            return False
        if _PLAIN_UNSURE.search(text):
            return False
        return not (flow and _FLOW_INDICATORS.search(text))

    def key(self, node: int, kind: int, flow: bool) -> tuple[str, int, int]:
        """The key's text, its offset as libyaml marks it (a quote included) and the offset just past it."""
        nodes = self.nodes
        start, length = nodes.key[node], nodes.key_len[node]
        if kind & _KEY_FORBIDDEN or start < 0 or not length or start + length > len(self.src):
            raise _Unsure
        text = self.shared(self.text[start : start + length].decode("utf-8"))
        if kind & _KEY_PLAIN:
            if text == "<<" or not self.plain_ok(text, start, flow):
                raise _Unsure
            return text, start, start + length
        if kind & (_KEY_SQUO | _KEY_DQUO):
            squo = bool(kind & _KEY_SQUO)
            if self.src[start - 1 : start] != (b"'" if squo else b'"'):
                raise _Unsure
            # the text ryml gives is filtered (`''`, escapes): the closing quote is found in the source
            end = (_SQUO_REST if squo else _DQUO_REST).match(self.src, start)
            if end is None:
                raise _Unsure
            return text, start - 1, end.end()
        raise _Unsure  # block-scalar keys and the like

    def value(self, node: int, path: tuple, depth: int, key_end: int | None, flow: bool) -> tuple[Any, int, Any]:
        """The node's value, its offset, and its positions record when it is a collection. key_end is
        the offset past the key when the node is a mapping value (for empty values and block scalars);
        flow tells whether the node's parent is a flow collection."""
        nodes = self.nodes
        kind = nodes.types[node]
        if depth > MAX_DEPTH or kind & _VAL_FORBIDDEN:
            raise _Unsure
        if kind & (_MAP | _SEQ):
            return self.collection(node, kind, path, depth, key_end)
        start, length = nodes.val[node], nodes.val_len[node]
        if start >= 0 and start + length > len(self.src):
            raise _Unsure  # a scalar ryml built elsewhere (in its arena)
        if start < 0 or not length:
            if start >= 0 and kind & (_VAL_SQUO | _VAL_DQUO):  # '' or "": ryml points between the quotes
                if self.src[start - 1 : start + 1] not in (b"''", b'""'):
                    raise _Unsure
                return "", start - 1, None
            if key_end is None or flow or start >= 0:
                raise _Unsure  # libyaml places an empty list item after its `-`, a flow one at the next token
            return None, self.after(key_end, 0x3A) + 1, None  # just after the `:`
        text = self.text[start : start + length].decode("utf-8")
        if kind & _VAL_PLAIN:
            if not self.plain_ok(text, start, flow):
                raise _Unsure
            value = self.resolve(text)
            if value is not None and not isinstance(value, str):
                self.plain_text[path] = text
            return value, start, None
        if kind & (_VAL_SQUO | _VAL_DQUO):
            if self.src[start - 1 : start] != (b"'" if kind & _VAL_SQUO else b'"'):
                raise _Unsure
            return self.shared(text), start - 1, None
        if kind & _VAL_BLOCK_SCALAR:
            return text, self.block_indicator(start, key_end), None
        raise _Unsure

    def block_indicator(self, start: int, key_end: int | None) -> int:
        """Where libyaml places a block scalar: its `|` or `>`. ryml's text starts on the line after it."""
        src = self.src
        if key_end is not None:
            indicator = self.after(key_end, 0x3A) + 1
            while src[indicator : indicator + 1] == b" ":
                indicator += 1
            if src[indicator : indicator + 1] not in (b"|", b">"):
                raise _Unsure
            return indicator
        if src[start - 1 : start] != b"\n":
            raise _Unsure
        line_start = src.rfind(b"\n", 0, start - 1) + 1
        header = _ITEM_BLOCK_HEADER.match(src, line_start, start - 1)  # `- |`, `- - >-  # note`
        if header is None:
            raise _Unsure
        return header.start(1)

    def collection(self, node: int, kind: int, path: tuple, depth: int, key_end: int | None) -> tuple[Any, int, Any]:
        nodes = self.nodes
        is_map = bool(kind & _MAP)
        flow = bool(kind & _FLOW)
        if not flow and not kind & _BLOCK:
            raise _Unsure
        packed = array("I")  # what positions.make_record builds, made here in the same pass
        children: list = []
        items: Any = {} if is_map else []
        types, text, src, plain_text = nodes.types, self.text, self.src, self.plain_text
        val_at, val_len, starts, ascii_ = nodes.val, nodes.val_len, self.starts, self.ascii
        resolve, shared = self.resolve, self.shared
        unsure = _PLAIN_UNSURE_IN_FLOW if flow else _PLAIN_UNSURE
        key_at, key_len = nodes.key, nodes.key_len
        child = nodes.first[node]
        first = -1
        while child != NONE:
            child_kind = types[child]
            start, length = val_at[child], val_len[child]
            # the common case inline (a plain scalar value in a block collection, an ASCII file): the
            # reader's methods do the same, slower, and everything else
            simple = (
                ascii_
                and child_kind & _VAL_PLAIN
                and not child_kind & (_VAL_FORBIDDEN | _MAP | _SEQ)
                and length
                and depth < MAX_DEPTH
                and src[start] not in _INDICATORS
            )
            if simple:
                scalar = text[start : start + length].decode()
                if unsure.search(scalar) or (src[start] in b"-?:" and src[start + 1] in b" \r\n"):
                    raise _Unsure
                value, value_off, record = resolve(scalar), start, None
                line = bisect_right(starts, start)
                vl, vc = line, start - starts[line - 1] + 1
            if is_map:
                key_off = key_at[child]
                if ascii_ and child_kind & _KEY_PLAIN and not child_kind & _KEY_FORBIDDEN and key_off >= 0:
                    end = key_off + key_len[child]
                    key = shared(text[key_off:end].decode())
                    if (
                        key_off == end
                        or src[key_off] in _INDICATORS
                        or unsure.search(key)
                        or key == "<<"
                        or (src[key_off] in b"-?:" and src[key_off + 1] in b" \r\n")
                    ):
                        raise _Unsure
                    line = bisect_right(starts, key_off)
                    kl, kc = line, key_off - starts[line - 1] + 1
                else:
                    key, key_off, end = self.key(child, child_kind, flow)
                    kl, kc = self.pos(key_off)
                if key in items:
                    raise _Unsure  # PyYAML names the duplicate
                if simple:
                    if value is not None and value.__class__ is not str:
                        plain_text[path + (key,)] = scalar
                else:
                    value, value_off, record = self.value(child, path + (key,), depth + 1, end, flow)
                    vl, vc = self.pos(value_off)
                items[key] = value
                packed.extend((vl, vc, kl, kc))
                children.append(record)
                if first < 0:
                    first = key_off
            else:
                if simple:
                    if value is not None and value.__class__ is not str:
                        plain_text[path + (len(items),)] = scalar
                else:
                    value, value_off, record = self.value(child, path + (len(items),), depth + 1, None, flow)
                    vl, vc = self.pos(value_off)
                items.append(value)
                packed.extend((vl, vc, 0, 0))
                children.append(record)
                if first < 0:
                    first = value_off
            child = nodes.next[child]
        opening = 0x7B if is_map else 0x5B  # `{` or `[`
        if not children:
            if not flow or key_end is None:
                raise _Unsure
            where = self.after(self.after(key_end, 0x3A) + 1, opening)
        elif flow:
            where = self.before(first, opening)
        else:
            where = first if is_map else self.before(first, 0x2D)  # a block list: its first `-`
        line, col = self.pos(where)
        keys = tuple(items) if is_map else None
        nested = tuple(children) if any(c is not None for c in children) else None
        return items, where, (line, col, keys, packed.tobytes() if packed else _EMPTY, nested)


def available() -> bool:
    """rapidyaml is installed and its node records are laid out as ryml_nodes reads them."""
    return ryml_nodes.LAYOUT_OK


def read(text: str) -> tuple[Any, Any, dict] | None:
    """(data, positions record, plain_text) of a file's text (BOM removed) that parses as exactly one
    document holding a mapping or a list; None when PyYAML must read it (see the module's docstring)."""
    if not ryml_nodes.LAYOUT_OK or "\t" in text:
        return None
    if _ODD_CHARACTER.search(text):
        return None
    if any(c in text for c in "%!&*?<") and _UNSURE.search(text):
        return None
    source = text.encode("utf-8")
    if b"\n..." in source or source.startswith(b"..."):  # document end markers: leave them to PyYAML
        return None
    nodes = ryml_nodes.parse(source)
    if nodes is None or not nodes.types:
        return None
    root = nodes.root
    if nodes.types[root] & _STREAM == _STREAM:
        root = nodes.first[root]
        if root == NONE or nodes.next[root] != NONE:  # no document, or several
            return None
    kind = nodes.types[root]
    if not kind & (_MAP | _SEQ) or kind & _VAL_FORBIDDEN:
        return None
    reader = _Reader(source, nodes)
    try:
        data, _, record = reader.collection(root, kind, (), 0, None)
    except (_Unsure, IndexError, UnicodeDecodeError):  # an offset ryml set that the text does not confirm
        return None
    return data, record, reader.plain_text
