"""`edcconf state import redcap` / `redcap-users`: record a REDCap project as it is, live or from REDCap's
own exports. A user whose rights, role, DAG and expiry are exactly what their declared grant gives is
recorded with that grant; anyone else is recorded with what REDCap holds (a live role value), so that the
next plan shows the change that restores the declaration. Nothing but that one study is touched."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path

from ..diagnostics import UserError
from ..pipeline import load_desired
from ..providers.redcap_records import Unsayable, differences, expected_record
from ..questions.live_access import live_rights
from .redcap_snapshot import ProjectSnapshot, effective_rights
from .state import study_onto


def redcap_state(
    root: Path, env: str, as_of: date, snapshot: Callable[..., ProjectSnapshot], study_id: str
) -> Callable[[Mapping], dict]:
    desired = load_desired(root, as_of, [env])
    model = desired.model
    study = model.studies.get(study_id)
    if study is None or study.system != "redcap" or env not in study.environments:
        raise UserError(
            f"{study_id} is not a REDCap study of {env}: run `edcconf import redcap` first", code="import-missing"
        )
    snap = snapshot(model, study)
    state = desired.resolution.environments[env].state
    dags = {label: unique for unique, label in snap.dags.items()}
    site_of = {unique: label for unique, label in snap.dags.items()}
    sites = sorted(study.sites)
    contact = {f.id for f in study.forms if f.contact}
    grants, roles, named = {}, {}, {}
    for user in snap.users:
        key = f"{study_id}/{user.username}"
        held = effective_rights(snap, user)
        grant = state["grants"].get(key)
        if grant is not None and _matches(grant, state["roles"].get(grant["role_ref"], {}), held, sites, dags):
            grants[key] = grant
            roles[grant["role_ref"]] = state["roles"][grant["role_ref"]]
        else:
            ref = f"{study_id}/live:{user.username}"
            roles[ref] = live_rights(held, contact)
            dag = user.data_access_group
            grants[key] = {
                "study": study_id,
                "user": user.username,
                "role": "(live)",
                "base_role": None,
                "sites": [site_of.get(dag, dag)] if dag else sites,
                "site_access": "sites" if dag else "all",
                "expires": user.expiration or None,
                "role_ref": ref,
            }
        if user.username in model.people:
            email, name = snap.people.get(user.username, ("", ""))
            named[user.username] = {k: v for k, v in (("email", email), ("name", name)) if v}
    return study_onto(model, study_id, grants, roles, state, named)


def _matches(grant: Mapping, role: Mapping, held, sites: list[str], dags: Mapping[str, str]) -> bool:
    try:
        want = expected_record(grant, role, sites, dags, held.version)
    except Unsayable:
        return False
    return not differences(want, held) and want.role == held.role


__all__ = ["redcap_state"]
