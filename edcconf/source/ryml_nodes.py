"""rapidyaml's parse of a text as flat lists, read from the tree's node array in one copy.

rapidyaml's Python binding (SWIG) has no locations and costs one to two microseconds a call, several
calls per node: more than PyYAML's whole path. Its tree is one C++ array of fixed-size node records,
though, and a scalar is a pointer into the buffer parsed in place, so this module copies the array
out and gives, per node: type bits, key and value as (offset in the buffer, length), first child and
next sibling. The record layout is not a public interface: it is checked at import against the
binding's own accessors on a document with every kind of node, and the fast reader is only offered
(available()) when every field agrees; a different rapidyaml simply means PyYAML reads everything.
"""

from __future__ import annotations

import ctypes
import os
from typing import Any

try:
    import ryml
except ImportError:  # the `fast` extra is not installed
    ryml = None

_WORDS = 18  # 64-bit words per node: type; key tag, text, anchor (pointer, length each); the same for
# the value; parent, first child, last child, next sibling, previous sibling
_TYPE, _KEY, _KEY_LEN, _VAL, _VAL_LEN, _FIRST, _NEXT = 0, 3, 4, 9, 10, 14, 16
NONE = 2**64 - 1  # ryml's "no node"


class Nodes:
    """One parse: per node id, its type bits, key and value offsets (-1: none) and lengths, first child
    and next sibling (NONE: none). text is the buffer after parsing: ryml rewrites filtered scalars
    (escapes, folded lines) in place, so the values are read from it, positions from the source."""

    __slots__ = ("types", "key", "key_len", "val", "val_len", "first", "next", "text", "root")

    def __init__(self, words: memoryview, base: int, text: bytes) -> None:
        self.types = words[_TYPE::_WORDS].tolist()
        self.key = [p - base if p else -1 for p in words[_KEY::_WORDS].tolist()]
        self.key_len = words[_KEY_LEN::_WORDS].tolist()
        self.val = [p - base if p else -1 for p in words[_VAL::_WORDS].tolist()]
        self.val_len = words[_VAL_LEN::_WORDS].tolist()
        self.first = words[_FIRST::_WORDS].tolist()
        self.next = words[_NEXT::_WORDS].tolist()
        self.text = text
        self.root = 0


def _words(tree: Any) -> memoryview | None:
    """The tree's node records as 64-bit words (a copy), or None when the tree header is not as expected."""
    header = (ctypes.c_uint64 * 3).from_address(int(tree.this))  # node array, capacity, size
    array, capacity, size = header[0], header[1], header[2]
    if not array or size != tree.size() or size > capacity:
        return None
    return memoryview(ctypes.string_at(array, size * _WORDS * 8)).cast("Q")


_fds: tuple[int, int] | None = None  # /dev/null, and a descriptor of ours that holds stderr during a parse


def _parse_quietly(buf: bytearray) -> Any:
    """ryml prints each error to stderr before raising; PyYAML's diagnostic is the one users see."""
    global _fds
    if _fds is None:
        try:
            _fds = (os.open(os.devnull, os.O_WRONLY), os.dup(2))
        except OSError:  # no stderr to protect (a daemon closed it), or no descriptor left
            _fds = (-1, -1)
    devnull, saved = _fds
    if devnull < 0:
        return ryml.parse_in_place(buf)
    os.dup2(2, saved, inheritable=False)  # whatever stderr is now (a test may have redirected it)
    os.dup2(devnull, 2)
    try:
        return ryml.parse_in_place(buf)
    finally:
        os.dup2(saved, 2)


def parse(source: bytes) -> Nodes | None:
    """The nodes of source, or None when ryml refuses it (PyYAML then says why)."""
    buf = bytearray(source)
    try:
        tree = _parse_quietly(buf)
    except Exception:  # noqa: BLE001 - any ryml complaint: PyYAML gives the diagnostic
        return None
    words = _words(tree)
    if words is None:
        return None
    base = ctypes.addressof((ctypes.c_char * len(buf)).from_buffer(buf)) if buf else 0
    nodes = Nodes(words, base, bytes(buf))
    nodes.root = tree.root_id()
    return nodes


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


def _address(view: memoryview) -> int:
    """The address of a memoryview's data, through the buffer API (only for the layout check)."""
    get = ctypes.pythonapi.PyObject_GetBuffer
    get.argtypes = [ctypes.py_object, ctypes.POINTER(_Py_buffer), ctypes.c_int]
    release = ctypes.pythonapi.PyBuffer_Release
    release.argtypes = [ctypes.POINTER(_Py_buffer)]
    buffer = _Py_buffer()
    get(view, ctypes.byref(buffer), 0)
    try:
        return buffer.buf or 0
    finally:
        release(ctypes.byref(buffer))


_SAMPLE = (
    b"plain: text\n'single': \"double\"\nempty:\nblock: |\n  lit\nfolded: >-\n  a\n  b\n"
    b"list:\n  - 1\n  - [x, {y: z}]\n  - - nested\nanchor: &a v\nalias: *a\ntagged: !t w\n"
    b"flow: {k: [1, 2], '': ''}\n"
)


def _layout_agrees() -> bool:
    """Whether the records read by _words say what the binding's accessors say, for every node and field."""
    buf = bytearray(_SAMPLE)
    tree = ryml.parse_in_place(buf)
    words = _words(tree)
    if words is None or tree.size() < 20:
        return False
    base = ctypes.addressof((ctypes.c_char * len(buf)).from_buffer(buf))
    nodes = Nodes(words, base, bytes(buf))
    for i in range(tree.size()):
        if (nodes.types[i], nodes.first[i], nodes.next[i]) != (tree.type(i), tree.first_child(i), tree.next_sibling(i)):
            return False
        for has, get, offsets, lengths in (
            (tree.has_key(i), tree.key, nodes.key, nodes.key_len),
            (tree.has_val(i), tree.val, nodes.val, nodes.val_len),
        ):
            view = get(i) if has else None
            if view is None:
                if has and offsets[i] != -1:
                    return False
            elif (offsets[i], lengths[i]) != (_address(view) - base, len(view)):
                return False
    return True


LAYOUT_OK = False
if ryml is not None:
    try:
        LAYOUT_OK = _layout_agrees()
    except Exception:  # noqa: BLE001 - an unexpected binding: PyYAML reads everything
        LAYOUT_OK = False
