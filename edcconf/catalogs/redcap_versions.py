"""What each REDCap version's user-rights API and User Rights upload can say: fields, values, form codes.

One table serves the writers (a file or API call for version V names only V's fields and codes), the
readers (a column V lacks reads as 0) and the providers (a right with no field at V cannot be managed:
the plan warns, drift reports it, nothing resets it silently).

The version each field appeared in is our reading of REDCap's change logs and of exports of those
versions; REDCap's own source is not public. Per-form data viewing codes changed in 15.6: before it
0 none, 2 read only, 1 view & edit, 3 + edit survey responses (a form could not carry delete); from it a
bit set 128 + 1 read + 2 edit + 8 edit survey responses + 16 delete (128, 129, 130, 138, 146, 154).
Per-form export codes: 0 none, 2 de-identified, 3 remove identifiers, 1 full (the SAG scale is 0-3).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from types import MappingProxyType

Version = tuple[int, ...]

#: The REDCap long-term-support line this release of edcconf assumes when a target does not state one.
DEFAULT_VERSION = "16.0.0"
NEW_FORM_CODES_SINCE: Version = (15, 6, 0)

#: (API field, SAG key, first version with the field), in REDCap's export order.
API_FIELDS: tuple[tuple[str, str, Version], ...] = (
    ("design", "design", (0,)),
    ("alerts", "alerts", (9, 0, 0)),
    ("user_rights", "user_rights", (0,)),
    ("data_access_groups", "data_access_groups", (0,)),
    ("reports", "reports", (0,)),
    ("stats_and_charts", "graphical", (0,)),
    ("manage_survey_participants", "participants", (0,)),
    ("calendar", "calendar", (0,)),
    ("data_import_tool", "data_import_tool", (0,)),
    ("data_comparison_tool", "data_comparison_tool", (0,)),
    ("logging", "data_logging", (0,)),
    ("email_logging", "email_logging", (10, 9, 0)),
    ("file_repository", "file_repository", (0,)),
    ("data_quality_create", "data_quality_design", (0,)),
    ("data_quality_execute", "data_quality_execute", (0,)),
    ("api_export", "api_export", (0,)),
    ("api_import", "api_import", (0,)),
    ("api_modules", "api_modules", (14, 0, 0)),
    ("mobile_app", "mobile_app", (0,)),
    ("mobile_app_download_data", "mobile_app_download_data", (0,)),
    ("record_create", "record_create", (0,)),
    ("record_rename", "record_rename", (0,)),
    ("record_delete", "record_delete", (0,)),
    ("lock_records_all_forms", "lock_record_multiform", (0,)),
    ("lock_records", "lock_record", (0,)),
    ("lock_records_customization", "lock_record_customize", (0,)),
    ("mycap_participants", "mycap_participants", (13, 0, 0)),
    ("random_setup", "random_setup", (14, 5, 0)),
    ("random_dashboard", "random_dashboard", (14, 5, 0)),
    ("random_perform", "random_perform", (14, 5, 0)),
)
#: Values that appeared later than their field: user_rights 2 (read only) from 14.1.
VALUES_SINCE: Mapping[tuple[str, int], Version] = MappingProxyType({("user_rights", 2): (14, 1, 0)})
#: Columns about the user rather than their rights (exports only; never written to an upload).
INFO_FIELDS: Mapping[str, Version] = MappingProxyType(
    {
        "email": (0,),
        "firstname": (0,),
        "lastname": (0,),
        "data_access_group_id": (10, 0, 0),
        "data_access_group_label": (14, 5, 0),
    }
)

SAG_OF_FIELD: Mapping[str, str] = MappingProxyType({f: k for f, k, _ in API_FIELDS})
FIELD_OF_SAG: Mapping[str, str] = MappingProxyType({k: f for f, k, _ in API_FIELDS})

# per-form data viewing: the SAG dataViewing scale (0 none … 5 edit + survey + delete) <-> the API's codes
_VIEW_OLD = {0: 0, 1: 2, 2: 1, 3: 3}
_VIEW_NEW = {0: 128, 1: 129, 2: 130, 3: 138, 4: 146, 5: 154}
VIEW_OF_CODE_OLD = {c: v for v, c in _VIEW_OLD.items()}
VIEW_OF_CODE_NEW = {c: v for v, c in _VIEW_NEW.items()}
_EXPORT = {0: 0, 1: 2, 2: 3, 3: 1}  # SAG dataExport scale -> per-form export code
EXPORT_OF_CODE = {c: v for v, c in _EXPORT.items()}
VIEW_LABELS = {
    0: "no access",
    1: "read only",
    2: "view & edit",
    3: "view & edit + edit survey responses",
    4: "view & edit + delete",
    5: "view & edit + edit survey responses + delete",
}


def parse(version: str | Version | None) -> Version:
    if version is None:
        version = DEFAULT_VERSION
    if isinstance(version, tuple):
        return version
    return _parse_text(str(version))


@cache  # asked once per right of every REDCap grant written: a handful of distinct versions
def _parse_text(version: str) -> Version:
    parts = tuple(int(p) for p in re.findall(r"\d+", version)[:3])
    return parts or (0,)


def new_form_codes(version: str | Version | None) -> bool:
    return parse(version) >= NEW_FORM_CODES_SINCE


def fields(version: str | Version | None) -> tuple[str, ...]:
    """The API right fields a version has, in REDCap's order."""
    v = parse(version)
    return tuple(f for f, _, since in API_FIELDS if v >= since)


def info_fields(version: str | Version | None) -> tuple[str, ...]:
    v = parse(version)
    return tuple(f for f, since in INFO_FIELDS.items() if v >= since)


def view_code(view: int, version: str | Version | None) -> int | None:
    """The API code of a per-form viewing level (SAG scale), or None when the version cannot say it."""
    return (_VIEW_NEW if new_form_codes(version) else _VIEW_OLD).get(view)


def view_of_code(code: int, version: str | Version | None = None) -> int | None:
    """The viewing level (SAG scale) of an API per-form code; without a version, whichever scheme has it."""
    if version is None:
        return VIEW_OF_CODE_NEW.get(code, VIEW_OF_CODE_OLD.get(code))
    return (VIEW_OF_CODE_NEW if new_form_codes(version) else VIEW_OF_CODE_OLD).get(code)


def export_code(export: int) -> int:
    return _EXPORT[export]


def unsayable(keys: Mapping[str, int], views: Mapping[str, int], version: str | Version | None) -> list[str]:
    """Every right a role holds (non-zero) that the version's user-rights API and upload cannot carry."""
    v = parse(version)
    have = set(fields(v))
    out = []
    for key, value in keys.items():
        if not value or key in ("dataViewing", "dataExport"):
            continue  # carried per form
        field = FIELD_OF_SAG.get(key)
        if field is None:
            out.append(f"{key} (not in REDCap's user-rights API)")
        elif field not in have:
            out.append(f"{key} (REDCap {'.'.join(map(str, v))} has no {field})")
        elif v < VALUES_SINCE.get((key, value), (0,)):
            since = ".".join(map(str, VALUES_SINCE[(key, value)]))
            out.append(f"{key} {value} (needs REDCap {since})")
    for form, view in views.items():
        if view_code(view, v) is None:
            out.append(f"form {form}: {VIEW_LABELS[view]} (per-form delete needs REDCap 15.6)")
    return out
