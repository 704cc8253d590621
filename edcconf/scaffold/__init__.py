"""`edcconf init` and `edcconf schemas export`: a new configuration repository that validates at once,
and the JSON Schemas that its files' `$schema` lines point to.

The scaffold is package data (scaffold/files/), copied as it is; the only value filled in is the GitHub
Action the workflows use (`@ACTION@`), pinned to this release unless told otherwise.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from .. import __version__
from ..diagnostics import UserError
from ..fs import refuse_leaving_output, write_atomically

DEFAULT_ACTION = f"edcconf/edcconf@v{__version__}"
# package data cannot start with a dot (wildcards skip such names): these are renamed when copied
_RENAMED = {
    "gitignore": ".gitignore",
    "pre-commit-config.yaml": ".pre-commit-config.yaml",
    "workflows": ".github/workflows",
}
CONFIG_DIRS = ("environments", "groups", "studies")


def _files(folder: Traversable, parts: tuple[str, ...] = ()) -> list[tuple[str, bytes]]:
    out = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name == "__pycache__":
            continue
        here = (*parts, entry.name)
        if entry.is_dir():
            out += _files(entry, here)
        else:
            out.append(("/".join((_RENAMED.get(here[0], here[0]), *here[1:])), entry.read_bytes()))
    return out


def scaffold_files(action: str = DEFAULT_ACTION) -> list[tuple[str, bytes]]:
    files = [
        (rel, data.replace(b"@ACTION@", action.encode()))
        for rel, data in _files(resources.files(__package__).joinpath("files"))
    ]
    return files + [(f"schemas/{name}", data) for name, data in schema_files()]


def schema_files() -> list[tuple[str, bytes]]:
    folder = resources.files("edcconf.schemas")
    return [
        (e.name, e.read_bytes()) for e in sorted(folder.iterdir(), key=lambda e: e.name) if e.name.endswith(".json")
    ]


def init(dest: Path, action: str = DEFAULT_ACTION) -> list[str]:
    """Write the scaffold into `dest` (created if missing). Refuses a folder that already declares anything:
    init never overwrites a configuration."""
    taken = [name for name in CONFIG_DIRS if (dest / name).exists()]
    if taken:
        raise UserError(
            f"{dest} already has {', '.join(taken)}/: init makes a new configuration and never overwrites one",
            code="init-exists",
        )
    written = []
    for rel, data in scaffold_files(action):
        target = refuse_leaving_output(dest, dest / rel, "initialise a configuration")
        if target.exists():
            continue  # an existing README or .gitignore is the user's
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(target, data, durable=False)
        written.append(rel)
    return written


def export_schemas(root: Path, dest: Path) -> list[str]:
    written = []
    for name, data in schema_files():
        target = refuse_leaving_output(root, dest / name, "export the schemas")
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(target, data, durable=False)
        written.append(name)
    return written
