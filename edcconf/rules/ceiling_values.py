"""Rights ceilings as values (002, 004): what a group's declaration means, and which rights exceed it.

A group's ceiling fails closed: a right it does not name is `none` (REDCap 0), as in a newly created
REDCap ACG. A group may start from another group's ceiling (`extends:`) or say that unnamed rights are
unlimited (`unnamed: unlimited`). Generic rights bound REDCap keys through the catalog's mapping, so one
effective ceiling in both vocabularies comes out of every declaration: every generic right and every REDCap
key has a value. The same `over_ceiling` answers resolve, the plan, compliance, explain and the SAG/ACG
writers; the rules about ceilings (their codes and messages) are in rules.ceilings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..catalogs import RIGHTS, Catalog, catalog, right_rank

if TYPE_CHECKING:
    from ..model import Group

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


def redcap_catalog() -> Catalog:
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
    cat = redcap_catalog()
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
    cat = redcap_catalog()
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
    cat = redcap_catalog()
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
        cat = redcap_catalog()
        over += [
            (f"redcap.{key}", value, ceiling.keys.get(key, 0))
            for key, value in keys.items()
            if key in cat.right_keys and not cat.allows(key, value, ceiling.keys.get(key, 0))
        ]
    return over


def over_text(over: list[Over]) -> str:
    return "; ".join(f"{right} {granted} (allowed {allowed})" for right, granted, allowed in over)


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
