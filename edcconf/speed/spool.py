"""Cache entries written by a background thread while the command goes on.

A full plan stores thousands of cache entries (the memo, the incremental planner's fragment per study
file and applied state per study), and creating a file costs about a millisecond on a virtual disk: a
second or more of a cold plan at N=2,000 spent waiting on the file system. The writes are queued here
and made by one thread, in order, while the command renders and prints; the system calls release the
interpreter lock, so they overlap the rest of the work.

Only for what may be lost: each write is atomic (temporary file, rename) but not durable. flush() waits
for everything queued and stops the thread; the CLI calls it before it exits (and atexit does, for other
callers), so an entry written by one command is there for the next. read_entry reads an entry back.
"""

from __future__ import annotations

import atexit
import contextlib
import marshal
import queue
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ..diagnostics import UserError
from ..fs import write_atomically

_STOP = object()


class Spool:
    def __init__(self) -> None:
        self._queue: queue.Queue | None = None
        self._thread: threading.Thread | None = None
        self._guard = threading.Lock()

    def write(self, path: Path, data: bytes | list[bytes]) -> None:
        """Replace path with data (bytes, or chunks written one after the other), soon; a failure is
        silent (the entry is a miss next time)."""
        self._put((path, data))

    def call(self, action: Callable[[], None]) -> None:
        """Run action after every write queued before it (e.g. pruning what those writes replaced)."""
        self._put(action)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything queued is written; the thread stops (a later write starts another).
        With a timeout, stop waiting then (the thread, a daemon, writes on until the process ends: what
        it has not written is a miss next time). True when everything was written."""
        with self._guard:
            thread, self._thread = self._thread, None
            if thread is None:
                return True
            assert self._queue is not None  # made with the thread
            self._queue.put(_STOP)
        thread.join(timeout)
        return not thread.is_alive()

    def _put(self, item) -> None:
        with self._guard:
            if self._thread is None:
                self._queue = queue.Queue()
                self._thread = threading.Thread(
                    target=self._run, args=(self._queue,), name="edcconf-spool", daemon=True
                )
                self._thread.start()
            assert self._queue is not None  # made with the thread
            self._queue.put(item)

    @staticmethod
    def _run(items: queue.Queue) -> None:
        while (item := items.get()) is not _STOP:
            try:
                if callable(item):
                    item()
                else:
                    write_now(*item)
            except Exception:  # noqa: BLE001 - a cache that cannot be written is only slower
                pass


def read_entry(path: Path, span: tuple[int, int] | None = None) -> Any | None:
    """A cache entry (marshal data) read back, or the value at span (offset, length) of a file of several;
    None when it is absent or damaged: a miss, never an error."""
    try:
        if span is None:
            return marshal.loads(path.read_bytes())
        offset, length = span
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read(length)
        return marshal.loads(data) if len(data) == length else None
    except (OSError, ValueError, EOFError, TypeError):
        return None


def write_now(path: Path, data: bytes | Iterable[bytes]) -> None:
    """What Spool.write does, in this thread: atomically, not durably (fs.write_atomically); a
    failure is silent (the entry is a miss next time)."""

    with contextlib.suppress(UserError, OSError):
        write_atomically(path, data, durable=False)


spool = Spool()
atexit.register(spool.flush)
