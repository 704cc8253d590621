"""The effective permission graph: who reaches which form, through what, declared where.

Nodes are ("person", u), ("group", g), ("study", s), ("site", x), ("environment", e), ("role", "s/r"),
("base_role", "system/r"), ("form", "s/f"), ("tag", "s/t"). Every edge keeps `source` ("path:line")
of the declaration that made it, so questions such as "why can Bob edit adverse_events?" are paths.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import networkx as nx

from ..model import Model, site_scope
from .effective import EnvironmentState, grant_environments
from .roles import EffectiveRole


def permission_graph(
    model: Model, roles: Mapping[tuple[str, str], EffectiveRole], states: Mapping[str, EnvironmentState]
) -> nx.MultiDiGraph[tuple[str, str]]:
    g: nx.MultiDiGraph[tuple[str, str]] = nx.MultiDiGraph()
    for group in model.groups.values():
        g.add_node(("group", group.id), ceiling=dict(group.ceiling), source=str(group.loc))
    for person in model.people.values():
        g.add_node(("person", person.username), type=person.type, status=person.status, source=str(person.loc))
        g.add_edge(("person", person.username), ("group", person.group), kind="member_of", source=str(person.loc))
    for env in model.environments.values():
        g.add_node(("environment", env.name), protected=env.protected, source=str(env.loc))
    for site in model.sites.values():
        g.add_node(("site", site.id), country=site.country, source=str(site.loc))
    for study in model.studies.values():
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
            active_in = [
                e for e in grant_environments(study, grant) if grant.key in states.get(e, _EMPTY).state["grants"]
            ]
            g.add_edge(
                ("person", grant.user),
                ("role", role.key),
                kind="granted",
                environments=active_in,
                sites=site_scope(model, study, grant),
                source=str(grant.loc),
            )
    for role in roles.values():
        r = ("role", role.key)
        g.add_node(r, source=str(role.loc) if role.loc else None)
        g.add_edge(
            r,
            ("base_role", f"{model.studies[role.study].system}/{role.base.id}"),
            kind="derives_from",
            source=str(role.loc) if role.loc else None,
        )
        for fid, rule in role.rules.items():
            g.add_edge(
                r,
                ("form", f"{role.study}/{fid}"),
                kind="level",
                level=rule.level,
                rule=rule.rule,
                source=str(rule.loc) if rule.loc else None,
            )
    return g


class _Empty:
    state: Mapping[str, dict[str, Any]] = {"grants": {}}


_EMPTY = _Empty()
