"""`edcconf fmt`: one canonical style for the declaration files, comments kept, meaning never changed.

The style is ruamel.yaml's round trip with two-space mappings, list items indented by two under their key,
lines of at most 120 characters, no trailing spaces and one final newline. Flow mappings (`{user: …}`)
stay flow, quotes stay as written, comments stay where they are. A file is rewritten only when edcconf's
own loader reads the same values (and the same YAML-1.1 text, `country: NO`, dates) from the result as from
the original: otherwise it is left alone and reported (`fmt-changed-meaning`), never written.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from ..diagnostics import Diagnostic, Loc, error
from ..fs import relative_name
from ..rules import commands as commands_rules
from . import config_files, read_config
from .yamlfile import parse_yaml

WIDTH = 120


@dataclass(frozen=True)
class Formatted:
    path: str  # relative to the configuration directory
    before: str
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after


def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.indent(mapping=2, sequence=4, offset=2)
    y.width = WIDTH
    # an empty value is written `null`, as the example writes it: "never" should read as a word
    y.representer.add_representer(type(None), lambda r, _: r.represent_scalar("tag:yaml.org,2002:null", "null"))
    return y


def canonical(text: str) -> str:
    """The canonical form of one YAML text (it must parse)."""
    y = _yaml()
    out = io.StringIO()
    y.dump(y.load(text), out)
    lines = [line.rstrip() for line in out.getvalue().splitlines()]
    return "\n".join(lines).rstrip("\n") + "\n"


def _meaning(text: str, rel: str) -> tuple | None:
    parsed, problems = parse_yaml(text.encode("utf-8"), rel)
    if parsed is None or any(p.severity == "error" for p in problems):
        return None
    return parsed.data, parsed.plain_text


def format_config(root: Path) -> tuple[list[Formatted], list[Diagnostic]]:
    """Every declaration file in its canonical form (nothing is written here)."""
    out: list[Formatted] = []
    problems: list[Diagnostic] = []
    for path in config_files(root):
        rel = relative_name(root, path)
        raw = read_config(root, path, rel, problems)
        if raw is None:
            continue
        try:
            before = raw.decode("utf-8")
        except UnicodeDecodeError:
            problems.append(
                error(commands_rules.FMT_UNREADABLE.code, f"{rel} is not UTF-8: fmt leaves it alone", Loc(rel))
            )
            continue
        meaning = _meaning(before, rel)
        if meaning is None:
            problems.append(
                error(
                    commands_rules.FMT_UNREADABLE.code,
                    f"{rel} does not load (run `edcconf validate`): fmt leaves it alone",
                    Loc(rel),
                )
            )
            continue
        try:
            after = canonical(before)
        except YAMLError as exc:
            problems.append(error(commands_rules.FMT_UNREADABLE.code, f"{rel}: {exc}", Loc(rel)))
            continue
        if after != before and _meaning(after, rel) != meaning:
            problems.append(
                error(
                    commands_rules.FMT_CHANGED_MEANING.code,
                    f"{rel}: the canonical form would read differently, so "
                    "fmt leaves the file as it is (please report it)",
                    Loc(rel),
                )
            )
            continue
        out.append(Formatted(rel, before, after))
    return out, problems
