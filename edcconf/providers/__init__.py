"""Providers: the only code that talks to the EDC systems (or writes their bulk files)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from ..diagnostics import UserError
from ..model import Environment, Target
from ..rules import plan as plan_rules
from .base import Provider, ProviderError, inside
from .csvfiles import CsvProvider

# Systems whose bulk files carry the groups and every account's group, name and e-mail (REDCap's SAG and
# ACG definitions and assignments), written by a `csv` target of that system.
GROUP_FILE_SYSTEMS = frozenset({"redcap"})


def reads_live(environment: Environment) -> bool:
    """Whether a provider of this environment reads live access (only `redcap` does)."""
    return any(t.provider == "redcap" for t in environment.targets.values())


def carries_groups(target: Target) -> bool:
    """Whether this target's files carry the groups (and each account's group, name and e-mail)."""
    return target.provider == "csv" and target.system in GROUP_FILE_SYSTEMS


class Reach:
    """Which EDC systems each change of a plan concerns, so which providers must carry it out:

    - a grant or a study: the system of its study;
    - an account (created, deactivated, renamed, moved to another group ...): every system the person has
      or had access in (their grants in the applied state and in the state the plan leads to), and the
      systems whose files carry groups (the SAG and ACG assignments list every account);
    - a group: the systems whose files carry groups;
    - a site: the systems of the studies that have or had it (Vault rows carry its time zone).

    A change that concerns no system (e.g. a site no study uses) is recorded without a provider."""

    def __init__(
        self, changes: Iterable, applied: Mapping, study_systems: Mapping[str, str], group_systems: Iterable[str]
    ) -> None:
        self.study_systems = study_systems
        self.group_systems = frozenset(group_systems)
        self._person: dict[str, set[str]] = {}
        self._site: dict[str, set[str]] = {}
        for grant in (applied.get("grants") or {}).values():
            self._grant(grant.get("study"), grant.get("user"))
        for study, value in (applied.get("studies") or {}).items():
            self._sites(study, value)
        self.changes = tuple(changes)
        for change in self.changes:
            if change.kind == "grant":
                self._grant(change.study, (change.after or change.before or {}).get("user"))
            elif change.kind == "study":
                self._sites(change.key, change.before)
                self._sites(change.key, change.after)

    @classmethod
    def of(
        cls, changes: Iterable, applied: Mapping, study_systems: Mapping[str, str], environment: Environment
    ) -> Reach:
        """For an apply in `environment`: its group files are those of its targets that carry groups."""
        return cls(
            changes,
            applied,
            study_systems,
            (system for system, target in environment.targets.items() if carries_groups(target)),
        )

    def _grant(self, study: str | None, user: str | None) -> None:
        system = self.study_systems.get(study or "")
        if system and user:
            self._person.setdefault(user, set()).add(system)

    def _sites(self, study: str, value: Mapping | None) -> None:
        system = self.study_systems.get(study) or (value or {}).get("system")
        for site in (value or {}).get("sites") or ():
            if system:
                self._site.setdefault(site, set()).add(system)

    def systems(self, change) -> frozenset[str]:
        if change.kind in ("grant", "study"):
            system = self.study_systems.get(change.study or "")
            return frozenset([system] if system else [])
        if change.kind == "account":
            return frozenset(self._person.get(change.key, ())) | self.group_systems
        if change.kind == "group":
            return self.group_systems
        if change.kind == "site":
            return frozenset(self._site.get(change.key, ()))
        return frozenset()

    @property
    def used(self) -> set[str]:
        """Every system some change of the plan concerns: the providers an apply needs."""
        return {system for change in self.changes for system in self.systems(change)}


def providers_for(
    root: Path,
    environment: Environment,
    systems: set[str],
    serial: int,
    study_sites: Mapping[str, list[str]] | None = None,
) -> dict[str, Provider]:
    """One provider per EDC system in use, from the environment's targets."""
    out: dict[str, Provider] = {}
    for system in sorted(systems):
        target = environment.targets.get(system)
        if target is None:
            raise UserError(
                f"environment {environment.name} has no target for {system} studies; add "
                f"targets.{system} (e.g. {{provider: csv, out: build/{environment.name}/{system}}}) "
                f"at {environment.loc}",
                code=plan_rules.NO_TARGET.code,
            )
        if target.provider == "csv":
            out[system] = CsvProvider(
                system,
                root,
                target.out or f"build/{environment.name}/{system}",
                environment.name,
                serial,
                target.vault_user_defaults,
                target.version,
            )
        elif target.provider == "redcap" and system == "redcap":
            from .redcap import RedcapProvider, redcap_projects  # local: keeps start-up fast

            out[system] = RedcapProvider(target, redcap_projects(root), environment.name, study_sites or {})
        else:
            raise UserError(
                f"provider {target.provider!r} for {system} in {environment.name} is not available in "
                "this version of edcconf",
                code=plan_rules.NO_TARGET.code,
            )
    return out


__all__ = [
    "Provider",
    "ProviderError",
    "CsvProvider",
    "Reach",
    "carries_groups",
    "providers_for",
    "reads_live",
    "inside",
]
