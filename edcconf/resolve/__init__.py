"""Resolve stage: the validated model → effective roles, the permission graph, and per environment
the effective state (a plain JSON value) that the planner diffs."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
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
class EnvironmentOutcome:
    """What resolve keeps of one environment: its state (only when states are kept), its findings (the
    state's diagnostics, then the access policies'), its grants above their ceilings and its grants
    suspended for a lacking qualification."""

    state: EnvironmentState | None
    diagnostics: tuple[Diagnostic, ...]
    ceilings: Mapping[str, tuple[Diagnostic, dict[str, Any]]]
    qualifications: Mapping[str, Diagnostic]


# How the findings of environments after the first may be worked out while this process works out the
# first (speed: in forked children), for resolve(keep_states=False): given those environments, the
# function that works one out here, and the organisation's size, it returns env -> a function giving the
# outcome, or None when it could not (then it is worked out here). None: all here, one after another.
Ahead = Callable[
    [list[str], Callable[[str], EnvironmentOutcome], int], dict[str, Callable[[], "EnvironmentOutcome | None"]]
]
_ahead: Ahead | None = None


def use_ahead(ahead: Ahead | None) -> None:
    global _ahead
    _ahead = ahead


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

    def outcome(env: str) -> EnvironmentOutcome:
        st = environment_state(model, env, as_of, roles, qualified)
        return EnvironmentOutcome(
            st if keep_states else None,
            (*st.diagnostics, *check_access_policies(model, st, gives)),
            frozen_map({k: (d, st.state["grants"][k]) for k, d in st.ceilings.items()}),
            st.qualifications,
        )

    # validate needs only each environment's findings: the others may be worked out elsewhere meanwhile
    ahead = _ahead(names[1:], outcome, len(model.studies)) if not keep_states and _ahead else {}
    for env in names:
        found = ahead.pop(env, None)
        done = found() if found is not None else None
        done = done if done is not None else outcome(env)
        ceilings[env], qualifications[env] = done.ceilings, done.qualifications
        if keep_states:
            assert done.state is not None
            states[env] = done.state
        for d in done.diagnostics:  # the same grant in test and production is one problem, not two
            key = (d.code, d.message, d.loc)
            if key not in seen:
                seen.add(key)
                diags.append(d)
        del done

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


__all__ = ["Resolution", "EnvironmentOutcome", "EnvironmentState", "Exclusion", "resolve", "expand_grant", "use_ahead"]
