"""Brakes: a plan that takes away too much access is marked, and apply refuses it.

Counted on effective permissions, not lines of YAML, so a change to a group, a role, a site list or
a person's expiry that revokes or lowers many grants is caught as surely as deleted grant lines.

The guards (an environment's `protected:` and its `safety:` limits) are held to the values of the last
applied state, never to the configuration under review: a pull request that raises max_revocations,
deletes `safety:` or sets `protected: false` and revokes everyone in the same change is still stopped.
A change to the guards is itself a planned change (kind `environment`, shown first) and takes effect
for the apply after the one that records it. A state without recorded guards (written before they were
recorded, or none yet) is held to the configuration's values; a limit left out is its default, never
"no limit".
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from ..catalogs import catalog
from ..model import Environment, level_rank
from .model import DATA_MANAGER_FLOOR, MASS_REVOCATION, Brake, Change

GUARDS_SECTION: Final = "environment"  # where a state records its environment's guards, keyed by name
DEFAULT_MAX_REVOCATIONS = 25  # safety.max_revocations when not declared (any environment)
DEFAULT_MIN_DATA_MANAGERS = {True: 1, False: 0}  # by `protected`


def declared_guards(environment: Environment) -> dict[str, Any]:
    """The guards the configuration declares, defaults filled in: what an apply records in the state."""
    safety, protected = environment.safety, bool(environment.protected)
    limits: dict[str, Any] = {
        "max_revocations": int(safety.get("max_revocations", DEFAULT_MAX_REVOCATIONS)),
        "min_data_managers": int(safety.get("min_data_managers", DEFAULT_MIN_DATA_MANAGERS[protected])),
    }
    if safety.get("max_revocation_fraction") is not None:
        limits["max_revocation_fraction"] = float(safety["max_revocation_fraction"])
    return {"protected": protected, "safety": limits}


def applied_guards(effective: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    """The guards the last apply recorded for environment `name`; None when the state has none (or they
    are not of the recorded shape: then the configuration's values hold, as for an older state)."""
    value = (effective.get(GUARDS_SECTION) or {}).get(name)
    if not isinstance(value, dict) or not isinstance(value.get("protected"), bool):
        return None
    limits = value.get("safety")
    if not isinstance(limits, dict) or not all(
        isinstance(limits.get(k), int) and not isinstance(limits[k], bool)
        for k in ("max_revocations", "min_data_managers")
    ):
        return None
    fraction = limits.get("max_revocation_fraction")
    if fraction is not None and not isinstance(fraction, (int, float)):
        return None
    return value


@dataclass(frozen=True)
class Guards:
    """The guards this plan and its apply are held to, and those the configuration declares."""

    name: str
    enforced: Mapping[str, Any]
    declared: Mapping[str, Any]

    @property
    def protected(self) -> bool:
        return bool(self.enforced["protected"])

    def limit(self, key: str) -> Any:
        return self.enforced["safety"].get(key)

    def describe(self, key: str, shown: str) -> str:
        """ "safety.KEY (VALUE)", saying so when the configuration under review declares another value."""
        return f"safety.{key} ({shown}{self.note(key)})"

    def note(self, key: str) -> str:
        """ ", as last applied …" when the configuration under review declares another value for KEY."""
        declared = self.declared["safety"].get(key)
        if declared == self.limit(key):
            return ""
        new = "none" if declared is None else (f"{declared:.0%}" if key == "max_revocation_fraction" else declared)
        return f", as last applied to {self.name}; the configuration's {new} takes effect after this apply"


def guards_of(environment: Environment, applied_effective: Mapping[str, Any]) -> Guards:
    declared = declared_guards(environment)
    return Guards(environment.name, applied_guards(applied_effective, environment.name) or declared, declared)


def guard_changes(environment: Environment, applied_effective: Mapping[str, Any]) -> tuple[Change, ...]:
    """The change of an environment's guards against the last applied ones: an `environment` update, or
    nothing (no change, or a state that recorded none: the apply records them without a change)."""
    before = applied_guards(applied_effective, environment.name)
    after = declared_guards(environment)
    if before is None or before == after:
        return ()
    details: tuple[str, ...] = (
        ()
        if before["protected"] == after["protected"]
        else (f"protected: {_yaml(before['protected'])} → {_yaml(after['protected'])}",)
    )
    details += tuple(
        f"safety.{key}: {_yaml(before['safety'].get(key))} → {_yaml(after['safety'].get(key))}"
        for key in sorted(set(before["safety"]) | set(after["safety"]))
        if before["safety"].get(key) != after["safety"].get(key)
    )
    reason = "; ".join(details) + " (takes effect after this apply, which is held to the applied values)"
    return (
        Change(
            "update",
            "environment",
            environment.name,
            before,
            after,
            reason,
            str(environment.loc),
            details=details,
            stored=after,
        ),
    )


def _yaml(value: Any) -> str:
    return "(none: no limit)" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


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


def managers_by_study(state: Mapping[str, Any]) -> dict[str, set[str]]:
    """Per study, the people whose base role can manage it (catalog `manages_study`)."""
    out: dict[str, set[str]] = {}
    studies = state.get("studies", {})
    for grant in state.get("grants", {}).values():
        cat = catalog((studies.get(grant["study"]) or {}).get("system", ""))
        base = cat.roles.get(grant["base_role"]) if cat else None
        if base is not None and base.manages_study and grant.get("study_status") != "disabled":
            out.setdefault(grant["study"], set()).add(grant["user"])
    return out


def find_brakes(
    changes: tuple[Change, ...], applied: Mapping[str, Any], desired: Mapping[str, Any], guards: Guards
) -> tuple[Brake, ...]:
    fraction = guards.limit("max_revocation_fraction")
    grants_applied: dict[str, int] = {}
    for g in applied.get("grants", {}).values() if fraction is not None else ():
        grants_applied[g["study"]] = grants_applied.get(g["study"], 0) + 1
    floor = guards.limit("min_data_managers")
    before = {s: len(u) for s, u in managers_by_study(applied).items()} if floor else {}
    after = {s: len(u) for s, u in managers_by_study(desired).items()} if floor else {}
    return brakes_from_counts(
        changes, guards, grants_applied, before, after, desired.get("studies", {}), applied.get("studies", {})
    )


def brakes_from_counts(
    changes: tuple[Change, ...],
    guards: Guards,
    grants_applied: Mapping[str, int],
    managers_applied: Mapping[str, int],
    managers_desired: Mapping[str, int],
    studies: Iterable[str],
    applied_studies: Container[str],
) -> tuple[Brake, ...]:
    """The brakes from per-study counts: applied grants, and people who can manage each study before and
    after. find_brakes counts them from whole states; the incremental planner keeps them per study."""
    out: list[Brake] = []
    name = guards.name
    taken = [c for c in changes if c.kind == "grant" and (c.action == "revoke" or lowers(c))]
    limit = guards.limit("max_revocations")
    if limit is not None and len(taken) > limit:
        out.append(
            Brake(
                MASS_REVOCATION,
                f"this plan revokes or lowers {len(taken)} grants, more than "
                f"{guards.describe('max_revocations', str(int(limit)))} of {name}; apply needs "
                "--allow-mass-revocation",
            )
        )
    fraction = guards.limit("max_revocation_fraction")
    if fraction is not None:
        per_study: dict[str, int] = {}
        for c in taken:
            assert c.study is not None  # a grant change names its study (its key is "<study>/<user>")
            per_study[c.study] = per_study.get(c.study, 0) + 1
        for study, count in sorted(per_study.items()):
            total = grants_applied.get(study, 0)
            if total and count / total > fraction:
                out.append(
                    Brake(
                        MASS_REVOCATION,
                        f"this plan revokes or lowers "
                        f"{count} of the {total} grants of {study} ({count / total:.0%}), more than "
                        f"{guards.describe('max_revocation_fraction', f'{fraction:.0%}')}; apply needs "
                        "--allow-mass-revocation",
                        study,
                    )
                )
    floor = guards.limit("min_data_managers")
    if floor:
        for study in sorted(studies):
            had, has = managers_applied.get(study, 0), managers_desired.get(study, 0)
            if has < floor and (has < had or study not in applied_studies):
                out.append(
                    Brake(
                        DATA_MANAGER_FLOOR,
                        f"{study} would keep {has} "
                        f"people who can manage it in {name} (had {had}); safety.min_data_managers "
                        f"is {floor}{guards.note('min_data_managers')}: grant a data manager role before "
                        "removing the last one",
                        study,
                    )
                )
    return tuple(out)
