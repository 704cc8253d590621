"""Load stage: find the configuration's YAML files and parse each, keeping every node's position."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from ..diagnostics import Diagnostic
from .cache import FileCache, enabled as cache_enabled
from .parse_pool import Check, Job, parse_all
from .yamlfile import ParsedFile

CONFIG_DIRS = ("environments", "studies", "groups")
MAX_FILE_BYTES = 64 * 1024 * 1024  # a declaration file this large is a mistake, not an organisation


@dataclass(frozen=True)
class Sources:
    root: Path
    files: tuple[ParsedFile, ...]
    digest: str                        # sha256 over every file's path and bytes: what a saved plan binds to
    diagnostics: tuple[Diagnostic, ...]


def config_files(root: Path) -> list[Path]:
    found: list[Path] = []
    for name in CONFIG_DIRS:
        base = root / name
        if base.is_dir():
            found.extend(p for p in base.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def load_sources(root: Path, use_cache: bool | None = None, check: Check | None = None,
                 rels: list[str] | None = None) -> Sources:
    """Every configuration file (or only rels, in that order), parsed; files the cache does not hold are
    parsed on every core when there are many (parse_pool). With check (the schema stage's per-file
    check), each new file is checked as it is parsed and its verdict cached with it."""
    root = Path(root)
    cache = FileCache(root) if (cache_enabled() if use_cache is None else use_cache) else None
    found: list[tuple[ParsedFile | None, list[Diagnostic]] | None] = []
    problems: list[Diagnostic] = []
    shas: list[tuple[str, str]] = []
    misses: list[Job] = []
    for path in (config_files(root) if rels is None else [root / rel for rel in rels]):
        rel = path.relative_to(root).as_posix()
        unreadable: list[Diagnostic] = []
        raw = _read(path, rel, unreadable)
        if raw is None:
            found.append((None, unreadable))  # reported in file order, like every other problem
            continue
        shas.append((rel, hashlib.sha256(raw).hexdigest()))
        key = cache.key(rel, raw) if cache else None
        entry = cache.get(key) if cache else None
        if entry is not None:
            found.append(from_entry(rel, key, entry))
        else:
            found.append(None)
            misses.append((rel, raw, key))
    parsed_now = parse_all(misses, check, cache)
    files: list[ParsedFile] = []
    for result in found:
        parsed, diags = result if result is not None else next(parsed_now)
        problems.extend(diags)
        if parsed is not None:
            files.append(parsed)
    parsed_now.close()  # every result taken: lets the workers go
    return Sources(root, tuple(files), config_digest(shas), tuple(problems))


def scan(root: Path) -> list[tuple[str, str]] | None:
    """Every configuration file with the sha256 of its bytes, in load order (nothing parsed, no cache
    read); None when a file cannot be read (load_sources then reports it)."""
    root = Path(root)
    out: list[tuple[str, str]] = []
    problems: list[Diagnostic] = []
    for path in config_files(root):
        rel = path.relative_to(root).as_posix()
        raw = _read(path, rel, problems)
        if raw is None:
            return None
        out.append((rel, hashlib.sha256(raw).hexdigest()))
    return out


def config_digest(files: list[tuple[str, str]]) -> str:
    """What a saved plan binds to: sha256 over each file's path and the sha256 of its bytes."""
    digest = hashlib.sha256()
    for rel, sha in files:
        digest.update(rel.encode() + b"\0" + bytes.fromhex(sha))
    return digest.hexdigest()


def _read(path: Path, rel: str, problems: list[Diagnostic]) -> bytes | None:
    from ..diagnostics import Loc, error

    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            problems.append(error("yaml-syntax", f"the file is {size:,} bytes, over the {MAX_FILE_BYTES:,} "
                                  "byte limit; split it into several files", Loc(rel)))
            return None
        return path.read_bytes()
    except OSError as exc:
        problems.append(error("yaml-syntax", f"cannot read the file: {exc.strerror}", Loc(rel)))
        return None


def _diag_tuple(d: Diagnostic) -> tuple:
    return (d.code, d.message, d.loc.file, d.loc.line, d.loc.col, d.severity)


def _diag(t: tuple) -> Diagnostic:
    from ..diagnostics import Loc
    return Diagnostic(t[0], t[1], Loc(t[2], t[3], t[4]), t[5])


def to_entry(parsed: ParsedFile | None, parse_diags: list[Diagnostic], checked: list[Diagnostic] | None = None):
    """A cache entry: plain data only (marshal)."""
    body = None if parsed is None else (parsed.data, parsed.packed, parsed.plain_text)
    return (body, [_diag_tuple(d) for d in parse_diags],
            None if checked is None else [_diag_tuple(d) for d in checked])


def from_entry(rel: str, key: str, entry) -> tuple[ParsedFile | None, list[Diagnostic]]:
    body, parse_diags, checked = entry
    diags = [_diag(t) for t in parse_diags]
    if body is None:
        return None, diags
    data, packed, plain_text = body
    return ParsedFile(rel, data, packed, plain_text, key,
                      None if checked is None else tuple(_diag(t) for t in checked)), diags


def remember_schema_check(root: Path, parsed: ParsedFile, checked: list[Diagnostic]) -> None:
    """After the schema stage: store its verdict (and the text it restored) beside the parse result."""
    if parsed.cache_key and parsed.checked is None:
        FileCache(root).put(parsed.cache_key, to_entry(parsed, [], checked))
