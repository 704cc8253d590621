"""What an effective grant is in REDCap's own terms: one user-rights record of the API (DESIGN §8).

The effective state speaks in generic levels and SAG right keys (004); REDCap's API speaks in its own
field names (`stats_and_charts` for the SAG key `graphical`, `forms` for `data_entry`, ...) and encodes
per-form rights by version (before 15.6: 0 none, 2 read only, 1 view & edit; from 15.6: 128, 129, 130).
Both the provider that pushes records and the drift check that reads them back use this one mapping.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

# API user-record field -> SAG key (DESIGN §8); fields with the same name map to themselves.
API_TO_SAG = {
    "design": "design", "user_rights": "user_rights", "data_access_groups": "data_access_groups",
    "reports": "reports", "stats_and_charts": "graphical", "manage_survey_participants": "participants",
    "alerts": "alerts", "calendar": "calendar", "data_import_tool": "data_import_tool",
    "data_comparison_tool": "data_comparison_tool", "logging": "data_logging", "email_logging": "email_logging",
    "file_repository": "file_repository", "data_quality_create": "data_quality_design",
    "data_quality_execute": "data_quality_execute", "api_export": "api_export", "api_import": "api_import",
    "record_create": "record_create", "record_rename": "record_rename", "record_delete": "record_delete",
    "lock_records_all_forms": "lock_record_multiform", "lock_records": "lock_record",
    "lock_records_customization": "lock_record_customize", "mycap_participants": "mycap_participants",
}
RIGHT_FIELDS = tuple(API_TO_SAG)

# Per-form data entry rights, by REDCap version (DESIGN §8). REDCap has no `review` level.
_FORM_CODES_OLD = {"none": 0, "read": 2, "edit": 1}
_FORM_CODES_NEW = {"none": 128, "read": 129, "edit": 130}
_LEVEL_OF_CODE = {0: "none", 2: "read", 1: "edit", 3: "edit", 128: "none", 129: "read", 130: "edit",
                  138: "edit", 146: "edit", 154: "edit"}
# Per-form export rights from the SAG dataExport value (0 none, 1 de-identified, 2 remove identifiers, 3 full)
# to the API's per-form code (0 none, 2 de-identified, 3 remove identifiers, 1 full).
_EXPORT_CODE = {0: 0, 1: 2, 2: 3, 3: 1}
SAG_EXPORT_OF_CODE = {code: sag for sag, code in _EXPORT_CODE.items()}


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version)[:3]) or (0,)


def form_codes(version: str) -> Mapping[str, int]:
    return _FORM_CODES_NEW if version_tuple(version) >= (15, 6, 0) else _FORM_CODES_OLD


def form_level(code: object) -> str | None:
    try:
        return _LEVEL_OF_CODE.get(int(code))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def dag_unique_name(site_id: str) -> str:
    """The unique group name REDCap derives from a DAG label: lower case, letters, digits and
    underscores, at most 18 characters."""
    name = re.sub(r"[^a-z0-9_]", "", re.sub(r"[\s-]+", "_", site_id.lower()))
    return name[:18] or "dag"


@dataclass(frozen=True)
class UserRecord:
    """One user of one REDCap project, as the API exports and imports it."""
    username: str
    expiration: str                 # YYYY-MM-DD or ""
    data_access_group: str          # unique group name, "" for none (all records)
    rights: Mapping[str, int]       # API field -> value
    forms: Mapping[str, int]        # form -> per-form code
    forms_export: Mapping[str, int]

    def to_api(self) -> dict:
        """The import record: every field, the data access group always (REDCap drops it when omitted)."""
        return {"username": self.username, "expiration": self.expiration,
                "data_access_group": self.data_access_group, **dict(self.rights),
                "forms": dict(self.forms), "forms_export": dict(self.forms_export)}


def dag_of(grant: Mapping, study_sites: list[str], dags: Mapping[str, str]) -> str:
    """The DAG a grant puts the user in: none for all sites, else the one site's DAG.
    `dags` maps site id -> unique group name (as found in the project, or derived)."""
    sites = list(grant.get("sites", []))
    if grant.get("site_access") == "all" or not sites or sorted(sites) == sorted(study_sites):
        return ""
    return dags.get(sites[0]) or dag_unique_name(sites[0])


def expected_record(grant: Mapping, role: Mapping, study_sites: list[str], dags: Mapping[str, str],
                    version: str) -> UserRecord:
    """The record REDCap must hold for an effective grant and its role version."""
    sag = role.get("redcap", {})
    codes = form_codes(version)
    export = _EXPORT_CODE.get(int(sag.get("dataExport", 0)), 0)
    forms = role.get("forms", {})
    return UserRecord(
        username=grant["user"], expiration=grant.get("expires") or "",
        data_access_group=dag_of(grant, study_sites, dags),
        rights={field: int(sag.get(key, 0)) for field, key in API_TO_SAG.items()},
        forms={f: codes.get(level, codes["none"]) for f, level in forms.items()},
        forms_export={f: (export if level != "none" else 0) for f, level in forms.items()})


def live_record(raw: Mapping) -> UserRecord:
    """A record as REDCap exported it (JSON), keeping only the fields edcconf manages."""
    def as_int(v: object) -> int:
        try:
            return int(v)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return 0

    def pairs(v: object) -> dict[str, int]:
        if isinstance(v, Mapping):
            return {str(k): as_int(x) for k, x in v.items()}
        if isinstance(v, str) and v:
            out = {}
            for part in v.split(","):
                form, _, code = part.partition(":")
                out[form.strip()] = as_int(code)
            return out
        return {}

    return UserRecord(username=str(raw.get("username", "")), expiration=str(raw.get("expiration") or ""),
                      data_access_group=str(raw.get("data_access_group") or ""),
                      rights={f: as_int(raw.get(f, 0)) for f in RIGHT_FIELDS},
                      forms=pairs(raw.get("forms")), forms_export=pairs(raw.get("forms_export")))


def differences(expected: UserRecord, live: UserRecord) -> list[tuple[str, object, object]]:
    """(field, expected, live) for every managed field that differs; per-form rights compared as levels."""
    out: list[tuple[str, object, object]] = []
    if expected.expiration != live.expiration:
        out.append(("expiration", expected.expiration or "never", live.expiration or "never"))
    if expected.data_access_group != live.data_access_group:
        out.append(("data_access_group", expected.data_access_group or "(none: all records)",
                    live.data_access_group or "(none: all records)"))
    for field in RIGHT_FIELDS:
        if expected.rights.get(field, 0) != live.rights.get(field, 0):
            out.append((field, expected.rights.get(field, 0), live.rights.get(field, 0)))
    for form in sorted(set(expected.forms) | set(live.forms)):
        want, have = form_level(expected.forms.get(form, 0)), form_level(live.forms.get(form, 0))
        if want != have:
            out.append((f"forms.{form}", want, have))
    for form in sorted(set(expected.forms_export) | set(live.forms_export)):
        if expected.forms_export.get(form, 0) != live.forms_export.get(form, 0):
            out.append((f"forms_export.{form}", expected.forms_export.get(form, 0), live.forms_export.get(form, 0)))
    return out
