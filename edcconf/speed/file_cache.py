"""A content-addressed cache of parsed and schema-checked files under `.edcconf/cache/`.

An entry is keyed by the file's path and bytes and by a digest of the code and schemas that produced
it, so it is never trusted across versions of edcconf; it holds plain data only (marshal of dicts,
lists, tuples, strings, numbers), is written atomically, and is safe to delete at any time. Set
EDCCONF_NO_CACHE=1 (or EDCCONF_SPEED=off) to bypass it. Reading or writing it never fails a command: a bad entry is a miss (but a cache directory
that leads through a symbolic link to outside the configuration directory is refused: cache_folder).
"""

from __future__ import annotations

import hashlib
import marshal
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from .. import __version__
from ..fs import refuse_leaving
from .spool import read_entry, spool, write_now

_DEPENDS_ON = (
    "source/yamlfile.py",
    "source/positions.py",
    "source/__init__.py",
    "validate/schema.py",
    "diagnostics.py",
    "speed/codec.py",  # the entries' shape
    "speed/parse_pool.py",
)


@lru_cache(maxsize=1)
def code_digest() -> str:
    """What cached results depend on: this version, the parser and schema code, the schemas."""
    h = hashlib.sha256(__version__.encode())
    package = Path(__file__).resolve().parents[1]
    for rel in _DEPENDS_ON:
        h.update((package / rel).read_bytes())
    for entry in sorted(resources.files("edcconf.schemas").iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".json"):
            h.update(entry.name.encode() + entry.read_bytes())
    return h.hexdigest()


def cache_folder(root: Path, *parts: str) -> Path:
    """`.edcconf/cache/<parts>`; unsafe-path when it leads through a symbolic link to outside the
    configuration directory (edcconf.fs): an entry read from elsewhere would be trusted as this repository's
    own, and one written there lands in another directory. Unlike a damaged entry, this fails the command."""

    return refuse_leaving(root, Path(root).joinpath(".edcconf", "cache", *parts), "read or write the cache")


class FileCache:
    def __init__(self, root: Path, checked: bool = False) -> None:
        """checked: the caller already made a FileCache of this root in this command (see cache_folder)."""
        self.dir = Path(root) / ".edcconf" / "cache" / "files" if checked else cache_folder(root, "files")

    def key(self, rel: str, raw: bytes) -> str:
        return hashlib.sha256(code_digest().encode() + rel.encode() + b"\0" + raw).hexdigest()

    def get(self, key: str) -> Any | None:
        return read_entry(self.dir / key[:2] / key)

    def put_marshalled_now(self, key: str, data: bytes) -> None:
        """Store an entry already marshalled, now, in this thread (a parse worker: speed.parse_pool);
        atomic, not durable: a lost entry is only a miss."""
        write_now(self.dir / key[:2] / key, data)

    def put(self, key: str, value: Any) -> None:
        try:
            data = marshal.dumps(value)
        except ValueError:
            return  # a cache that cannot be written is only slower
        self.put_marshalled_now(key, data)


class BlameCache:
    """source.blame's store under `.edcconf/cache/blame/`: one entry per commit checked out, holding each
    review file's answer under a digest of its path, bytes and that commit (source.blame.blame_files)."""

    def __init__(self) -> None:
        self._dirs: dict[Path, Path] = {}

    def _dir(self, root: Path) -> Path:
        if root not in self._dirs:  # checked once per command (cache_folder)
            self._dirs[root] = cache_folder(root, "blame")
        return self._dirs[root]

    def get(self, root: Path, key: str) -> Any | None:
        return read_entry(self._dir(root) / key[:2] / key)

    def put(self, root: Path, key: str, value: Any) -> None:
        try:
            data = marshal.dumps(value)
        except ValueError:
            return
        spool.write(self._dir(root) / key[:2] / key, data)
