"""Adopt REDCap projects: their users, user roles and data access groups become declarations that
reproduce every user's rights exactly, so that adopting a project changes nobody's access.

- A REDCap user role becomes an edcconf role that keeps its REDCap name and label (`redcap_role:`) and is
  managed as a role: people stay assigned to it, it is never dismantled.
- A user with rights of their own gets the study's declared role (or a catalog role) that gives exactly
  those rights, else a generated custom role (one per distinct set of rights) that states them exactly:
  every right of the version, each form's viewing level (delete and survey bits) and export level.
- Each data access group is a site: a declared site of that name (or whose derived DAG name it is), else
  a new site (its country from --site-country).
Every generated role is checked by resolving it and comparing the record it gives with what REDCap holds;
a difference refuses the import (nothing is written), never an approximation.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from pathlib import Path

from ..catalogs import Catalog, catalog
from ..diagnostics import Loc, UserError, error, warning
from ..interchange import redcap_versions as rv
from ..model import Model, Role, Study, frozen_map
from ..parallel import run_ordered
from ..providers.redcap import RedcapProvider, redcap_projects
from ..providers.redcap_records import UserRecord, dag_unique_name, differences, expected_record
from ..resolve.roles import effective_role
from ..rules.ceilings import group_ceiling, over_ceiling, over_text
from . import ImportResult, _place_people, current_model, refuse_errors, study_of_system
from .redcap_snapshot import ProjectSnapshot, effective_rights, from_files, from_live

_ID = re.compile(r"[^A-Za-z0-9._-]+")


def _redcap_catalog() -> Catalog:
    cat = catalog("redcap")
    assert cat is not None  # shipped with edcconf
    return cat


def redcap_study(model: Model, study_id: str) -> Study:
    return study_of_system(model, study_id, "redcap", "import redcap")


def provider_for(root: Path, model: Model, env: str, study: Study):
    environment = model.environments.get(env)
    if environment is None or env not in study.environments:
        raise UserError(f"{study.id} is not in environment {env!r}", code="unknown-reference")
    target = environment.targets.get("redcap")
    if target is None or target.provider != "redcap":
        raise UserError(
            f"environment {env} has no `redcap` provider target to read {study.id} from (targets.redcap: "
            "{provider: redcap, url: ...})",
            code="no-target",
        )
    return RedcapProvider(target, redcap_projects(root), env, {study.id: list(study.sites)})


def live_snapshot(root: Path, model: Model, env: str, study: Study) -> ProjectSnapshot:
    provider = provider_for(root, model, env, study)
    return from_live(provider, study.id, provider.unmanaged_users(study.id))


def import_redcap(
    root: Path, env: str, study_ids: list[str] | str, group: str | None, site_country: str | None = None
) -> ImportResult:
    """`import redcap`: one study, several, or (empty list) every REDCap study of the environment. The
    projects are read up to --parallelism at once (edcconf.parallel) and adopted one by one in the order
    given, so the declarations written are the same at any parallelism."""

    model = current_model(root)
    ids = [study_ids] if isinstance(study_ids, str) else list(study_ids)
    if not ids:
        ids = sorted(s.id for s in model.studies.values() if s.system == "redcap" and env in s.environments)
    result = ImportResult(f"REDCap projects of {', '.join(ids)} ({env})")
    studies = [redcap_study(model, study_id) for study_id in ids]
    snapshots = run_ordered(
        studies, lambda study, _stop: live_snapshot(root, model, env, study), f"read REDCap projects of {env}"
    )
    for study, snapshot in zip(studies, snapshots):
        adopt(model, study, snapshot, env, group, site_country, result)
    refuse_errors(result.diagnostics, result.source)
    return result


def import_redcap_files(
    root: Path,
    env: str,
    study_id: str,
    users: Path,
    roles: Path | None,
    assignments: Path | None,
    dags: Path | None,
    group: str | None,
    site_country: str | None = None,
    version: str | None = None,
) -> ImportResult:
    """`import redcap-users`: REDCap's own exports of one project."""
    model = current_model(root)
    study = redcap_study(model, study_id)
    snap, diags = from_files(study.id, users, roles, assignments, dags, version)
    result = ImportResult(str(users), diagnostics=list(diags))
    refuse_errors(result.diagnostics, str(users))
    adopt(model, study, snap, env, group, site_country, result)
    refuse_errors(result.diagnostics, str(users))
    return result


# --- declarations from a snapshot -------------------------------------------------------------------
def adopt(
    model: Model,
    study: Study,
    snap: ProjectSnapshot,
    env: str,
    group: str | None,
    site_country: str | None,
    result: ImportResult,
) -> None:
    if env not in study.environments:
        raise UserError(f"{study.id} is not in environment {env!r}", code="unknown-reference")
    forms = {f.id for f in study.forms}
    seen_forms = {f for u in snap.users for f in u.forms} | {f for r in snap.roles.values() for f in r.record.forms}
    unknown = sorted(seen_forms - forms)
    if unknown:
        result.diagnostics.append(
            error(
                "import-invalid",
                f"REDCap project of {study.id} has instruments that "
                f"{study.id} does not declare: {', '.join(unknown)}; add them to its forms "
                f"(e.g. `- {{id: {unknown[0]}}}`), then import again",
                study.loc,
            )
        )
        return
    site_of = _sites(model, study, snap, site_country, result)
    declared = {g.user: g for g in study.access}
    namer = _RoleNamer(study)
    roles_by_key: dict[tuple, str] = {}
    grants, people = [], []
    for user in sorted(snap.users, key=lambda u: u.username):
        loc = snap.where.get(user.username, Loc(snap.source))
        if user.username in declared:
            result.diagnostics.append(
                warning(
                    "import-conflict",
                    f"{user.username} already has access declared in "
                    f"{study.id} ({declared[user.username].loc}); left as it is",
                    loc,
                )
            )
            continue
        dag = user.data_access_group
        if dag and dag not in site_of:
            continue  # reported by _sites
        sites = [site_of[dag]] if dag else "all"
        held = effective_rights(snap, user)
        role_id = _role_for(model, study, snap, held, bool(dag), namer, roles_by_key, result, loc)
        if role_id is None:
            continue
        entry: dict[str, object] = {"user": user.username, "role": role_id, "environments": [env], "sites": sites}
        if user.expiration:
            entry["expires"] = date.fromisoformat(user.expiration)
        grants.append(entry)
        person = model.people.get(user.username)
        if person is None:
            if group is None or group not in model.groups:
                result.diagnostics.append(
                    error(
                        "import-group",
                        f"{user.username} is not declared yet: name the "
                        "group new people join with --group (an existing group id)",
                        loc,
                    )
                )
                continue
            email, name = snap.people.get(user.username, ("", ""))
            people.append((user.username, group, email, name, loc))
        _ceiling_warning(model, study, namer, role_id, person.group if person else group, user.username, loc, result)
    _place_people(result, model, people, {})
    if grants:
        result.grants.setdefault(study.id, []).extend(grants)
    if namer.new:
        result.roles.setdefault(study.id, {}).update(namer.new)


def _sites(
    model: Model, study: Study, snap: ProjectSnapshot, country: str | None, result: ImportResult
) -> dict[str, str]:
    """DAG unique name -> site id: a declared site named like its label (or whose derived DAG name it is),
    else a new site. New sites are added to the study too."""
    out: dict[str, str] = {}
    used = {dag for dag in (u.data_access_group for u in snap.users) if dag}
    for dag in sorted(used):
        label = snap.dags.get(dag, dag)
        found = next((s for s in model.sites if s == label), None) or next(
            (s for s in model.sites if dag_unique_name(s) == dag), None
        )
        if found is None:
            if not country:
                result.diagnostics.append(
                    error(
                        "import-site",
                        f"data access group {dag} ({label}) of {study.id} is "
                        "no declared site: declare it, or give --site-country CC to declare "
                        "it as a new site",
                        study.loc,
                    )
                )
                continue
            found = _ID.sub("-", label).strip("-.") or dag
            if dag_unique_name(found) != dag:
                found = dag
            if found not in {s["id"] for s in result.sites}:
                result.sites.append({"id": found, "name": label, "country": country})
        out[dag] = found
        if found not in study.sites and found not in result.study_sites.get(study.id, []):
            result.study_sites.setdefault(study.id, []).append(found)
    return out


class _RoleNamer:
    """Role ids for a study: generated ones never clash with declared, catalog or earlier generated ones."""

    def __init__(self, study: Study) -> None:
        self.study = study
        self.taken = set(study.roles) | set(_redcap_catalog().roles)
        self.new: dict[str, dict] = {}
        self.models: dict[str, Role] = {}

    def add(self, wanted: str, value: dict) -> str:
        base = _ID.sub("-", wanted.lower()).strip("-.") or "role"
        rid, n = base, 2
        while rid in self.taken:
            rid, n = f"{base}-{n}", n + 1
        self.taken.add(rid)
        self.new[rid] = value
        self.models[rid] = _role_model(rid, value)
        return rid

    def study_with_new(self) -> Study:
        return replace(self.study, roles=frozen_map({**self.study.roles, **self.models}))


def _role_model(rid: str, value: dict) -> Role:
    loc = Loc("<import>")
    return Role(
        rid,
        value["base"],
        None,
        frozen_map({}),
        None,
        frozen_map(value.get("redcap") or {}),
        loc,
        frozen_map({}),
        frozen_map({f: frozen_map(v) for f, v in (value.get("redcap_forms") or {}).items()}),
        frozen_map(value.get("redcap_role") or {}),
    )


def _exact(study: Study, role_id: str, held: UserRecord, needs_site: bool) -> bool:
    role = effective_role(study, _redcap_catalog(), role_id)
    if role is None or (needs_site and not role.base.site_level) or (not needs_site and not role.base.study_level):
        return False
    if bool((role.value.get("redcap_role") or {}).get("name")) != bool(held.role):
        return False
    try:
        want = expected_record({"user": held.username}, role.value, [], {}, held.version)
    except ValueError:
        return False
    same = not [d for d in differences(want, replace(held, expiration="", data_access_group=""))]
    return same and (not held.role or role.value["redcap_role"]["name"] == held.role)


def _role_for(
    model: Model,
    study: Study,
    snap: ProjectSnapshot,
    held: UserRecord,
    needs_site: bool,
    namer: _RoleNamer,
    by_key: dict[tuple, str],
    result: ImportResult,
    loc: Loc,
) -> str | None:
    key = (
        held.role,
        tuple(sorted(held.rights.items())),
        tuple(sorted(held.forms.items())),
        tuple(sorted(held.forms_export.items())),
        needs_site,
    )
    if key in by_key:
        return by_key[key]
    current = namer.study_with_new()
    for rid in list(current.roles) + list(_redcap_catalog().roles):
        if _exact(current, rid, held, needs_site):
            by_key[key] = rid
            return rid
    role = snap.roles.get(held.role) if held.role else None
    value = _generated(study, held, needs_site, role.unique_name if role else None, role.label if role else None)
    rid = namer.add(role.label if role else f"{held.username}-rights", value)
    if not _exact(namer.study_with_new(), rid, held, needs_site):
        result.diagnostics.append(
            error(
                "import-no-role",
                f"{held.username}'s rights in REDCap could not be declared "
                "exactly (please report it); nothing was written",
                loc,
            )
        )
        return None
    by_key[key] = rid
    return rid


def _generated(study: Study, held: UserRecord, needs_site: bool, role_name: str | None, label: str | None) -> dict:
    """A custom role that states a REDCap rights record exactly: the closest catalog base role (one that
    may be granted at a site when the user is in a DAG), the keys where it differs, every form's levels."""
    cat = _redcap_catalog()
    keys = {rv.SAG_OF_FIELD[f]: v for f, v in held.rights.items() if f in rv.SAG_OF_FIELD}
    views = {f.id: rv.view_of_code(held.forms.get(f.id, 0), held.version) or 0 for f in study.forms}
    exports = {f.id: rv.EXPORT_OF_CODE.get(held.forms_export.get(f.id, 0), 0) for f in study.forms}
    keys["dataExport"] = max(exports.values(), default=0)
    carried = set(rv.SAG_OF_FIELD.values()) | {"dataExport"}
    bases = [b for b in cat.roles.values() if (b.site_level if needs_site else b.study_level)]
    base = min(bases, key=lambda b: sum(keys.get(k, 0) != b.redcap.get(k, 0) for k in carried))
    value: dict = {"base": base.id}
    differ = {k: keys.get(k, 0) for k in sorted(carried) if keys.get(k, 0) != base.redcap.get(k, 0)}
    if differ:
        value["redcap"] = differ
    value["redcap_forms"] = {f: {"view": views[f], "export": exports[f]} for f in views}
    if label is not None:
        value["redcap_role"] = {"name": role_name, "label": label} if role_name else {"label": label}
    return value


def _ceiling_warning(
    model: Model,
    study: Study,
    namer: _RoleNamer,
    role_id: str,
    group_id: str | None,
    user: str,
    loc: Loc,
    result: ImportResult,
) -> None:
    group = model.groups.get(group_id or "")
    role = effective_role(namer.study_with_new(), _redcap_catalog(), role_id)
    if group is None or role is None:
        return
    over = over_ceiling(group_ceiling(group), role.rights, role.redcap)
    if over:
        result.diagnostics.append(
            warning(
                "import-over-ceiling",
                f"{user} holds rights in REDCap above the ceiling of "
                f"group {group.id}: {over_text(over)}; the import keeps them exactly, and "
                "validate refuses the grant until the group allows them (or the person "
                "moves to a group that does)",
                loc,
            )
        )


__all__ = ["import_redcap", "import_redcap_files", "live_snapshot", "provider_for", "redcap_study"]
