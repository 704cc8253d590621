"""The local backend's audit log: `.edcconf/audit/<env>.jsonl`, one JSON line per entry (a mixin of
state.local.LocalBackend, which holds the paths, the journal and the write sections it uses).

Entries are appended with a single write per chunk of whole lines on an O_APPEND descriptor; a torn last
line left by a kill is moved aside before anything is appended, so an entry is never glued to it.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..diagnostics import UserError
from ..fs import CHUNK, refuse_leaving, write_lines
from ..rules import state as state_rules
from .audit_lines import AuditStream, PreparedChanges, prepare_changes
from .journal import FileJournal
from .jsonlines import AUDIT_PATHS, LineEncoder
from .locking import actor


class LocalAudit:
    root: Path
    dir: Path
    audit_path: Path
    environment: str

    if TYPE_CHECKING:  # the backend's own (its lock mixin's write section)

        @property
        def journal(self) -> FileJournal: ...

        def _writing(self) -> AbstractContextManager[Any]: ...

    def append_audit(self, entries: Iterable[dict]) -> None:
        """One JSON line per entry, each a single write on an O_APPEND descriptor. A torn last line left by
        a kill is first moved aside (repair_audit), so an entry is never glued to it."""

        refuse_leaving(self.root, self.audit_path, "write the audit log")
        with self._writing():
            repaired = self._repair_audit_tail()
            prepared = entries.prepared if isinstance(entries, AuditStream) else None
            # each role's form levels encoded once (a first apply has a line per grant)
            encode = LineEncoder(AUDIT_PATHS, sort_keys=True).line
            lines: Iterator[bytes]
            if prepared is not None:  # the changes' lines from their text made ahead, then the outcome
                assert isinstance(entries, AuditStream)
                lines = itertools.chain(prepared.lines(entries.base), map(encode, entries.tail))
            else:
                lines = map(encode, entries)
            try:
                first = next(lines, None)
                if first is None and repaired is None:
                    return
                self.audit_path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.audit_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    head = [encode(e) for e in (repaired,) if e is not None] + ([first] if first is not None else [])
                    write_lines(fd, itertools.chain(head, lines))
                    os.fsync(fd)
                finally:
                    os.close(fd)
            except OSError as exc:
                raise UserError(
                    f"cannot write the audit log {self.audit_path}: {exc.strerror or exc}",
                    code=state_rules.AUDIT_WRITE.code,
                ) from None
            finally:
                if prepared is not None:
                    prepared.discard()

    def prepare_audit(self, changes: Iterable[dict]) -> PreparedChanges:
        """The audit lines' text of these changes made now, for an AuditStream of them (audit_lines)."""
        refuse_leaving(self.root, self.dir, "write the state")
        return prepare_changes(self.journal.prepared_files()[1], changes)

    def repair_audit(self) -> None:
        """Move a torn last line of the audit log aside now (each command that takes the lock does)."""
        self.append_audit(())

    def _repair_audit_tail(self) -> dict | None:
        """If the audit log does not end with a newline, its last line was torn by a kill: the torn bytes
        are appended to <env>.jsonl.torn (durably), cut from the log, and an entry says so."""
        try:
            fd = os.open(self.audit_path, os.O_RDWR)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise UserError(
                f"cannot open the audit log {self.audit_path}: {exc.strerror or exc}", code=state_rules.AUDIT_WRITE.code
            ) from None
        try:
            size = os.fstat(fd).st_size
            if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
                return None
            end, cut = size, 0
            while end > 0:
                start = max(0, end - CHUNK)
                newline = os.pread(fd, end - start, start).rfind(b"\n")
                if newline >= 0:
                    cut = start + newline + 1
                    break
                end = start
            torn = os.pread(fd, size - cut, cut)
            quarantine = self.audit_path.with_name(self.audit_path.name + ".torn")
            qfd = os.open(quarantine, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(qfd, torn + b"\n")
                os.fsync(qfd)
            finally:
                os.close(qfd)
            os.ftruncate(fd, cut)
            os.fsync(fd)
        except OSError as exc:
            raise UserError(
                f"cannot repair the torn last line of the audit log {self.audit_path}: {exc.strerror or exc}",
                code=state_rules.AUDIT_WRITE.code,
            ) from None
        finally:
            os.close(fd)

        return {
            "event": "audit-repaired",
            "environment": self.environment,
            "actor": actor(),
            "time": datetime.now(UTC).isoformat(timespec="seconds"),
            "torn_bytes": len(torn),
            "moved_to": str(quarantine),
            "note": "the last line of the audit log was torn by an interrupted write; its bytes were moved aside",
        }

    def read_audit(self, event: str | None = None) -> list[dict]:
        """Every entry (only those of `event`, if given: a line is parsed only if it names the event, so a
        log of a few hundred thousand changes is not held to find a few entries). A torn last line (a kill
        in the middle of a write, not yet repaired) is left out. Read line by line."""
        needle = json.dumps(event).encode() if event is not None else None
        out = []
        try:
            with open(self.audit_path, "rb") as f:
                for number, line in enumerate(f, 1):
                    if not line.endswith(b"\n"):
                        break  # a torn tail
                    if not line.strip() or (needle is not None and needle not in line):
                        continue
                    try:
                        entry = json.loads(line)
                    except ValueError:
                        raise UserError(
                            f"{self.audit_path}:{number} is not an audit entry (not one JSON object); the "
                            "log was edited or damaged",
                            code=state_rules.AUDIT_INVALID.code,
                        ) from None
                    if event is None or (isinstance(entry, dict) and entry.get("event") == event):
                        out.append(entry)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise UserError(
                f"cannot read the audit log {self.audit_path}: {exc.strerror}", code=state_rules.AUDIT_READ.code
            ) from None
        return out

    def _count_audit(self, apply_id: str | None) -> int:
        """How many entries of the apply (or other commit) apply_id the audit log holds (lines are looked
        at only if they contain the id)."""
        if not apply_id:
            return 0
        needle = apply_id.encode()
        count = 0
        try:
            with open(self.audit_path, "rb") as f:
                for line in f:
                    if needle in line and line.endswith(b"\n"):
                        try:
                            entry = json.loads(line)
                            count += apply_id in (entry.get("apply_id"), entry.get("commit_id"))
                        except (ValueError, AttributeError):
                            pass
        except FileNotFoundError:
            return 0
        return count
