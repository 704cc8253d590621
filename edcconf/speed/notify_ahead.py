"""Render an apply's notifications in a forked child while this process carries the apply out.

The messages of a first apply (one per person, each listing every form of every grant: 20,000 files at
N = 2,000) took about as long to render and write as the journal and the audit log together, on one core,
after the apply, while the machine's other core sat idle during it. They depend only on the changes, the
accounts they leave, the new serial, who approves and why, all known before the apply starts. So a child
renders them from the plan into a folder of its own beside the notifications folder, and the apply's
`_notify` uses that folder only if what was applied is exactly what the child rendered (every change of
the plan, in order, with the same accounts, serial, approver and reason); otherwise (a change failed, the
apply was interrupted, the child failed) the folder is removed and the messages are rendered as before.
Messages are still only put in place after the apply is committed. EDCCONF_WORKERS=1 (never fork), a
small plan or an SMTP server (messages are rendered again to be sent) turn it off.
"""

from __future__ import annotations

import marshal
import os
import shutil
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .parse_pool import may_fork
from .spool import spool

AHEAD_MIN_CHANGES = 2_000  # below this, rendering costs less than forking a large process


class NotificationsAhead:
    def __init__(self, pid: int, fd: int, filling: Path, key: tuple, accounts: Mapping[str, dict]) -> None:
        self._pid, self._fd, self._filling = pid, fd, filling
        self._key, self._accounts = key, accounts  # what the child renders from
        self._open = True

    @classmethod
    def start(
        cls,
        root: Path,
        changes: Sequence[Any],
        accounts: Mapping[str, dict],
        environment: str,
        serial: int,
        approved_by: str,
        reason: str | None,
    ) -> NotificationsAhead | None:
        """A child rendering the messages of these changes, or None when it is not worth one."""
        from ..apply.notify import filling_folder, notification_folder
        from ..mail import smtp_settings

        if len(changes) < AHEAD_MIN_CHANGES or not may_fork() or smtp_settings() is not None:
            return None
        folder = notification_folder(root, environment, serial)
        if folder.exists():
            return None
        parent = os.getpid()
        spool.flush()  # no thread of ours is running in the child
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            os.close(read_end)
            _child(root, list(changes), accounts, environment, serial, approved_by, reason, parent, write_end)
        os.close(write_end)
        key = (tuple(map(id, changes)), serial, approved_by, reason)
        return cls(pid, read_end, filling_folder(folder, pid), key, accounts)

    def take(
        self, applied: Sequence[Any], accounts: Mapping[str, dict], serial: int, approved_by: str, reason: str | None
    ) -> tuple[Path, list[str]] | None:
        """(the filled folder, the files it holds) when the child rendered exactly these messages;
        otherwise None, and nothing of the child's is left."""
        key = (tuple(map(id, applied)), serial, approved_by, reason)
        if not self._open or key != self._key or accounts != self._accounts:
            self.cancel()
            return None
        self._open = False
        chunks = []
        try:
            while chunk := os.read(self._fd, 1 << 20):
                chunks.append(chunk)
        finally:
            os.close(self._fd)
            _, status = os.waitpid(self._pid, 0)
        try:
            written = marshal.loads(b"".join(chunks)) if status == 0 else None
        except (EOFError, ValueError, TypeError):
            written = None
        if not isinstance(written, list):
            shutil.rmtree(self._filling, ignore_errors=True)
            return None
        return self._filling, written

    def cancel(self) -> None:
        """Stop the child (if still running) and remove what it wrote."""
        if self._open:
            self._open = False
            try:
                os.kill(self._pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.close(self._fd)
            os.waitpid(self._pid, 0)
        shutil.rmtree(self._filling, ignore_errors=True)


def _child(root, changes, accounts, environment, serial, approved_by, reason, parent: int, out: int) -> None:
    code = 1
    try:
        # nothing of the parent's but the pipe: above all not the state's lock, which an inherited
        # descriptor would keep held if the parent died first
        os.closerange(3, out)
        os.closerange(out + 1, _max_fd())
        try:
            os.nice(5)  # the apply itself comes first
        except OSError:
            pass
        from ..apply.notify import build_messages, fill, filling_folder, notification_folder

        folder = notification_folder(root, environment, serial)
        filling = filling_folder(folder)
        shutil.rmtree(filling, ignore_errors=True)
        filling.mkdir(parents=True)
        try:
            messages = build_messages(root, changes, accounts, environment, serial, approved_by, reason)
            written = fill(filling, folder, messages, going_on=lambda: os.getppid() == parent)
            data = memoryview(marshal.dumps(written))
            while data:
                data = data[os.write(out, data) :]
            code = 0
        except BaseException:
            shutil.rmtree(filling, ignore_errors=True)
            raise  # only to os._exit(1) below
    finally:
        os._exit(code)


def _max_fd() -> int:
    try:
        return int(os.sysconf("SC_OPEN_MAX"))
    except (ValueError, OSError):
        return 65536
