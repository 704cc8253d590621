"""Qualifications (issue #20): trainings and agreements people hold until a date, that roles require.

A qualification is declared once (`qualifications:`, with the base roles whose grants require it by
default); a person holds it (`qualifications: {gcp: {completed, expires}}`); a study's custom role may
require more (`requires: [...]`). A grant requires the defaults of its base role plus its custom role's
own. Like a ceiling (rules.ceilings), the requirement is enforced at assignment: a grant the plan would
add for a person who lacks a valid qualification is refused (`qualification-missing`); unlike a ceiling,
an applied grant whose qualification lapses is not kept: it is suspended (revoked, with the reason) from
the day after the qualification's last valid day (`qualification-suspended`), and the holder is warned
`notify_days` ahead (`qualification-expiring`). docs/qualifications.md says it in prose.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, Final

from ..catalogs import catalog
from ..diagnostics import Diagnostic, Loc, error, suggest, warning
from ..model import ALL, Grant, HeldQualification, Model, Person, Role, Study
from .book import rule

if TYPE_CHECKING:
    from ..plan.model import Change

FAMILY = "qualifications"
SOURCE = "[qualifications](qualifications.md)"
DEFAULT_NOTIFY_DAYS = 30
_UNSEEN = object()

UNKNOWN_QUALIFICATION = rule(
    "unknown-qualification",
    family=FAMILY,
    source=SOURCE,
    kind="error",
    summary="every qualification a role requires or a person holds is declared; `base_roles` names base roles",
    text=(
        "every qualification a custom role requires (`requires:`) or a person holds (`qualifications:`) "
        "is declared under `qualifications:` (with a did-you-mean); a qualification's `base_roles` names "
        "systems edcconf knows and base roles of that system's catalog"
    ),
    example="role cardio_crc of CARDIO-01 requires unknown qualification 'gpc'; did you mean 'gcp'?",
)

QUALIFICATION_MISSING = rule(
    "qualification-missing",
    family=FAMILY,
    source=SOURCE,
    kind="error",
    summary="a grant that is **added** is to a person who holds every qualification its role requires, valid",
    text=(
        "a grant that the plan **adds** (or that is declared and not applied, for `validate`) is to a person "
        "who holds every qualification its role requires (its base role's defaults and its custom role's "
        "`requires:`), completed and not expired on the plan's date. The message names the person, the "
        "grant, the qualification, where it is required and why it is lacking (never held, expired on a "
        "day, completed only later). Enforced at assignment: an applied grant is suspended instead "
        "(`qualification-suspended`)"
    ),
    example=(
        "li.wei lacks gcp (Good Clinical Practice training), required by the defaults of openclinica base "
        "role crc (environments/qualifications.yaml:4), for crc in CARDIO-01 (studies/cardio-01.yaml:24): "
        "expired on 2027-03-01 [CARDIO-01/li.wei: not applied yet; a grant is added only for a person "
        "who holds its qualifications]"
    ),
)

QUALIFICATION_SUSPENDED = rule(
    "qualification-suspended",
    family=FAMILY,
    source=SOURCE,
    kind="warning",
    summary="an applied grant is revoked because its person's required qualification lapsed",
    text=(
        "an applied grant whose person no longer holds a qualification its role requires (it expired, or "
        "the role now requires one they never held) is revoked by the plan, its reason "
        "`suspended: ...`; `plan --at DAY` shows it ahead. Renewing the qualification (a later "
        "`expires:`) grants it again"
    ),
    example=(
        "li.wei's grant CARDIO-01/li.wei (studies/cardio-01.yaml:24) is suspended: gcp expired on "
        "2027-03-01; this plan revokes it until gcp is renewed"
    ),
)

QUALIFICATION_UNVERIFIED = rule(
    "qualification-unverified",
    family=FAMILY,
    source=SOURCE,
    kind="warning",
    summary="`validate` found a grant lacking a qualification in an environment whose state it could not read",
    text=(
        "`validate` found a declared grant whose person lacks a qualification its role requires, in an "
        "environment whose state it could not read (a `postgres` backend without its DSN, a damaged state "
        "file): it cannot tell whether the plan refuses the grant (not applied yet: `qualification-missing`) "
        "or suspends it (applied: `qualification-suspended`)"
    ),
    example=(
        "li.wei lacks gcp (Good Clinical Practice training), ... [the state of production (environment "
        "variable EDCCONF_PG_DSN is not set) could not be read, so validate cannot tell whether the plan "
        "refuses this grant (qualification-missing) or suspends it (qualification-suspended)]"
    ),
)

QUALIFICATION_EXPIRING = rule(
    "qualification-expiring",
    family=FAMILY,
    source=SOURCE,
    kind="warning",
    summary="a person's qualification expires within its `notify_days` of the plan's date",
    text=(
        "an active person's qualification expires within its `notify_days` (default 30) of the plan's "
        "date, before the person's own expiry: the grants that require it will be suspended after that day unless it is renewed. "
        "`compliance alert --qualifications` sends the reminders"
    ),
    example=(
        "li.wei's gcp (Good Clinical Practice training) expires on 2027-03-01, in 20 days: renew it, or the "
        "grants that require it are suspended after that day"
    ),
)


@dataclass(frozen=True)
class Requirement:
    """One qualification a grant requires, and why: a custom role's `requires:` or a base role's default."""

    id: str
    by: str  # "role X of STUDY" | "the defaults of SYSTEM base role Y"
    declared: Loc  # the qualification's declaration (where a base role's default is said)
    role: Role | None = field(default=None, repr=False, compare=False)  # a custom role that requires it

    @property
    def loc(self) -> Loc:
        """Where it is required: the custom role's `requires:` (worked out only for a message), or the
        qualification's declaration."""
        return self.role.locs.get("requires", self.role.loc) if self.role is not None else self.declared


def defaults_index(model: Model) -> dict[str, dict[str, tuple[str, ...]]]:
    """system -> base role (or `all`) -> the qualifications its grants require by default."""
    out: dict[str, dict[str, list[str]]] = {}
    for q in model.qualifications.values():
        for system, roles in q.base_roles.items():
            for base in (ALL,) if roles == ALL else roles:
                out.setdefault(system, {}).setdefault(base, []).append(q.id)
    return {s: {b: tuple(ids) for b, ids in m.items()} for s, m in out.items()}


def requirements(
    model: Model,
    index: Mapping[str, Mapping[str, tuple[str, ...]]],
    study: Study,
    role_id: str,
    base_id: str,
) -> tuple[Requirement, ...]:
    """What a grant of role_id (whose base role is base_id) in study requires, each qualification once."""
    out: dict[str, Requirement] = {}
    defaults = index.get(study.system, {})
    for qid in defaults.get(ALL, ()) + defaults.get(base_id, ()):
        q = model.qualifications[qid]
        out.setdefault(qid, Requirement(qid, f"the defaults of {study.system} base role {base_id}", q.loc))
    custom: Role | None = study.roles.get(role_id)
    if custom is not None:
        for qid in custom.requires:
            if qid in model.qualifications:
                out.setdefault(qid, Requirement(qid, f"role {role_id} of {study.id}", custom.loc, custom))
    return tuple(out.values())


def lacking(person: Person, required: Iterable[Requirement], as_of: date) -> tuple[Requirement, str] | None:
    """The first requirement the person does not meet on as_of, and why; None when they meet them all."""
    for req in required:
        held = person.qualifications.get(req.id)
        if held is None:
            return req, "never held"
        if held.expires is not None and held.expires < as_of:
            return req, f"expired on {held.expires.isoformat()}"
        if held.completed is not None and held.completed > as_of:
            return req, f"completed only on {held.completed.isoformat()}"
    return None


def _label(model: Model, qid: str) -> str:
    q = model.qualifications.get(qid)
    return f"{qid} ({q.name})" if q is not None and q.name else qid


SUSPENDED: Final = "suspended: "  # how a suspension's reason starts (views.markdown gathers them)


def suspension_reason(person: Person, req: Requirement, why: str) -> str:
    """The reason of the exclusion (shown on the revoke of an applied grant)."""
    if why.startswith("expired"):
        return f"{SUSPENDED}{person.username}'s {req.id} {why}"
    return f"{SUSPENDED}{person.username} lacks {req.id} ({why}), required by {req.by}"


def missing(model: Model, person: Person, grant: Grant, req: Requirement, why: str) -> Diagnostic:
    """The `qualification-missing` error of a declared grant (raised only if the plan adds it)."""
    return error(
        QUALIFICATION_MISSING.code,
        f"{person.username} lacks {_label(model, req.id)}, required by {req.by} ({req.loc}), for "
        f"{grant.role} in {grant.study} ({grant.loc}): {why}",
        grant.loc,
        user=person.username,
        qualification=req.id,
        why=why,
    )


def revoked_keys(changes: Iterable[Change]) -> set[str]:
    return {c.key for c in changes if c.kind == "grant" and c.action == "revoke"}


def at_assignment(
    unqualified: Mapping[str, Diagnostic], applied: Container[str], revoked: Container[str]
) -> tuple[list[Diagnostic], list[Diagnostic]]:
    """(errors, warnings): a declared grant lacking a qualification is refused when not applied yet
    (the plan would add it) and suspended when applied (revoked: the keys the plan revokes)."""
    errors, warnings = [], []
    for key in sorted(unqualified):
        diag = unqualified[key]
        if key not in applied:
            errors.append(
                replace(
                    diag,
                    message=f"{diag.message} [{key}: not applied yet; a grant is added only for a person who "
                    "holds its qualifications]",
                )
            )
        elif key in revoked:
            details = dict(diag.details)
            warnings.append(
                warning(
                    QUALIFICATION_SUSPENDED.code,
                    f"{details.get('user')}'s grant {key} ({diag.loc}) is suspended: {details.get('qualification')} "
                    f"{details.get('why')}; this plan revokes it until {details.get('qualification')} is renewed",
                    diag.loc,
                    key=key,
                )
            )
    return errors, warnings


def check_qualifications(model: Model) -> list[Diagnostic]:
    """unknown-qualification: what roles require, people hold and `base_roles` name exists."""
    out: list[Diagnostic] = []
    known = model.qualifications
    for q in known.values():
        for system, roles in q.base_roles.items():
            cat = catalog(system)
            where = q.locs.get("base_roles", q.loc)
            if cat is None:
                out.append(
                    error(
                        UNKNOWN_QUALIFICATION.code,
                        f"qualification {q.id} names unknown system {system!r} in base_roles"
                        f"{suggest(system, ('openclinica', 'redcap', 'vault'))}",
                        where,
                    )
                )
                continue
            for base in () if roles == ALL else roles:
                if base not in cat.roles:
                    out.append(
                        error(
                            UNKNOWN_QUALIFICATION.code,
                            f"qualification {q.id} names unknown {system} base role {base!r} in base_roles"
                            f"{suggest(base, cat.roles)}",
                            where,
                        )
                    )
    for person in model.people.values():
        for qid in person.qualifications:
            if qid not in known:
                out.append(
                    error(
                        UNKNOWN_QUALIFICATION.code,
                        f"{person.username} holds unknown qualification {qid!r}{suggest(qid, known)}; "
                        "declare it under qualifications:",
                        person.qualification_loc(qid),
                    )
                )
    for study in model.studies.values():
        for role in study.roles.values():
            for qid in role.requires:
                if qid not in known:
                    out.append(
                        error(
                            UNKNOWN_QUALIFICATION.code,
                            f"role {role.id} of {study.id} requires unknown qualification {qid!r}"
                            f"{suggest(qid, known)}; declare it under qualifications:",
                            role.locs.get("requires", role.loc),
                        )
                    )
    return out


def expiring(model: Model, as_of: date) -> list[Diagnostic]:
    """qualification-expiring: an active person's qualification ends within its notify_days of as_of."""
    out: list[Diagnostic] = []
    # what ends within its notify_days, once per mapping: people who hold the same dates share one
    soon_by_mapping: dict[int, list[tuple[str, date]]] = {}
    for person in model.people.values():
        if not person.qualifications or person.status != "active" or person.expired(as_of):
            continue
        soon = soon_by_mapping.get(id(person.qualifications))
        if soon is None:
            soon = soon_by_mapping[id(person.qualifications)] = _ending_soon(model, person.qualifications, as_of)
        for qid, ends in soon:
            if person.expires is not None and ends >= person.expires:
                continue  # the person's access ends by then anyway (an agreement valid until then)
            days = (ends - as_of).days
            out.append(
                warning(
                    QUALIFICATION_EXPIRING.code,
                    f"{person.username}'s {_label(model, qid)} expires on {ends.isoformat()}, "
                    f"in {days} day{'s' if days != 1 else ''}: renew it, or the grants that require it "
                    "are suspended after that day",
                    person.qualification_loc(qid),
                    user=person.username,
                    qualification=qid,
                )
            )
    return out


def _ending_soon(model: Model, held: Mapping[str, HeldQualification], as_of: date) -> list[tuple[str, date]]:
    """The declared qualifications of a held mapping that are valid on as_of and end within their
    notify_days, with the day each ends."""
    out = []
    for qid, one in held.items():
        q = model.qualifications.get(qid)
        if q is None or one.expires is None or one.expires < as_of:
            continue
        if one.expires <= as_of + timedelta(days=q.notify_days):
            out.append((qid, one.expires))
    return out


class QualificationCheck:
    """Per grant, whether its person lacks a qualification it requires on as_of: (exclusion reason,
    qualification-missing error) or None. The requirements are worked out once per study and role, and
    a person's standing once per set of requirements: 200,000 grants cost two dict look-ups each."""

    def __init__(self, model: Model, as_of: date) -> None:
        self.model, self.as_of = model, as_of
        self.index = defaults_index(model)
        # (study, role) -> (its requirements, their ids, username -> what they lack: shared by every role
        # with the same ids)
        self.needs: dict[tuple[str, str], tuple[tuple[Requirement, ...], tuple[str, ...], dict[str, Any]]] = {}
        self.standing: dict[tuple[str, ...], dict[str, Any]] = {}

    def __call__(
        self, person: Person, study: Study, grant: Grant, role_id: tuple[str, str], base_id: str
    ) -> tuple[str, Diagnostic] | None:
        """role_id: (study, role), the caller's key of the grant's role."""
        need = self.needs.get(role_id)
        if need is None:
            reqs = requirements(self.model, self.index, study, grant.role, base_id)
            ids = tuple(r.id for r in reqs)
            need = self.needs[role_id] = (reqs, ids, self.standing.setdefault(ids, {}))
        reqs, ids, by_person = need
        lack = by_person.get(person.username, _UNSEEN)  # (no requirements: lacking() says None)
        if lack is _UNSEEN:
            lack = by_person[person.username] = lacking(person, reqs, self.as_of)
        if lack is None:
            return None
        req = next(r for r in reqs if r.id == lack[0].id)  # this role's own, where it is required
        return suspension_reason(person, req, lack[1]), missing(self.model, person, grant, req, lack[1])
