"""`edcconf graph`: the effective permission graph (resolve.graph) for a study, a person or everything.

The part of the graph a question is about: for a study, the study with its sites, environments, forms and
tags, the roles of the study with their base roles, and the people granted one of them with their groups;
for a person, their group, the roles they are granted, those roles' studies and forms. Edges keep the
file:line that made them, so an exported graph still answers "why".
"""

from __future__ import annotations

from collections.abc import Iterable

import networkx as nx

from ..diagnostics import UserError, suggest
from ..pipeline import Desired


def permission_subgraph(
    desired: Desired, studies: Iterable[str] = (), people: Iterable[str] = (), envs: Iterable[str] = ()
) -> nx.MultiDiGraph:
    model, graph = desired.model, desired.resolution.graph
    studies, people, envs = list(studies), list(people), set(envs)
    for names, known, what in (
        (studies, model.studies, "study"),
        (people, model.people, "user"),
        (envs, model.environments, "environment"),
    ):
        for name in names:
            if name not in known:
                raise UserError(f"unknown {what} {name!r}{suggest(name, known)}", code="unknown-reference")
    if envs:
        graph = _only_environments(graph, envs)
    if not studies and not people:
        return graph
    keep: set = set()
    for sid in studies:
        keep |= _study_part(graph, sid)
    for user in people:
        keep |= _person_part(graph, user)
    return graph.subgraph(keep).copy()


def _only_environments(graph: nx.MultiDiGraph, envs: set[str]) -> nx.MultiDiGraph:
    """Grants active in none of `envs` are left out, and so are the other environments."""
    out = graph.copy()
    out.remove_nodes_from([n for n in graph if n[0] == "environment" and n[1] not in envs])
    drop = [
        (u, v, k)
        for u, v, k, d in out.edges(keys=True, data=True)
        if d.get("kind") == "granted" and not set(d.get("environments") or ()) & envs
    ]
    out.remove_edges_from(drop)
    return out


def _study_part(graph: nx.MultiDiGraph, study: str) -> set:
    keep = {("study", study)} | set(graph.successors(("study", study)))
    for node in list(keep):
        if node[0] == "form":
            keep |= set(graph.successors(node))  # its tags
    roles = {n for n in graph if n[0] == "role" and n[1].split("/", 1)[0] == study}
    for role in roles:
        keep |= {role, *graph.successors(role)}  # base role and form levels
        for person in graph.predecessors(role):
            if any(d.get("kind") == "granted" for d in graph.get_edge_data(person, role).values()):
                keep |= {person, *(n for n in graph.successors(person) if n[0] == "group")}
    return keep


def _person_part(graph: nx.MultiDiGraph, user: str) -> set:
    person = ("person", user)
    keep = {person, *graph.successors(person)}  # group and granted roles
    for role in [n for n in keep if n[0] == "role"]:
        keep |= set(graph.successors(role))  # base role and forms
        keep.add(("study", role[1].split("/", 1)[0]))
    return keep
