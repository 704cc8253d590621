"""What an effective grant is in REDCap's own terms: one user-rights record of the API (docs/interchange.md).

The effective state speaks in generic levels and SAG right keys (004); REDCap's API speaks in its own
field names (`stats_and_charts` for the SAG key `graphical`, `forms` for `data_entry`, ...) and encodes
per-form rights by version (before 15.6: 0 none, 2 read only, 1 view & edit; from 15.6: 128, 129, 130).
Both the provider that pushes records and the drift check that reads them back use this one mapping.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..catalogs import redcap_versions as rv
from ..catalogs.redcap_versions import EXPORT_OF_CODE, SAG_OF_FIELD
from ..resolve.roles import default_form_rights
from ..rules.systems import dag_unique_name

# API user-record field -> SAG key (every right the user-rights API has, in REDCap's order).
API_TO_SAG = dict(SAG_OF_FIELD)
RIGHT_FIELDS = tuple(API_TO_SAG)
SAG_EXPORT_OF_CODE = EXPORT_OF_CODE


def version_tuple(version: str) -> tuple[int, ...]:
    return rv.parse(version)


@dataclass(frozen=True)
class UserRecord:
    """One user of one REDCap project, as the API exports and imports it (codes of its version)."""

    username: str
    expiration: str  # YYYY-MM-DD or ""
    data_access_group: str  # unique group name, "" for none (all records)
    rights: Mapping[str, int]  # API field -> value (the fields of the version)
    forms: Mapping[str, int]  # form -> per-form code
    forms_export: Mapping[str, int]
    version: str = rv.DEFAULT_VERSION
    role: str = ""  # the unique name of the REDCap user role the user is in ("" for none)

    def views(self) -> dict[str, int]:
        """form -> viewing level on the SAG scale (0-5); an unknown code reads as None."""
        return {f: rv.view_of_code(c, self.version) for f, c in self.forms.items()}  # type: ignore[misc]

    def to_api(self) -> dict:
        """The import record: every field, the data access group always (REDCap drops it when omitted)."""
        return {
            "username": self.username,
            "expiration": self.expiration,
            "data_access_group": self.data_access_group,
            **dict(self.rights),
            "forms": dict(self.forms),
            "forms_export": dict(self.forms_export),
        }


def dag_of(grant: Mapping, study_sites: list[str], dags: Mapping[str, str]) -> str:
    """The DAG a grant puts the user in: none for all sites (study access), else the one site's DAG.
    `dags` maps site id -> unique group name (as found in the project, or derived). A site listed by name
    is a DAG even when it is the study's only site: in REDCap a user in a DAG does not see records outside
    it, which study access does (validate allows a list of several sites only when it is every site)."""
    sites = list(grant.get("sites", []))
    if grant.get("site_access") == "all" or not sites or len(sites) > 1:
        return ""
    return dags.get(sites[0]) or dag_unique_name(sites[0])


class Unsayable(ValueError):
    """A role holds rights that the project's REDCap version cannot carry (the message lists them)."""


def role_form_rights(role: Mapping) -> dict[str, dict[str, int]]:
    """form -> {view, export} on the SAG scales: the role's exact REDCap levels, else from its levels."""
    exact = role.get("redcap_forms")
    if exact:
        return {f: dict(v) for f, v in exact.items()}
    return default_form_rights(role.get("forms", {}), int(role.get("redcap", {}).get("dataExport", 0)))


@dataclass(frozen=True)
class RoleRecord:
    """What a role version puts in every user record of its grants, in a REDCap version's fields and codes
    (the same for each of a study's hundred grants of a role: worked out once for them all)."""

    missing: tuple[str, ...]  # rights the version cannot carry (none: the record can be written)
    rights: Mapping[str, int]
    forms: Mapping[str, int]
    forms_export: Mapping[str, int]
    role: str  # the unique name of its REDCap user role, "" for none


def role_part(role: Mapping, version: str) -> RoleRecord:
    sag = role.get("redcap", {})
    per_form = role_form_rights(role)
    return RoleRecord(
        missing=tuple(rv.unsayable(sag, {f: v["view"] for f, v in per_form.items()}, version)),
        rights={field: int(sag.get(API_TO_SAG[field], 0)) for field in rv.fields(version)},
        forms={f: rv.view_code(v["view"], version) for f, v in per_form.items()},  # type: ignore[misc]
        forms_export={f: rv.export_code(v["export"]) for f, v in per_form.items()},
        role=(role.get("redcap_role") or {}).get("name", ""),
    )


def expected_record(
    grant: Mapping,
    role: Mapping,
    study_sites: list[str],
    dags: Mapping[str, str],
    version: str,
    part: RoleRecord | None = None,
) -> UserRecord:
    """The record REDCap must hold for an effective grant and its role version, in that version's fields
    and codes. A right the version cannot carry raises Unsayable: never a record that means less.
    part: role_part(role, version) when the caller has it already (its mappings are then shared by the
    records made from it: read them, never change them)."""
    if part is None:
        part = role_part(role, version)
    if part.missing:
        raise Unsayable(f"{grant.get('user')}: REDCap {version} cannot hold " + "; ".join(part.missing))
    return UserRecord(
        username=grant["user"],
        expiration=grant.get("expires") or "",
        data_access_group=dag_of(grant, study_sites, dags),
        rights=part.rights,
        forms=part.forms,
        forms_export=part.forms_export,
        version=version,
        role=part.role,
    )


def role_record(label: str, unique_name: str, role: Mapping, version: str) -> dict:
    """A REDCap user role as the API imports it: the role's rights in the version's fields and codes."""
    rec = expected_record({"user": label}, role, [], {}, version)
    return {
        "unique_role_name": unique_name,
        "role_label": label,
        **dict(rec.rights),
        "forms": dict(rec.forms),
        "forms_export": dict(rec.forms_export),
    }


def live_record(raw: Mapping, version: str = rv.DEFAULT_VERSION) -> UserRecord:
    """A record as REDCap exported it (JSON or CSV cells): every right field of the version."""

    def as_int(v: object) -> int:
        try:
            return int(v)  # type: ignore[call-overload]  # any cell: what int() cannot read is caught
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

    return UserRecord(
        username=str(raw.get("username", "")),
        expiration=str(raw.get("expiration") or ""),
        data_access_group=str(raw.get("data_access_group") or ""),
        rights={f: as_int(raw.get(f, 0)) for f in rv.fields(version)},
        forms=pairs(raw.get("forms")),
        forms_export=pairs(raw.get("forms_export")),
        version=version,
    )


def differences(expected: UserRecord, live: UserRecord) -> list[tuple[str, object, object]]:
    """(field, expected, live) for every right the API shows that differs: every right field of the
    version, and each form's viewing level (delete and survey bits included) and export level."""
    out: list[tuple[str, object, object]] = []
    if expected.expiration != live.expiration:
        out.append(("expiration", expected.expiration or "never", live.expiration or "never"))
    if expected.data_access_group != live.data_access_group:
        out.append(
            (
                "data_access_group",
                expected.data_access_group or "(none: all records)",
                live.data_access_group or "(none: all records)",
            )
        )
    for field in sorted(set(expected.rights) | set(live.rights), key=_FIELD_ORDER.__getitem__):  # all API fields
        if expected.rights.get(field, 0) != live.rights.get(field, 0):
            out.append((field, expected.rights.get(field, 0), live.rights.get(field, 0)))
    want_views, have_views = expected.views(), live.views()
    for form in sorted(set(want_views) | set(have_views)):
        want, have = want_views.get(form, 0), have_views.get(form, 0)
        if want != have:
            out.append((f"forms.{form}", _view_text(want), _view_text(have)))
    for form in sorted(set(expected.forms_export) | set(live.forms_export)):
        if expected.forms_export.get(form, 0) != live.forms_export.get(form, 0):
            out.append((f"forms_export.{form}", expected.forms_export.get(form, 0), live.forms_export.get(form, 0)))
    return out


_FIELD_ORDER = {f: i for i, (f, _, _) in enumerate(rv.API_FIELDS)}


def _view_text(view: int | None) -> str:
    return "unknown code" if view is None else rv.VIEW_LABELS[view]
