"""Every path edcconf reads from the configuration or writes beside it stays inside the configuration
directory.

A symbolic link in a repository is content like any other: a pull request can add `groups/x.yaml ->
/etc/passwd` or make `.edcconf/audit` point at another directory. Followed, the first would print the
foreign file in error messages and review annotations (or load a file nobody reviewed), the second would
append the audit log somewhere else. So a link may point anywhere *inside* the configuration directory
(it is then read or written like the file it names), and a path that reaches outside through a link is
refused with `unsafe-path`, naming the link, never showing what lies behind it.

And how every file is written: atomically (write_atomically), or staged for an apply to put in place
(staged_outputs, put_in_place). State, providers, reports and caches all write through here, so it
lives below them all.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from .diagnostics import UserError
from .rules import files as files_rules
from .rules import state as state_rules


def real(path: Path) -> Path:
    """path with every symbolic link followed (never raises: a loop of links stays a link)."""
    return Path(os.path.realpath(path))


def within(base: Path, target: Path) -> bool:
    """target (a resolved path) is base (resolved) or below it."""
    return target == base or base in target.parents


def leaving_link(root: Path, path: Path) -> Path | None:
    """The first part of path below root (path itself included) that leaves root through a symbolic link
    (or is a loop of links), or None when the path, with every link on it followed, stays inside root. A
    part that does not exist yet is inside (it will be created there)."""
    root, path = Path(root), Path(path)
    base = real(root)
    target = real(path)
    if within(base, target) and not os.path.islink(target):
        return None
    try:
        rel = path.relative_to(root)
    except ValueError:
        rel = Path(os.path.abspath(path)).relative_to(os.path.abspath(root))  # raises if not below root
    current = root
    for part in rel.parts:
        current = current / part
        if os.path.islink(current):
            target = real(current)
            if not within(base, target) or os.path.islink(target):
                return current
    return path  # a path that leaves without a link (`..`): name it as given


def relative_name(root: Path, path: Path) -> str:
    """path as the user knows it: relative to the configuration directory when it is below it."""
    try:
        return Path(os.path.abspath(path)).relative_to(os.path.abspath(root)).as_posix()
    except ValueError:
        return str(path)


def refuse_leaving(root: Path, path: Path, doing: str) -> Path:
    """path, unless `doing` (e.g. "write the audit log") there would go through a link to outside root:
    then unsafe-path, naming the link."""
    link = leaving_link(root, path)
    if link is not None:
        name = relative_name(root, link)
        raise UserError(
            f"{name} is a symbolic link to a place outside the configuration directory "
            f"{real(root)}; edcconf will not {doing} through it. Remove the link "
            f"(or point it inside the configuration directory)",
            code=files_rules.UNSAFE_PATH.code,
        )
    return path


def refuse_leaving_folder(root: Path, folder: Path, doing: str) -> Path:
    """refuse_leaving for a folder edcconf writes files into, one level deep (bulk files: a folder per
    study and one for the groups): the folder, and every link directly in it."""
    refuse_leaving(root, folder, doing)
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return folder
    for entry in entries:
        if entry.is_symlink():
            refuse_leaving(root, Path(folder) / entry.name, doing)
    return folder


def refuse_leaving_output(root: Path, path: Path, doing: str) -> Path:
    """A folder given on the command line (--out): checked like refuse_leaving_folder when it lies inside
    the configuration directory as written (`--out build/report`); a path elsewhere is the user's own
    choice."""
    try:
        Path(os.path.abspath(path)).relative_to(os.path.abspath(root))
    except ValueError:
        return path
    return refuse_leaving_folder(root, path, doing)


def write_atomically(path: Path, data: bytes | Iterable[bytes], durable: bool = True) -> None:
    """Replace path with data so that a reader (or a crash) sees the old or the new file, never half.

    data may be an iterable of chunks (written as they come: a state of 200,000 grants need not be one
    string in memory). durable=False skips the fsyncs: still atomic, for outputs that can be written
    again (reports, bulk files, notifications), never for state, history, journal or audit. Inside
    staged_outputs() (in that thread), a durable=False write is only staged: see there."""
    staging = getattr(_staging, "outputs", None)
    if staging is not None and not durable:
        staging.stage(Path(path), data)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            for chunk in (data,) if isinstance(data, (bytes, bytearray, memoryview)) else data:
                write_all(fd, chunk)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        if durable and os.name != "nt":  # Windows cannot open a directory to fsync it (NTFS journals the rename)
            dir_fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise UserError(
            f"cannot write {path}: {exc.strerror or exc}; the previous state is untouched",
            code=state_rules.STATE_WRITE.code,
        ) from None
    except BaseException:  # e.g. a chunk that could not be made: no temporary file left behind
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


_staging = threading.local()


class StagedOutputs:
    """The files a provider writes at the end of an apply, staged: each is written in full beside its
    target (`.<name>.staged`) but not put in place. The apply journals them (with the changes they
    carry out) and only then puts them in place (put_in_place), so a kill leaves either no new file and
    no journaled change, or a journal that the next command uses to finish putting them in place: never
    files that say more than the state (or less). Only the lock's holder stages, inside its fence."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[str, str]] = {}  # target -> (staged file, sha256 of its bytes)

    def stage(self, path: Path, data: bytes | Iterable[bytes]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        staged = path.with_name(f".{path.name}.staged")  # one name: a kill's leftover is reused, not piled up
        digest = hashlib.sha256()
        try:
            fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                for chunk in (data,) if isinstance(data, (bytes, bytearray, memoryview)) else data:
                    digest.update(chunk)
                    write_all(fd, chunk)
            finally:
                os.close(fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                staged.unlink()
            raise UserError(f"cannot write {path}: {exc.strerror or exc}", code=state_rules.STATE_WRITE.code) from None
        except BaseException:  # e.g. a chunk that could not be made: no half-staged file left behind
            with contextlib.suppress(OSError):
                staged.unlink()
            raise
        self.files[str(path)] = (str(staged), digest.hexdigest())

    def manifest(self) -> list[list[str]]:
        """[staged file, target, sha256] of each file, for the journal."""
        return [[staged, target, sha] for target, (staged, sha) in self.files.items()]

    def discard(self) -> None:
        for staged, _ in self.files.values():
            with contextlib.suppress(OSError):
                os.unlink(staged)
        self.files.clear()


@contextlib.contextmanager
def staged_outputs() -> Iterator[StagedOutputs]:
    """Stage this thread's durable=False writes (see StagedOutputs); discarded if the block fails."""
    outputs = StagedOutputs()
    _staging.outputs = outputs
    try:
        yield outputs
    except BaseException:
        outputs.discard()
        raise
    finally:
        _staging.outputs = None


def put_in_place(manifest: Iterable[list[str]], verify: bool = False) -> list[str]:
    """Rename each staged file onto its target (one already renamed is skipped). verify (when finishing
    an interrupted apply): a staged file whose bytes are not the ones journaled (a machine crash: bulk
    files are not fsynced) is removed instead. Returns the targets left as they were for that reason."""
    lost = []
    for staged, target, sha in manifest:
        if not os.path.exists(staged):
            continue
        if verify and sha256_of(Path(staged)) != sha:
            with contextlib.suppress(OSError):
                os.unlink(staged)
            lost.append(target)
            continue
        try:
            os.replace(staged, target)
        except OSError as exc:
            raise UserError(
                f"cannot put {target} in place: {exc.strerror or exc}", code=state_rules.STATE_WRITE.code
            ) from None
    return lost


CHUNK = 1 << 20
# a file changed less than this ago could change again within the same timestamp (the file system's clock
# ticks coarsely): only a file older than this is known by its identity alone (as git trusts its index)
SETTLED_NS = 2_000_000_000


def file_identity(st: os.stat_result) -> list[int]:
    """What names a file's bytes while it is unchanged: device, inode, size, modification and change times
    (the change time is set by the kernel on every write and cannot be set back by hand)."""
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def settled(st: os.stat_result) -> bool:
    return time.time_ns() - max(st.st_mtime_ns, st.st_ctime_ns) > SETTLED_NS


def known_by_identity(path: Path, st: os.stat_result, follow_symlinks: bool = True) -> bool:
    """Whether what was read of path since st was taken may be remembered by st's identity: the file had
    settled then and is still that file now (not replaced or written while it was read)."""
    if not settled(st):
        return False
    try:
        now = os.stat(path, follow_symlinks=follow_symlinks)
    except OSError:
        return False
    return file_identity(now) == file_identity(st)


def write_all(fd: int, data: bytes | bytearray | memoryview) -> None:
    """All of data to fd (os.write may write less than it is given)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def write_lines(fd: int, lines: Iterable[bytes]) -> None:
    """Whole lines, about CHUNK bytes per system call: a line each costs seconds for a first apply's
    200,000 lines, and a kill can still tear only the last line written."""
    chunk: list[bytes] = []
    size = 0
    for line in lines:
        chunk.append(line)
        size += len(line)
        if size >= CHUNK:
            write_all(fd, b"".join(chunk))
            chunk, size = [], 0
    if chunk:
        write_all(fd, b"".join(chunk))


def write_work_file(path: Path, lines: Iterable[bytes]) -> None:
    """Whole lines into path (created or emptied), not durably and not staged: a work file that is part of
    no state (e.g. lines an apply makes ahead). On any failure the file is removed; an OSError is a
    state-write error."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            write_lines(fd, lines)
        finally:
            os.close(fd)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(path)
        if isinstance(exc, OSError):
            raise UserError(f"cannot write {path}: {exc.strerror or exc}", code=state_rules.STATE_WRITE.code) from None
        raise


def file_chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            yield chunk


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    for chunk in file_chunks(path):
        h.update(chunk)
    return h.hexdigest()


# What the file system refuses is the user's to fix (free space, a writable checkout), never a bug.
_FS_HINTS = {
    "ENOSPC": "free some space, then run the command again",
    "EDQUOT": "free some space (the disk quota is used up), then run the command again",
    "EROFS": "run the command where the configuration's .edcconf directory is writable",
    "EACCES": "check the owner and permissions of that path",
    "EPERM": "check the owner and permissions of that path",
    "EISDIR": "a directory is where edcconf expects a file: remove or rename it",
    "ENOTDIR": "a file is where edcconf expects a directory: remove or rename it",
    "EIO": "the disk reported an input/output error: check it",
    "EFBIG": "the file would be larger than the file system allows",
    "EMFILE": "raise the limit of open files (ulimit -n)",
    "ENFILE": "too many files are open on this machine: try again later",
    "ENAMETOOLONG": "use a shorter configuration path",
    "ELOOP": "the path's symbolic links loop: fix them",
}
FILE_SYSTEM_ERRNOS = frozenset(getattr(errno, name) for name in _FS_HINTS if hasattr(errno, name))


def file_system_error(exc: OSError, doing: str = "") -> UserError:
    """A clear message for an OSError the file system raised: what was refused, where, and what to do."""
    what = exc.strerror or (os.strerror(exc.errno) if exc.errno else str(exc))
    where = f" {exc.filename}" if exc.filename is not None else ""
    hint = _FS_HINTS.get(errno.errorcode.get(exc.errno or 0, ""), "")
    doing = f" ({doing})" if doing else ""
    return UserError(
        f"cannot use{where}{doing}: {what}" + (f"; {hint}" if hint else ""), code=state_rules.FILE_SYSTEM.code
    )
