"""The studies of schema-valid documents: their forms, roles, sites and grants (build.build_model calls it)."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from ..diagnostics import Diagnostic, Loc, error
from ..identity import fold
from ..model import (
    ALL,
    Form,
    Grant,
    Protocol,
    Role,
    Study,
    frozen_map,
)
from ..rules import files as files_rules
from ..rules import references as references_rules
from ..source.yamlfile import ParsedFile
from .nodes import _Node, _Registry, declarations, parse_date


def _studies(files: tuple[ParsedFile, ...], problems: list[Diagnostic]) -> dict[str, Study]:
    out: dict[str, Study] = {}
    ids = _Registry("study", problems)
    for node in declarations(files, "study"):
        sid = node.get("id")
        if not ids.claim(sid, node, "id"):
            continue
        form_ids = _Registry(f"form of study {sid}:", problems)
        forms = []
        for f in node.items("forms"):
            v = f.value
            if form_ids.claim(v.get("id"), f, "id"):
                forms.append(
                    Form(
                        v.get("id"),
                        v.get("name"),
                        bool(v.get("contact_data", False)),
                        tuple(v.get("tags") or ()),
                        f.loc,
                    )
                )
        roles = {}
        for rid in node.get("roles") or {}:
            r = node.child("roles").child(rid)
            roles[rid] = Role(
                rid,
                r.get("base"),
                r.get("default"),
                frozen_map(r.get("tags") or {}),
                r.get("contact_forms"),
                frozen_map(r.get("redcap") or {}),
                node.file.key_loc(r.path),
                r.locs(),
                frozen_map({f: frozen_map(v) for f, v in (r.get("redcap_forms") or {}).items()}),
                frozen_map(r.get("redcap_role") or {}),
            )
        protocol = None
        if node.get("protocol") is not None:
            p = node.child("protocol")
            protocol = Protocol(
                p.get("irb"), p.get("pi"), tuple(p.get("co_pis") or ()), tuple(p.get("staff") or ()), p.loc
            )
        study_envs = tuple(node.get("environments") or ())
        access = _grants(node, sid, study_envs, problems)
        out[sid] = Study(
            id=sid,
            name=node.get("name"),
            system=node.get("system"),
            status=node.get("status"),
            protocol=protocol,
            environments=study_envs,
            sites=tuple(node.get("sites") or ()),
            participant_id_template=node.get("participant_id_template"),
            tags=tuple(node.get("tags") or ()),
            forms=tuple(forms),
            roles=frozen_map(roles),
            access=access,
            redcap=frozen_map(node.get("redcap") or {}),
            loc=node.loc,
            locs=node.locs(),
            collects_phi=node.get("collects_phi"),
        )
    return out


def _grants(study: _Node, sid: str, study_envs: tuple[str, ...], problems: list[Diagnostic]) -> tuple[Grant, ...]:
    grants: list[Grant] = []
    claimed: dict[tuple[str, str, str], Loc] = {}  # (user, environment, role) -> first grant
    for g in study.items("access"):
        v, loc = g.value, g.loc  # the grant's mapping, read directly: 200,000 of them at N=2,000
        envs = v.get("environments", ALL)
        sites = v.get("sites")
        countries = v.get("countries")
        if sites is not None and countries is not None:
            problems.append(
                error(files_rules.SCHEMA.code, "a grant takes either sites or countries, not both", g.at("countries"))
            )
            continue
        if sites is None and countries is None:
            problems.append(error(files_rules.SCHEMA.code, "a grant needs sites (a list or `all`) or countries", loc))
            continue
        grant = Grant(
            study=sid,
            user=v.get("user"),
            role=v.get("role"),
            environments=envs if envs == ALL else tuple(envs),
            sites=sites if sites in (ALL, None) else tuple(sites),
            countries=tuple(countries) if countries is not None else None,
            expires=parse_date(g, "expires", problems) if v.get("expires") is not None else None,
            loc=loc,
            locs=g.locs(),
            disabled=v.get("study_status") == "disabled",
        )
        duplicate = False
        user = fold(grant.user)
        for env in study_envs if envs == ALL else envs:
            # one grant per person, role and environment; different roles at different sites are
            # allowed (001/003) and checked by rules.site_roles once sites are known
            first = claimed.setdefault((user, env, fold(str(grant.role))), loc)
            # `is` first: the usual case is this grant's own Loc. An alias repeating a grant has an equal Loc.
            if first is not loc and first != loc and not duplicate:
                duplicate = True
                problems.append(
                    error(
                        references_rules.DUPLICATE_ID.code,
                        f"{grant.user} is granted {grant.role} twice in study {sid} for "
                        f"environment {env} (first at {first}); list every site of that role in one grant",
                        g.at("user"),
                    )
                )
        if not duplicate:
            grants.append(grant)
    held = Counter((user, env) for user, env, _ in claimed)
    if len(held) < len(claimed):
        grants = _keyed_by_role(grants, study_envs)
    return tuple(grants)


def _keyed_by_role(grants: list[Grant], study_envs: tuple[str, ...]) -> list[Grant]:
    """Someone holds two roles in one environment (roles per site, 001/003). Their first grant keeps the
    key `<study>/<username>`; a later one that shares an environment with an earlier one is keyed by its role
    too (`<study>/<username>/<role>`). So adding a role at another site never changes an applied grant's key."""
    seen: dict[str, set[str]] = {}  # person -> environments of their earlier grants
    out = []
    for grant in grants:
        envs = set(study_envs if grant.environments == ALL else grant.environments)
        earlier = seen.setdefault(fold(grant.user), set())
        out.append(replace(grant, per_role=True) if envs & earlier else grant)
        earlier |= envs
    return out
