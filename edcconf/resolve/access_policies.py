"""Separation-of-duties policies (`access_policies:`, docs/policies.md) evaluated on one environment's
effective state: what the grants left in it (not expired, not deactivated, not Vault-disabled) give.

Only what the policies mention becomes a graph: a bipartite networkx graph between people and *items*,
an item being (policy, study, what it names[, site]): a role or tag of an `exclusive` policy, the right of
a `max_holders` policy, the two rights of a `requires` policy. An edge carries the grants that give it.
Each kind is then a question on that graph: the items next to a person (exclusive), the people next to an
item (max_holders), an edge that is missing (requires). What a role gives is worked out once per role
version (role ref) and policy, so the work per grant is a dictionary look-up unless a policy names it.

Every violation is about one study (or one person, for requester_not_approver): a function of that study's
grants, the people and the policies, never of another study. So the incremental planner, which re-resolves
one study file with every global file, finds exactly what the full plan finds for that file.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from ..catalogs import RIGHTS
from ..diagnostics import Diagnostic, Loc
from ..model import AccessPolicy, Grant, Model, Study
from ..rules.access_policies import violation
from .effective import EnvironmentState, usable

if TYPE_CHECKING:
    import networkx

Item = tuple[str, int, str, str, Any]  # ("item", policy index, study, name, site or None)
Person = tuple[str, str]  # ("person", username)


@dataclass(frozen=True)
class Violation:
    """One broken policy: who, where, and through which grants (keys; the first is where it is reported)."""

    policy: AccessPolicy
    study: str | None  # None: requester_not_approver (about a person, not a study)
    users: tuple[str, ...]
    grants: tuple[str, ...]
    message: str
    loc: Loc

    def diagnostic(self) -> Diagnostic:
        return violation(self.policy, self.message, self.loc)


def check_access_policies(model: Model, env_state: EnvironmentState) -> list[Diagnostic]:
    """The policies' violations in one environment, as diagnostics (errors, or warnings for `warn`)."""
    if not model.access_policies:
        return []
    return [v.diagnostic() for v in violations(model, env_state)]


def applies(policy: AccessPolicy, study: Study) -> bool:
    """Whether a policy covers a study: no `studies:` filter, or the study's id or one of its tags listed."""
    return not policy.studies or study.id in policy.studies or any(t in policy.studies for t in study.tags)


def holds(rights: Mapping[str, str], right: str, at_least: str | None) -> bool:
    """Whether a role's generic rights reach `at_least` of a right (default: any value above none)."""
    order = RIGHTS[right]
    value = rights.get(right, "none")
    return value in order and order.index(value) >= (order.index(at_least) if at_least else 1)


def violations(model: Model, env_state: EnvironmentState) -> list[Violation]:
    import networkx as nx  # local: slow to import, and only needed when policies are declared

    policies = model.access_policies
    state = env_state.state
    studies = state.get("studies", {})
    graph: networkx.Graph[Any] = nx.Graph()
    per_study = [p for p in policies if p.kind != "requester_not_approver"]
    covered = {
        sid: [i for i, p in enumerate(policies) if p in per_study and applies(p, model.studies[sid])]
        for sid in studies
        if sid in model.studies
    }
    role_values = state.get("roles", {})
    names: dict[tuple[int, str], tuple[str, ...]] = {}  # (policy, role ref) -> the items a grant of it gives
    tagged: dict[str, dict[str, tuple[str, ...]]] = {}  # study -> tag -> its forms
    for key, grant in state.get("grants", {}).items():
        wanted = covered.get(grant["study"])
        if not wanted or not usable(grant):
            continue
        ref = grant["role_ref"]
        for i in wanted:
            items = names.get((i, ref))
            if items is None:
                items = names[(i, ref)] = _items(policies[i], grant, role_values.get(ref, {}), tagged, model)
            if not items:
                continue
            person: Person = ("person", grant["user"])
            sites = grant["sites"] if policies[i].kind == "exclusive" and policies[i].scope == "site" else (None,)
            for name in items:
                for site in sites:
                    node: Item = ("item", i, grant["study"], name, site)
                    if graph.has_edge(person, node):
                        graph.edges[person, node]["grants"].append(key)
                    else:
                        graph.add_edge(person, node, grants=[key])
    found: list[Violation] = []
    finder = _Locs(model)
    found.extend(_exclusive(graph, policies, finder))
    found.extend(_max_holders(graph, policies, finder))
    found.extend(_requires(graph, policies, finder))
    for policy in policies:
        if policy.kind == "requester_not_approver":
            found.extend(_requester_not_approver(model, policy, env_state.as_of))
    return found


def _items(
    policy: AccessPolicy,
    grant: Mapping[str, Any],
    role: Mapping[str, Any],
    tagged: dict[str, dict[str, tuple[str, ...]]],
    model: Model,
) -> tuple[str, ...]:
    """What a grant of this role version gives that the policy names (the same for every grant of it)."""
    if policy.kind == "exclusive" and policy.roles:
        return tuple(r for r in policy.roles if r in (grant["role"], grant["base_role"]))
    if policy.kind == "exclusive":
        forms = tagged.get(grant["study"])
        if forms is None:
            forms = tagged[grant["study"]] = _forms_by_tag(model.studies[grant["study"]])
        levels = role.get("forms", {})
        return tuple(t for t in policy.tags if any(levels.get(f, "none") != "none" for f in forms.get(t, ())))
    rights = role.get("rights", {})
    assert policy.right is not None  # max_holders and requires name a right (schema)
    out: tuple[str, ...] = ("right",) if holds(rights, policy.right, policy.at_least) else ()
    if policy.kind == "requires" and policy.requires is not None and holds(rights, policy.requires, None):
        out += ("requires",)
    return out


def _forms_by_tag(study: Study) -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for form in study.forms:
        for tag in form.tags:
            out.setdefault(tag, []).append(form.id)
    return {t: tuple(f) for t, f in out.items()}


class _Locs:
    """Where each grant was declared, looked up only for the grants of a violation."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self.by_study: dict[str, dict[str, Grant]] = {}

    def grant(self, study: str, key: str) -> Loc:
        grants = self.by_study.get(study)
        if grants is None:
            grants = self.by_study[study] = {g.key: g for g in self.model.studies[study].access}
        return grants[key].loc

    def first(self, study: str, keys: list[str]) -> tuple[str, Loc]:
        """The grant declared first of several (by file and line) and its Loc."""
        return min(((k, self.grant(study, k)) for k in keys), key=lambda kl: (kl[1].file, kl[1].line, kl[0]))


def _item_nodes(graph: networkx.Graph[Any], kind_of: int) -> Iterator[Item]:
    for node in graph.nodes:
        if node[0] == "item" and node[1] == kind_of:
            yield node


def _exclusive(graph: networkx.Graph[Any], policies: tuple[AccessPolicy, ...], locs: _Locs) -> list[Violation]:
    out = []
    for person in sorted(n for n in graph.nodes if n[0] == "person"):
        # the items next to the person, by (policy, study, site): two different names there is a violation
        held: dict[tuple[int, str, Any], list[Item]] = {}
        for node in graph.neighbors(person):
            if policies[node[1]].kind == "exclusive":
                held.setdefault((node[1], node[2], node[4]), []).append(node)
        reported: set[tuple[int, str]] = set()
        for (i, study, site), nodes in sorted(held.items(), key=lambda kv: (kv[0][0], kv[0][1], str(kv[0][2]))):
            policy = policies[i]
            order = policy.roles or policy.tags
            names = sorted({n[3] for n in nodes}, key=order.index)
            if len(names) < 2 or (i, study) in reported:
                continue
            reported.add((i, study))
            a, b = (next(n for n in nodes if n[3] == name) for name in names[:2])
            ka, la = locs.first(study, graph.edges[person, a]["grants"])
            kb, lb = locs.first(study, graph.edges[person, b]["grants"])
            what = "role" if policy.roles else "tag"
            where = f" at site {site}" if site is not None else ""
            how = "exclusive at one site" if site is not None else "exclusive in one study"
            if ka == kb:
                message = (
                    f"{person[1]} holds {what} {a[3]} and {what} {b[3]} in {study}{where} through one grant ({la})"
                )
            else:
                message = f"{person[1]} holds {what} {a[3]} ({la}) and {what} {b[3]} ({lb}) in {study}{where}"
            first, second = sorted([(la, ka), (lb, kb)], key=lambda lk: (lk[0].file, lk[0].line, lk[1]))
            out.append(
                Violation(policy, study, (person[1],), (second[1], first[1]), f"{message}: they are {how}", second[0])
            )
    return out


def _max_holders(graph: networkx.Graph[Any], policies: tuple[AccessPolicy, ...], locs: _Locs) -> list[Violation]:
    out = []
    for i, policy in enumerate(policies):
        if policy.kind != "max_holders":
            continue
        assert policy.max is not None and policy.right is not None  # required by the schema for the kind
        for node in sorted(_item_nodes(graph, i)):
            if graph.degree(node) <= policy.max:  # one edge per person holding it
                continue
            study = node[2]
            holders = sorted(
                (locs.first(study, graph.edges[p, node]["grants"]) + (p[1],) for p in graph.neighbors(node)),
                key=lambda h: (h[1].file, h[1].line, h[2]),
            )
            beyond = holders[policy.max]
            level = policy.at_least or "anything above none"
            listed = ", ".join(f"{user} ({loc})" for _, loc, user in holders)
            out.append(
                Violation(
                    policy,
                    study,
                    tuple(h[2] for h in holders),
                    (beyond[0],) + tuple(h[0] for h in holders if h is not beyond),
                    f"{len(holders)} people hold {policy.right} ({level}) in {study}, at most {policy.max} may: {listed}",
                    beyond[1],
                )
            )
    return out


def _requires(graph: networkx.Graph[Any], policies: tuple[AccessPolicy, ...], locs: _Locs) -> list[Violation]:
    out = []
    for i, policy in enumerate(policies):
        if policy.kind != "requires":
            continue
        for node in sorted(n for n in _item_nodes(graph, i) if n[3] == "right"):
            study = node[2]
            needed = ("item", i, study, "requires", None)
            for person in sorted(graph.neighbors(node)):
                if graph.has_edge(person, needed):
                    continue
                key, loc = locs.first(study, graph.edges[person, node]["grants"])
                level = f" ({policy.at_least} or above)" if policy.at_least else ""
                out.append(
                    Violation(
                        policy,
                        study,
                        (person[1],),
                        (key,),
                        f"{person[1]} holds {policy.right}{level} in {study} ({loc}) without {policy.requires}, "
                        f"which it requires",
                        loc,
                    )
                )
    return out


def _requester_not_approver(model: Model, policy: AccessPolicy, as_of: date) -> list[Violation]:
    """Every active external person: requested_by and approved_by differ, and neither is the person."""
    out = []
    for person in model.people.values():
        ext = person.external
        if ext is None or person.status != "active" or person.expired(as_of):
            continue
        asked, approved = ext.requested_by, ext.approved_by
        at_asked, at_approved = ext.locs.get("requested_by", ext.loc), ext.locs.get("approved_by", ext.loc)
        problems = []
        if asked is not None and asked == person.username:
            problems.append((f"{person.username} requested their own access", at_asked))
        if approved is not None and approved == person.username:
            problems.append((f"{person.username} approved their own access", at_approved))
        if asked is not None and asked == approved and asked != person.username:
            problems.append(
                (
                    f"{person.username}'s access was requested ({at_asked}) and approved ({at_approved}) "
                    f"by the same person, {asked}",
                    at_approved,
                )
            )
        for message, loc in problems:
            out.append(Violation(policy, None, (person.username,), (), message, loc))
    return out


__all__ = ["Violation", "applies", "check_access_policies", "holds", "violations"]
