"""The qualifications of the model (docs/qualifications.md): the declared ones (`qualifications:`), what
each person holds (read by build._person as it builds them), what each custom role requires. The roles are
a pass after build_model's own, over the same files: only roles that say something about qualifications
are rebuilt (with dataclasses.replace)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import date
from functools import lru_cache
from typing import Any

from ..diagnostics import Diagnostic, error
from ..identity import fold
from ..model import ALL, HeldQualification, Model, Qualification, Study, frozen_map
from ..rules import files as files_rules
from ..rules.qualifications import DEFAULT_NOTIFY_DAYS
from ..source.yamlfile import ParsedFile
from .nodes import _Node, _Registry, declarations


def with_qualifications(model: Model, files: tuple[ParsedFile, ...], problems: list[Diagnostic]) -> Model:
    declared = _declared(files, problems)
    studies = _required(model, files)
    if not declared and not studies:
        return model
    return replace(
        model,
        qualifications=frozen_map(declared),
        studies=frozen_map({**model.studies, **studies}) if studies else model.studies,
    )


def _declared(files: tuple[ParsedFile, ...], problems: list[Diagnostic]) -> dict[str, Qualification]:
    out: dict[str, Qualification] = {}
    ids = _Registry("qualification", problems)
    for node in declarations(files, "qualifications"):
        qid = node.get("id")
        if not ids.claim(qid, node, "id"):
            continue
        base_roles: dict[str, Any] = {
            system: roles if roles == ALL else tuple(roles) for system, roles in (node.get("base_roles") or {}).items()
        }
        out[qid] = Qualification(
            qid,
            node.get("name"),
            int(node.get("notify_days", DEFAULT_NOTIFY_DAYS)),
            frozen_map(base_roles),
            node.loc,
            node.locs(),
        )
    return out


def _plain(files: tuple[ParsedFile, ...], kind: str, plural: str) -> Iterator[tuple[ParsedFile, tuple, Any]]:
    """(file, path, value) of every declaration of a kind, in nodes.declarations' order, from the plain
    values: no file's positions are unpacked (that is most of the cost of a node)."""
    for f in files:
        data = f.data
        if not isinstance(data, dict):
            continue
        if kind in data:
            yield f, (kind,), data[kind]
        for i, value in enumerate(data.get(plural) or ()):
            yield f, (plural, i), value


def _first(ident: Any, seen: set[str]) -> bool:
    """Whether ident is met for the first time (build_model keeps the first declaration of an id)."""
    if not isinstance(ident, str) or fold(ident) in seen:
        return False
    seen.add(fold(ident))
    return True


NONE_HELD: Mapping[str, HeldQualification] = frozen_map()  # shared by everyone who declares none


def held_qualifications(
    member: _Node, problems: list[Diagnostic], shared: dict[tuple, Mapping[str, HeldQualification]]
) -> Mapping[str, HeldQualification]:
    """A person's `qualifications:` (build._person reads them as it builds them). shared: the mappings
    built so far, by (id, completed, expires) of each entry: 20,000 people often hold the same few training
    dates, and one mapping each (with its dates and objects) was most of a one-change plan's extra cost.
    Only a mapping whose dates all read is shared; a wrong date is reported for each person who wrote it."""
    held = member.get("qualifications")
    if not held or not isinstance(held, dict):
        return NONE_HELD
    key: tuple | None
    try:  # ids in order, each with its two date texts (an entry that is not a mapping: not shared)
        key = tuple([(qid, value.get("completed"), value.get("expires")) for qid, value in held.items()])
        found = shared.get(key)
    except (AttributeError, TypeError):
        key = found = None
    if found is not None:
        return found
    before = len(problems)
    f, path = member.file, member.path + ("qualifications",)
    made = frozen_map(
        {
            qid: HeldQualification(
                _date(f, path + (qid,), value, "completed", problems),
                _date(f, path + (qid,), value, "expires", problems),
                qid,
            )
            for qid, value in held.items()
        }
    )
    if key is not None and len(problems) == before:  # dates that all read
        shared[key] = made
    return made


@lru_cache(maxsize=4096)
def _day(text: str) -> date:
    """A date read once per distinct text: 20,000 people often share a few training dates (a text that is
    not a date raises, and is not remembered)."""
    return date.fromisoformat(text)


def _date(f: ParsedFile, path: tuple, value: Any, key: str, problems: list[Diagnostic]) -> date | None:
    text = value.get(key) if isinstance(value, dict) else None
    if text is None:
        return None
    try:
        return _day(text)
    except (TypeError, ValueError):  # (the schema refuses it first): reported as build.parse_date does
        where = f.loc(path + (key,))
        problems.append(error(files_rules.SCHEMA.code, f"{key}: {text!r} is not a real date (YYYY-MM-DD)", where))
        return None


def _required(model: Model, files: tuple[ParsedFile, ...]) -> dict[str, Study]:
    """Studies with a custom role that requires qualifications, their roles rebuilt with `requires`."""
    out: dict[str, Study] = {}
    seen: set[str] = set()
    for _, _, value in _plain(files, "study", "studies"):
        if not isinstance(value, dict) or not _first(value.get("id"), seen):
            continue  # a duplicate study id: reported by build_model, which kept the first
        roles = value.get("roles")
        wanted = (
            {rid: tuple(r["requires"]) for rid, r in roles.items() if isinstance(r, dict) and r.get("requires")}
            if isinstance(roles, dict)
            else None
        )
        study = model.studies.get(value["id"])
        if not wanted or study is None:
            continue
        out[study.id] = replace(
            study,
            roles=frozen_map(
                {rid: replace(r, requires=wanted[rid]) if rid in wanted else r for rid, r in study.roles.items()}
            ),
        )
    return out
