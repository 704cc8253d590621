"""Add declarations to a configuration directory without disturbing what is already there.

`edcconf import` turns the systems' files into declarations; this module writes them as *text*:
new groups become new files, new members and grants are inserted as new list items right after the
last existing item, in the same indentation and style (roles and sites: writer_roles_sites). Nothing
else in a file changes (comments, order, blank lines, line endings). Every new text is parsed again
and must read as the old data plus the additions before anything is written; `write_edits` writes
all files or none.
"""

from __future__ import annotations

import copy
import datetime as _dt
import hashlib
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..diagnostics import UserError
from ..fs import refuse_leaving
from ..rules import imports as imports_rules
from . import PLAIN, load_sources
from .writer_text import _block, _ordered, flow, group_file_text
from .yamlfile import ParsedFile, parse_yaml

CONFLICT = imports_rules.IMPORT_CONFLICT.code
GRANT_KEYS = ("user", "role", "environments", "sites", "countries", "expires")
_SAFE_FILE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")


@dataclass(frozen=True)
class Edit:
    path: str  # relative to the configuration root, posix
    action: str  # "created" | "appended"
    what: str  # human summary, e.g. "group sag-monitors (3 members)"
    base: str | None = field(default=None, compare=False, repr=False)  # sha256 of the bytes planned on


def import_note(source: str, on: _dt.date | None = None) -> str:
    return f"Imported by edcconf import from {source} on {(on or _dt.date.today()).isoformat()}"


# --- emitting values -------------------------------------------------------------------------------


def _declarations(parsed: ParsedFile, kind: str, plural: str):
    data = parsed.data
    if not isinstance(data, dict):
        return
    if isinstance(data.get(kind), dict):
        yield (kind,), data[kind]
    for i, item in enumerate(data.get(plural) or () if isinstance(data.get(plural), list) else ()):
        if isinstance(item, dict):
            yield (plural, i), item


def _find(files, kind: str, plural: str, ident: str) -> list[tuple[ParsedFile, tuple, dict]]:
    return [(f, path, node) for f in files for path, node in _declarations(f, kind, plural) if node.get("id") == ident]


def _node_at(root: yaml.Node, path: tuple) -> yaml.Node | None:
    node: yaml.Node | None = root
    for step in path:
        if isinstance(step, int) and isinstance(node, yaml.SequenceNode) and step < len(node.value):
            node = node.value[step]
        elif isinstance(step, str) and isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == step), None)
            if node is None:
                return None
        else:
            return None
    return node


def _content_end(node: yaml.Node) -> int:
    """Character index just past the last character written for node (block collections end where
    their last value ends, not at the next token as PyYAML marks them)."""
    if isinstance(node, yaml.MappingNode) and not node.flow_style and node.value:
        key, value = node.value[-1]
        return max(_content_end(key), _content_end(value))
    if isinstance(node, yaml.SequenceNode) and not node.flow_style and node.value:
        return _content_end(node.value[-1])
    if isinstance(node, yaml.ScalarNode) and not node.value and not node.style:
        return 0  # an empty value is marked at the next token (past comments): its key ends the entry
    return node.end_mark.index


def _line_end(text: str, index: int) -> int:
    """Where the line holding the last non-blank character before index ends (after its line break):
    a block scalar (`|`, `>`) ends past the blank lines that follow it."""
    index = len(text[:index].rstrip(" \t\r\n"))
    if index > 0 and text[index - 1] == "\n":
        return index
    nl = text.find("\n", index)
    return len(text) if nl < 0 else nl + 1


@dataclass
class _Insert:
    at: int
    lines: list[str]  # whole lines inserted at `at` (without line breaks)
    path: tuple | None  # where the additions land, in the loader's path terms (None: layout only)
    items: list | dict  # list items appended there, or entries added to the mapping there
    new_key: bool = False  # the key did not exist before (placed after what extends existing ones)
    end: int | None = None  # set: text[at:end] is replaced by `text` instead (lines unused)
    text: str = ""


def _plan_append(
    text: str,
    parsed: ParsedFile,
    root_node: yaml.Node,
    decl: tuple,
    key: str,
    items: list,
    style_keys: tuple[str, ...],
    force_flow: bool,
    what: str,
) -> list[_Insert]:
    node = _node_at(root_node, decl)
    if not isinstance(node, yaml.MappingNode) or node.flow_style:
        raise UserError(
            f"{parsed.path}: {what} is not written as a block mapping; cannot add {key} to it "
            "(rewrite it in block style)",
            code=CONFLICT,
        )
    ordered = [_ordered(i, style_keys) if isinstance(i, dict) else i for i in items]
    seq = _node_at(node, (key,))
    if seq is None or _is_null(seq):
        # no key, or `key:` with nothing (or null) after it: add the key (or items under it) at the end
        col = node.start_mark.column
        lines = [f"{' ' * (col + 2)}- {flow(i)}" for i in ordered]
        return _fill_or_add(text, node, key, seq, lines, decl + (key,), items, _line_end(text, _content_end(node)))
    if not isinstance(seq, yaml.SequenceNode):
        raise UserError(f"{parsed.path}:{seq.start_mark.line + 1}: {key} of {what} is not a list", code=CONFLICT)
    if seq.flow_style:
        raise UserError(
            f"{parsed.path}:{seq.start_mark.line + 1}: {key} of {what} is a flow list "
            f"[...]; write it as a block list (one `- ` item per line) to import into it",
            code=CONFLICT,
        )
    last = seq.value[-1]
    line_start = text.rfind("\n", 0, last.start_mark.index) + 1
    prefix = text[line_start : last.start_mark.index]
    if not re.fullmatch(r" *- +", prefix):
        prefix = " " * seq.start_mark.column + "- "
    if force_flow or not isinstance(last, yaml.MappingNode) or last.flow_style:
        lines = [prefix + flow(i) for i in ordered]
    else:
        lines = []
        for i in ordered:
            block = _block(i, len(prefix), "\n").split("\n")[:-1]
            lines += [prefix + block[0][len(prefix) :]] + block[1:]
    return [_Insert(_line_end(text, _content_end(seq)), lines, decl + (key,), items)]


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.value in ("", "~", "null", "Null", "NULL") and not node.style


def _fill_or_add(
    text: str,
    mapping: yaml.MappingNode,
    key: str,
    value: yaml.Node | None,
    entries: list[str],
    path: tuple,
    items: list | dict,
    at_new: int,
) -> list[_Insert]:
    """Entries (lines) of a key's collection: under `key:` when it is written with an empty value (`~`,
    `null`, or an empty flow collection, which is removed), else a new `key:` line first, at at_new."""
    if value is None:
        return [_Insert(at_new, [f"{' ' * mapping.start_mark.column}{key}:"] + entries, path, items, True)]
    if isinstance(value, yaml.ScalarNode) and not value.value and not value.style:
        return [_Insert(_line_end(text, _key_node(mapping, key).end_mark.index), entries, path, items)]
    start, end = value.start_mark.index, value.end_mark.index  # `~`, `null`, `{}`, `[]`: cut it
    nl = text.find("\n", end)
    rest = text[end : len(text) if nl < 0 else nl]
    if not rest.strip():  # nothing after it but blanks: no trailing blanks after `key:` either
        start, end = len(text[:start].rstrip(" \t")), end + len(rest.rstrip("\r"))
    return [_Insert(start, [], None, [], end=end), _Insert(_line_end(text, end), entries, path, items)]


def _key_node(mapping: yaml.MappingNode, key: str) -> yaml.Node:
    return next(k for k, _ in mapping.value if isinstance(k, yaml.ScalarNode) and k.value == key)


def _apply(text: str, inserts: list[_Insert], nl: str) -> str:
    """Every insert at once. At the same place, additions to existing collections come before new keys,
    and otherwise the order planned."""
    order = sorted(range(len(inserts)), key=lambda n: (inserts[n].at, inserts[n].new_key, n), reverse=True)
    for ins in (inserts[n] for n in order):
        if ins.end is not None:
            text = text[: ins.at] + ins.text + text[ins.end :]
            continue
        block = "".join(line + nl for line in ins.lines)
        if ins.at == len(text) and text and not text.endswith("\n"):
            block = nl + block
        text = text[: ins.at] + block + text[ins.at :]
    return text


# --- verifying -------------------------------------------------------------------------------------


def _as_loaded(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _as_loaded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_as_loaded(v) for v in value]
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    return value


def _verify(rel: str, old: Any, new_text: str, inserts: list[_Insert]) -> None:
    """The new text must read as exactly the old data with the additions merged in: list items after
    the existing ones, mapping entries beside them, a missing (or empty) key holding just the additions."""
    parsed, problems = parse_yaml(new_text.encode("utf-8"), rel)
    if parsed is None:
        raise UserError(
            f"{rel}: the edited file would not parse ({problems[0].message}); nothing written", problems, code=CONFLICT
        )
    expected = copy.deepcopy(old) if old is not None else {}
    for ins in inserts:
        if ins.path is None:
            continue
        holder = _old_value(expected, ins.path[:-1])
        if not isinstance(holder, dict):
            raise UserError(
                f"{rel}: {'.'.join(map(str, ins.path[:-1]))} is not a mapping; nothing written", code=CONFLICT
            )
        have, key = holder.get(ins.path[-1]), ins.path[-1]
        if isinstance(ins.items, dict):
            holder[key] = {**(have or {}), **_as_loaded(ins.items)}
        else:
            holder[key] = list(have or ()) + _as_loaded(ins.items)
    if parsed.data == expected:
        return
    for ins in inserts:
        if ins.path is not None and _old_value(parsed.data, ins.path) != _old_value(expected, ins.path):
            raise UserError(
                f"{rel}: after the edit, {'.'.join(map(str, ins.path))} does not hold the existing and "
                "the added entries (unusual layout?); nothing written",
                code=CONFLICT,
            )
    raise UserError(f"{rel}: the edit would change existing declarations; nothing written", code=CONFLICT)


def _old_value(data: Any, path: tuple) -> Any:
    for step in path:
        try:
            data = data[step]
        except (KeyError, IndexError, TypeError):
            return None
    return data


# --- planning and writing --------------------------------------------------------------------------


def _newline(text: str) -> str:
    first = text.find("\n")
    return "\r\n" if first > 0 and text[first - 1] == "\r" else "\n"


def plan_edits(
    root: Path,
    groups: Sequence[dict] = (),
    members: dict[str, list[dict]] = {},  # noqa: B006  (read, never changed)
    grants: dict[str, list[dict]] = {},  # noqa: B006
    note: str = "",
    roles: dict[str, dict[str, dict]] = {},  # noqa: B006
    study_sites: dict[str, list[str]] = {},  # noqa: B006
    sites: Sequence[dict] = (),
) -> list[tuple[Edit, str]]:
    """The edits and the complete new text of each touched file; writes nothing. members: group id ->
    people; grants: study id -> access entries; roles: study id -> {role id: role}; study_sites: study
    id -> site ids for its `sites:`; sites: new global sites (environments/sites-imported.yaml)."""
    from . import writer_roles_sites as more  # local: writer_roles_sites imports this module

    root = Path(root)
    sources = load_sources(root, reader=PLAIN)  # never from a cache: what is on disk now
    files = sources.files
    broken = [d for d in sources.diagnostics if d.severity == "error"]
    if broken:
        raise UserError(f"the configuration in {root} does not load; fix it before importing", broken, code=CONFLICT)
    by_path = {f.path: f for f in files}
    edits: list[tuple[Edit, str]] = []

    existing = {p.name.lower() for p in (root / "groups").iterdir()} if (root / "groups").is_dir() else set()
    seen: set[str] = set()
    for group in groups:
        gid = group.get("id")
        if not isinstance(gid, str) or not _SAFE_FILE_ID.match(gid):
            raise UserError(
                f"group id {gid!r} cannot name a file (letters, digits, . _ - only)",
                code=imports_rules.IMPORT_INVALID.code,
            )
        rel = f"groups/{gid}.yaml"
        if f"{gid}.yaml".lower() in existing or gid.lower() in seen:
            raise UserError(f"{rel} already exists; not overwriting it", code=CONFLICT)
        found = _find(files, "group", "groups", gid)
        if found:
            f, path, _ = found[0]
            raise UserError(f"group {gid} is already declared at {f.loc(path + ('id',))}", code=CONFLICT)
        seen.add(gid.lower())
        text = group_file_text(group, note)
        parsed, problems = parse_yaml(text.encode("utf-8"), rel)
        if parsed is None or parsed.data != {"group": _as_loaded({"id": gid, **group})}:
            raise UserError(
                f"{rel}: the new file would not read back as group {gid}; nothing written", problems, code=CONFLICT
            )
        n = len(group.get("members") or ())
        edits.append((Edit(rel, "created", f"group {gid} ({n} member{'s' * (n != 1)})"), text))

    # file -> declaration (kind, id, path) -> key -> what to add there
    work: dict[str, dict[tuple, dict[str, Any]]] = {}
    asked: tuple[tuple[str, str, str, Mapping[str, Any]], ...] = (
        ("group", "groups", "members", members),
        ("study", "studies", "sites", study_sites),
        ("study", "studies", "roles", roles),
        ("study", "studies", "access", grants),
    )
    for kind, plural, key, wanted in asked:
        for ident, items in wanted.items():
            if not items:
                continue
            found = _find(files, kind, plural, ident)
            if not found:
                raise UserError(f"{kind} {ident} is not declared in {root}; cannot add {key} to it", code=CONFLICT)
            if len(found) > 1:
                where = ", ".join(str(f.loc(p)) for f, p, _ in found)
                raise UserError(f"{kind} {ident} is declared more than once ({where})", code=CONFLICT)
            f, path, node = found[0]
            items = more.new_study_sites(node, items) if key == "sites" else items
            if items:
                work.setdefault(f.path, {}).setdefault((kind, ident, path), {})[key] = items

    if sites:
        edits += more.plan_sites(root, files, list(sites), note, work)

    for rel, decls in sorted(work.items()):
        raw = (root / rel).read_bytes()
        text = raw.decode("utf-8")
        bom = "\ufeff" if text.startswith("\ufeff") else ""
        text = text[len(bom) :]
        try:
            root_node = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as exc:
            raise UserError(f"{rel}: cannot read the file's layout: {exc}", code=CONFLICT) from exc
        parsed = by_path.get(rel)
        if parsed is None:
            raise UserError(f"{rel} holds no declarations; cannot add to it", code=CONFLICT)
        assert root_node is not None  # a file with declarations is not an empty document
        inserts: list[_Insert] = []
        summary = []
        for (kind, ident, path), adds in decls.items():
            summary.append(more.plan_declaration(text, parsed, root_node, kind, ident, path, adds, inserts))
        new_text = _apply(text, inserts, _newline(text))
        _verify(rel, parsed.data, new_text, inserts)
        edits.append((Edit(rel, "appended", "; ".join(summary), hashlib.sha256(raw).hexdigest()), bom + new_text))
    return edits


def write_edits(root: Path, edits: list[tuple[Edit, str]]) -> None:
    """Write every new text atomically (temporary file + os.replace); all files or none."""
    root = Path(root)
    staged: list[tuple[Path, str, bytes | None]] = []  # (target, temporary, previous bytes)
    try:
        for edit, text in edits:
            target = refuse_leaving(root, root / edit.path, "write configuration files")
            if edit.action == "created":
                if target.exists():
                    raise UserError(
                        f"{edit.path} appeared since the import was planned; nothing written", code=CONFLICT
                    )
                previous, mode = None, 0o644
            else:
                previous = target.read_bytes()
                if edit.base and hashlib.sha256(previous).hexdigest() != edit.base:
                    raise UserError(f"{edit.path} changed since the import was planned; nothing written", code=CONFLICT)
                mode = target.stat().st_mode & 0o7777
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
            staged.append((target, tmp, previous))
            with os.fdopen(fd, "wb") as out:
                out.write(text.encode("utf-8"))
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, mode)
    except BaseException:
        for _, tmp, _ in staged:
            _remove(tmp)
        raise
    done: list[tuple[Path, bytes | None]] = []
    try:
        for target, tmp, previous in staged:
            os.replace(tmp, target)
            done.append((target, previous))
    except BaseException:
        for target, previous in reversed(done):  # put back what was already replaced
            if previous is None:
                _remove(target)
            else:
                target.write_bytes(previous)
        for _, tmp, _ in staged:
            _remove(tmp)
        raise


def _remove(path: Path | str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
