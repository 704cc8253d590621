"""Load stage: find the configuration's YAML files and parse each, keeping every node's position."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from ..diagnostics import Diagnostic
from .yamlfile import ParsedFile, parse_yaml

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


def load_sources(root: Path) -> Sources:
    root = Path(root)
    files: list[ParsedFile] = []
    problems: list[Diagnostic] = []
    digest = hashlib.sha256()
    for path in config_files(root):
        rel = path.relative_to(root).as_posix()
        raw = _read(path, rel, problems)
        if raw is None:
            continue
        digest.update(rel.encode() + b"\0" + hashlib.sha256(raw).digest())
        parsed, diags = parse_yaml(raw, rel)
        problems.extend(diags)
        if parsed is not None:
            files.append(parsed)
    return Sources(root, tuple(files), digest.hexdigest(), tuple(problems))


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
