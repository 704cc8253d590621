"""Brakes: a plan that takes away too much access is marked, and apply refuses it.

Counted on effective permissions, not lines of YAML, so a change to a group, a role, a site list or
a person's expiry that revokes or lowers many grants is caught as surely as deleted grant lines.
"""
from __future__ import annotations

from typing import Container, Iterable, Mapping

from ..catalogs import catalog
from ..model import Environment, level_rank
from .model import Change

MASS_REVOCATION = "mass-revocation"
DATA_MANAGER_FLOOR = "data-manager-floor"


def lowers(change: Change) -> bool:
    """A grant update that takes something away: a form level, a site, closing queries or SDV."""
    if change.kind != "grant" or change.action != "update":
        return False
    before, after = change.before, change.after
    if set(before["sites"]) - set(after["sites"]):
        return True
    if any(level_rank(after["forms"].get(f, "none")) < level_rank(lvl) for f, lvl in before["forms"].items()):
        return True
    return bool(set(before["close_queries"]) - set(after["close_queries"]) or set(before["sdv"]) - set(after["sdv"]))


def min_data_managers(environment: Environment) -> int:
    default = 1 if environment.protected else 0
    return int(environment.safety.get("min_data_managers", default))


def managers_by_study(state: Mapping) -> dict[str, set[str]]:
    """Per study, the people whose base role can manage it (catalog `manages_study`)."""
    out: dict[str, set[str]] = {}
    studies = state.get("studies", {})
    for grant in state.get("grants", {}).values():
        cat = catalog((studies.get(grant["study"]) or {}).get("system", ""))
        base = cat.roles.get(grant["base_role"]) if cat else None
        if base is not None and base.manages_study:
            out.setdefault(grant["study"], set()).add(grant["user"])
    return out


def find_brakes(changes: tuple[Change, ...], applied: Mapping, desired: Mapping, environment: Environment) -> tuple[dict, ...]:
    fraction = environment.safety.get("max_revocation_fraction")
    grants_applied: dict[str, int] = {}
    for g in applied.get("grants", {}).values() if fraction is not None else ():
        grants_applied[g["study"]] = grants_applied.get(g["study"], 0) + 1
    floor = min_data_managers(environment)
    before = {s: len(u) for s, u in managers_by_study(applied).items()} if floor else {}
    after = {s: len(u) for s, u in managers_by_study(desired).items()} if floor else {}
    return brakes_from_counts(changes, environment, grants_applied, before, after, desired.get("studies", {}),
                              applied.get("studies", {}))


def brakes_from_counts(changes: tuple[Change, ...], environment, grants_applied: Mapping[str, int],
                       managers_applied: Mapping[str, int], managers_desired: Mapping[str, int],
                       studies: Iterable[str], applied_studies: Container[str]) -> tuple[dict, ...]:
    """The brakes from per-study counts: applied grants, and people who can manage each study before and
    after. find_brakes counts them from whole states; the incremental planner keeps them per study."""
    out: list[dict] = []
    name = environment.name
    taken = [c for c in changes if c.kind == "grant" and (c.action == "revoke" or lowers(c))]
    limit = environment.safety.get("max_revocations")
    if limit is not None and len(taken) > limit:
        out.append({"code": MASS_REVOCATION, "message": f"this plan revokes or lowers {len(taken)} grants, more than "
                    f"safety.max_revocations ({int(limit)}) of {name}; apply needs --allow-mass-revocation"})
    fraction = environment.safety.get("max_revocation_fraction")
    if fraction is not None:
        per_study: dict[str, int] = {}
        for c in taken:
            per_study[c.study] = per_study.get(c.study, 0) + 1
        for study, count in sorted(per_study.items()):
            total = grants_applied.get(study, 0)
            if total and count / total > fraction:
                out.append({"code": MASS_REVOCATION, "study": study, "message": f"this plan revokes or lowers "
                            f"{count} of the {total} grants of {study} ({count / total:.0%}), more than "
                            f"safety.max_revocation_fraction ({fraction:.0%}); apply needs --allow-mass-revocation"})
    floor = min_data_managers(environment)
    if floor:
        for study in sorted(studies):
            had, has = managers_applied.get(study, 0), managers_desired.get(study, 0)
            if has < floor and (has < had or study not in applied_studies):
                out.append({"code": DATA_MANAGER_FLOOR, "study": study, "message": f"{study} would keep {has} "
                            f"people who can manage it in {name} (had {had}); safety.min_data_managers "
                            f"is {floor}: grant a data manager role before removing the last one"})
    return tuple(out)
