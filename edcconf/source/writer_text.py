"""How the writer spells new values as YAML text: a scalar plain when it reads back as the same text and
quoted otherwise, a flow collection on one line, a block mapping, a note as comment lines, a new group file."""

from __future__ import annotations

import datetime as _dt
import json
import re
from typing import Any

import yaml

from ..diagnostics import UserError
from ..rules import imports as imports_rules
from .yamlfile import resolve_plain_scalar

MEMBER_KEYS = ("username", "email", "name", "type", "expires", "status", "timezone", "external")
SCHEMA_COMMENT = "# yaml-language-server: $schema=../schemas/document.schema.json"

_ODD = re.compile("[\x7f-\x9f\u2028\u2029\ufeff]")
_PLAIN_OK = re.compile(r"[\w][\w.@/+()' -]*\Z")


def scalar(value: Any) -> str:
    """One value as YAML text that both the project's loader and a YAML 1.1 reader read back unchanged."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, _dt.date) and not isinstance(value, _dt.datetime):
        return value.isoformat()  # a date, written as the example configuration writes dates
    if isinstance(value, _dt.datetime):
        value = value.isoformat()
    if not isinstance(value, str):
        raise UserError(
            f"cannot write {value!r} ({type(value).__name__}) as a YAML value", code=imports_rules.IMPORT_INVALID.code
        )
    if _PLAIN_OK.match(value) and not value.endswith(" ") and "  " not in value and _reads_as_text(value):
        return value
    # a JSON string is a valid YAML double-quoted scalar; escape what YAML reads as a line break too
    return _ODD.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(value, ensure_ascii=False))


def _reads_as_text(text: str) -> bool:
    if resolve_plain_scalar(text) != text:
        return False
    try:
        return yaml.safe_load(text) == text  # YAML 1.1: yes/no/on/off, dates, 0x1f, 1_000, ...
    except yaml.YAMLError:
        return False


def flow(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{scalar(str(k))}: {flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(flow(v) for v in value) + "]"
    return scalar(value)


def _ordered(item: dict, keys: tuple[str, ...]) -> dict:
    out = {k: item[k] for k in keys if k in item}
    out.update((k, v) for k, v in item.items() if k not in out)
    return out


def _block(mapping: dict, indent: int, nl: str) -> str:
    """A block mapping, one key per line; nested mappings as blocks, lists and deeper values as flow."""
    out = []
    for key, value in mapping.items():
        pad = " " * indent
        if isinstance(value, dict) and value:
            out.append(
                f"{pad}{scalar(str(key))}:{nl}"
                + "".join(f"{pad}  {scalar(str(k))}: {flow(v)}{nl}" for k, v in value.items())
            )
        else:
            out.append(f"{pad}{scalar(str(key))}: {flow(value)}{nl}")
    return "".join(out)


def note_lines(note: str) -> list[str]:
    return [f"# {line}\n" for line in note.splitlines() or [""]] if note else []


def group_file_text(group: dict, note: str) -> str:
    body = {"id": group["id"], **{k: v for k, v in group.items() if k not in ("id", "members")}}
    lines = [SCHEMA_COMMENT + "\n", *note_lines(note), "group:\n"]
    lines.append(_block(body, 2, "\n"))
    members = group.get("members") or []
    if members:
        lines.append("  members:\n")
        lines += [f"    - {flow(_ordered(m, MEMBER_KEYS))}\n" for m in members]
    elif "members" in group:
        lines.append("  members: []\n")
    return "".join(lines)


# --- finding where to insert -----------------------------------------------------------------------
