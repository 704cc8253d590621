"""A forked helper that sends one answer back through a pipe (the state prefetch, notifications ahead):
one block of bytes, or a sequence of frames the parent can take one at a time."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Generator, Iterable

from ..fs import write_all
from .spool import spool

_LENGTH = 8  # each frame: its length, 8 bytes little-endian, then its bytes


class ChildFailed(Exception):
    """The child stopped before its last frame was sent (it failed, or was killed)."""


class Child:
    def __init__(self, pid: int, fd: int) -> None:
        self.pid, self._fd = pid, fd
        self.open = True

    @classmethod
    def fork(
        cls, work: Callable[[], bytes | Iterable[bytes]], only_the_pipe: bool = False, dies_with_parent: bool = False
    ) -> Child:
        """A child running work(), whose bytes are its answer (take it with answer()), or whose frames are
        (take them with frames()); it never returns here (exit code 0 when all was sent, 1 when work
        failed). only_the_pipe: the child closes every other descriptor
        it inherited first (above all the state's lock: if the parent died, the child's copy would keep
        it held). dies_with_parent: the child is killed when this process ends (Linux; elsewhere it goes
        on until its work is done): one that writes files must not outlive a killed command."""
        spool.flush()  # no thread of ours is running in the child
        read_end, write_end = os.pipe()
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                if dies_with_parent:
                    _die_with(parent)
                os.close(read_end)
                if only_the_pipe:
                    os.closerange(3, write_end)
                    os.closerange(write_end + 1, _max_fd())
                answer = work()
                if isinstance(answer, bytes):
                    write_all(write_end, answer)
                else:
                    for frame in answer:
                        write_all(write_end, len(frame).to_bytes(_LENGTH, "little"))
                        write_all(write_end, frame)
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

    def frames(self) -> Generator[bytes, None, None]:
        """The child's frames as it sends them: a large answer is never held whole (the state prefetch
        decodes each frame and drops it before the next). Raises ChildFailed after a partial answer;
        a consumer that stops early closes the generator, which stops the child."""
        if not self.open:
            raise ChildFailed
        self.open = False
        complete = False
        stream = os.fdopen(self._fd, "rb", buffering=1 << 20)
        try:
            while header := stream.read(_LENGTH):
                size = int.from_bytes(header, "little") if len(header) == _LENGTH else -1
                frame = stream.read(size) if size >= 0 else b""
                if size < 0 or len(frame) != size:
                    raise ChildFailed  # a torn frame: the child died while sending
                yield frame
            complete = True
        finally:
            if not complete:  # it may be blocked writing: it would never end on its own
                try:
                    os.kill(self.pid, signal.SIGKILL)
                except OSError:
                    pass
            stream.close()
            _, status = os.waitpid(self.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise ChildFailed

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


def _die_with(parent: int) -> None:
    """Be killed when the parent ends (Linux: PR_SET_PDEATHSIG); stop now if it has already."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:
        os._exit(1)


def _max_fd() -> int:
    try:
        return int(os.sysconf("SC_OPEN_MAX"))
    except (ValueError, OSError):
        return 65536
