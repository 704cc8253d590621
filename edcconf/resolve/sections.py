"""The effective state's shape: what the resolver makes for an environment, the state backends store and
the planner diffs (resolve/effective.py describes the values of each section)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict, cast

Entity = dict[str, Any]  # one site, group, study, account, role or grant: its plain JSON value
Section = dict[str, Entity]  # key (username, site id, "<study>/<user>[/<role>]", ...) -> value


class EffectiveState(TypedDict):
    """An environment's effective state, as resolve makes it (EnvironmentState.state)."""

    sites: Section
    groups: Section
    studies: Section
    accounts: Section
    roles: Section
    grants: Section


class RecordedState(EffectiveState, total=False):
    """A state record's effective state (StateRecord.effective): the sections above, and what the record
    carries from one version to the next (state/record.py)."""

    environment: Section  # the environment's guards as last applied, by its name (plan/brakes.py)
    observed: Section  # what a system's own file showed, by username (never diffed)


def empty_state() -> EffectiveState:
    return {"sites": {}, "groups": {}, "studies": {}, "accounts": {}, "roles": {}, "grants": {}}


def by_name(state: EffectiveState) -> Mapping[str, Section]:
    """The state as a mapping of its sections, for code that takes any effective state (applied ones are
    plain mappings) or walks sections by name. Sound: every key of EffectiveState holds a Section."""
    return cast("Mapping[str, Section]", state)
