"""Roles and sites for `source.writer`: a study's new roles (entries of its `roles:` mapping), sites
added to a study's `sites:` list (usually a flow list, rewritten in place), and new global sites (a
file of their own, environments/sites-imported.yaml). Planned as `writer._Insert`s like members and
grants, so that all edits of one file are applied and verified together."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..diagnostics import UserError
from ..rules import imports as imports_rules
from .writer import (
    CONFLICT,
    GRANT_KEYS,
    Edit,
    _content_end,
    _fill_or_add,
    _find,
    _Insert,
    _is_null,
    _key_node,
    _line_end,
    _node_at,
    _old_value,
    _plan_append,
    _verify,
)
from .writer_text import MEMBER_KEYS, SCHEMA_COMMENT, _ordered, flow, note_lines, scalar
from .yamlfile import ParsedFile

SITE_KEYS = ("id", "name", "country", "timezone", "city")
SITES_FILE = "environments/sites-imported.yaml"


def plan_declaration(
    text: str,
    parsed: ParsedFile,
    root_node: yaml.Node,
    kind: str,
    ident: str | None,
    path: tuple,
    adds: dict[str, Any],
    inserts: list[_Insert],
) -> str:
    """The inserts of one declaration's additions (appended to inserts, in the order they take at one
    place: sites, roles, access) and their summary, e.g. "2 roles, 1 site, 5 grants in study DIAB-03".
    kind "sites" is the sites file, its top-level `sites:` list."""
    if kind == "sites":  # the sites file
        inserts += _plan_append(text, parsed, root_node, (), "sites", adds["sites"], SITE_KEYS, True, "the sites file")
        return sites_summary(adds["sites"])
    what = f"{kind} {ident}"
    for key, items in adds.items():
        if key == "sites":
            inserts += plan_study_sites(text, parsed, root_node, path, items, what)
        elif key == "roles":
            inserts += plan_roles(text, parsed, root_node, path, items, what)
        else:  # members of a group, access of a study
            inserts += _plan_append(
                text,
                parsed,
                root_node,
                path,
                key,
                items,
                MEMBER_KEYS if key == "members" else GRANT_KEYS,
                kind == "study",
                what,
            )
    counts = [
        f"{len(adds[k])} {noun}{'s' * (len(adds[k]) != 1)}"
        for k, noun in (("members", "member"), ("roles", "role"), ("sites", "site"), ("access", "grant"))
        if k in adds
    ]
    return f"{', '.join(counts)} in {what}"


def plan_sites(root: Path, files, sites: list[dict], note: str, work: dict) -> list[tuple[Edit, str]]:
    """New global sites: the new sites file (returned), or, when it exists, additions to it (into work)."""
    check_new_sites(files, sites)
    if (Path(root) / SITES_FILE).exists():
        work.setdefault(SITES_FILE, {})[("sites", None, ())] = {"sites": sites}
        return []
    text = sites_file_text(sites, note)
    _verify(SITES_FILE, None, text, [_Insert(0, [], ("sites",), sites)])
    return [(Edit(SITES_FILE, "created", sites_summary(sites)), text)]


def plan_roles(
    text: str, parsed: ParsedFile, root_node: yaml.Node, decl: tuple, roles: dict[str, dict], what: str
) -> list[_Insert]:
    """One `role_id: {flow mapping}` line per role, after the last entry of the study's `roles:` (a block
    mapping); a study without roles gets the key, before `access:` when it has one."""
    node = _node_at(root_node, decl)
    if not isinstance(node, yaml.MappingNode) or node.flow_style:
        raise UserError(
            f"{parsed.path}: {what} is not written as a block mapping; cannot add roles to it "
            "(rewrite it in block style)",
            code=CONFLICT,
        )
    have = _old_value(parsed.data, decl + ("roles",))
    for rid in roles:
        if isinstance(have, dict) and rid in have:
            raise UserError(
                f"role {rid} is already declared in {what} at {parsed.loc(decl + ('roles', rid))}", code=CONFLICT
            )
    value = _node_at(node, ("roles",))
    path = decl + ("roles",)
    if isinstance(value, yaml.MappingNode) and value.value and not value.flow_style:
        pad = " " * value.value[-1][0].start_mark.column
        return [_Insert(_line_end(text, _content_end(value)), _entries(roles, pad), path, roles)]
    if isinstance(value, yaml.MappingNode) and value.value:
        raise UserError(
            f"{parsed.path}:{value.start_mark.line + 1}: roles of {what} is a flow mapping {{...}}; "
            "write it as a block mapping (one `role: ...` per line) to import into it",
            code=CONFLICT,
        )
    if value is not None and not _is_null(value) and not isinstance(value, yaml.MappingNode):
        raise UserError(f"{parsed.path}:{value.start_mark.line + 1}: roles of {what} is not a mapping", code=CONFLICT)
    return _fill_or_add(
        text,
        node,
        "roles",
        value,
        _entries(roles, " " * (node.start_mark.column + 2)),
        path,
        roles,
        _before(text, node, "access"),
    )


def _entries(roles: dict[str, dict], pad: str) -> list[str]:
    return [f"{pad}{scalar(str(rid))}: {flow(value)}" for rid, value in roles.items()]


def _before(text: str, mapping: yaml.MappingNode, key: str) -> int:
    """Where a new key goes so that it comes before `key` (right after the entry before it: comments
    above `key` stay with it), or at the end of the mapping when there is no `key`."""
    keys = [k.value if isinstance(k, yaml.ScalarNode) else None for k, _ in mapping.value]
    if key not in keys:
        return _line_end(text, _content_end(mapping))
    n = keys.index(key)
    if n == 0:
        return text.rfind("\n", 0, _key_node(mapping, key).start_mark.index) + 1
    k, v = mapping.value[n - 1]
    return _line_end(text, max(_content_end(k), _content_end(v)))


def new_study_sites(data: Any, ids: list[str]) -> list[str]:
    """The ids not yet in a study's `sites:` (each once)."""
    have = data.get("sites") if isinstance(data, dict) else None
    have = set(have) if isinstance(have, list) else set()
    return [i for i in dict.fromkeys(ids) if i not in have]


def plan_study_sites(
    text: str, parsed: ParsedFile, root_node: yaml.Node, decl: tuple, ids: list[str], what: str
) -> list[_Insert]:
    """A flow list `sites: [A, B]` becomes `sites: [A, B, C]`; a block list gets `- C` items."""
    node = _node_at(root_node, decl)
    seq = _node_at(node, ("sites",)) if isinstance(node, yaml.MappingNode) and not node.flow_style else None
    path = decl + ("sites",)
    if isinstance(seq, yaml.SequenceNode) and seq.flow_style:
        if not seq.value:
            return [_Insert(seq.start_mark.index, [], path, ids, end=seq.end_mark.index, text=flow(ids))]
        at = seq.value[-1].end_mark.index
        return [_Insert(at, [], path, ids, end=at, text="".join(f", {scalar(i)}" for i in ids))]
    return _plan_append(text, parsed, root_node, decl, "sites", ids, (), True, what)


def check_new_sites(files, sites: list[dict]) -> None:
    """New global sites: each with an id declared nowhere yet, and once."""
    seen: set[str] = set()
    for site in sites:
        sid = site.get("id") if isinstance(site, dict) else None
        if not isinstance(sid, str) or not sid:
            raise UserError(f"site {site!r} has no id", code=imports_rules.IMPORT_INVALID.code)
        found = _find(files, "site", "sites", sid)
        if found:
            f, path, _ = found[0]
            raise UserError(f"site {sid} is already declared at {f.loc(path + ('id',))}", code=CONFLICT)
        if sid in seen:
            raise UserError(f"site {sid} is to be added twice", code=CONFLICT)
        seen.add(sid)


def sites_file_text(sites: list[dict], note: str) -> str:
    return "".join(
        [
            SCHEMA_COMMENT + "\n",
            *note_lines(note),
            "sites:\n",
            *(f"  - {flow(_ordered(s, SITE_KEYS))}\n" for s in sites),
        ]
    )


def sites_summary(sites: list[dict]) -> str:
    return f"{len(sites)} site{'s' * (len(sites) != 1)} ({', '.join(s['id'] for s in sites)})"
