"""The effective permission graph: who reaches which form, through what, declared where.

Nodes are ("person", u), ("group", g), ("study", s), ("site", x), ("environment", e), ("role", "s/r"),
("base_role", "system/r"), ("form", "s/f"), ("tag", "s/t"). Every edge keeps `source` ("path:line")
of the declaration that made it, so questions such as "why can Bob edit adverse_events?" are paths
(questions.explain and questions.who_can answer from here).

A `granted` edge (person → role) says per environment what the grant is there (`grants`: env → sites,
expiry, Vault study status) or why it is not (`excluded`: env → reason, source). Ceilings are constraints:
a group node carries its ceiling, and a granted edge whose role is above the person's group's ceiling is
marked (`over`: the rights above it). A `level` edge (role → form) carries the level, the rule that made
it and the derived abilities on the form (`close_queries`, `sdv`); a role node carries its generic rights.
An `admin_of` edge (person → study, 001) is the implicit access of an admin in the environments it lists.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeAlias

import networkx as nx

from ..model import Model, Study, site_scope
from ..rules.admins import active_admins
from ..rules.ceiling_values import group_ceiling, over_ceiling
from .effective import EnvironmentState, grant_environments
from .roles import EffectiveRole

if TYPE_CHECKING:  # networkx's classes are generic only in their type stubs
    Graph: TypeAlias = nx.MultiDiGraph[tuple[str, str]]  # nodes are (kind, id)


def permission_graph(
    model: Model, roles: Mapping[tuple[str, str], EffectiveRole], states: Mapping[str, EnvironmentState]
) -> nx.MultiDiGraph[tuple[str, str]]:
    g: nx.MultiDiGraph[tuple[str, str]] = nx.MultiDiGraph()
    # the environments in the resolution's order, and each study's role nodes: where questions start
    g.graph["environments"] = list(states)
    g.graph["roles_of_study"] = {}
    for group in model.groups.values():
        g.add_node(
            ("group", group.id),
            ceiling=dict(group.ceiling),
            redcap_ceiling=dict(group.redcap_ceiling),
            source=str(group.loc),
        )
    for person in model.people.values():
        g.add_node(
            ("person", person.username),
            type=person.type,
            status=person.status,
            full_name=person.name,  # (`name` is the node name in an export)
            expires=person.expires.isoformat() if person.expires else None,
            source=str(person.loc),
        )
        g.add_edge(("person", person.username), ("group", person.group), kind="member_of", source=str(person.loc))
    for env in model.environments.values():
        g.add_node(("environment", env.name), protected=env.protected, source=str(env.loc))
    for site in model.sites.values():
        g.add_node(("site", site.id), country=site.country, source=str(site.loc))
    over_of: dict[
        tuple[Any, ...], list[dict[str, Any]]
    ] = {}  # (group, rights, REDCap keys) -> rights above its ceiling: once each
    for study in model.studies.values():
        _add_study(g, model, study, roles, states, over_of)
    for role in roles.values():
        _add_role(g, model, role)
    _add_admins(g, model, states)
    return g


def _add_study(
    g: Graph,
    model: Model,
    study: Study,
    roles: Mapping[tuple[str, str], EffectiveRole],
    states: Mapping[str, EnvironmentState],
    over_of: dict[tuple[Any, ...], list[dict[str, Any]]],
) -> None:
    s = ("study", study.id)
    g.add_node(s, system=study.system, source=str(study.loc))
    for sid in study.sites:
        g.add_edge(s, ("site", sid), kind="has_site", source=str(study.loc))
    for env_name in study.environments:
        g.add_edge(s, ("environment", env_name), kind="runs_in", source=str(study.loc))
    for form in study.forms:
        f = ("form", f"{study.id}/{form.id}")
        g.add_node(f, contact=form.contact, source=str(form.loc))
        g.add_edge(s, f, kind="has_form", source=str(form.loc))
        for tag in form.tags:
            g.add_edge(f, ("tag", f"{study.id}/{tag}"), kind="tagged", source=str(form.loc))
    for grant in study.access:
        role = roles.get((study.id, grant.role))
        if role is None:
            continue
        key = grant.key
        active_in = [e for e in grant_environments(study, grant) if key in states.get(e, _EMPTY).state["grants"]]
        per_env = {}
        for e in active_in:
            value = states[e].state["grants"][key]
            per_env[e] = {"sites": value["sites"], "expires": value["expires"]}
            if "study_status" in value:
                per_env[e]["study_status"] = value["study_status"]
        excluded = {
            e: {"reason": why.reason, "source": str(why.loc)}
            for e, st in states.items()
            if (why := st.excluded.get(key)) is not None
        }
        person = model.people.get(grant.user)
        group = model.groups.get(person.group) if person is not None else None
        over = None
        if group is not None:
            # by rights profile, as environment_state checks them: a check reads the REDCap catalog each time
            profile = (group.id, tuple(role.rights.items()), tuple(role.redcap.items()))
            over = over_of.get(profile)
            if over is None:
                over = over_of[profile] = [
                    {"right": r, "granted": v, "allowed": a}
                    for r, v, a in over_ceiling(group_ceiling(group), role.rights, role.redcap)
                ]
        g.add_edge(
            ("person", grant.user),
            ("role", role.key),
            kind="granted",
            grant=key,
            study=study.id,
            role=grant.role,
            environments=active_in,
            sites=site_scope(model, study, grant),
            grants=per_env,
            excluded=excluded,
            over=over,  # None: the person is in no group, so no ceiling was checked
            source=str(grant.loc),
        )


def _add_role(g: Graph, model: Model, role: EffectiveRole) -> None:
    r = ("role", role.key)
    system = model.studies[role.study].system
    g.add_node(
        r,
        base_role=role.base.id,
        base_role_label=role.base.label,
        system=system,
        rights=dict(role.rights),
        source=str(role.loc) if role.loc else None,
    )
    g.graph["roles_of_study"].setdefault(role.study, []).append(r)
    g.add_edge(
        r,
        ("base_role", f"{system}/{role.base.id}"),
        kind="derives_from",
        source=str(role.loc) if role.loc else None,
    )
    close, sdv = set(role.close_queries), set(role.sdv)
    for fid, rule in role.rules.items():
        g.add_edge(
            r,
            ("form", f"{role.study}/{fid}"),
            kind="level",
            level=rule.level,
            rule=rule.rule,
            close_queries=fid in close,
            sdv=fid in sdv,
            source=str(rule.loc) if rule.loc else None,
        )


def _add_admins(g: Graph, model: Model, states: Mapping[str, EnvironmentState]) -> None:
    """001: an active admin sees every study of each environment the study is in (implicit access)."""
    in_envs: dict[str, list[str]] = {}
    for env, st in states.items():
        for sid, value in st.state["studies"].items():
            if value.get("admins"):
                in_envs.setdefault(sid, []).append(env)
    if not in_envs:
        return
    as_of = next(iter(states.values())).as_of
    for admin in active_admins(model, as_of):
        person = model.people[admin]
        for sid, envs in in_envs.items():
            study = model.studies[sid]
            g.add_edge(
                ("person", admin),
                ("study", sid),
                kind="admin_of",
                environments=envs,
                sites=sorted(study.sites),
                source=str(person.loc),
            )


class _Empty:
    state: Mapping[str, dict[str, Any]] = {"grants": {}}


_EMPTY = _Empty()
