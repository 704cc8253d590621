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


def empty_record() -> RecordedState:
    return {**empty_state(), "environment": {}, "observed": {}}


def recorded(sections: Mapping[str, Section]) -> RecordedState:
    """A record's effective state from its sections by name: every section of RecordedState, empty when absent
    (and nothing else). Built key by key, so the checker sees the shape it claims."""
    return {
        "sites": sections.get("sites") or {},
        "groups": sections.get("groups") or {},
        "studies": sections.get("studies") or {},
        "accounts": sections.get("accounts") or {},
        "roles": sections.get("roles") or {},
        "grants": sections.get("grants") or {},
        "environment": sections.get("environment") or {},
        "observed": sections.get("observed") or {},
    }


def sections_of(state: EffectiveState) -> dict[str, Section]:
    """The state's sections by name (the same dict, not a copy), for code that picks a section by a name it
    holds in a variable. Sound: every key of EffectiveState (and RecordedState) holds a Section."""
    return cast("dict[str, Section]", state)
