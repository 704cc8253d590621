"""The apply journal: changes that really happened, durable before the state says so.

An apply writes a header (with the apply's id), then one line per change once its provider has carried
it out (a provider that writes bulk files at the end is journaled once its files exist). When the apply
commits, a *seal* line says what it is committing (the new serial, the digest of its version file, and
what its audit entries are made from); then the audit entries, the state, and the journal is cleared.
If the process dies in between, the next command that takes the lock either finishes the sealed commit
or, with no seal, folds what the journal holds into a new version ("recovered"), so the state always
equals what was done and the next plan shows exactly what is left. A journal is never cleared without
the audit log saying what became of it.

Every write goes through the backend's fence (see state/local.py): a holder whose lock was forced open
cannot write to the journal either.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
from collections.abc import Iterable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..diagnostics import UserError
from ..fs import CHUNK, write_all, write_atomically, write_lines, write_work_file
from ..resolve.effective import expand_grant
from ..rules.state import STATE_INVALID
from .jsonlines import JOURNAL_PATHS, LineEncoder

if TYPE_CHECKING:
    from .local import LocalBackend


class FileJournal:
    def __init__(self, path: Path, backend: LocalBackend | None = None) -> None:
        self.path = path
        self._backend = backend
        # role refs whose value a line of this journal already holds: later lines name the ref alone (a
        # first apply's 200,000 grants repeated their role's value, half of each line); read() fills it in
        self._roles: set[str] = set()

    def _writing(self) -> AbstractContextManager[object]:
        return self._backend.fenced() if self._backend is not None else contextlib.nullcontext()

    def begin(self, header: dict) -> None:
        with self._writing():
            write_atomically(self.path, json.dumps({"header": header}).encode() + b"\n")
            self._roles = set()

    def append(self, entries: Iterable[dict], prepared: PreparedLines | None = None) -> None:
        """Append the entries, written in chunks of about fs.CHUNK bytes and made durable once at the end;
        then the lines of `prepared` (see prepare), if given, which is used up.

        entries may be a generator: the first apply of a large organisation journals every change at
        once, and joining all of their lines in one buffer cost more memory than the rest of the apply."""
        with self._writing():
            known = set(self._roles)  # with prepared lines, their discard puts back the roles before them
            encode = LineEncoder(JOURNAL_PATHS).line  # form levels encoded once
            lines = map(encode, self._compact(entries, before_prepared=prepared is not None))
            try:
                first = next(lines, None)
                if first is None and prepared is None:
                    return  # nothing to journal: the file is not even opened
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
                try:
                    write_lines(fd, itertools.chain([] if first is None else [first], lines))
                    if prepared is not None:
                        with open(prepared.path, "rb") as ahead:
                            while chunk := ahead.read(CHUNK):
                                write_all(fd, chunk)
                    os.fsync(fd)
                finally:
                    os.close(fd)
                if prepared is not None:
                    prepared.appended = True
            except BaseException:
                self._roles = known  # a value in a line that may not be durable: later lines hold it again
                raise
            finally:
                if prepared is not None:
                    prepared.discard()

    def prepare(self, entries: Iterable[dict]) -> PreparedLines:
        """The lines append(entries) would write, encoded now into a file beside the journal, to be appended
        later after entries that name no role (append(first, prepared)). A first apply encodes its 200,000
        changes this way while another process writes the bulk files whose manifest comes first in the
        journal (edcconf.speed.finish_beside). The file is not part of the journal: a kill leaves it
        unread, and the next prepare writes over it."""
        spare = PreparedLines(self.prepared_files()[0], set(self._roles), self)
        try:
            write_work_file(spare.path, map(LineEncoder(JOURNAL_PATHS).line, self._compact(entries)))
        except BaseException:
            spare.discard()  # the roles its lines named are not journaled
            raise
        return spare

    def _compact(self, entries: Iterable[dict], before_prepared: bool = False) -> Iterable[dict]:
        """Each entry as journaled: a role's value only in the first line that names it, and a grant's
        expanded value left out when its compact value and role give it back exactly (read() does).
        before_prepared: the entries go before lines prepared already, which may name a role alone."""
        for entry in entries:
            role = entry.get("role") if isinstance(entry, dict) else None
            if before_prepared and role is not None:
                raise ValueError("entries journaled before prepared lines must name no role")
            if not (isinstance(role, list) and len(role) == 2 and isinstance(role[0], str)):
                yield entry
                continue
            rebuilt = "after" in entry and entry.get("stored") is not None
            rebuilt = rebuilt and _expanded(entry["stored"], role) == entry["after"]
            again = role[0] in self._roles
            self._roles.add(role[0])
            if rebuilt or again:
                entry = {k: v for k, v in entry.items() if not (rebuilt and k == "after")}
                if again:
                    entry["role"] = [role[0]]
            yield entry

    def seal(self, seal: dict) -> None:
        """The commit is under way: what it commits (see the module's docstring)."""
        self.append([{"seal": seal}])

    def header(self) -> dict | None:
        """The header alone (the first line), without reading the changes."""
        try:
            with open(self.path, "rb") as f:
                item = json.loads(f.readline())
        except (FileNotFoundError, ValueError):
            return None
        return item.get("header") if isinstance(item, dict) else None

    def read(self) -> tuple[dict, list[dict], dict | None] | None:
        """(header, changes, seal or None), or None when there is no journal (or no complete header)."""
        try:
            lines = self.path.read_bytes().split(b"\n")
        except FileNotFoundError:
            return None
        header, entries, seal = None, [], None
        roles: dict[str, object] = {}
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
            elif isinstance(item, dict) and set(item) == {"seal"}:
                seal = item["seal"]
                break
            else:
                entries.append(_with_role(item, roles, self.path))
        return (header, entries, seal) if header is not None else None

    def clear(self) -> None:
        with self._writing():
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass
            self._roles = set()
            for spare in self.prepared_files():  # what a killed apply made ahead (hundreds of MB at N = 2,000)
                with contextlib.suppress(OSError):
                    spare.unlink()

    def prepared_files(self) -> tuple[Path, Path]:
        """The files an apply makes ahead beside the journal: its lines (prepare), the audit lines' text
        (state.audit_lines, made by the backend). Neither is part of the state."""
        return self.path.with_name(self.path.name + ".prepared"), self.path.with_name(
            self.path.name + ".audit.prepared"
        )


class PreparedLines:
    """Journal lines encoded ahead into a file beside the journal (FileJournal.prepare)."""

    def __init__(self, path: Path, roles_before: set[str], journal: FileJournal) -> None:
        self.path, self.roles_before, self._journal = path, roles_before, journal
        self.appended = False

    def discard(self) -> None:
        """Remove the file; lines never appended leave the journal's roles as they were before them."""
        with contextlib.suppress(OSError):
            self.path.unlink()
        if not self.appended:
            self._journal._roles = set(self.roles_before)
            self.appended = True  # once


def _with_role(item: Any, roles: dict[str, object], path: Path) -> Any:
    """A journaled change whose role names its ref alone gets the value an earlier line holds."""
    role = item.get("role") if isinstance(item, dict) else None
    if not (isinstance(role, list) and role and isinstance(role[0], str)):
        return item
    if len(role) == 2:
        roles[role[0]] = role[1]
    elif len(role) == 1:
        if role[0] not in roles:  # an edited or damaged journal: never guess a role's rights
            raise UserError(
                f"cannot read {path}: a change names the role {role[0]}, which no earlier line holds; the "
                "journal is damaged (the state is untouched: look at the journal before removing it)",
                code=STATE_INVALID.code,
            )
        assert isinstance(item, dict)
        item["role"] = [role[0], roles[role[0]]]
    if "after" not in item and item.get("stored") is not None:  # left out: the same as its expansion
        item["after"] = _expanded(item["stored"], item["role"])
    return item


def _expanded(stored: Any, role: list) -> Any:
    """A grant's value as plans show it, from its compact value and its role (ref, value)."""
    return expand_grant({"roles": {role[0]: role[1]}}, stored) if isinstance(stored, dict) else None
