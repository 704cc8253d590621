"""A forked helper that sends one answer back through a pipe (the state prefetch, notifications ahead)."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

from ..fs import write_all
from .spool import spool


class Child:
    def __init__(self, pid: int, fd: int) -> None:
        self.pid, self._fd = pid, fd
        self.open = True

    @classmethod
    def fork(cls, work: Callable[[], bytes], only_the_pipe: bool = False) -> Child:
        """A child running work(), whose bytes are its answer; it never returns here (exit code 0 when
        the answer was sent, 1 when work failed). only_the_pipe: the child closes every other descriptor
        it inherited first (above all the state's lock: if the parent died, the child's copy would keep
        it held)."""
        spool.flush()  # no thread of ours is running in the child
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                os.close(read_end)
                if only_the_pipe:
                    os.closerange(3, write_end)
                    os.closerange(write_end + 1, _max_fd())
                write_all(write_end, work())
                code = 0
            except BaseException:  # noqa: BLE001 - the parent does the work itself and reports any problem
                pass
            finally:
                os._exit(code)
        os.close(write_end)
        return cls(pid, read_end)

    def answer(self) -> bytes | None:
        """The child's answer once it has ended, or None when it failed (or was already collected)."""
        if not self.open:
            return None
        self.open = False
        chunks = []
        try:
            while chunk := os.read(self._fd, 1 << 20):
                chunks.append(chunk)
        finally:
            os.close(self._fd)
            _, status = os.waitpid(self.pid, 0)
        return b"".join(chunks) if os.waitstatus_to_exitcode(status) == 0 else None

    def stop(self) -> None:
        """Stop the child (if not collected yet) and reap it."""
        if not self.open:
            return
        self.open = False
        try:
            os.kill(self.pid, signal.SIGKILL)
        except OSError:
            pass
        os.close(self._fd)
        os.waitpid(self.pid, 0)


def _max_fd() -> int:
    try:
        return int(os.sysconf("SC_OPEN_MAX"))
    except (ValueError, OSError):
        return 65536
