"""Rights ceilings (REDCap Access Control Groups, 002; Security Access Groups, 004): one home for the rules.

What a ceiling is and which rights exceed it are values (rules.ceiling_values); here are the rules on
them: the group declarations validate warns about, a desired grant above its ceiling (`exceeded`), and
the plan's judgement at assignment (`at_assignment`: only a grant that is added or changed must comply).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast

from ..catalogs import RIGHTS
from ..diagnostics import Diagnostic, Loc, error, warning
from .book import rule
from .ceiling_values import Over, closed_keys, mapped_keys, over_text, redcap_catalog

if TYPE_CHECKING:
    from ..model import Grant, Group, Model, Person
    from ..plan.model import Change

FAMILY = "ceilings"

CEILING_EXCEEDED = rule(
    "ceiling-exceeded",
    family=FAMILY,
    source="002, 004",
    kind="error",
    summary="a grant that is **added or changed** is within the person's group ceiling",
    text=(
        "a grant that is **added or changed** is within the person's group ceiling: its effective rights "
        "(generic, and every REDCap key: `user_rights` ordered 0 < 2 < 1, `dataViewing` compared as sets "
        "of abilities). Ceilings are enforced at assignment, as REDCap does (see [Ceilings at "
        "assignment](#ceilings-at-assignment)): `plan` refuses a grant it creates or updates (any change "
        "of role, sites, forms, rights or expiry) above the ceiling and keeps an applied grant that "
        "nobody changes (`ceiling-noncompliant`). Ceilings fail closed: a right the group does not name "
        "is none (REDCap 0), and the message says so for a right the group never named; lists each right, "
        "granted and allowed, and the group's message"
    ),
    example=(
        "rhea.read in group readers would get form_access edit (allowed read) as crc in EXTRA-03. "
        "Complete the data-entry training first (policy EDC-7). [EXTRA-03/rhea.read: added by this plan; "
        "a grant that is added or changed must be within the ceiling (002, 004)]"
    ),
)

CEILING_EXTENDS = rule(
    "ceiling-extends",
    family=FAMILY,
    source="002",
    kind="error",
    summary="a group that starts from another group's ceiling",
    text=(
        "a group that starts from another group's ceiling (`extends:`) names a group that exists, never "
        "itself through a chain, and does not also say `unnamed:` (its unnamed rights are the parent's)"
    ),
    example="group a extends b, which extends a (a -> b -> a); a ceiling cannot start from itself",
)

CEILING_UNLIMITED = rule(
    "ceiling-unlimited",
    family=FAMILY,
    source="002",
    kind="warning",
    summary="a group says `unnamed: unlimited`: every right it does not name is allowed",
    text=(
        "a group that says `unnamed: unlimited` allows every right it does not name, in every system and "
        "for rights added later"
    ),
    example=(
        "group edc-team allows every right it does not name (unnamed: unlimited), in every system and for "
        "rights added later; name the rights it needs instead where you can"
    ),
)

CEILING_REDCAP_CLOSED = rule(
    "ceiling-redcap-closed",
    family=FAMILY,
    source="004",
    kind="warning",
    summary=("a REDCap key a group names above what the same group's generic rights allow stays at the lower value"),
    text=(
        "a REDCap key a group names above what the same group's generic rights allow stays at the lower "
        "value (a named key narrows, never opens)"
    ),
    example=(
        "group g names REDCap rights above what its generic rights allow: api_export 1 (the generic "
        "rights allow 0); they stay at the lower value: name the generic right too"
    ),
)

DEFAULT_GROUP = rule(
    "default-group",
    family=FAMILY,
    source="002",
    kind="error",
    summary="at most one group is REDCap's default group",
    text=(
        "at most one group is REDCap's default group (`default: true`, the ACG file's is_default_group); "
        "without one, the built-in no-rights group (G-NORIGHTS) is"
    ),
    example=(
        "group b is marked default, and so is a (groups/a.yaml:2); REDCap has one default group: keep "
        "default: true on one"
    ),
)

CEILING_NONCOMPLIANT = rule(
    "ceiling-noncompliant",
    family=FAMILY,
    source="002, 004",
    kind="warning",
    summary="an applied grant exceeds its person's current ceiling",
    text=(
        "an applied grant exceeds its person's current ceiling (the ceiling was lowered, or the person "
        "moved to another group). When the plan does not change it, it is kept as applied (002: a ceiling "
        "is checked at the next assignment or modification, never retroactively) and this warning names "
        "it; when the plan revokes it or brings it within, the warning says so. `edcconf compliance` "
        "lists the same grants in its reports"
    ),
    example=(
        "applied access of cara.crc in HEART-01 exceeds the current ceiling of group staff: form_access "
        "edit (allowed read); kept as applied (a ceiling is checked when a grant is added or changed, "
        "002), listed by edcconf compliance; any change to this grant must be within the ceiling"
    ),
)

CEILING_UNVERIFIED = rule(
    "ceiling-unverified",
    family=FAMILY,
    source="002, 004",
    kind="warning",
    summary="`validate` found a grant above its ceiling in an environment whose state it could not read",
    text=(
        "`validate` found a grant above its ceiling in an environment whose state it could not read (a "
        "`postgres` backend without its DSN, a damaged state file): it cannot tell whether the grant is "
        "applied unchanged (kept) or added or changed (refused by the plan)"
    ),
    example=(
        "… [the state of production (environment variable EDCCONF_PG_DSN is not set) could not be read, "
        "so validate cannot tell whether this grant is applied unchanged (kept, with a warning) or added "
        "or changed (the plan refuses it: ceiling-exceeded)]"
    ),
)


def group_ceilings(model: Model) -> list[Diagnostic]:
    """What validate says about ceilings themselves: `unnamed: unlimited` (a warning: the group allows
    every right in every system), REDCap keys named above what the same group's generic rights allow
    (they stay closed), and more than one default group (REDCap has one)."""

    out = []
    defaults = [g for g in model.groups.values() if g.default]
    for group in defaults[1:]:
        out.append(
            error(
                DEFAULT_GROUP.code,
                f"group {group.id} is marked default, and so is {defaults[0].id} "
                f"({defaults[0].loc}); REDCap has one default group: keep `default: true` on one",
                group.loc,
            )
        )
    for group in model.groups.values():
        if group.unlimited:
            out.append(
                warning(
                    CEILING_UNLIMITED.code,
                    f"group {group.id} allows every right it does not name "
                    "(`unnamed: unlimited`), in every system and for rights added later; name the "
                    "rights it needs instead where you can",
                    group.loc,
                )
            )
        generic = {k: str(v) for k, v in group.named.items() if k != "redcap"}
        closed = closed_keys(generic, _named_keys(group))
        if closed and not group.extends and not group.unlimited:
            listed = ", ".join(f"{k} {v} (the generic rights allow {b})" for k, v, b in closed)
            out.append(
                warning(
                    CEILING_REDCAP_CLOSED.code,
                    f"group {group.id} names REDCap rights above what its "
                    f"generic rights allow: {listed}; they stay at the lower value: name the generic "
                    "right too",
                    group.loc,
                )
            )
    return out


def exceeded(group: Group, person: Person, grant: Grant, over: list[Over]) -> Diagnostic:
    """The `ceiling-exceeded` error of a desired grant above its person's group ceiling; the plan decides
    whether it stands (`at_assignment`: only a grant that is added or changed must comply)."""
    from ..diagnostics import error

    message = (
        f"{person.username} in group {group.id} would get {over_text(over)} as {grant.role} in {grant.study}"
        f"{unnamed_hint(group, over)}"
    )
    if group.message:
        message += f". {group.message}"
    return error(
        CEILING_EXCEEDED.code,
        message,
        grant.locs.get("role", grant.loc),
        group=group.id,
        rights=[{"right": r, "granted": g, "allowed": a} for r, g, a in over],
    )


def _named_keys(group: Group) -> Mapping[str, int]:
    """The REDCap keys a group's ceiling names as written (schema-checked: key -> value)."""
    return cast("Mapping[str, int]", group.named.get("redcap") or {})


def unnamed_hint(group: Group, over: list[Over]) -> str:
    """Format v1 once left unnamed rights unlimited: say so when a right over the ceiling was never named."""
    if group.unlimited or group.builtin:
        return ""
    named = {k for k in group.named if k != "redcap"} | {f"redcap.{k}" for k in _named_keys(group)}
    implied = {f"redcap.{k}" for k in mapped_keys(redcap_catalog(), RIGHTS)}  # named through a generic right
    unnamed = [right for right, _, _ in over if right not in named and right not in implied]
    if not unnamed or group.extends:
        return ""
    return (
        f" (group {group.id} does not name {', '.join(unnamed)}: a right a ceiling does not name is none; "
        "name it, start from another group with `extends:`, or write `unnamed: unlimited`)"
    )


# Ceilings are enforced at assignment (002: "when adding a user to a project; when modifying user
# privileges"; 004: every attempt to set a user's rights is checked). A grant the plan creates or updates,
# whatever changed (role, sites, forms, rights, expiry: REDCap re-checks on any save of a user's rights),
# must be within the person's current ceiling. An applied grant that nobody changes stays as it is,
# however far above a lowered ceiling (or above the ceiling of the group its person moved to): the plan
# warns about it and the compliance reports list it.


def pair_rights(pair: Mapping[str, Any]) -> str:
    return "; ".join(f"{o['right']} {o['granted']} (allowed {o['allowed']})" for o in pair["non_compliant"])


def kept_warning(pair: Mapping[str, Any], loc: Loc, environment: str | None = None) -> Diagnostic:
    """An applied grant above its person's current ceiling that the plan does not change."""

    where = f" in {environment}" if environment else ""
    return warning(
        CEILING_NONCOMPLIANT.code,
        f"applied access of {pair['user']} in {pair['study']}{where} exceeds the current "
        f"ceiling of group {pair['group']}: {pair_rights(pair)}; kept as applied (a ceiling is checked "
        "when a grant is added or changed, 002), listed by `edcconf compliance`; any change to this "
        "grant must be within the ceiling",
        loc,
        key=pair.get("key"),
        kept=True,
    )


def at_assignment(
    changes: Iterable[Change], above: Mapping[str, Diagnostic], applied: list[tuple[Mapping[str, Any], Loc]]
) -> tuple[list[Diagnostic], list[Diagnostic]]:
    """(errors, warnings) of a plan's grant changes against the ceilings.

    above: grant key -> the `ceiling-exceeded` error of a desired grant above its ceiling (resolve), for at
    least every key the plan changes; applied: (non-compliant pair with its `key`, the person's Loc) for each
    applied grant above its person's current ceiling (questions.compliance.non_compliant_pairs)."""

    changed = {c.key: c for c in changes if c.kind == "grant"}
    errors = []
    for key in sorted(changed):
        change = changed[key]
        if change.after is None or key not in above or only_narrows(change.before, change.after):
            continue
        diag = above[key]
        what = "added by this plan" if change.before is None else f"changed by this plan ({change.reason})"
        errors.append(
            replace(
                diag,
                message=f"{diag.message} [{key}: {what}; a grant that is added or changed "
                "must be within the ceiling (002, 004)]",
            )
        )
    warnings = []
    for pair, loc in applied:
        now = changed.get(pair["key"])
        if now is None:
            warnings.append(kept_warning(pair, loc))
        elif now.after is None:
            warnings.append(
                warning(
                    CEILING_NONCOMPLIANT.code,
                    f"applied access of {pair['user']} in {pair['study']} exceeds the "
                    f"current ceiling of group {pair['group']}: {pair_rights(pair)}; this plan "
                    "revokes it",
                    loc,
                    key=pair["key"],
                    kept=False,
                )
            )
        elif pair["key"] not in above:
            warnings.append(
                warning(
                    CEILING_NONCOMPLIANT.code,
                    f"applied access of {pair['user']} in {pair['study']} exceeds the "
                    f"current ceiling of group {pair['group']}: {pair_rights(pair)}; this plan "
                    "brings it within",
                    loc,
                    key=pair["key"],
                    kept=False,
                )
            )
        elif only_narrows(now.before, now.after):  # an earlier expiry or fewer sites, rights unchanged
            warnings.append(
                warning(
                    CEILING_NONCOMPLIANT.code,
                    f"applied access of {pair['user']} in {pair['study']} exceeds the "
                    f"current ceiling of group {pair['group']}: {pair_rights(pair)}; this plan only "
                    f"narrows it ({now.reason}), which is allowed, and it stays above the ceiling",
                    loc,
                    key=pair["key"],
                    kept=True,
                )
            )
    return errors, warnings


_NARROWING = frozenset({"sites", "site_access", "countries", "expires"})


def only_narrows(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> bool:
    """A grant change that gives nothing new: the same role, form levels and rights, an expiry set or moved
    earlier, sites dropped. Such a change to a grant above its ceiling is allowed (004: the SAG module's own
    remedy for a non-compliant user is to expire them), where anything else must comply."""
    if not before or not after:
        return False
    if any(before.get(k) != after.get(k) for k in set(before) | set(after) if k not in _NARROWING):
        return False
    if not set(after.get("sites") or ()) <= set(before.get("sites") or ()):
        return False
    if after.get("site_access") == "all" and before.get("site_access") != "all":
        return False
    old, new = before.get("expires"), after.get("expires")
    return new == old or (new is not None and (old is None or new < old))
