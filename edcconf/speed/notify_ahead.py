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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .child import Child
from .parse_pool import may_fork

AHEAD_MIN_CHANGES = 2_000  # below this, rendering costs less than forking a large process


class NotificationsAhead:
    def __init__(self, child: Child, filling: Path, key: tuple, accounts: Mapping[str, dict]) -> None:
        self._child, self._pid, self._filling = child, child.pid, filling
        self._key, self._accounts = key, accounts  # what the child renders from

    @classmethod
    def start(
        cls,
        root: Path,
        changes: Sequence[Any],
        before: Mapping[str, Any],
        environment: str,
        serial: int,
        approved_by: str,
        reason: str | None,
    ) -> NotificationsAhead | None:
        """A child rendering the messages of these changes applied to the effective state `before`, or None
        when it is not worth one."""
        from ..apply.notify import filling_folder, notification_folder
        from ..mail import smtp_settings
        from ..state import fold

        if len(changes) < AHEAD_MIN_CHANGES or not may_fork() or smtp_settings() is not None:
            return None
        folder = notification_folder(root, environment, serial)
        if folder.exists():
            return None
        accounts = fold(before, changes).get("accounts", {})  # as the apply leaves them if it all succeeds
        parent = os.getpid()
        rendered = list(changes)
        child = Child.fork(
            lambda: _rendered(root, rendered, accounts, environment, serial, approved_by, reason, parent),
            dies_with_parent=True,  # a killed apply leaves no child filling a folder
        )
        key = (tuple(map(id, changes)), serial, approved_by, reason)
        return cls(child, filling_folder(folder, child.pid), key, accounts)

    def take(
        self, applied: Sequence[Any], accounts: Mapping[str, dict], serial: int, approved_by: str, reason: str | None
    ) -> tuple[Path, list[str]] | None:
        """(the filled folder, the files it holds) when the child rendered exactly these messages;
        otherwise None, and nothing of the child's is left."""
        key = (tuple(map(id, applied)), serial, approved_by, reason)
        if key != self._key or accounts != self._accounts:
            self.cancel()
            return None
        blob = self._child.answer()
        try:
            written = marshal.loads(blob) if blob is not None else None
        except (EOFError, ValueError, TypeError):
            written = None
        if not isinstance(written, list):
            shutil.rmtree(self._filling, ignore_errors=True)
            return None
        return self._filling, written

    def cancel(self) -> None:
        """Stop the child (if still running) and remove what it wrote."""
        self._child.stop()
        shutil.rmtree(self._filling, ignore_errors=True)


def _rendered(root, changes, accounts, environment, serial, approved_by, reason, parent: int) -> bytes:
    """In the child: the messages written into its folder; the list of files, marshalled."""
    try:
        os.nice(19)  # the apply itself comes first, and the bulk files child beside it
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
    except BaseException:
        shutil.rmtree(filling, ignore_errors=True)
        raise
    return marshal.dumps(written)
