"""Plain-data forms (tuples, lists, strings, numbers: what marshal stores exactly) of what the caches keep:
diagnostics, changes, plans and parsed files. One codec per type, used by every cache."""

from __future__ import annotations

from datetime import date
from typing import Any

from ..diagnostics import Diagnostic, Loc
from ..plan.model import Brake, Change, Plan
from ..source.yamlfile import ParsedFile


def diag_out(d: Diagnostic) -> tuple:
    return (d.code, d.message, d.loc.file, d.loc.line, d.loc.col, d.severity, d.details)


def diag_in(t: Any) -> Diagnostic:
    return Diagnostic(t[0], t[1], Loc(t[2], t[3], t[4]), t[5], t[6])


def change_out(c: Change) -> tuple:
    return (
        c.action,
        c.kind,
        c.key,
        c.before,
        c.after,
        c.reason,
        c.source,
        c.study,
        c.details,
        c.stored,
        c.role,
        c.notify,
        c.invite,
        c.agreement_notify,
    )


def change_in(t: Any) -> Change:
    return Change(*t)


def plan_to_data(plan: Plan) -> tuple:
    return (
        plan.environment,
        plan.serial,
        plan.lineage,
        plan.as_of.isoformat(),
        tuple(change_out(c) for c in plan.changes),
        tuple(diag_out(w) for w in plan.warnings),
        tuple(b.to_json() for b in plan.brakes),
    )


def plan_from_data(data: tuple) -> Plan:
    env, serial, lineage, as_of, changes, warnings, brakes = data
    return Plan(
        env,
        serial,
        lineage,
        date.fromisoformat(as_of),
        tuple(change_in(c) for c in changes),
        tuple(diag_in(w) for w in warnings),
        tuple(Brake.from_json(b) for b in brakes),
    )


def to_entry(parsed: ParsedFile | None, parse_diags: list[Diagnostic], checked: list[Diagnostic] | None = None):
    """A file cache entry: a parsed file, its parse diagnostics and its schema verdict (None: not checked)."""
    body = None if parsed is None else (parsed.data, parsed.packed, parsed.plain_text)
    return (body, [diag_out(d) for d in parse_diags], None if checked is None else [diag_out(d) for d in checked])


def from_entry(rel: str, key: str | None, entry) -> tuple[ParsedFile | None, list[Diagnostic]]:
    body, parse_diags, checked = entry
    diags = [diag_in(t) for t in parse_diags]
    if body is None:
        return None, diags
    data, packed, plain_text = body
    verdict = None if checked is None else tuple(diag_in(t) for t in checked)
    return ParsedFile(rel, data, packed, plain_text, key, verdict), diags
