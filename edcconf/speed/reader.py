"""The reader edcconf.speed gives load_sources: each file from the file cache when it holds the file's
bytes, the others parsed (and schema-checked) on every core when there are many (parse_pool), and the
new entries stored. The parsed files are exactly the ones source.PLAIN makes (the entries' round trip
is marshal's: type-exact)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ..diagnostics import Diagnostic
from ..source import PLAIN, Check, Reader
from ..source.yamlfile import ParsedFile


class FastReader(Reader):
    def read(
        self, root: Path, files: list[tuple[str, bytes]], check: Check | None
    ) -> Iterator[tuple[ParsedFile | None, list[Diagnostic]]]:
        from . import cache_enabled, enabled

        if not enabled():  # switched off since this reader was installed: exactly the plain path
            return PLAIN.read(root, files, check)
        from .file_cache import FileCache

        # made now, not on the first result: a cache folder leading out of the configuration fails the command
        cache = FileCache(root) if cache_enabled() else None
        return self._read(cache, files, check)

    @staticmethod
    def _read(cache, files, check) -> Iterator[tuple[ParsedFile | None, list[Diagnostic]]]:
        from .codec import from_entry
        from .parse_pool import parse_all

        found: list[tuple[ParsedFile | None, list[Diagnostic]] | None] = []
        misses = []
        for rel, raw in files:
            key = cache.key(rel, raw) if cache is not None else None
            entry = cache.get(key) if cache is not None and key is not None else None
            if entry is not None:
                found.append(from_entry(rel, key, entry))
            else:
                found.append(None)
                misses.append((rel, raw, key))
        parsed_now = parse_all(misses, check, cache)
        try:
            for result in found:
                yield result if result is not None else next(parsed_now)
        finally:
            parsed_now.close()  # lets the workers go

    def checked(self, root: Path, parsed: ParsedFile, diagnostics: list[Diagnostic]) -> None:
        """Store the schema stage's verdict (and the text it restored) beside the parse result."""
        from . import cache_enabled

        if parsed.cache_key and parsed.checked is None and cache_enabled():
            from .codec import to_entry
            from .file_cache import FileCache

            FileCache(root, checked=True).put(parsed.cache_key, to_entry(parsed, [], diagnostics))
