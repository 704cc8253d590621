"""Import a REDCap project's users, read live through the `redcap` provider, into one study.

Each user's rights must be exactly what a declared role gives (the study's custom roles, then the
catalog's base roles): REDCap holds rights per user, edcconf declares them per role, so a user whose
rights match no role is reported with the closest role and what differs, and nothing is written.
"""
from __future__ import annotations

from datetime import date
from pathlib import Path

from ..catalogs import catalog
from ..diagnostics import Loc, UserError, error, warning
from ..model import Model, Study
from ..providers.redcap_records import differences, expected_record, live_record
from ..resolve.roles import effective_role
from . import ImportResult, _place_people, current_model, refuse_errors, study_of_system


def redcap_study(model: Model, study_id: str) -> Study:
    return study_of_system(model, study_id, "redcap", "import redcap")


def _provider(root: Path, model: Model, env: str, study: Study):
    from ..providers.redcap import RedcapProvider, redcap_projects

    environment = model.environments.get(env)
    if environment is None or env not in study.environments:
        raise UserError(f"{study.id} is not in environment {env!r}", code="unknown-reference")
    target = environment.targets.get("redcap")
    if target is None or target.provider != "redcap":
        raise UserError(f"environment {env} has no `redcap` provider target to read {study.id} from (targets.redcap: "
                        "{provider: redcap, url: ...})", code="no-target")
    return RedcapProvider(target, redcap_projects(root), env, {study.id: list(study.sites)})


def candidate_roles(study: Study) -> dict[str, dict]:
    """role id -> role value (forms, rights, REDCap keys), custom roles first."""
    cat = catalog("redcap")
    out = {}
    for rid in list(study.roles) + [r for r in cat.roles if r not in study.roles]:
        role = effective_role(study, cat, rid)
        if role is not None:
            out[rid] = role.state_value()
    return out


def import_redcap(root: Path, env: str, study_id: str, group: str | None) -> ImportResult:
    model = current_model(root)
    study = redcap_study(model, study_id)
    provider = _provider(root, model, env, study)
    raw = provider.read_users_raw(study.id)
    dags = provider.read_dags(study.id)
    version = provider.read_version(study.id)
    ignore = provider.unmanaged_users(study.id)
    site_of_dag = {unique: site for site, unique in dags.items()}
    roles = candidate_roles(study)
    where = Loc(f"REDCap {study.id} ({env})")
    result = ImportResult(f"REDCap project of {study.id} ({env})")
    declared = {g.user: g for g in study.access}
    people, entries = [], []
    for user in raw:
        username = str(user.get("username") or "")
        if not username or username in ignore:
            continue
        if username in declared:
            result.diagnostics.append(warning("import-conflict", f"{username} already has access declared in "
                                              f"{study.id} ({declared[username].loc}); left as it is", where))
            continue
        live = live_record(user)
        dag = live.data_access_group
        if dag and dag not in site_of_dag:
            result.diagnostics.append(error("csv-unknown-value", f"{username} is in data access group {dag!r}, which "
                                            f"no site of {study.id} names (DAG labels are site ids)", where))
            continue
        sites = [site_of_dag[dag]] if dag else "all"
        grant = {"user": username, "sites": sites if dag else list(study.sites),
                 "site_access": "sites" if dag else "all", "expires": live.expiration or None}
        scored = []
        for rid, value in roles.items():
            diffs = [d for d in differences(expected_record(grant, value, list(study.sites), dags, version), live)
                     if d[0] != "expiration"]
            scored.append((len(diffs), rid, diffs))
        best = min(scored, key=lambda s: s[0])
        if best[0]:
            listed = "; ".join(f"{f} {live_v} (role gives {want})" for f, want, live_v in best[2][:6])
            result.diagnostics.append(error("import-no-role", f"{username}'s rights in REDCap match no role of "
                                            f"{study.id}; closest is {best[1]}, which differs in: {listed}. Declare a "
                                            "custom role with these rights, then import again", where))
            continue
        entry = {"user": username, "role": best[1], "environments": [env], "sites": sites}
        if live.expiration:
            try:
                entry["expires"] = date.fromisoformat(live.expiration)
            except ValueError:
                entry["expires"] = live.expiration  # written quoted; validate says what is wrong with it
        entries.append(entry)
        if username not in model.people:
            if group is None or group not in model.groups:
                result.diagnostics.append(error("import-group", f"{username} is not declared yet: name the group new "
                                                "people join with --group (an existing group id)", where))
                continue
            name = f"{user.get('firstname') or ''} {user.get('lastname') or ''}".strip()
            people.append((username, group, str(user.get("email") or ""), name, where))
    _place_people(result, model, people, {})
    if entries:
        result.grants[study.id] = entries
    refuse_errors(result.diagnostics, f"the REDCap project of {study.id}")
    return result
