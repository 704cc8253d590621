"""The apply journal: changes that really happened, durable before the state says so.

An apply writes a header, then one line per change once its provider has carried it out (a provider
that writes bulk files at the end is journaled once its files exist). On success the changes are
folded into a new state version and the journal is cleared. If the process dies in between, the next
command that takes the lock folds what the journal holds into a new version ("recovered"), so the
state always equals what was done and the next plan shows exactly what is left.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable

from .local import write_atomically


CHUNK = 1 << 20


def _write(fd: int | None, path: Path, chunk: list[bytes]) -> int:
    if fd is None:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    view = memoryview(b"".join(chunk))
    while view:
        view = view[os.write(fd, view):]
    return fd


class FileJournal:
    def __init__(self, path: Path) -> None:
        self.path = path

    def begin(self, header: dict) -> None:
        write_atomically(self.path, json.dumps({"header": header}).encode() + b"\n")

    def append(self, entries: Iterable[dict]) -> None:
        """Append the entries, written in chunks of about CHUNK bytes and made durable once at the end.

        entries may be a generator: the first apply of a large organisation journals every change at
        once, and joining all of their lines in one buffer cost more memory than the rest of the apply."""
        fd = None
        try:
            chunk: list[bytes] = []
            size = 0
            for entry in entries:
                line = json.dumps(entry, default=str).encode() + b"\n"
                chunk.append(line)
                size += len(line)
                if size >= CHUNK:
                    fd = _write(fd, self.path, chunk)
                    chunk, size = [], 0
            if chunk:
                fd = _write(fd, self.path, chunk)
            if fd is not None:
                os.fsync(fd)
        finally:
            if fd is not None:
                os.close(fd)

    def read(self) -> tuple[dict, list[dict]] | None:
        try:
            lines = self.path.read_bytes().split(b"\n")
        except FileNotFoundError:
            return None
        header, entries = None, []
        for raw in lines:
            if not raw.strip():
                continue
            try:
                item = json.loads(raw)
            except ValueError:
                break  # a line torn by a kill: nothing after it was made durable
            if header is None:
                header = item.get("header") if isinstance(item, dict) else None
                if header is None:
                    return None
            else:
                entries.append(item)
        return (header, entries) if header is not None else None

    def clear(self) -> None:
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
