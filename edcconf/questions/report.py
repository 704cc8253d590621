"""`report`: the access matrix per environment as plain data, from one of three sources.

People × forms per study with their levels; expired and external people are marked. The source is what
the configuration declares (default), the environment's applied state (`--applied`), or what the systems
hold now (`--live`, read as drift reads them). Pages are rendered by edcconf.views.report_html.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from datetime import date

from ..interchange import safe_cell
from ..model import Model
from ..pipeline import Desired
from ..providers.redcap_records import dag_unique_name
from ..resolve.effective import expand_grant

SOURCES = ("declared", "applied", "live")


def matrix(desired: Desired, env: str) -> dict:
    """What the configuration declares for env, with declared grants left out of it (expired,
    deactivated) kept as struck-through rows."""
    model, resolution = desired.model, desired.resolution
    env_state = resolution.environments[env]
    state = env_state.state
    studies = []
    levels: dict[tuple, dict] = {}  # one dict per role (and disabled), shared by its rows: read-only
    for study in model.studies.values():
        if env not in study.environments or study.id not in state["studies"]:
            continue
        rows = []
        for grant in study.access:
            key = grant.key
            person = model.people.get(grant.user)
            role = resolution.roles.get((study.id, grant.role))
            if person is None or role is None:
                continue
            effective = state["grants"].get(key)
            why = env_state.excluded.get(key)
            if effective is None and (why is None or "not granted in" in why.reason):
                continue  # declared for another environment only
            disabled = effective is not None and effective.get("study_status") == "disabled"  # Vault, 003
            left_out = why.reason if why is not None else ""  # read only with no effective grant: why is set then
            status = (
                ("disabled" if disabled else "active")
                if effective
                else ("expired" if "expired" in left_out else "deactivated")
            )
            rows.append(
                {
                    "user": grant.user,
                    "name": person.name,
                    "role": grant.role,
                    "base_role": role.base.id,
                    "sites": effective["sites"] if effective else [],
                    "expires": effective["expires"] if effective else None,
                    "status": status,
                    "note": "Study Status Disabled: on record in Vault, no access"
                    if disabled
                    else None
                    if effective
                    else left_out,
                    "external": person.external.organization if person.external else None,
                    "admin": person.type == "admin",
                    "forms": _shared(levels, (study.id, grant.role, disabled), role.forms, disabled),
                }
            )
        studies.append(
            {
                "id": study.id,
                "name": study.name,
                "system": study.system,
                "sites": sorted(study.sites),
                "forms": [f.id for f in study.forms],
                "rows": rows,
            }
        )
    return {
        "format_version": 1,
        "environment": env,
        "as_of": resolution.as_of.isoformat(),
        "source": "declared",
        "studies": studies,
    }


def _shared(cache: dict, key: tuple, forms: Mapping[str, str], disabled: bool) -> dict:
    found = cache.get(key)
    if found is None:
        found = cache[key] = dict.fromkeys(forms, "none") if disabled else dict(forms)
    return found


def matrix_from_state(
    model: Model,
    effective: Mapping,
    env: str,
    as_of: date,
    source: str,
    live: Mapping[str, tuple[str, str]] | None = None,
) -> dict:
    """The matrix of an effective state (applied, or with live grants: drift.live_effective). live: study
    -> ("read" | "unread" | "unchecked", why); a study not read live shows no rows (its access is unknown)."""
    grants_of: dict[str, list[dict]] = {}
    for grant in effective.get("grants", {}).values():
        grants_of.setdefault(grant["study"], []).append(grant)
    listed = effective.get("studies", {})
    order = [s for s in model.studies if s in listed] + sorted(s for s in listed if s not in model.studies)
    accounts = effective.get("accounts", {})
    studies = []
    for sid in order:
        declared, value = model.studies.get(sid), listed[sid]
        status, why = (live or {}).get(sid, ("read", ""))
        grants = grants_of.get(sid, []) if status == "read" else []
        rows = [
            _state_row(model, accounts, effective, grant, value, as_of)
            for grant in sorted(grants, key=lambda g: (g["user"], g["role"]))
        ]
        forms = [f.id for f in declared.forms] if declared else []
        forms += sorted({f for r in rows for f in r["forms"]} - set(forms))
        filled: dict[int, tuple[Mapping, dict]] = {}  # rows of one role version share one dict of levels
        for row in rows:
            have = row["forms"]
            if id(have) not in filled:  # (the original is kept in the tuple, so its id is not reused)
                filled[id(have)] = (have, {f: have.get(f, "none") for f in forms})
            row["forms"] = filled[id(have)][1]
        entry = {
            "id": sid,
            "name": declared.name if declared else value.get("name", sid),
            "system": value.get("system") or (declared.system if declared else ""),
            "sites": sorted(value.get("sites", [])),
            "forms": forms,
            "rows": rows,
        }
        if live is not None:
            entry["live"], entry["live_reason"] = status, why
        studies.append(entry)
    return {"format_version": 1, "environment": env, "as_of": as_of.isoformat(), "source": source, "studies": studies}


def _state_row(
    model: Model, accounts: Mapping, effective: Mapping, grant: Mapping, study: Mapping, as_of: date
) -> dict:
    user = grant["user"]
    person, account = model.people.get(user), accounts.get(user, {})
    expanded = expand_grant(effective, grant) or {}
    disabled = grant.get("study_status") == "disabled"
    ends = [d for d in (grant.get("expires"), account.get("expires")) if d]
    expired = any(d < as_of.isoformat() for d in ends)
    status = (
        "disabled"
        if disabled
        else "expired"
        if expired
        else ("deactivated" if account.get("status") == "deactivated" else "active")
    )
    note = (
        "Study Status Disabled: on record in Vault, no access"
        if disabled
        else "not declared in the configuration"
        if person is None
        else None
    )
    sites = grant.get("sites")
    if sites is None:  # a live REDCap user: the data access group is the site; none means every record
        sites = _sites_of_dag(grant.get("data_access_group", ""), study.get("sites", []))
    external = person.external.organization if person and person.external else (account.get("external") or None)
    return {
        "user": user,
        "name": person.name if person else account.get("name", ""),
        "role": grant.get("role", ""),
        "base_role": grant.get("base_role")
        or effective.get("roles", {}).get(grant.get("role_ref"), {}).get("base_role")
        or "",
        "sites": list(sites),
        "expires": min(ends) if ends else None,
        "status": status,
        "note": note,
        "external": external if isinstance(external, str) else None,
        "admin": (person.type if person else account.get("type")) == "admin",
        "forms": expanded.get("forms", {}),
    }  # the role's: matrix_from_state fills it once per role


def _sites_of_dag(dag: str, study_sites: list[str]) -> list[str]:
    if not dag:
        return sorted(study_sites)
    return [next((s for s in study_sites if dag_unique_name(s) == dag), dag)]


CSV_HEADER = ["study", "user", "name", "role", "base_role", "sites", "status", "external", "form", "level"]


def matrix_csv_chunks(doc: dict) -> Iterator[bytes]:
    """The matrix as CSV, one row per person, role and form, a study at a time (200,000 grants of 50
    forms are 10 million rows: never one string)."""

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for study in doc["studies"]:
        forms = [(f, safe_cell(f)) for f in study["forms"]]
        for row in study["rows"]:  # the person's cells once, then one (form, level) pair per form
            person = [
                safe_cell(c)
                for c in (
                    study["id"],
                    row["user"],
                    row["name"],
                    row["role"],
                    row["base_role"],
                    " ".join(row["sites"]),
                    row["status"],
                    row["external"] or "",
                )
            ]
            levels = row["forms"]
            writer.writerows([*person, cell, levels[f]] for f, cell in forms)  # a level is a plain word
        yield buf.getvalue().encode("utf-8")
        buf.seek(0)
        buf.truncate()
    yield buf.getvalue().encode("utf-8")


def matrix_csv(doc: dict) -> str:
    return b"".join(matrix_csv_chunks(doc)).decode("utf-8")
