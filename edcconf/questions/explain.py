"""`explain USER`: why a person has each level, down to the file and line that caused it.

For every environment and study: the grant (file:line) → the role (custom, file:line) → its base role →
per form the level and the rule that decided it (tag, contact-form or untagged default, file:line) →
the ceiling check against the person's group. A person without access is explained too: not granted,
expired, deactivated, or granted in another environment.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..diagnostics import UserError, suggest
from ..pipeline import Desired
from ..rules import references as references_rules
from ..rules.admins import IMPLICIT, IMPLICIT_REASON
from ..rules.ceiling_values import create_projects, group_ceiling
from .qualifications import chain


def explain(
    desired: Desired, user: str, studies: Iterable[str] = (), envs: Iterable[str] = (), forms: Iterable[str] = ()
) -> dict:
    model, resolution = desired.model, desired.resolution
    person = model.people.get(user)
    if person is None:
        raise UserError(
            f"unknown user {user!r}{suggest(user, model.people)}", code=references_rules.UNKNOWN_REFERENCE.code
        )
    wanted_studies, wanted_envs, wanted_forms = set(studies), set(envs), set(forms)
    for name, known, what in (
        (wanted_studies, model.studies, "study"),
        (wanted_envs, model.environments, "environment"),
    ):
        for item in name - set(known):
            raise UserError(
                f"unknown {what} {item!r}{suggest(item, known)}", code=references_rules.UNKNOWN_REFERENCE.code
            )
    group = model.groups.get(person.group)
    may, why = create_projects(group_ceiling(group)) if group else (False, "the person is in no group")
    out: dict[str, Any] = {
        "format_version": 1,
        "user": user,
        "person": {
            "name": person.name,
            "email": person.email,
            "type": person.type,
            "status": person.status,
            "group": person.group,
            "expires": person.expires.isoformat() if person.expires else None,
            "external": person.external.organization if person.external else None,
            "source": str(person.loc),
        },
        # derived abilities of the person (not of a grant): 002, a ceiling below full User Rights
        "abilities": {"create_projects": {"value": may, "reason": why, "source": str(group.loc) if group else None}},
        "as_of": resolution.as_of.isoformat(),
        "environments": [],
    }
    graph = desired.resolution.graph
    granted, admin_in = _paths_of(graph, user)
    for env_name in graph.graph["environments"]:
        if wanted_envs and env_name not in wanted_envs:
            continue
        entries = []
        for study in model.studies.values():
            if (wanted_studies and study.id not in wanted_studies) or env_name not in study.environments:
                continue
            # one entry per role the person holds in the study (a different role per site: roles per site)
            edges = granted.get(study.id, {})
            admin = env_name in admin_in.get(study.id, ())
            views = [
                _admin_view(
                    _entry(graph, env_name, study, key, edges.get(key), person, group, wanted_studies, wanted_forms),
                    admin,
                    study.id,
                    person,
                )
                for key in list(edges) or [f"{study.id}/{user}"]
            ]
            for key, view in zip(edges, views):  # (no grant: views holds one entry, and edges none)
                # the qualification chain of a grant that gives access or is suspended for lacking one
                if view is not None and model.qualifications and _chained(view):
                    view["qualifications"] = chain(desired, study, edges[key]["role"], person)
            found = [e for e in views if e is not None]
            if any(e["access"] for e in found):
                # a role of the person declared for other environments only says nothing about this one
                found = [e for e in found if e["access"] or not e["reason"].startswith("not granted in")]
            entries.extend(found)
        if entries:
            out["environments"].append({"environment": env_name, "studies": entries})
    return out


def _chained(view: dict) -> bool:
    return bool(view["access"]) or str(view.get("reason", "")).startswith("suspended")


def _paths_of(graph, user: str) -> tuple[dict[str, dict[str, dict]], dict[str, list[str]]]:
    """The person's out-edges in the permission graph: per study, grant key -> its `granted` edge (in the
    order declared), and per study the environments where the person is an admin (implicit access, 001)."""
    granted: dict[str, dict[str, dict]] = {}
    admin_in: dict[str, list[str]] = {}
    node = ("person", user)
    if node not in graph:
        return granted, admin_in
    for _, target, data in graph.out_edges(node, data=True):
        if data["kind"] == "granted":
            granted.setdefault(data["study"], {}).setdefault(data["grant"], data)
        elif data["kind"] == "admin_of":
            admin_in[target[1]] = data["environments"]
    return granted, admin_in


def _admin_view(entry: dict | None, admin: bool, study_id: str, person) -> dict | None:
    """001: an admin sees the study whatever they are granted (marked as implicit access)."""
    if not admin:
        return entry
    if entry is None:
        return {
            "study": study_id,
            "access": False,
            "reason": IMPLICIT_REASON,
            "source": str(person.loc),
            "implicit": IMPLICIT,
            "implicit_reason": IMPLICIT_REASON,
        }
    entry = {**entry, "implicit": IMPLICIT, "implicit_reason": IMPLICIT_REASON}
    if not entry["access"]:
        entry["reason"] = IMPLICIT_REASON + (
            "" if entry["reason"] == "not granted" else f"; no grant: {entry['reason']}"
        )
    return entry


def _entry(
    graph, env: str, study, key: str, edge: dict | None, person, group, wanted_studies: set, wanted_forms: set
) -> dict | None:
    """What one grant (its `granted` edge, or its absence) gives the person in one study and environment."""
    grant = edge["grants"].get(env) if edge is not None else None
    if grant is None:
        why = edge["excluded"].get(env) if edge is not None else None
        if why is None and edge is None and not wanted_studies:
            return None  # not mentioned in this study at all: nothing to explain
        return {
            "study": study.id,
            "access": False,
            "reason": why["reason"] if why else "not granted",
            "source": why["source"] if why else None,
        }
    assert edge is not None  # a grant in the environment comes from its edge
    role_node = ("role", f"{study.id}/{edge['role']}")
    role = graph.nodes[role_node]
    if grant.get("study_status") == "disabled":  # 003: on record in Vault, no access
        return {
            "study": study.id,
            "access": False,
            "study_status": "disabled",
            "reason": f"study status disabled: Vault keeps {edge['role']} at {', '.join(grant['sites'])} on "
            "record, with no access to the study",
            "source": edge["source"],
            "grant": {
                "source": edge["source"],
                "role": edge["role"],
                "base_role": role["base_role"],
                "sites": grant["sites"],
                "expires": grant["expires"],
            },
        }
    prefix = len(study.id) + 1
    form_rows = [
        {
            "form": form[1][prefix:],
            "level": d["level"],
            "rule": d["rule"],
            "source": d["source"] or f"catalog {study.system}/{role['base_role']}",
            "close_queries": d["close_queries"],
            "sdv": d["sdv"],
        }
        for _, form, d in graph.out_edges(role_node, data=True)
        if d["kind"] == "level" and (not wanted_forms or form[1][prefix:] in wanted_forms)
    ]
    over = edge["over"] or []  # None: in no group, nothing to be over
    return {
        "study": study.id,
        "access": True,
        "system": study.system,
        "grant": {
            "source": edge["source"],
            "role": edge["role"],
            "role_source": role["source"],
            "base_role": role["base_role"],
            "base_role_label": role["base_role_label"],
            "sites": grant["sites"],
            "expires": grant["expires"],
        },
        "forms": form_rows,
        "ceiling": {
            "group": person.group,
            "source": graph.nodes[("group", group.id)]["source"] if group else None,
            "within": not over,
            "over": over,
        },
    }


def add_observed(doc: dict, model, observed_of) -> None:
    """Per environment where the person is in a Vault study, the Last Login that `state import ... vault`
    kept from Vault's export (003), when there is one: `observed_of(env)` reads the applied state's
    `observed` section (only for those environments)."""
    for env in doc["environments"]:
        if not any(getattr(model.studies.get(e["study"]), "system", None) == "vault" for e in env["studies"]):
            continue
        seen = observed_of(env["environment"]).get(doc["user"]) or {}
        if seen.get("vault_last_login"):
            env["vault_last_login"] = {
                "value": seen["vault_last_login"],
                "study": seen.get("study"),
                "source": seen.get("source"),
            }
