"""Separation-of-duties policies (`access_policies:`, docs/policies.md) evaluated on one environment's
effective state: what the grants left in it (not expired, not deactivated, not Vault-disabled) give.

Only what the policies mention becomes a graph: a bipartite networkx graph between people and *items*,
an item being (policy, study, what it names): a role or tag of an `exclusive` policy, the right of a
`max_holders` policy, the two rights of a `requires` policy. An edge carries the grants that give it. One
pass over the grants (`_candidates`) finds what each person holds of what each policy names, worked out
once per role version (role ref), so the work per grant is a dictionary look-up; only the edges a violation
can be made of enter the graph. Each kind is then a question on it: the items next to a person
(exclusive; with `scope: site`, through two grants sharing a site), the people next to an item
(max_holders), an edge that is missing (requires).

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
from ..identity import fold
from ..model import AccessPolicy, Grant, Model, Study
from ..rules.access_policies import violation
from .effective import EnvironmentState, usable

if TYPE_CHECKING:
    import networkx

Item = tuple[str, int, str, str]  # ("item", policy index, study, name)
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


Gives = tuple[tuple[int, tuple[str, ...]], ...]  # what a grant of a role version gives: (policy, names)
PolicyMemo = dict[str, Gives]  # role ref -> what its grants give (the same in every environment of a model)


def check_access_policies(
    model: Model, env_state: EnvironmentState, memo: PolicyMemo | None = None
) -> list[Diagnostic]:
    """The policies' violations in one environment, as diagnostics (errors, or warnings for `warn`). memo:
    shared by the environments of one model (resolve), so each role version is worked out once."""
    if not model.access_policies:
        return []
    return [v.diagnostic() for v in violations(model, env_state, memo)]


def applies(policy: AccessPolicy, study: Study) -> bool:
    """Whether a policy covers a study: no `studies:` filter, or the study's id or one of its tags listed."""
    return not policy.studies or study.id in policy.studies or any(t in policy.studies for t in study.tags)


def holds(rights: Mapping[str, str], right: str, at_least: str | None) -> bool:
    """Whether a role's generic rights reach `at_least` of a right (default: any value above none)."""
    order = RIGHTS[right]
    value = rights.get(right, "none")
    return value in order and order.index(value) >= (order.index(at_least) if at_least else 1)


def violations(model: Model, env_state: EnvironmentState, memo: PolicyMemo | None = None) -> list[Violation]:
    policies = model.access_policies
    state = env_state.state
    grants = state.get("grants", {})
    found: list[Violation] = []
    candidates = _candidates(model, policies, state, {} if memo is None else memo)
    if candidates:  # (no edge a violation could be made of: no graph to ask, nor networkx to import)
        import networkx as nx  # local: slow to import (0.4 s), and only needed when something may break a policy

        # the graph: only the edges a violation can be made of (see _candidates)
        graph: networkx.Graph[Any] = nx.Graph()
        graph.add_edges_from(
            (("person", user), ("item", i, study, name), {"grants": keys})
            for (i, study, user), names in candidates.items()
            for name, keys in names.items()
        )
        finder = _Locs(model)
        found.extend(_exclusive(graph, policies, finder, grants))
        found.extend(_max_holders(graph, policies, finder))
        found.extend(_requires(graph, policies, finder))
    for policy in policies:
        if policy.kind == "requester_not_approver":
            found.extend(_requester_not_approver(model, policy, env_state.as_of))
    return found


Held = dict[tuple[int, str, str], dict[str, list[str]]]  # (policy, study, user) -> name -> grant keys
Slot = tuple[int, str, str]  # (policy, study, user)


def _candidates(model: Model, policies: tuple[AccessPolicy, ...], state: Mapping[str, Any], gives: PolicyMemo) -> Held:
    """What a violation can be made of, with the grants giving it: people holding two names of an exclusive
    policy; every holder in a study with more holders than a max_holders policy allows; the holders of a
    requires policy's first right through a grant that does not give the second (with the second where
    another of their grants gives it).

    Two passes over the usable grants of the studies the policies cover. What a grant of a role version
    gives is worked out once per role ref (which also says the study): per grant, a dictionary look-up.
    The first pass keeps per (policy, study, person) only the names their first grant gave, and whether
    another gave different ones: no grant keys, since most people hold one name of an exclusive policy and
    a study has fewer holders of a right than max_holders allows. A grant giving both rights of a requires
    policy cannot be part of its breach and is not counted. The second pass collects the grant keys of the
    few slots left."""
    covered = {
        sid: [i for i, p in enumerate(policies) if p.kind != "requester_not_approver" and applies(p, declared)]
        for sid in state.get("studies", {})
        if (declared := model.studies.get(sid)) is not None
    }
    roles = state.get("roles", {})
    tagged: dict[str, dict[str, tuple[str, ...]]] = {}  # study -> tag -> its forms
    grants = state.get("grants", {})
    first: dict[Slot, tuple[str, ...]] = {}  # what the slot's first grant gave
    mixed: set[Slot] = set()  # slots where another grant gave different names
    for grant in grants.values():
        ref = grant["role_ref"]
        entry = gives.get(ref)
        if entry is None:
            items = (
                (i, _items(policies[i], grant, roles.get(ref, {}), tagged, model))
                for i in covered.get(grant["study"], ())
            )
            entry = gives[ref] = tuple((i, names) for i, names in items if names)
        if not entry or not usable(grant):
            continue
        study, user = grant["study"], grant["user"]
        for i, names in entry:
            slot = (i, study, user)
            seen = first.setdefault(slot, names)
            if seen is not names and seen != names:
                mixed.add(slot)
    wanted: dict[tuple[str, str], list[int]] = {}  # (study, user) -> the policies whose slot is a candidate
    holders: dict[tuple[int, str], int] = {}
    for i, study, _ in first:
        if policies[i].kind == "max_holders":
            holders[(i, study)] = holders.get((i, study), 0) + 1
    for slot, names in first.items():
        i, study, user = slot
        policy = policies[i]
        if policy.kind == "exclusive" and len(names) < 2 and slot not in mixed:
            continue
        if policy.kind == "max_holders" and holders[(i, study)] <= (policy.max or 0):
            continue
        wanted.setdefault((study, user), []).append(i)
    return _keys_of(policies, grants, gives, roles, wanted)


def _keys_of(
    policies: tuple[AccessPolicy, ...],
    grants: Mapping[str, Any],
    gives: PolicyMemo,
    roles: Mapping[str, Any],
    wanted: Mapping[tuple[str, str], list[int]],
) -> Held:
    """The candidate slots with the grants giving each name (the second pass of _candidates); for a
    requires policy also the grants giving its second right, whatever else they give."""
    out: Held = {}
    studies = {study for study, _ in wanted}
    for key, grant in grants.items():
        if grant["study"] not in studies or not usable(grant):
            continue
        study, user = grant["study"], grant["user"]
        mine = wanted.get((study, user))
        if mine is None:
            continue
        given = dict(gives[grant["role_ref"]])
        for i in mine:
            slot = out.setdefault((i, study, user), {})
            for name in given.get(i, ()):
                slot.setdefault(name, []).append(key)
            needed = policies[i].requires
            if policies[i].kind == "requires" and needed is not None:
                if holds(roles.get(grant["role_ref"], {}).get("rights", {}), needed, None):
                    slot.setdefault("requires", []).append(key)
    return out


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
    if not holds(rights, policy.right, policy.at_least):
        return ()
    if policy.kind == "requires" and policy.requires is not None and holds(rights, policy.requires, None):
        return ()  # the second right through the same grant: this grant cannot be part of a breach
    return ("right",)


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


def _exclusive(
    graph: networkx.Graph[Any], policies: tuple[AccessPolicy, ...], locs: _Locs, grants: Mapping[str, Any]
) -> list[Violation]:
    out = []
    for person in sorted(n for n in graph.nodes if n[0] == "person"):
        # the items next to the person, by (policy, study): two different names there is a violation (with
        # scope site: through two grants that share a site)
        held: dict[tuple[int, str], list[Item]] = {}
        for node in graph.neighbors(person):
            if policies[node[1]].kind == "exclusive":
                held.setdefault((node[1], node[2]), []).append(node)
        for (i, study), nodes in sorted(held.items()):
            policy = policies[i]
            order = policy.roles or policy.tags
            nodes.sort(key=lambda n: order.index(n[3]))
            found = _conflict(graph, person, nodes, policy.scope == "site", grants)
            if found is None:
                continue
            (a, ka), (b, kb), site = found
            la, lb = locs.grant(study, ka), locs.grant(study, kb)
            what = "role" if policy.roles else "tag"
            where = f" at site {site}" if site is not None else ""
            how = "exclusive at one site" if site is not None else "exclusive in one study"
            if ka == kb:
                message = f"{person[1]} holds {what} {a} and {what} {b} in {study}{where} through one grant ({la})"
            else:
                message = f"{person[1]} holds {what} {a} ({la}) and {what} {b} ({lb}) in {study}{where}"
            first, second = sorted([(la, ka), (lb, kb)], key=lambda lk: (lk[0].file, lk[0].line, lk[1]))
            out.append(
                Violation(policy, study, (person[1],), (second[1], first[1]), f"{message}: they are {how}", second[0])
            )
    return out


def _conflict(
    graph: networkx.Graph[Any], person: Person, nodes: list[Item], by_site: bool, grants: Mapping[str, Any]
) -> tuple[tuple[str, str], tuple[str, str], str | None] | None:
    """The first two different names the person holds (in the policy's order), each with a grant giving it,
    and with by_site the first site those two grants share; None when there are none."""
    for x, a in enumerate(nodes):
        for b in nodes[x + 1 :]:
            for ka in sorted(graph.edges[person, a]["grants"]):
                for kb in sorted(graph.edges[person, b]["grants"]):
                    if not by_site:
                        return (a[3], ka), (b[3], kb), None
                    shared = set(grants[ka]["sites"]) & set(grants[kb]["sites"])
                    if shared:
                        return (a[3], ka), (b[3], kb), min(shared)
    return None


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
            needed = ("item", i, study, "requires")
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
        asked, approved = ext.requested_by, ext.approved_by  # usernames: compared as rules.identity does
        me = fold(person.username)
        asked_self = asked is not None and fold(asked) == me
        approved_self = approved is not None and fold(approved) == me
        same_other = asked is not None and approved is not None and fold(asked) == fold(approved) != me
        if not (asked_self or approved_self or same_other):
            continue  # positions are worked out only for a message
        at_asked, at_approved = ext.locs.get("requested_by", ext.loc), ext.locs.get("approved_by", ext.loc)
        problems = []
        if asked_self:
            problems.append((f"{person.username} requested their own access", at_asked))
        if approved_self:
            problems.append((f"{person.username} approved their own access", at_approved))
        if same_other:
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


__all__ = ["PolicyMemo", "Violation", "applies", "check_access_policies", "holds", "violations"]
