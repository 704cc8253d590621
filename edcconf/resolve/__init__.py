"""Resolve stage: the validated model → effective roles, the permission graph, and per environment
the effective state (a plain JSON value) that the planner diffs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import TYPE_CHECKING, Any

from ..catalogs import catalog
from ..diagnostics import Diagnostic
from ..model import Model, frozen_map
from ..rules.admins import check_admins
from ..rules.qualifications import QualificationCheck, expiring
from .access_policies import PolicyMemo, check_access_policies
from .effective import EnvironmentState, Exclusion, environment_state, expand_grant
from .roles import EffectiveRole, roles_of_study

if TYPE_CHECKING:
    import networkx


@dataclass(frozen=True)
class Resolution:
    model: Model
    as_of: date
    roles: Mapping[tuple[str, str], EffectiveRole]
    environments: Mapping[str, EnvironmentState]
    diagnostics: tuple[Diagnostic, ...]
    # env -> grant key -> (ceiling-exceeded error, the grant's stored value): grants above their person's
    # ceiling, kept even when the states are not (validate compares them with each environment's state)
    ceilings: Mapping[str, Mapping[str, tuple[Diagnostic, dict[str, Any]]]] = field(default_factory=frozen_map)
    # env -> grant key -> qualification-missing error of a declared grant suspended for a lacking qualification
    qualifications: Mapping[str, Mapping[str, Diagnostic]] = field(default_factory=frozen_map)

    @cached_property
    def graph(self) -> networkx.MultiDiGraph[tuple[str, str]]:  # networkx is imported on first use
        """Built on first use (networkx is imported then too): plans do not need it, explain does."""
        from .graph import permission_graph  # local: loads networkx

        return permission_graph(self.model, self.roles, self.environments)


def resolve(
    model: Model, as_of: date, environments: Iterable[str] | None = None, keep_states: bool = True
) -> Resolution:
    """keep_states=False: only the diagnostics of each environment (validate), each state dropped
    before the next is made rather than all held at once."""
    roles: dict[tuple[str, str], EffectiveRole] = {}
    for study in model.studies.values():
        cat = catalog(study.system)
        if cat is not None:
            roles.update({(study.id, rid): r for rid, r in roles_of_study(study, cat).items()})
    names = list(environments) if environments is not None else list(model.environments)
    states = {}
    seen: set[Any] = set()
    diags: list[Diagnostic] = []
    ceilings: dict[str, Mapping[str, Any]] = {}
    qualifications: dict[str, Mapping[str, Diagnostic]] = {}
    # worked out once for every environment: what each role requires and each person's standing, and
    # what each role version gives that the policies name (a role ref is the same in every environment)
    qualified = QualificationCheck(model, as_of) if model.qualifications else None
    gives: PolicyMemo = {}
    for env in names:
        st = environment_state(model, env, as_of, roles, qualified)
        ceilings[env] = frozen_map({k: (d, st.state["grants"][k]) for k, d in st.ceilings.items()})
        qualifications[env] = st.qualifications
        if keep_states:
            states[env] = st
        for d in (
            *st.diagnostics,
            *check_access_policies(model, st, gives),
        ):  # the same grant in test and production is one problem, not two
            key = (d.code, d.message, d.loc)
            if key not in seen:
                seen.add(key)
                diags.append(d)
        del st

    diags.extend(check_admins(model, as_of))  # once, not per environment: admins see every environment
    diags.extend(expiring(model, as_of))  # once: a person's qualification, whatever the environment
    return Resolution(
        model,
        as_of,
        frozen_map(roles),
        frozen_map(states),
        tuple(diags),
        frozen_map(ceilings),
        frozen_map(qualifications),
    )


__all__ = ["Resolution", "EnvironmentState", "Exclusion", "resolve", "expand_grant"]
