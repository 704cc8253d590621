"""Local state backend: `.edcconf/state/<env>.json` beside the configuration.

Writes are atomic (temporary file, fsync, rename, fsync of the directory) and keep the previous
version as `<env>.json.backup`; every command that writes takes an exclusive lock (flock on
`<env>.lock`, released by the kernel if the process dies) whose file names the holder and the lock's
generation.

Fencing: every write (state, history, audit, journal) first takes `<env>.fence`, a flock held only for
that write, and checks that the lock file still names this holder. force-unlock replaces the lock file
while holding the same flock, so a holder whose lock was forced open writes nothing more, even if it is
still running (paused, stuck on a slow disk, resumed on a suspended machine): its next write fails.

A version is committed (commit()) in an order that a kill at any moment leaves recoverable: the version
file under history/, a seal line in the apply's journal (what is being committed, and the digest of
that file), the audit entries, then the state file (the commit point), then the journal is cleared. The
next command that takes the lock finishes a sealed commit (finish_commit: the audit entries that are
missing, then the state file), so a state never exists without its audit entries, and none is written
twice. A missing state file with a backup or history beside it is an error, never a new lineage.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ..diagnostics import UserError
from ..fs import CHUNK, file_chunks, refuse_leaving, sha256_of, write_atomically
from ..rules import state as state_rules
from .journal import FileJournal
from .local_audit import LocalAudit
from .local_locks import LocalLocks
from .locking import LockInfo
from .record import STATE_FORMAT_VERSION, StateRecord


def json_text(raw: bytes) -> str:
    return raw.decode(json.detect_encoding(raw), "surrogatepass")  # what json.loads(bytes) does


def plain_decode(text: str, like: Mapping[str, Mapping] | None = None) -> object:
    """A state file's text as plain JSON data; `like` is for a decoder that shares values with it."""
    return json.loads(text)


_decode: Callable[..., object] = plain_decode


def use_decoder(decode: Callable[..., object] | None) -> None:
    """The hook edcconf.speed fills (a decoder that holds equal values once: the same values, less
    memory); None puts plain_decode back."""
    global _decode
    _decode = decode or plain_decode


# The start of a state file as StateRecord.to_json writes it (json.dumps keeps the dict's key order).
_HEADER = re.compile(rb'\{\s*"format_version":\s*(\d+),\s*"environment":\s*("(?:[^"\\]|\\.)*"),\s*"serial":\s*(\d+),')


_COMPACT = json.JSONEncoder(separators=(",", ":"))  # encode() is one-shot: CPython's C encoder
STREAM_DEPTH = 3  # record -> effective state -> section: below that, each entry is encoded whole


def json_chunks(value: object, tail: bytes = b"") -> Iterator[bytes]:
    """The bytes of json.dumps(value, separators=(",", ":")) + tail, in chunks of about CHUNK bytes.

    A state is written compact and streamed: the mappings of its first levels piece by piece, each value
    below them (a grant, a role, an account) in one call to the C encoder, so a state of 200,000 grants is
    neither one string in memory nor encoded by the pure-Python streaming encoder (several times slower)."""
    pending: list[str] = []
    size = 0
    for piece in _pieces(value, STREAM_DEPTH):
        pending.append(piece)
        size += len(piece)
        if size >= CHUNK:
            yield "".join(pending).encode()
            pending, size = [], 0
    yield "".join(pending).encode() + tail


def _pieces(value: object, depth: int) -> Iterator[str]:
    if depth and isinstance(value, dict) and value and all(isinstance(k, str) for k in value):
        sep = "{"
        for key, item in value.items():
            yield sep + _COMPACT.encode(key) + ":"
            yield from _pieces(item, depth - 1)
            sep = ","
        yield "}"
    else:
        yield _COMPACT.encode(value)


def read_state_file(path: Path) -> StateRecord:
    """A state file anywhere (a backup, a version, a copy kept elsewhere), checked as a state is."""
    try:
        data = _decode(json_text(Path(path).read_bytes()))
    except FileNotFoundError:
        raise UserError(f"{path} does not exist", code=state_rules.STATE_READ.code) from None
    except IsADirectoryError:
        raise UserError(f"{path} is a directory, not a state file", code=state_rules.STATE_READ.code) from None
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}", code=state_rules.STATE_READ.code) from None
    except ValueError as exc:
        raise UserError(f"{path} is not valid JSON ({exc})", code=state_rules.STATE_INVALID.code) from None
    return StateRecord.from_json(data, str(path))


class LocalBackend(LocalLocks, LocalAudit):
    name = "local"

    def __init__(self, root: Path, environment: str) -> None:
        self.environment = environment
        self.root = Path(root)
        self.dir = Path(root) / ".edcconf" / "state"
        self.path = self.dir / f"{environment}.json"
        self.backup_path = self.path.with_name(self.path.name + ".backup")
        self.audit_path = Path(root) / ".edcconf" / "audit" / f"{environment}.jsonl"
        self._lock_path = self.dir / f"{environment}.lock"
        self._fence_path = self.dir / f"{environment}.fence"
        self.history_dir = self.dir / "history" / environment
        self._held: LockInfo | None = None  # the lock this object holds, while it holds it
        self._fenced = 0  # depth of fenced() sections entered (they nest), by the thread in _section
        self._section = threading.RLock()  # one thread's write sections at a time; they nest within it

    @property
    def journal(self) -> FileJournal:
        return FileJournal(self.dir / f"{self.environment}.journal", self)

    def describe(self) -> str:
        return str(self.path)

    # -- reading -------------------------------------------------------------------------------------
    def read(self, like: Mapping[str, Any] | None = None, missing_ok: bool = False) -> StateRecord:
        """The state; values equal to those of the effective state `like` are shared with it. A missing
        file is serial 0 only when nothing shows that the environment had a state (missing_ok: always,
        for `state restore`)."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            if not missing_ok:
                self.refuse_lost_lineage()
            return StateRecord(self.environment)
        except OSError as exc:
            raise UserError(f"cannot read {self.path}: {exc.strerror}", code=state_rules.STATE_READ.code) from None
        try:
            text = json_text(raw)
            del raw  # never the bytes, the text and the decoded state all in memory at once
            data = _decode(text, like)
            del text
        except ValueError as exc:
            raise UserError(
                f"{self.path} is not valid JSON ({exc}); it may have been edited by hand. Restore the "
                f"previous version from {self.path}.backup (edcconf state restore --env "
                f"{self.environment})",
                code=state_rules.STATE_INVALID.code,
            ) from None
        return self.record_of(data)

    def record_of(self, data: object) -> StateRecord:
        """The record of this environment from the decoded file (here, or by speed/prefetch.py)."""
        record = StateRecord.from_json(data, str(self.path))
        if record.environment != self.environment:
            raise UserError(
                f"{self.path} holds the state of environment {record.environment!r}, not {self.environment!r}",
                code=state_rules.STATE_INVALID.code,
            )
        return record

    def stored_serial(self) -> int:
        """The serial of the stored state. Read from the start of the file when it has the layout edcconf
        writes (format_version, environment, serial first: decoding 200,000 grants to compare one number
        cost seconds and a few hundred MB inside every apply); otherwise (edited by hand, damaged) from a
        full read, which reports any problem as read() does. 0 when there is no file."""
        try:
            with open(self.path, "rb") as f:
                head = f.read(4096)
        except FileNotFoundError:
            return 0
        except OSError:
            return self.read().serial
        found = _HEADER.match(head)
        try:
            if found and int(found[1]) == STATE_FORMAT_VERSION and json.loads(found[2]) == self.environment:
                return int(found[3])
        except ValueError:
            pass
        return self.read().serial

    def history_serials(self) -> list[int]:
        """The serials of the version files under history/ (committed or not), in order."""
        if not self.history_dir.is_dir():
            return []
        return sorted(int(p.stem) for p in self.history_dir.glob("*.json") if p.stem.isdigit())

    def lineage_evidence(self) -> tuple[Path | None, list[int]]:
        """What shows that this environment has had a state: its backup, and the serials of its version
        files. The version file of a first apply that is committing (or was killed while committing, its
        journal still there) is not evidence: that state never existed."""
        backup = self.backup_path if self.backup_path.exists() else None
        serials = self.history_serials()
        if backup is None and serials == [1]:
            header = self.journal.header()
            if header is not None and not header.get("base_serial"):
                serials = []
        return backup, serials

    def refuse_lost_lineage(self) -> None:
        """Called when the state file is missing: an error if the environment had a state (a new lineage
        would start over it, and its first apply would overwrite history/…/000001.json)."""
        backup, serials = self.lineage_evidence()
        if backup is None and not serials:
            return
        found = []
        if serials:
            span = f"version {serials[0]}" if len(serials) == 1 else f"versions {serials[0]} to {serials[-1]}"
            found.append(f"{span} under {self.history_dir}")
        if backup is not None:
            found.append(f"the backup {backup}")
        newest = f" (serial {serials[-1]})" if serials else ""
        raise UserError(
            f"the state file {self.path} is missing, but {self.environment} has had a state ({' and '.join(found)}): "
            f"the file was deleted or moved, and edcconf will not start a new lineage over it. Restore the newest "
            f"version{newest} with `edcconf state restore --env {self.environment}`, or another one with "
            f"`--serial N` or `--from {backup or 'PATH'}`",
            code=state_rules.STATE_MISSING.code,
        )

    def newest_known(self) -> tuple[int, str | None]:
        """(serial, lineage) of the newest version this environment has had: the state file, or else the
        newest version file or the backup (what `state restore` numbers after)."""
        candidates = []
        serials = self.history_serials()
        for read in (
            lambda: self.read(missing_ok=True),
            lambda: self.version(serials[-1]) if serials else None,
            lambda: read_state_file(self.backup_path) if self.backup_path.exists() else None,
        ):
            try:
                found = read()
            except UserError:  # damaged: restore is how it gets mended
                continue
            if found is not None and found.exists:
                candidates.append((found.serial, found.lineage))
        return max(candidates, key=lambda c: c[0]) if candidates else (0, None)

    def default_restore_source(self) -> tuple[StateRecord, str]:
        """What `state restore` restores when not told: the newest version file, else the backup."""
        serials = self.history_serials()
        if serials:
            path = self.history_dir / f"{serials[-1]:06d}.json"
            return read_state_file(path), f"version {serials[-1]} ({path})"
        if self.backup_path.exists():
            return read_state_file(self.backup_path), f"the backup {self.backup_path}"
        raise UserError(
            f"there is nothing to restore the state of {self.environment} from: no version under "
            f"{self.history_dir} and no backup {self.backup_path}; give --from PATH",
            code=state_rules.NO_VERSION.code,
        )

    def history(self) -> list[dict]:
        """One entry per applied version, oldest first (without the effective state). A version file newer
        than the state was never committed."""
        current = self.read().serial
        return [self.version(serial).meta() for serial in self.history_serials() if serial <= current]

    def version(self, serial: int) -> StateRecord:
        path = self.history_dir / f"{serial:06d}.json"
        try:
            return StateRecord.from_json(_decode(json_text(path.read_bytes())), str(path))
        except FileNotFoundError:
            raise UserError(
                f"{self.environment} has no applied version {serial}", code=state_rules.NO_VERSION.code
            ) from None

    # -- writing -------------------------------------------------------------------------------------
    def refuse_links_out(self) -> None:
        """unsafe-path when the state (its file, backup, history, lock, fence, journal) or the audit log would
        be written through a symbolic link to outside the configuration directory (edcconf.fs). Checked when
        the lock is taken, so an apply is refused before it changes anything, and again by each writer."""

        for path in (
            self.path,
            self.backup_path,
            self._lock_path,
            self._fence_path,
            self.dir / f"{self.environment}.journal",
            self.history_dir,
        ):
            refuse_leaving(self.root, path, "write the state")
        refuse_leaving(self.root, self.audit_path, "write the audit log")

    def write(self, record: StateRecord, expected_serial: int) -> None:
        self.commit(record, expected_serial)

    def commit(
        self,
        record: StateRecord | None,
        expected_serial: int | None,
        audit: Iterable[dict] = (),
        seal: Mapping | None = None,
        restoring: bool = False,
        base_lineage: str | None = None,
    ) -> None:
        """Record a new version (record None: none) and its audit entries as one step.

        seal: the commit belongs to the apply whose journal is open. The seal (plain data from which that
        apply's audit entries can be made again from its journal) is journaled before anything refers to
        the new version, and the journal is cleared once the state is in place; a kill in between is
        finished by the next command (finish_commit). A version written outside an apply (state import,
        restore; base_lineage: the lineage of the state it replaces) gets a journal of its own, sealed with
        its audit entries. restoring: `state restore` may write over a missing state file that has history
        (anything else refuses: see refuse_lost_lineage), or, with expected_serial None, over a damaged one."""
        self.refuse_links_out()
        if seal is None and record is not None and self.journal.header() is None:
            own = str(uuid.uuid4())
            audit = [{**entry, "commit_id": own} for entry in audit]
            seal = {"base": {"lineage": record.lineage}, "tail": audit}
        else:
            own = None
        with self._writing():
            if expected_serial is not None or not restoring:
                current = self.stored_serial()
                if current != expected_serial:  # compare-and-swap: someone applied in between
                    raise UserError(
                        f"state of {self.environment} moved from serial {expected_serial} to {current} "
                        "while this apply ran; plan again",
                        code=state_rules.STATE_CONFLICT.code,
                    )
                if current == 0 and not restoring and not self.path.exists():
                    self.refuse_lost_lineage()
            if own is not None:
                self.journal.begin(
                    {
                        "id": own,
                        "base_serial": expected_serial,
                        "lineage": base_lineage,
                        "environment": self.environment,
                        "operation": "state write",
                    }
                )
            digest = self._write_version(record) if record is not None else None
            if seal is not None:
                self.journal.seal(
                    {**seal, "serial": record.serial if record is not None else None, "version_sha256": digest}
                )
            self.append_audit(audit)
            if record is not None:
                self._install(record.serial, damaged=restoring and expected_serial is None)
            if seal is not None:
                self.journal.clear()

    def _write_version(self, record: StateRecord) -> str:
        """Every version is kept (history); the main file is the commit point, written last. The JSON is
        streamed to the version file (never the whole text in memory) and its digest taken on the way."""
        digest = hashlib.sha256()

        def hashed(chunks: Iterable[bytes]) -> Iterator[bytes]:
            for chunk in chunks:
                digest.update(chunk)
                yield chunk

        version = self.history_dir / f"{record.serial:06d}.json"
        write_atomically(version, hashed(json_chunks(record.to_json(), tail=b"\n")))
        return digest.hexdigest()

    def _install(self, serial: int, damaged: bool = False) -> None:
        """The state file becomes the version file of serial (copied from it); the old one the backup (a
        damaged one is kept as <env>.json.damaged instead: the backup stays a state that can be restored).
        Copies, not hard links: a state file edited in place by hand must not change the history."""
        if self.path.exists():
            write_atomically(
                self.path.with_name(self.path.name + ".damaged") if damaged else self.backup_path,
                file_chunks(self.path),
            )
        write_atomically(self.path, file_chunks(self.history_dir / f"{serial:06d}.json"))

    def finish_commit(self, header: Mapping, seal: Mapping, audit: Callable[[], Iterable[dict]], note: dict) -> None:
        """Finish the commit that a journal's seal describes, whose process was killed in the middle:
        append the audit entries it had not written yet (audit() makes all of them again, in order) and
        `note` (saying what was finished), put its version in place if the state is still the one it
        started from, clear the journal."""
        apply_id = header.get("id")
        with self._writing():
            serial = seal.get("serial")
            current = self.stored_serial()
            install = serial is not None and current == (header.get("base_serial") or 0)
            if install:
                version = self.history_dir / f"{serial:06d}.json"
                if not version.exists() or sha256_of(version) != seal.get("version_sha256"):
                    raise UserError(
                        f"the journal of an interrupted apply ({self.journal.path}) was committing serial {serial}, "
                        f"but {version} is missing or not the file it wrote. Move the journal aside and check the "
                        f"state with `edcconf history --env {self.environment}`",
                        code=state_rules.STATE_INVALID.code,
                    )
            present = self._count_audit(apply_id)
            missing = list(itertools.islice(audit(), present, None))
            self.append_audit(
                missing
                + [{**note, "serial": serial, "audit_entries_completed": len(missing), "state_installed": install}]
            )
            if install and serial is not None:  # install implies a serial
                self._install(serial)
            self.journal.clear()

    def discard_journal(self, note: dict, entries: list[dict]) -> None:
        """A journal that cannot be folded (its apply started from another state than the one there is
        now): the audit log says so, and the journal is kept beside the state for a person to read."""
        with self._writing():
            kept = self.dir / f"{self.environment}.journal.discarded-{note.get('discarded_apply') or 'unknown'}"
            self.append_audit([{**note, "kept_as": str(kept)}])
            os.replace(self.journal.path, kept)
