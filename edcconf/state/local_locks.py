"""The local backend's lock and fence (a mixin of state.local.LocalBackend, which holds the paths).

The lock is a flock on `<env>.lock`, released by the kernel if the process dies, whose file names the
holder and the lock's generation. Every write first takes `<env>.fence`, a flock held only for that
write, and checks that the lock file still names this holder; force-unlock replaces the lock file while
holding the same flock, so a holder whose lock was forced open writes nothing more.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from ..diagnostics import UserError
from ..fs import write_atomically
from ..rules import state as state_rules
from . import oslock
from .locking import LockInfo, busy_error, lock_lost, named_holder

FENCE_WAIT = 10.0  # seconds a force-unlock (or a release) waits for a holder to finish the write it is in


class LocalLocks:
    environment: str
    dir: Path
    _lock_path: Path
    _fence_path: Path
    _held: LockInfo | None  # the lock this object holds, while it holds it
    _fenced: int  # depth of fenced() sections entered (they nest), by the thread in _section
    _section: threading.RLock

    if TYPE_CHECKING:  # the backend's own (and its audit mixin's)

        def refuse_links_out(self) -> None: ...

        def repair_audit(self) -> None: ...

    @contextlib.contextmanager
    def lock(self, operation: str, timeout: float = 0.0) -> Iterator[LockInfo]:
        if self._held is not None:
            raise RuntimeError(f"the lock on {self.environment} is already held by this backend")
        oslock.refuse_unsupported(self.environment)  # before anything is created
        self.refuse_links_out()  # every writer takes the lock first: refused before anything is written
        self.dir.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + timeout
        while True:
            fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                taken = oslock.try_lock(fd, self.environment)
            except BaseException:
                os.close(fd)
                raise
            if not taken:
                os.close(fd)
                if time.monotonic() >= deadline:
                    raise busy_error(self.environment, named_holder(self._holder), timeout) from None
                time.sleep(0.1)
                continue
            try:
                with self._mutex():
                    info = None
                    if self._is_lock_file(fd):  # else force-unlock replaced the file we opened: open again
                        info = LockInfo.mine(operation, self._generation(fd) + 1)
                        os.ftruncate(fd, 0)
                        os.pwrite(fd, json.dumps(info.to_json()).encode(), 0)
            except BaseException:
                os.close(fd)
                raise
            if info is not None:
                break
            os.close(fd)
        self._held = info
        try:
            self.repair_audit()
            yield info
        finally:
            self._held = None
            with contextlib.suppress(OSError, UserError):
                with self._mutex():
                    if self._is_lock_file(fd):  # not forced open: leave the generation for the next holder
                        os.ftruncate(fd, 0)
                        os.pwrite(fd, json.dumps({"generation": info.generation}).encode(), 0)
            oslock.unlock(fd)
            os.close(fd)

    @contextlib.contextmanager
    def fenced(self) -> Iterator[None]:
        """A write section: the lock is still this holder's (the lock file names it) and stays so until the
        section ends (force-unlock waits for it). Sections nest within a thread; another thread's section
        waits until this one ends (so it never rides on a fence check it did not make); without the lock,
        one is taken for it."""
        with self._section:
            if self._fenced:
                yield
                return
            if self._held is None:
                with self.lock("write"), self.fenced():
                    yield
                return
            with self._mutex():
                holder = self._holder()
                if holder is None or holder.id != self._held.id:
                    raise lock_lost(self.environment, self._held)
                self._fenced += 1
                try:
                    yield
                finally:
                    self._fenced -= 1

    _writing = fenced

    def check_fence(self) -> None:
        """Refuse (lock-lost) if this holder's lock was forced open: done before each change is carried out."""
        with self.fenced():
            pass

    @contextlib.contextmanager
    def _mutex(self, wait: float = FENCE_WAIT) -> Iterator[None]:
        fd = os.open(self._fence_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            deadline = time.monotonic() + wait
            while not oslock.try_lock(fd, self.environment):
                if time.monotonic() >= deadline:
                    holder = self._holder()
                    who = f" (pid {holder.pid} on {holder.host}, lock id {holder.id})" if holder else ""
                    raise UserError(
                        f"the state of {self.environment} is in the middle of a write by its lock "
                        f"holder{who}, which did not finish within {wait:g}s. If that process is "
                        "stuck, stop it, then try again",
                        code=state_rules.STATE_LOCKED.code,
                    ) from None
                time.sleep(0.005)
            yield
        finally:
            os.close(fd)  # releases the flock

    def _is_lock_file(self, fd: int) -> bool:
        try:
            st = os.stat(self._lock_path)
        except FileNotFoundError:
            return False
        mine = os.fstat(fd)
        return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)

    @staticmethod
    def _generation(fd: int) -> int:
        try:
            data = json.loads(os.pread(fd, 1 << 16, 0) or b"null")
            return int(data.get("generation") or 0) if isinstance(data, dict) else 0
        except (ValueError, TypeError):
            return 0

    def _holder(self) -> LockInfo | None:
        try:
            return LockInfo.from_json(json.loads(self._lock_path.read_text("utf-8") or "null"))
        except (OSError, ValueError):
            return None

    def force_unlock(self, lock_id: str) -> LockInfo | None:
        """Take the lock away from its holder, dead or alive: the lock file is replaced (a new generation,
        no holder), under the fence flock, so the old holder's next write fails. Returns the old holder."""
        self.refuse_links_out()  # it replaces the lock file
        holder = self._holder()
        if holder is None or holder.id != lock_id:
            return None
        with self._mutex():
            holder = self._holder()
            if holder is None or holder.id != lock_id:
                return None
            write_atomically(
                self._lock_path, json.dumps({"generation": holder.generation + 1, "forced_open": lock_id}).encode()
            )
        return holder
