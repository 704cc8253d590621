"""Rights ceilings (REDCap Access Control Groups, 002; Security Access Groups, 004): one home for the rule.

A group's ceiling fails closed: a right it does not name is `none` (REDCap 0), as in a newly created
REDCap ACG. A group may start from another group's ceiling (`extends:`) or say that unnamed rights are
unlimited (`unnamed: unlimited`, which `validate` warns about). Generic rights bound REDCap keys through
the catalog's mapping, so one effective ceiling in both vocabularies comes out of every declaration:
every generic right and every REDCap key has a value. The same `over_ceiling` answers resolve, the plan,
compliance, explain and the SAG/ACG writers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ..catalogs import RIGHTS, Catalog, catalog, right_rank
from ..diagnostics import Diagnostic, Loc, error, warning

if TYPE_CHECKING:
    from ..model import Group, Model

UNLIMITED = "unlimited"


@dataclass(frozen=True)
class Ceiling:
    """A group's effective ceiling: every generic right and every REDCap key, each with its highest value."""

    rights: Mapping[str, str]
    keys: Mapping[str, int]


def group_ceiling(group: Group | Mapping[str, Any]) -> Ceiling:
    """A model Group's (or a stored group value's) effective ceiling."""
    if isinstance(group, Mapping):
        return Ceiling(group.get("ceiling") or {}, group.get("redcap_ceiling") or {})
    return Ceiling(group.ceiling, group.redcap_ceiling)


def _redcap() -> Catalog:
    cat = catalog("redcap")
    assert cat is not None, "the REDCap catalog ships with the package"
    return cat


def key_bound(cat: Catalog, rights: Mapping[str, str], key: str) -> int:
    """The highest value of a REDCap key that a set of generic rights admits (top when none maps it)."""
    bound = cat.key_top(key)
    for right, value in rights.items():
        b = cat.key_bounds(right, value).get(key)
        if b is not None:
            bound = cat.meet(key, bound, b)
    return bound


def mapped_keys(cat: Catalog, rights: Mapping[str, object]) -> set[str]:
    return {k for right in rights for v in RIGHTS[right] for k in cat.key_bounds(right, v)}


def effective_ceiling(
    named: Mapping[str, str], named_keys: Mapping[str, int], *, unlimited: bool = False, parent: Ceiling | None = None
) -> Ceiling:
    """The full ceiling a declaration means.

    Without a parent every unnamed generic right is `none` (or its highest value with `unlimited`), and
    each REDCap key is what the generic rights mapping it allow, or 0 (top with `unlimited`) when no
    generic right maps it. With a parent, unnamed rights and keys are the parent's, and the keys of the
    generic rights this group names follow those rights. A named REDCap key narrows further; it never
    opens what a generic right of the same group closes (that is a warning in validate).
    """
    cat = _redcap()
    if parent is not None:
        rights = {**parent.rights, **named}
        keys = dict(parent.keys)
        follow = mapped_keys(cat, named)
    else:
        rights = {r: (values[-1] if unlimited else values[0]) for r, values in RIGHTS.items()}
        rights.update(named)
        keys = {k: (cat.key_top(k) if unlimited else 0) for k in cat.right_keys}
        follow = mapped_keys(cat, rights)
    for key in follow:
        keys[key] = key_bound(cat, rights, key)
    for key, value in named_keys.items():
        if key in keys:
            keys[key] = cat.meet(key, value, key_bound(cat, rights, key))
    return Ceiling(rights, keys)


def closed_keys(named: Mapping[str, str], named_keys: Mapping[str, int]) -> list[tuple[str, int, int]]:
    """(key, named value, what the group's generic rights allow) for REDCap keys named above what the same
    group's generic rights allow: the key stays at the lower value."""
    cat = _redcap()
    rights = {r: values[0] for r, values in RIGHTS.items()}
    rights.update(named)
    out = []
    for key, value in named_keys.items():
        if key in cat.right_keys:
            bound = key_bound(cat, rights, key)
            if not cat.allows(key, value, bound):
                out.append((key, value, bound))
    return out


def declaration_from_keys(keys: Mapping[str, int]) -> tuple[dict[str, str], dict[str, int]]:
    """A SAG or ACG row as the shortest declaration that means exactly it: the generic rights the keys
    imply (so the group bounds every system) and the REDCap keys whose value those rights do not already
    give. `effective_ceiling` of the result equals the row (a property test holds it)."""
    cat = _redcap()
    full = {k: int(keys.get(k, 0)) for k in cat.right_keys}
    rights = {r: cat.generic_from_keys(r, full) or RIGHTS[r][0] for r in RIGHTS}
    named = {r: v for r, v in rights.items() if v != RIGHTS[r][0]}
    implied = effective_ceiling(named, {}).keys
    return named, {k: v for k, v in full.items() if implied[k] != v}


Over = tuple[str, object, object]  # (right, granted, allowed)


def over_ceiling(ceiling: Ceiling, rights: Mapping[str, str], keys: Mapping[str, int]) -> list[Over]:
    """Every right of a role above a ceiling: generic rights, then REDCap keys (for REDCap roles)."""
    over: list[Over] = [
        (right, value, ceiling.rights[right])
        for right, value in rights.items()
        if right in ceiling.rights and right_rank(right, value) > right_rank(right, ceiling.rights[right])
    ]
    if keys:
        cat = _redcap()
        over += [
            (f"redcap.{key}", value, ceiling.keys.get(key, 0))
            for key, value in keys.items()
            if key in cat.right_keys and not cat.allows(key, value, ceiling.keys.get(key, 0))
        ]
    return over


def over_text(over: list[Over]) -> str:
    return "; ".join(f"{right} {granted} (allowed {allowed})" for right, granted, allowed in over)


def group_ceilings(model: Model) -> list[Diagnostic]:
    """What validate says about ceilings themselves: `unnamed: unlimited` (a warning: the group allows
    every right in every system), REDCap keys named above what the same group's generic rights allow
    (they stay closed), and more than one default group (REDCap has one)."""

    out = []
    defaults = [g for g in model.groups.values() if g.default]
    for group in defaults[1:]:
        out.append(
            error(
                "default-group",
                f"group {group.id} is marked default, and so is {defaults[0].id} "
                f"({defaults[0].loc}); REDCap has one default group: keep `default: true` on one",
                group.loc,
            )
        )
    for group in model.groups.values():
        if group.unlimited:
            out.append(
                warning(
                    "ceiling-unlimited",
                    f"group {group.id} allows every right it does not name "
                    "(`unnamed: unlimited`), in every system and for rights added later; name the "
                    "rights it needs instead where you can",
                    group.loc,
                )
            )
        closed = closed_keys({k: v for k, v in group.named.items() if k != "redcap"}, group.named.get("redcap") or {})
        if closed and not group.extends and not group.unlimited:
            listed = ", ".join(f"{k} {v} (the generic rights allow {b})" for k, v, b in closed)
            out.append(
                warning(
                    "ceiling-redcap-closed",
                    f"group {group.id} names REDCap rights above what its "
                    f"generic rights allow: {listed}; they stay at the lower value: name the generic "
                    "right too",
                    group.loc,
                )
            )
    return out


def unnamed_hint(group: Group, over: list[Over]) -> str:
    """Format v1 once left unnamed rights unlimited: say so when a right over the ceiling was never named."""
    if group.unlimited or group.builtin:
        return ""
    named = {k for k in group.named if k != "redcap"} | {f"redcap.{k}" for k in group.named.get("redcap") or {}}
    implied = {f"redcap.{k}" for k in mapped_keys(_redcap(), RIGHTS)}  # named through a generic right
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
NONCOMPLIANT = "ceiling-noncompliant"


def pair_rights(pair: Mapping[str, Any]) -> str:
    return "; ".join(f"{o['right']} {o['granted']} (allowed {o['allowed']})" for o in pair["non_compliant"])


def kept_warning(pair: Mapping[str, Any], loc: Loc, environment: str | None = None) -> Diagnostic:
    """An applied grant above its person's current ceiling that the plan does not change."""

    where = f" in {environment}" if environment else ""
    return warning(
        NONCOMPLIANT,
        f"applied access of {pair['user']} in {pair['study']}{where} exceeds the current "
        f"ceiling of group {pair['group']}: {pair_rights(pair)}; kept as applied (a ceiling is checked "
        "when a grant is added or changed, 002), listed by `edcconf compliance`; any change to this "
        "grant must be within the ceiling",
        loc,
        key=pair.get("key"),
        kept=True,
    )


def at_assignment(
    changes: Iterable[Any],  # plan.Change (rules does not import plan)
    above: Mapping[str, Diagnostic],
    applied: list[tuple[Mapping[str, Any], Loc]],
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
        change = changed.get(pair["key"])
        if change is None:
            warnings.append(kept_warning(pair, loc))
        elif change.after is None:
            warnings.append(
                warning(
                    NONCOMPLIANT,
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
                    NONCOMPLIANT,
                    f"applied access of {pair['user']} in {pair['study']} exceeds the "
                    f"current ceiling of group {pair['group']}: {pair_rights(pair)}; this plan "
                    "brings it within",
                    loc,
                    key=pair["key"],
                    kept=False,
                )
            )
        elif only_narrows(change.before, change.after):  # an earlier expiry or fewer sites, rights unchanged
            warnings.append(
                warning(
                    NONCOMPLIANT,
                    f"applied access of {pair['user']} in {pair['study']} exceeds the "
                    f"current ceiling of group {pair['group']}: {pair_rights(pair)}; this plan only "
                    f"narrows it ({change.reason}), which is allowed, and it stays above the ceiling",
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


def create_projects(ceiling: Ceiling) -> tuple[bool, str]:
    """002: a user whose group does not allow full User Rights cannot create or copy projects (they would be
    locked out of administering the project they made). (may, why)."""
    full = ceiling.rights.get("user_rights") == "full" and ceiling.keys.get("user_rights") == 1
    allowed = ceiling.rights.get("user_rights", "none")
    if full:
        return True, "the group's ceiling allows full User Rights (user_rights full), so projects may be created (002)"
    return False, (
        f"the group's ceiling allows user_rights {allowed}"
        + ("" if allowed != "full" else " (REDCap user_rights below 1: view & edit)")
        + "; a user who cannot be granted full User Rights cannot create or copy projects (002)"
    )
