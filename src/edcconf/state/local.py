"""Local state backend: `.edcconf/state/<env>.json` beside the configuration.

Writes are atomic (temporary file, fsync, rename, fsync of the directory) and keep the previous
version as `<env>.json.backup`; every command that writes takes an exclusive lock (flock on
`<env>.lock`, released by the kernel if the process dies) whose file names the holder.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import time
from pathlib import Path
from typing import Iterable, Iterator, Mapping

from ..diagnostics import UserError
from .decode import json_text, loads_shared
from .record import STATE_FORMAT_VERSION, StateRecord
from .locking import LockInfo, busy_error, named_holder


def write_atomically(path: Path, data: bytes | Iterable[bytes], durable: bool = True) -> None:
    """Replace path with data so that a reader (or a crash) sees the old or the new file, never half.

    data may be an iterable of chunks (written as they come: a state of 200,000 grants need not be one
    string in memory). durable=False skips the fsyncs: still atomic, for outputs that can be written
    again (reports, bulk files, notifications), never for state, history, journal or audit."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            for chunk in ((data,) if isinstance(data, (bytes, bytearray, memoryview)) else data):
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view):]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        if durable:
            dir_fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise UserError(f"cannot write {path}: {exc.strerror or exc}; the previous state is untouched",
                        code="state-write") from None
    except BaseException:  # e.g. a chunk that could not be made: no temporary file left behind
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


CHUNK = 1 << 20
# The start of a state file as StateRecord.to_json writes it (json.dumps keeps the dict's key order).
_HEADER = re.compile(rb'\{\s*"format_version":\s*(\d+),\s*"environment":\s*("(?:[^"\\]|\\.)*"),\s*"serial":\s*(\d+),')


def json_chunks(value: object, indent: int | None = None, tail: bytes = b"") -> Iterator[bytes]:
    """The bytes of json.dumps(value, indent=indent) + tail, in chunks of about CHUNK bytes."""
    pending: list[str] = []
    size = 0
    for piece in json.JSONEncoder(indent=indent).iterencode(value):
        pending.append(piece)
        size += len(piece)
        if size >= CHUNK:
            yield "".join(pending).encode()
            pending, size = [], 0
    yield "".join(pending).encode() + tail


def file_chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            yield chunk


class LocalBackend:
    name = "local"

    def __init__(self, root: Path, environment: str) -> None:
        self.environment = environment
        self.root = Path(root)
        self.dir = Path(root) / ".edcconf" / "state"
        self.path = self.dir / f"{environment}.json"
        self.audit_path = Path(root) / ".edcconf" / "audit" / f"{environment}.jsonl"
        self._lock_path = self.dir / f"{environment}.lock"
        self.history_dir = self.dir / "history" / environment

    @property
    def journal(self):
        from .journal import FileJournal
        return FileJournal(self.dir / f"{self.environment}.journal")

    def describe(self) -> str:
        return str(self.path)

    def read(self, like: Mapping[str, Mapping] | None = None) -> StateRecord:
        """The state; values equal to those of the effective state `like` are shared with it."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return StateRecord(self.environment)
        except OSError as exc:
            raise UserError(f"cannot read {self.path}: {exc.strerror}", code="state-read") from None
        try:
            text = json_text(raw)
            del raw  # never the bytes, the text and the decoded state all in memory at once
            data = loads_shared(text, like)
            del text
        except ValueError as exc:
            raise UserError(f"{self.path} is not valid JSON ({exc}); it may have been edited by hand. Restore the "
                            f"previous version from {self.path}.backup", code="state-invalid") from None
        return self.record_of(data)

    def record_of(self, data: object) -> StateRecord:
        """The record of this environment from the decoded file (here, or by state/prefetch.py)."""
        record = StateRecord.from_json(data, str(self.path))
        if record.environment != self.environment:
            raise UserError(f"{self.path} holds the state of environment {record.environment!r}, not "
                            f"{self.environment!r}", code="state-invalid")
        return record

    def stored_serial(self) -> int:
        """The serial of the stored state. Read from the start of the file when it has the layout edcconf
        writes (format_version, environment, serial first: decoding 200,000 grants to compare one number
        cost seconds and a few hundred MB inside every apply); otherwise (edited by hand, damaged) from a
        full read, which reports any problem as read() does."""
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

    def refuse_links_out(self) -> None:
        """unsafe-path when the state (its file, backup, history, lock, journal) or the audit log would be
        written through a symbolic link to outside the configuration directory (edcconf.fs). Checked when the
        lock is taken, so an apply is refused before it changes anything, and again by each writer."""
        from ..fs import refuse_leaving

        for path in (self.path, self.path.with_name(self.path.name + ".backup"), self._lock_path,
                     self.dir / f"{self.environment}.journal", self.history_dir):
            refuse_leaving(self.root, path, "write the state")
        refuse_leaving(self.root, self.audit_path, "write the audit log")

    def write(self, record: StateRecord, expected_serial: int) -> None:
        self.refuse_links_out()
        current_serial = self.stored_serial()
        if current_serial != expected_serial:  # compare-and-swap: someone applied in between
            raise UserError(f"state of {self.environment} moved from serial {expected_serial} to {current_serial} "
                            "while this apply ran; plan again", code="state-conflict")
        # every version is kept (history); the main file is the commit point, written last. The JSON is
        # streamed to the history file and copied from there: never the whole text in memory.
        version = self.history_dir / f"{record.serial:06d}.json"
        write_atomically(version, json_chunks(record.to_json(), indent=1, tail=b"\n"))
        if self.path.exists():
            write_atomically(self.path.with_name(self.path.name + ".backup"), file_chunks(self.path))
        write_atomically(self.path, file_chunks(version))

    def history(self) -> list[dict]:
        """One entry per applied version, oldest first (without the effective state)."""
        current = self.read().serial
        out = []
        for path in sorted(self.history_dir.glob("*.json")) if self.history_dir.is_dir() else ():
            if int(path.stem) <= current:  # a version file newer than the state was never committed
                out.append(self.version(int(path.stem)).meta())
        return out

    def version(self, serial: int) -> StateRecord:
        path = self.history_dir / f"{serial:06d}.json"
        try:
            return StateRecord.from_json(loads_shared(json_text(path.read_bytes())), str(path))
        except FileNotFoundError:
            raise UserError(f"{self.environment} has no applied version {serial}", code="no-version") from None

    def append_audit(self, entries: list[dict]) -> None:
        """One JSON line per entry, each a single write on an O_APPEND descriptor (no torn lines)."""
        from ..fs import refuse_leaving

        refuse_leaving(self.root, self.audit_path, "write the audit log")
        self.audit_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.audit_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            for entry in entries:
                os.write(fd, json.dumps(entry, sort_keys=True, default=str).encode() + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)

    def read_audit(self) -> list[dict]:
        if not self.audit_path.exists():
            return []
        return [json.loads(line) for line in self.audit_path.read_text("utf-8").splitlines() if line.strip()]

    @contextlib.contextmanager
    def lock(self, operation: str, timeout: float = 0.0) -> Iterator[LockInfo]:
        self.refuse_links_out()   # every writer takes the lock first: refused before anything is written
        self.dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                        raise
                    if time.monotonic() >= deadline:
                        raise busy_error(self.environment, named_holder(self._holder), timeout) from None
                    time.sleep(0.1)
            info = LockInfo.mine(operation)
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(info.to_json()).encode(), 0)
            try:
                yield info
            finally:
                os.ftruncate(fd, 0)
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def _holder(self) -> LockInfo | None:
        try:
            return LockInfo.from_json(json.loads(self._lock_path.read_text("utf-8") or "null"))
        except (OSError, ValueError):
            return None

    def force_unlock(self, lock_id: str) -> bool:
        """A local lock is released by the kernel when its holder dies; only clear a stale holder record."""
        self.refuse_links_out()   # it truncates the lock file
        holder = self._holder()
        if holder is None or holder.id != lock_id:
            return False
        try:
            fd = os.open(self._lock_path, os.O_RDWR)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise UserError(f"lock {lock_id} on {self.environment} is held by a live process "
                                f"(pid {holder.pid} on {holder.host}); stop that process instead", code="state-locked")
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        except FileNotFoundError:
            return False
        return True
