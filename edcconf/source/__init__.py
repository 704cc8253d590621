"""Load stage: find the configuration's YAML files and parse each, keeping every node's position."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..diagnostics import Diagnostic, Loc, error
from ..fs import file_identity, known_by_identity, leaving_link, real, relative_name, within
from ..rules import files as files_rules
from .yamlfile import ParsedFile, parse_yaml

Check = Callable[[ParsedFile], list[Diagnostic]]  # the schema stage's per-file check

CONFIG_DIRS = (
    "environments",
    "studies",
    "groups",
    "policies",
    "reviews",
)  # policies: access_policies (docs/policies.md); reviews: access review campaigns (docs/reviews.md)
# The largest declaration file read. Parsing keeps every node's position: a 50 MB file took 74 s and
# 3.3 GB to validate. The largest file of the 2,000-person benchmark (a group of about 2,000 people)
# is 1.3 MB; a file over 10 MiB is a mistake (or an attack), refused from its size before it is parsed.
# Documented in README.md and docs/reliability.md.
MAX_FILE_BYTES = 10 * 1024 * 1024


class Reader:
    """How load_sources turns the files' bytes into parsed files: this one parses each in turn, in this
    process (PyYAML's C loader). edcconf.speed supplies one that caches and parses on every core; the
    results are the same."""

    def read(
        self, root: Path, files: list[tuple[str, bytes]], check: Check | None
    ) -> Iterator[tuple[ParsedFile | None, list[Diagnostic]]]:
        """(parsed, parse diagnostics) per (path shown to users, bytes), in order; with check, each parsed
        file carries its verdict (ParsedFile.checked)."""
        for rel, raw in files:
            parsed, diags = parse_yaml(raw, rel)
            if parsed is not None and check is not None:
                parsed = replace(parsed, checked=tuple(check(parsed)))
            yield parsed, diags

    def checked(self, root: Path, parsed: ParsedFile, diagnostics: list[Diagnostic]) -> None:
        """Told by the schema stage of a verdict the file did not carry; nothing to keep here."""


PLAIN = Reader()
_default_reader: Reader = PLAIN


def use_reader(reader: Reader | None) -> None:
    """The reader load_sources uses when given none (the hook edcconf.speed fills); None: PLAIN."""
    global _default_reader
    _default_reader = reader or PLAIN


@dataclass(frozen=True)
class Sources:
    root: Path
    files: tuple[ParsedFile, ...]
    digest: str  # sha256 over every file's path and bytes: what a saved plan binds to
    diagnostics: tuple[Diagnostic, ...]
    reader: Reader = field(default=PLAIN, compare=False, repr=False)  # what read them (told of schema verdicts)


def config_files(root: Path) -> list[Path]:
    """Every YAML file under the configuration directories, sorted by path.

    Symbolic links: one that stays inside the configuration directory is followed, and each file is read
    once, under its own path when it is reached without a link (otherwise under the first link to it, in
    path order); one that leads outside (a file named *.yaml/*.yml, or a directory) is listed as it is,
    and read_config refuses it with unsafe-path."""
    return _walk(root)[0]


def _walk(root: Path) -> tuple[list[Path], set[Path]]:
    """config_files, and those of them that are not known to be inside (read_config checks them; the
    others were found inside by the walk, which spares a realpath per file)."""
    root = Path(root)
    base = real(root)
    by_real: dict[Path, Path] = {}  # each file read: its real path -> the path it is read under
    other: list[Path] = []  # links out, broken links: read_config reports them
    walked: set[Path] = set()
    linked_dirs: list[tuple[Path, Path]] = []  # (path, real path) of directories reached through a link
    linked_files: list[tuple[Path, Path]] = []

    def walk(folder: Path, folder_real: Path) -> None:
        pending = [(folder, folder_real)]
        while pending:
            here, here_real = pending.pop()
            if here_real in walked:
                continue
            walked.add(here_real)
            try:
                entries = sorted(os.scandir(here), key=lambda e: e.name)
            except OSError:
                continue
            for entry in entries:
                look(here / entry.name, here_real / entry.name, entry, pending)

    def look(path: Path, path_real: Path, entry, pending: list) -> None:
        yaml_name = path.suffix in (".yaml", ".yml")
        if entry.is_symlink():
            path_real = real(path)
            if not within(base, path_real) or os.path.islink(path_real):  # out, or a loop of links
                if yaml_name or path.is_dir():
                    other.append(path)
            elif path_real.is_dir():
                linked_dirs.append((path, path_real))
            elif yaml_name and path_real.is_file():
                linked_files.append((path, path_real))
            elif yaml_name:
                other.append(path)  # a broken link: read_config says it cannot be read
            return
        if entry.is_dir(follow_symlinks=False):
            pending.append((path, path_real))
        elif yaml_name and entry.is_file(follow_symlinks=False):
            by_real.setdefault(path_real, path)

    top: list = []
    try:
        entries = [e for e in os.scandir(root) if e.name in CONFIG_DIRS]
    except OSError:
        entries = []
    for entry in entries:
        look(root / entry.name, base / entry.name, entry, top)
    for path, path_real in sorted(top):
        walk(path, path_real)
    while linked_dirs:  # after every real directory: a file there keeps its own path
        linked_dirs.sort()
        path, path_real = linked_dirs.pop(0)
        walk(path, path_real)
    for path, path_real in sorted(linked_files):
        by_real.setdefault(path_real, path)
    return sorted([*by_real.values(), *other], key=relative_name_under(root)), set(other)


def relative_name_under(root: Path) -> Callable[[Path], str]:
    """path -> path.relative_to(root).as_posix(), by slicing the text of a path made from root (as the walk
    makes them): pathlib's relative_to was a third of scanning 4,000 files. Any other path: relative_to."""
    text = str(root)
    prefix = "" if text == "." else os.path.join(text, "")

    def name(path: Path) -> str:
        whole = str(path)
        if whole.startswith(prefix) and len(whole) > len(prefix) and not os.path.isabs(whole[len(prefix) :]):
            rel = whole[len(prefix) :]
            return rel if os.sep == "/" else rel.replace(os.sep, "/")
        return path.relative_to(root).as_posix()

    return name


def load_sources(
    root: Path, check: Check | None = None, rels: list[str] | None = None, reader: Reader | None = None
) -> Sources:
    """Every configuration file (or only rels, in that order), parsed by reader (default: the one given to
    use_reader, else PLAIN). With check (the schema stage's per-file check), each file is checked as it is
    parsed."""
    root = Path(root)
    reader = reader or _default_reader
    found: list[tuple[ParsedFile | None, list[Diagnostic]] | None] = []
    problems: list[Diagnostic] = []
    shas: list[tuple[str, str]] = []
    readable: list[tuple[str, bytes]] = []
    paths, suspect = _walk(root) if rels is None else ([root / rel for rel in rels], None)
    name = relative_name_under(root)
    for path in paths:
        rel = name(path)
        unreadable: list[Diagnostic] = []
        raw = read_config(root, path, rel, unreadable, check=suspect is None or bool(suspect and path in suspect))
        if raw is None:
            found.append((None, unreadable))  # reported in file order, like every other problem
            continue
        shas.append((rel, hashlib.sha256(raw).hexdigest()))
        found.append(None)
        readable.append((rel, raw))
    parsed_now = reader.read(root, readable, check)
    files: list[ParsedFile] = []
    for result in found:
        parsed, diags = result if result is not None else next(parsed_now)
        problems.extend(diags)
        if parsed is not None:
            files.append(parsed)
    close = getattr(parsed_now, "close", None)
    if close is not None:
        close()  # every result taken: lets a reader's workers go
    return Sources(root, tuple(files), config_digest(shas), tuple(problems), reader)


def scan(root: Path, known: dict[str, tuple[list[int], str]] | None = None) -> list[tuple[str, str]] | None:
    """Every configuration file with the sha256 of its bytes, in load order (nothing parsed, no cache
    read); None when a file cannot be read (load_sources then reports it). known: path -> (identity, sha256)
    of files hashed before (fs.file_identity; speed keeps it): a file found inside by the walk whose
    identity is unchanged is not read again, and each file hashed now that has settled is added to it."""
    root = Path(root)
    out: list[tuple[str, str]] = []
    problems: list[Diagnostic] = []
    paths, suspect = _walk(root)
    name = relative_name_under(root)
    for path in paths:
        rel = name(path)
        inside = not suspect or path not in suspect  # the walk found it inside (most often: no link at all)
        st = _regular_stat(path) if known is not None and inside else None
        if st is not None and known is not None:
            identity = file_identity(st)
            remembered = known.get(rel)
            if remembered is not None and remembered[0] == identity:
                out.append((rel, remembered[1]))
                continue
        raw = read_config(root, path, rel, problems, check=not inside)
        if raw is None:
            return None
        sha = hashlib.sha256(raw).hexdigest()
        if st is not None and known is not None and known_by_identity(path, st, follow_symlinks=False):
            known[rel] = (file_identity(st), sha)
        out.append((rel, sha))
    return out


def _regular_stat(path: Path) -> os.stat_result | None:
    try:
        st = os.stat(path, follow_symlinks=False)
    except OSError:
        return None
    return st if stat.S_ISREG(st.st_mode) else None


def config_digest(files: list[tuple[str, str]]) -> str:
    """What a saved plan binds to: sha256 over each file's path and the sha256 of its bytes."""
    digest = hashlib.sha256()
    for rel, sha in files:
        digest.update(rel.encode() + b"\0" + bytes.fromhex(sha))
    return digest.hexdigest()


def read_config(root: Path, path: Path, rel: str, problems: list[Diagnostic], check: bool = True) -> bytes | None:
    """The bytes of a configuration file, or None with the reason in problems: a path that leaves the
    configuration directory through a symbolic link (unsafe-path: never read, so nothing of a foreign
    file reaches a message), something other than a regular file, a file over MAX_FILE_BYTES
    (file-too-large: refused from its size, before a byte of it is parsed), or a read error.
    check=False: the caller's walk found the path inside (see _walk)."""

    link = leaving_link(root, path) if check else None
    if link is not None:
        problems.append(
            error(
                files_rules.UNSAFE_PATH.code,
                f"{relative_name(root, link)} is a symbolic link to a place outside "
                "the configuration directory; edcconf reads only files inside it (nothing behind "
                "the link was read): copy what it needs in, or point the link inside",
                Loc(rel),
            )
        )
        return None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO must not block the command
    except OSError as exc:
        broken = " (it is a symbolic link to a file that does not exist)" if os.path.islink(path) else ""
        problems.append(error(files_rules.YAML_SYNTAX.code, f"cannot read the file: {exc.strerror}{broken}", Loc(rel)))
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            problems.append(
                error(files_rules.YAML_SYNTAX.code, "cannot read the file: it is not a regular file", Loc(rel))
            )
            return None
        if st.st_size > MAX_FILE_BYTES:
            problems.append(_too_large(st.st_size, rel))
            return None
        raw = _read_bounded(fd, st.st_size)
        if len(raw) > MAX_FILE_BYTES:
            problems.append(_too_large(len(raw), rel))
            return None
        return raw
    except OSError as exc:
        problems.append(error(files_rules.YAML_SYNTAX.code, f"cannot read the file: {exc.strerror}", Loc(rel)))
        return None
    finally:
        os.close(fd)


def _read_bounded(fd: int, size: int) -> bytes:
    """The file's bytes, at most MAX_FILE_BYTES + 1 of them even if it grows while it is read; one read
    for a file of the size it had (a buffer of the limit's size for every file cost a third of a scan)."""
    chunks: list[bytes] = []
    total = 0
    want = size + 1
    while total <= MAX_FILE_BYTES:
        chunk = os.read(fd, min(want, MAX_FILE_BYTES + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
        want = 1 << 20
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _too_large(size: int, rel: str) -> Diagnostic:
    return error(
        files_rules.FILE_TOO_LARGE.code,
        f"the file is {size:,} bytes, over the limit of {MAX_FILE_BYTES:,} bytes "
        f"({MAX_FILE_BYTES // (1024 * 1024)} MiB) for one declaration file; split it into several "
        "files",
        Loc(rel),
    )
