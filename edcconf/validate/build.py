"""Build the typed model from schema-valid documents, reporting duplicates as they are met."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from ..diagnostics import Diagnostic, Loc, error, suggest
from ..model import (
    Environment,
    External,
    Group,
    HeldQualification,
    Model,
    OpenClinicaDomain,
    Person,
    Site,
    Target,
    frozen_map,
)
from ..rules import ceilings as ceilings_rules
from ..rules import files as files_rules
from ..rules import references as references_rules
from ..rules.ceiling_values import UNLIMITED, Ceiling, effective_ceiling
from ..source.yamlfile import ParsedFile
from .build_studies import _studies
from .nodes import _Node, _Registry, declarations, parse_date

NO_RIGHTS = "no-rights"
NO_RIGHTS_CEILING = effective_ceiling({}, {})  # every generic right none, every REDCap key 0


def build_model(root: Path, digest: str, files: tuple[ParsedFile, ...]) -> tuple[Model, list[Diagnostic]]:
    problems: list[Diagnostic] = []
    environments = _environments(files, problems)
    sites = _sites(files, problems)
    groups, people = _groups(files, problems)
    studies = _studies(files, problems)
    policy, policy_loc = _policy(files, problems)
    model = Model(
        root=root,
        digest=digest,
        environments=frozen_map(environments),
        sites=frozen_map(sites),
        groups=frozen_map(groups),
        people=frozen_map(people),
        studies=frozen_map(studies),
        openclinica_domain=_openclinica_domain(files, problems),
        policy=frozen_map(policy),
        policy_loc=policy_loc,
        access_policies=_access_policies(files, problems, studies),  # separation of duties (build_policies)
    )
    if any(isinstance(f.data, dict) and ("review_campaign" in f.data or "access_review" in f.data) for f in files):
        from .build_reviews import build_reviews  # a cycle inside validate: build_reviews uses _Node

        model = replace(model, reviews=frozen_map(build_reviews(root, files, problems)))
    from .build_qualifications import with_qualifications  # local: a cycle inside one package (it reads this module)

    return with_qualifications(model, files, problems), problems


def _access_policies(files: tuple[ParsedFile, ...], problems: list[Diagnostic], studies: dict) -> tuple:
    from .build_policies import access_policies  # local: a cycle inside one package (it uses _Registry)

    return access_policies(files, problems, studies)


def _openclinica_domain(files: tuple[ParsedFile, ...], problems: list[Diagnostic]) -> OpenClinicaDomain | None:
    """The one `openclinica_domain:` declaration (001: MFA and password rules are settings of the domain)."""
    found: OpenClinicaDomain | None = None
    for f in files:
        if not isinstance(f.data, dict) or "openclinica_domain" not in f.data:
            continue
        node = _Node.root(f).child("openclinica_domain")
        if found is not None:
            problems.append(
                error(
                    references_rules.DUPLICATE_ID.code,
                    f"openclinica_domain is declared twice; first at {found.loc}: "
                    "MFA and the password rules are settings of the one OpenClinica domain (001), "
                    "declare them once",
                    node.loc,
                )
            )
            continue
        locs = {key: node.at(key) for key in node.value}
        if isinstance(node.get("password"), dict):
            password = node.child("password")
            locs.update({f"password.{key}": password.at(key) for key in password.value})
        found = OpenClinicaDomain(
            mfa_required=bool(node.get("mfa_required", False)),
            password=frozen_map(node.get("password") or {}),
            loc=node.loc,
            locs=frozen_map(locs),
        )
    return found


def _policy(files: tuple[ParsedFile, ...], problems: list[Diagnostic]) -> tuple[dict, Loc | None]:
    """The organisation's `policy:` settings: one declaration in the whole configuration."""
    found: list[_Node] = [
        _Node.root(f).child("policy")
        for f in files
        if isinstance(f.data, dict) and isinstance(f.data.get("policy"), dict)
    ]
    for node in found[1:]:
        problems.append(
            error(
                references_rules.DUPLICATE_ID.code,
                f"policy is declared twice; first at {found[0].loc}: declare the organisation's policy once",
                node.loc,
            )
        )
    return (dict(found[0].value), found[0].loc) if found else ({}, None)


def _environments(files: tuple[ParsedFile, ...], problems: list[Diagnostic]) -> dict[str, Environment]:
    out: dict[str, Environment] = {}
    ids = _Registry("environment", problems)
    for node in declarations(files, "environment"):
        name = node.get("name")
        if not ids.claim(name, node, "name"):
            continue
        targets = {}
        for system, t in (node.get("targets") or {}).items():
            tnode = node.child("targets").child(system)
            targets[system] = Target(
                system,
                t["provider"],
                t.get("out"),
                t.get("url"),
                t.get("token_env"),
                tnode.loc,
                frozen_map(t.get("vault_user_defaults") or {}),
                t.get("version"),
                t.get("requests_per_second"),
            )
        out[name] = Environment(
            name=name,
            protected=bool(node.get("protected", False)),
            safety=frozen_map(node.get("safety") or {}),
            state=frozen_map(node.get("state") or {"backend": "local"}),
            security=frozen_map(node.get("security") or {}),
            targets=frozen_map(targets),
            loc=node.loc,
            external=frozen_map(node.get("external") or {}),
            alerts=frozen_map(node.get("alerts") or {}),
        )
    return out


def _sites(files: tuple[ParsedFile, ...], problems: list[Diagnostic]) -> dict[str, Site]:
    out: dict[str, Site] = {}
    ids = _Registry("site", problems)
    for node in declarations(files, "sites"):
        sid = node.get("id")
        if ids.claim(sid, node, "id"):
            out[sid] = Site(
                sid, node.get("name"), node.get("country"), node.get("timezone"), node.get("city"), node.loc
            )
    return out


def _groups(files: tuple[ParsedFile, ...], problems: list[Diagnostic]) -> tuple[dict[str, Group], dict[str, Person]]:
    groups: dict[str, Group] = {}
    people: dict[str, Person] = {}
    group_ids = _Registry("group", problems)
    usernames = _Registry("username", problems)
    declared: dict[str, _Node] = {}
    from .build_qualifications import held_qualifications  # local: that module reads this one

    held_shared: dict[tuple, Mapping[str, HeldQualification]] = {}  # the same dates held: one mapping

    for node in declarations(files, "group"):
        gid = node.get("id")
        if not group_ids.claim(gid, node, "id"):
            continue
        declared[gid] = node
        members = []
        for member in node.items("members"):
            person = _person(member, gid, problems, held_qualifications(member, problems, held_shared))
            # usernames are unique across the whole repository, ignoring case (001); e-mails are judged
            # once the studies are built, by the systems each person has access to (rules.identity)
            usernames.claim(person.username, member, "username")
            # A duplicate is reported once; keeping the other spelling avoids a cascade of
            # "unknown user" errors for grants that name it.
            if person.username not in people:
                people[person.username] = person
                members.append(person.username)
        groups[gid] = _group(node, gid, tuple(members), None, problems)
    if NO_RIGHTS not in groups:
        groups[NO_RIGHTS] = Group(
            NO_RIGHTS,
            "Built-in: keeps an account, may be granted nothing",
            frozen_map(NO_RIGHTS_CEILING.rights),
            frozen_map(NO_RIGHTS_CEILING.keys),
            None,
            (),
            Loc("<built-in>"),
            True,
        )
    _extend(groups, declared, problems)
    return groups, people


def _group(
    node: _Node, gid: str, members: tuple[str, ...], parent: Ceiling | None, problems: list[Diagnostic]
) -> Group:
    """A group with its effective ceiling (rules.ceilings: unnamed rights are none unless said otherwise)."""
    named = dict(node.get("ceiling") or {})
    named_keys = named.pop("redcap", {}) or {}
    unlimited = named.pop("unnamed", "none") == UNLIMITED
    builtin = gid == NO_RIGHTS
    if builtin:
        if node.get("ceiling") is not None or node.get("extends") is not None:
            problems.append(
                error(
                    files_rules.SCHEMA.code,
                    "the built-in group no-rights has a fixed ceiling (every right none); remove its ceiling",
                    node.at("ceiling"),
                )
            )
        ceiling = NO_RIGHTS_CEILING
    else:
        ceiling = effective_ceiling(named, named_keys, unlimited=unlimited, parent=parent)
    return Group(
        gid,
        node.get("description"),
        frozen_map(ceiling.rights),
        frozen_map(ceiling.keys),
        node.get("message"),
        members,
        node.loc,
        builtin,
        node.get("sag_id"),
        node.get("acg_id"),
        bool(node.get("default")),
        node.get("extends"),
        unlimited,
        frozen_map({**named, **({"redcap": frozen_map(named_keys)} if named_keys else {})}),
    )


def _extend(groups: dict[str, Group], declared: dict[str, _Node], problems: list[Diagnostic]) -> None:
    """Groups that start from another group's ceiling, parents first; a cycle or an unknown parent is an error."""
    done: set[str] = {gid for gid, node in declared.items() if node.get("extends") is None} | {NO_RIGHTS}

    def resolve(gid: str, chain: tuple[str, ...]) -> bool:
        if gid in done:
            return True
        node = declared[gid]
        parent = node.get("extends")
        if parent not in groups:
            problems.append(
                error(
                    references_rules.UNKNOWN_REFERENCE.code,
                    f"group {gid} extends unknown group {parent!r}{suggest(str(parent), groups)}",
                    node.at("extends"),
                )
            )
            return False
        if parent in chain:
            problems.append(
                error(
                    ceilings_rules.CEILING_EXTENDS.code,
                    f"group {gid} extends {parent}, which extends {gid} "
                    f"({' -> '.join(chain + (parent,))}); a ceiling cannot start from itself",
                    node.at("extends"),
                )
            )
            return False
        if parent in declared and not resolve(parent, chain + (parent,)):
            return False
        if (node.get("ceiling") or {}).get("unnamed") is not None:
            problems.append(
                error(
                    ceilings_rules.CEILING_EXTENDS.code,
                    f"group {gid} extends {parent}: its unnamed rights are {parent}'s; remove `unnamed:`",
                    node.at("extends"),
                )
            )
        base = groups[parent]
        groups[gid] = _group(node, gid, groups[gid].members, Ceiling(base.ceiling, base.redcap_ceiling), problems)
        done.add(gid)
        return True

    for gid in declared:
        resolve(gid, (gid,))


def _person(
    node: _Node, group: str, problems: list[Diagnostic], qualifications: Mapping[str, HeldQualification]
) -> Person:
    ext = None
    if node.get("external") is not None:
        enode = node.child("external")
        ext = External(
            enode.get("organization"),
            parse_date(enode, "agreement_signed", problems),
            enode.get("basis"),
            enode.get("justification"),
            enode.get("requested_by"),
            enode.loc,
            approved_by=enode.get("approved_by"),
            phi_protections=enode.get("phi_protections"),
            locs=enode.locs(),
        )
    return Person(
        username=node.get("username"),
        email=node.get("email"),
        name=node.get("name"),
        type=node.get("type", "user"),
        status=node.get("status", "active"),
        expires=parse_date(node, "expires", problems),
        external=ext,
        group=group,
        loc=node.loc,
        locs=node.locs(),
        qualifications=qualifications,
    )
