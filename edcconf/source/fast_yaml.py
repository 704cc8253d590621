"""A faster reading of a YAML file with rapidyaml (`ryml`), giving exactly what yamlfile's PyYAML path gives.

rapidyaml's Python binding exposes no node locations (no parser options, no location lookup). It does give
each scalar as a memoryview into the buffer it parsed in place, so a scalar's byte offset in the file is
its address minus the buffer's; containers are placed from their first child and the characters around it,
the way libyaml's marks place them (a block mapping at its first key, a block sequence at its first `-`, a
flow collection at its bracket, an empty value just after its `:`).

Only what can be read exactly is read here: anything else (tags, anchors, aliases, merge keys, duplicate
keys, tabs, unusual characters or line breaks, directives, several documents, empty sequence items, a
position the text around a node does not confirm, any ryml error) returns None, and the caller reads the
file with PyYAML, which gives the value or the diagnostic. The fast path never decides an error itself.
"""

from __future__ import annotations

import ctypes
import os
import re
import sys
from typing import Any

from .positions import make_record

try:
    import ryml
except ImportError:  # the `fast` extra is not installed: yamlfile reads with PyYAML
    ryml = None

MAX_DEPTH = 64  # yamlfile.MAX_DEPTH (deeper files go to PyYAML for its message)

# Anything libyaml refuses or counts differently: control characters, NEL/LS/PS line breaks, a BOM or
# non-characters inside the text, a lone CR, tabs (their rules differ between the two parsers), and
# directives, tags, anchors and aliases (ryml reports the last three too; this skips the parse).
_UNSURE = re.compile(
    "[^\n\r\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]|\r(?!\n)|^%"
    r"|(?:^|[\s\[{,])[!&*?]|<<",
    re.M,
)


_INDICATORS = frozenset(bytes([c]) for c in b"[]{},#&*!|>'\"%@`")
_FLOW_INDICATORS = re.compile(r"[\[\]{},]")
_ITEM_BLOCK_HEADER = re.compile(rb" *(?:- +)+([|>])[-+0-9]*(?: +#[^\n]*)?\r?\Z")
_SQUO_REST = re.compile(rb"(?:[^']|'')*'")  # from just after an opening quote to past the closing one
_DQUO_REST = re.compile(rb'(?:[^"\\]|\\.)*"', re.S)


class _Py_buffer(ctypes.Structure):
    _fields_ = [
        ("buf", ctypes.c_void_p),
        ("obj", ctypes.py_object),
        ("len", ctypes.c_ssize_t),
        ("itemsize", ctypes.c_ssize_t),
        ("readonly", ctypes.c_int),
        ("ndim", ctypes.c_int),
        ("format", ctypes.c_char_p),
        ("shape", ctypes.c_void_p),
        ("strides", ctypes.c_void_p),
        ("suboffsets", ctypes.c_void_p),
        ("internal", ctypes.c_void_p),
    ]


_get_buffer = ctypes.pythonapi.PyObject_GetBuffer
_get_buffer.argtypes = [ctypes.py_object, ctypes.POINTER(_Py_buffer), ctypes.c_int]
_release_buffer = ctypes.pythonapi.PyBuffer_Release
_release_buffer.argtypes = [ctypes.POINTER(_Py_buffer)]


def _address_by_api(view: memoryview) -> int:
    buffer = _Py_buffer()
    _get_buffer(view, ctypes.byref(buffer), 0)
    try:
        return buffer.buf or 0
    finally:
        _release_buffer(ctypes.byref(buffer))


def _direct_reader(offset: int) -> Any:
    read = ctypes.c_void_p.from_address

    def address(view: memoryview) -> int:
        return read(id(view) + offset).value or 0

    return address


def _calibrate() -> Any:
    """The offset of a memoryview's data pointer inside the object, checked against the buffer API on a
    few views: reading it directly is eight times cheaper than PyObject_GetBuffer (a call per scalar)."""
    data = bytearray(b"0123456789abcdef")
    views = [memoryview(data)[i : i + 2] for i in (1, 5, 9)]
    size = sys.getsizeof(views[0])  # only ever read inside the object
    for offset in range(16, size - 7, 8):
        if all(ctypes.c_void_p.from_address(id(v) + offset).value == _address_by_api(v) for v in views):
            return _direct_reader(offset)
    return _address_by_api


_address = _calibrate()


class _Unsure(Exception):
    """Something this reader cannot place or value exactly: PyYAML reads the file."""


class _Reader:
    def __init__(self, source: bytes, buf: bytearray, tree: Any) -> None:
        # ryml filters scalars in place (folding, escapes) so buf changes; source is the text as written
        self.buf, self.tree = source, tree
        self.base = ctypes.addressof((ctypes.c_char * len(buf)).from_buffer(buf))
        self.ascii = source.isascii()
        self.plain_text: dict = {}
        from .yamlfile import resolve_plain_scalar  # yamlfile imports this module

        self.resolve = resolve_plain_scalar
        self._off, self._line, self._start = 0, 1, 0  # last offset placed, its line and line start

    def offset(self, view: memoryview) -> int:
        off = _address(view) - self.base
        if not 0 <= off < len(self.buf):  # a scalar ryml built elsewhere (in its arena)
            raise _Unsure
        return off

    def pos(self, off: int) -> tuple[int, int]:
        """1-based (line, column in characters) of a byte offset, as libyaml counts them."""
        buf = self.buf
        if off >= self._off:
            self._line += buf.count(b"\n", self._off, off)
        else:
            self._line -= buf.count(b"\n", off, self._off)
        self._off = off
        self._start = start = buf.rfind(b"\n", 0, off) + 1
        if self.ascii:
            return self._line, off - start + 1
        return self._line, len(buf[start:off].decode("utf-8")) + 1

    def before(self, off: int, expected: bytes) -> int:
        """The offset of `expected` just before off, with only spaces between (on the same line)."""
        i = off - 1
        while i >= 0 and self.buf[i] == 0x20:
            i -= 1
        if i < 0 or self.buf[i : i + 1] != expected:
            raise _Unsure
        return i

    def after(self, off: int, expected: bytes) -> int:
        """The offset of `expected` at or after off, with only spaces between (on the same line)."""
        i, buf = off, self.buf
        while i < len(buf) and buf[i] == 0x20:
            i += 1
        if buf[i : i + 1] != expected:
            raise _Unsure
        return i

    def plain_ok(self, text: str, start: int, flow: bool) -> bool:
        """Whether libyaml surely reads this plain scalar as ryml did: ryml lets some through that
        libyaml refuses or splits (an indicator first, `: ` or ` #` inside, flow indicators in a flow)."""
        first = self.buf[start : start + 1]
        if first in _INDICATORS or (first in b"-?:" and self.buf[start + 1 : start + 2] in (b" ", b"\n", b"\r", b"")):
            return False
        if ": " in text or " #" in text or text.endswith(":") or "\n" in text:
            return False
        return not (flow and _FLOW_INDICATORS.search(text))

    def key(self, node: int, flow: bool) -> tuple[str, int, int]:
        """The key's text, its offset as libyaml marks it (a quote included) and the offset just past it."""
        tree = self.tree
        if tree.has_key_tag(node) or tree.has_key_anchor(node) or tree.is_key_ref(node):
            raise _Unsure
        view = tree.key(node)
        if view is None or not len(view):
            raise _Unsure
        start = self.offset(view)
        text = str(view, "utf-8")
        if tree.is_key_plain(node):
            if text == "<<" or not self.plain_ok(text, start, flow):
                raise _Unsure
            return text, start, start + len(view)
        if tree.is_key_squo(node) or tree.is_key_dquo(node):
            squo = tree.is_key_squo(node)
            if self.buf[start - 1 : start] != (b"'" if squo else b'"'):
                raise _Unsure
            # the text ryml gives is filtered (`''`, escapes): the closing quote is found in the source
            end = (_SQUO_REST if squo else _DQUO_REST).match(self.buf, start)
            if end is None:
                raise _Unsure
            return text, start - 1, end.end()
        raise _Unsure  # block-scalar keys and the like

    def value(self, node: int, path: tuple, depth: int, key_end: int | None, flow: bool) -> tuple[Any, int, Any]:
        """The node's value, its offset, and its positions record when it is a collection. key_end is
        the offset past the key when the node is a mapping value (for empty values and block scalars);
        flow tells whether the node's parent is a flow collection."""
        tree = self.tree
        if depth > MAX_DEPTH or tree.has_val_tag(node) or tree.has_val_anchor(node) or tree.is_val_ref(node):
            raise _Unsure
        if tree.is_map(node) or tree.is_seq(node):
            return self.collection(node, path, depth, key_end)
        view = tree.val(node)
        if view is None or not len(view):
            if view is not None and (tree.is_val_squo(node) or tree.is_val_dquo(node)):
                start = self.offset(view)  # '' or "": ryml points between the quotes
                if self.buf[start - 1 : start + 1] not in (b"''", b'""'):
                    raise _Unsure
                return "", start - 1, None
            if key_end is None or flow or view is not None:
                raise _Unsure  # libyaml places an empty list item after its `-`, a flow one at the next token
            return None, self.after(key_end, b":") + 1, None
        start = self.offset(view)
        if tree.is_val_plain(node):
            text = str(view, "utf-8")
            if not self.plain_ok(text, start, flow):
                raise _Unsure
            value = self.resolve(text)
            if value is not None and not isinstance(value, str):
                self.plain_text[path] = text
            return value, start, None
        if tree.is_val_squo(node) or tree.is_val_dquo(node):
            quote = b"'" if tree.is_val_squo(node) else b'"'
            if self.buf[start - 1 : start] != quote:
                raise _Unsure
            return str(view, "utf-8"), start - 1, None
        if tree.is_val_literal(node) or tree.is_val_folded(node):
            return str(view, "utf-8"), self.block_indicator(start, key_end), None
        raise _Unsure

    def block_indicator(self, start: int, key_end: int | None) -> int:
        """Where libyaml places a block scalar: its `|` or `>`. ryml's text starts on the line after it."""
        if key_end is not None:
            indicator = self.after(key_end, b":") + 1
            while self.buf[indicator : indicator + 1] == b" ":
                indicator += 1
            if self.buf[indicator : indicator + 1] not in (b"|", b">"):
                raise _Unsure
            return indicator
        if self.buf[start - 1 : start] != b"\n":
            raise _Unsure
        line_start = self.buf.rfind(b"\n", 0, start - 1) + 1
        header = _ITEM_BLOCK_HEADER.match(self.buf, line_start, start - 1)  # `- |`, `- - >-  # note`
        if header is None:
            raise _Unsure
        return header.start(1)

    def collection(self, node: int, path: tuple, depth: int, key_end: int | None) -> tuple[Any, int, Any]:
        tree = self.tree
        is_map = tree.is_map(node)
        flow = tree.is_flow(node)
        if not flow and not tree.is_block(node):
            raise _Unsure
        entries = []
        items: Any = {} if is_map else []
        child = tree.first_child(node)
        while child != ryml.NONE:
            if is_map:
                key, key_off, end = self.key(child, flow)
                if key in items:
                    raise _Unsure  # PyYAML names the duplicate
                value, value_off, record = self.value(child, path + (key,), depth + 1, end, flow)
                items[key] = value
                entries.append((*self.pos(value_off), *self.pos(key_off), record))
            else:
                value, value_off, record = self.value(child, path + (len(items),), depth + 1, None, flow)
                items.append(value)
                entries.append((*self.pos(value_off), 0, 0, record))
            if len(entries) == 1:
                first = key_off if is_map else value_off
            child = tree.next_sibling(child)
        if not entries:
            if not flow or key_end is None:
                raise _Unsure
            where = self.after(self.after(key_end, b":") + 1, b"{" if is_map else b"[")
        elif flow:
            where = self.before(first, b"{" if is_map else b"[")
        else:
            where = first if is_map else self.before(first, b"-")
        line, col = self.pos(where)
        keys = tuple(items) if is_map else None
        return items, where, make_record(line, col, keys, entries)


_devnull: int | None = None


def _parse_quietly(buf: bytearray) -> Any:
    """ryml prints each error to stderr before raising; PyYAML's diagnostic is the one users see."""
    global _devnull
    if _devnull is None:
        _devnull = os.open(os.devnull, os.O_WRONLY)
    saved = os.dup(2)
    os.dup2(_devnull, 2)
    try:
        return ryml.parse_in_place(buf)
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def available() -> bool:
    return ryml is not None


def read(text: str) -> tuple[Any, Any, dict] | None:
    """(data, positions record, plain_text) of a file's text (BOM removed) that parses as exactly one
    document holding a mapping or a list; None when PyYAML must read it (see the module's docstring)."""
    if ryml is None or "\t" in text or _UNSURE.search(text):
        return None
    source = text.encode("utf-8")
    buf = bytearray(source)
    try:
        tree = _parse_quietly(buf)
    except Exception:  # noqa: BLE001 - any ryml complaint: PyYAML gives the diagnostic
        return None
    root = tree.root_id()
    if tree.is_stream(root):
        docs = tree.num_children(root)
        if docs != 1:
            return None
        root = tree.first_child(root)
    if not (tree.is_map(root) or tree.is_seq(root)) or tree.has_val_tag(root) or tree.has_val_anchor(root):
        return None
    if b"\n..." in source or source.startswith(b"..."):  # document end markers: leave them to PyYAML
        return None
    reader = _Reader(source, buf, tree)
    try:
        data, _, record = reader.collection(root, (), 0, None)
    except _Unsure:
        return None
    return data, record, reader.plain_text
