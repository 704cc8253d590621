"""REDCap project user rights records: User Rights upload / API `content=user`, user roles, user-role
assignments and user-DAG assignments (docs/interchange.md).

Rights use the API names; `API_TO_INTERNAL` maps them to the internal names of SAG and ACG files.
In the role- and DAG-assignment uploads a username listed twice (any case) keeps its last row, as REDCap
does, with a `csv-duplicate-row` warning; a user or role file still refuses a repeated name.
`forms` and `forms_export` hold `form:value` pairs joined by commas in one cell. Per-form values before
REDCap 15.6: 0 none, 2 read only, 1 view & edit, 3 + edit survey responses; from 15.6: 128, 129, 130,
138, 146, 154. `read_*` take `version` ("15.6.0" or a tuple); without it a file is read as whichever
scheme all of its values fit, and mixing them is an error. Per-form export: 0, 2, 3, 1.

Dialect: REDCap is PHP and writes CSV with `fputcsv` (cells enclosed only when they hold a comma, quote,
backslash, CR, LF, tab or space; `\\n` after every row including the last), UTF-8 without BOM; we write
the same. This is our assumption about REDCap's closed source, not checked against a downloaded file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from ..catalogs import redcap_versions as rv
from ..diagnostics import Diagnostic, Loc, error
from ..rules import interchange as interchange_rules
from . import sag
from ._csv import Parsed, Record, cell_int, last_row_wins, quote_fputcsv, read_table, require, write_table

NEWLINE = "\n"

RIGHT_COLUMNS: tuple[str, ...] = (
    "design",
    "user_rights",
    "data_access_groups",
    "reports",
    "stats_and_charts",
    "manage_survey_participants",
    "alerts",
    "calendar",
    "data_import_tool",
    "data_comparison_tool",
    "logging",
    "email_logging",
    "file_repository",
    "data_quality_create",
    "data_quality_execute",
    "api_export",
    "api_import",
    "record_create",
    "record_rename",
    "record_delete",
    "lock_records_all_forms",
    "lock_records",
    "lock_records_customization",
    "mycap_participants",
)
#: Right columns of newer versions (or long present but once left out of the upload), after the others.
NEWER_RIGHT_COLUMNS: tuple[str, ...] = (
    "api_modules",
    "mobile_app",
    "mobile_app_download_data",
    "random_setup",
    "random_dashboard",
    "random_perform",
)
ALL_RIGHT_COLUMNS = RIGHT_COLUMNS + NEWER_RIGHT_COLUMNS
USER_HEADER: tuple[str, ...] = (
    ("username", "expiration", "data_access_group") + RIGHT_COLUMNS + ("forms", "forms_export")
)
ROLE_HEADER: tuple[str, ...] = ("unique_role_name", "role_label") + RIGHT_COLUMNS + ("forms", "forms_export")
#: Columns about the user, accepted on read and kept verbatim in `extra` (written after the others).
USER_OPTIONAL: tuple[str, ...] = (
    "email",
    "firstname",
    "lastname",
    "data_access_group_id",
    "data_access_group_label",
    "data_export",
)
ROLE_OPTIONAL: tuple[str, ...] = ("data_export",)


def right_columns(version: str | Sequence[int] | None) -> tuple[str, ...]:
    """The right columns of a version's upload, in the order above (the module's, then the newer ones)."""
    have = set(rv.fields(version if version is None or isinstance(version, str) else tuple(version)))
    return tuple(c for c in ALL_RIGHT_COLUMNS if c in have)


def user_header(version: str | Sequence[int] | None) -> tuple[str, ...]:
    return ("username", "expiration", "data_access_group") + right_columns(version) + ("forms", "forms_export")


def role_header(version: str | Sequence[int] | None) -> tuple[str, ...]:
    return ("unique_role_name", "role_label") + right_columns(version) + ("forms", "forms_export")


API_TO_INTERNAL: Mapping[str, str] = MappingProxyType(
    {
        **{name: name for name in ALL_RIGHT_COLUMNS},
        "stats_and_charts": "graphical",
        "manage_survey_participants": "participants",
        "logging": "data_logging",
        "data_quality_create": "data_quality_design",
        "lock_records": "lock_record",
        "lock_records_all_forms": "lock_record_multiform",
        "lock_records_customization": "lock_record_customize",
        "forms": "data_entry",
        "forms_export": "data_export_instruments",
    }
)
INTERNAL_TO_API: Mapping[str, str] = MappingProxyType({v: k for k, v in API_TO_INTERNAL.items()})
ALLOWED: Mapping[str, tuple[int, ...]] = MappingProxyType(
    {name: sag.ALLOWED.get(API_TO_INTERNAL[name], (0, 1)) for name in ALL_RIGHT_COLUMNS}
)

FORM_RIGHTS_OLD: tuple[int, ...] = (0, 2, 1, 3)
FORM_RIGHTS_NEW: tuple[int, ...] = (128, 129, 130, 138, 146, 154)  # REDCap 15.6+
FORM_EXPORT: tuple[int, ...] = (0, 2, 3, 1)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class RedcapUser:
    username: str
    expiration: str = ""  # YYYY-MM-DD or "" (never)
    data_access_group: str = ""  # unique DAG name or ""
    rights: Mapping[str, int] = field(default_factory=dict)  # API names
    forms: Mapping[str, int] = field(default_factory=dict)
    forms_export: Mapping[str, int] = field(default_factory=dict)
    extra: Mapping[str, str] = field(default_factory=dict)  # newer columns, verbatim
    line: int = field(default=0, compare=False)  # where a read row starts in its file (0: not read)


@dataclass(frozen=True)
class RedcapRole:
    unique_role_name: str  # "" for a role the import will create
    role_label: str
    rights: Mapping[str, int] = field(default_factory=dict)
    forms: Mapping[str, int] = field(default_factory=dict)
    forms_export: Mapping[str, int] = field(default_factory=dict)
    extra: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RedcapRoleAssignment:
    username: str
    unique_role_name: str
    data_access_group: str | None = None  # None: the file has no data_access_group column


@dataclass(frozen=True)
class RedcapDagAssignment:
    username: str
    redcap_data_access_group: str = ""


def form_rights_for(version: str | Sequence[int] | None) -> tuple[int, ...] | None:
    if version is None:
        return None
    parts = tuple(int(p) for p in (version.split(".") if isinstance(version, str) else version))
    return FORM_RIGHTS_NEW if parts[:2] >= (15, 6) else FORM_RIGHTS_OLD


def _parse_forms(
    rec: Record, column: str, allowed: Sequence[int], file: str, diags: list[Diagnostic]
) -> dict[str, int] | None:
    out: dict[str, int] = {}
    text = rec.cells.get(column, "").strip()
    ok = True
    for pair in (p.strip() for p in text.split(",") if p.strip()):
        form, sep, raw = pair.rpartition(":")
        form = form.strip()
        try:
            value = int(raw) if sep else None
        except ValueError:
            value = None
        if not form or value is None or value not in allowed:
            diags.append(
                error(
                    interchange_rules.CSV_UNKNOWN_VALUE.code,
                    f"{column}: {pair!r} is not form:value with a value in {', '.join(map(str, allowed))}",
                    Loc(file, rec.line),
                    column=column,
                    value=pair,
                )
            )
            ok = False
        elif form in out:
            diags.append(
                error(
                    interchange_rules.CSV_DUPLICATE_ROW.code,
                    f"{column}: form {form!r} is listed twice; list each form once",
                    Loc(file, rec.line),
                    column=column,
                    form=form,
                )
            )
            ok = False
        else:
            out[form] = value
    return out if ok else None


def _scheme(table_records: Sequence[Record], file: str, version, diags: list[Diagnostic]) -> tuple[int, ...]:
    chosen = form_rights_for(version)
    if chosen is not None:
        return chosen
    values = {
        v.strip()
        for rec in table_records
        for p in rec.cells.get("forms", "").split(",")
        if ":" in p
        for v in [p.rpartition(":")[2]]
    }
    new = {str(v) for v in FORM_RIGHTS_NEW}
    if values & new and values - new:
        diags.append(
            error(
                interchange_rules.CSV_UNKNOWN_VALUE.code,
                "forms mixes pre-15.6 values (0, 2, 1, 3) with 15.6+ values "
                "(128, 129, 130, 138, 146, 154); use one scheme, the one of your REDCap version",
                Loc(file, 1),
                column="forms",
            )
        )
    return FORM_RIGHTS_NEW if values & new else FORM_RIGHTS_OLD


def _rights_and_forms(
    rec: Record, file: str, scheme, diags, label: str
) -> tuple[Mapping[str, int], Mapping[str, int], Mapping[str, int]] | None:
    """The rights of a row: the columns it has (a version's export lacks the newer ones: they read as 0)."""
    rights: dict[str, int] = {}
    bad = False
    for col in ALL_RIGHT_COLUMNS:
        if col not in rec.cells:
            continue
        value = cell_int(
            rec, col, ALLOWED[col], file, diags, blank=0 if col in NEWER_RIGHT_COLUMNS else None, label=label
        )
        if value is None:
            bad = True
        else:
            rights[col] = value
    forms = _parse_forms(rec, "forms", scheme, file, diags)
    export = _parse_forms(rec, "forms_export", FORM_EXPORT, file, diags)
    return (
        None
        if bad or forms is None or export is None
        else (MappingProxyType(rights), MappingProxyType(forms), MappingProxyType(export))
    )


def _dup(seen: dict[str, int], key: str, what: str, rec: Record, file: str, diags: list[Diagnostic]) -> bool:
    k = key.lower()
    if k in seen:
        diags.append(
            error(
                interchange_rules.CSV_DUPLICATE_ROW.code,
                f"{what} is also on line {seen[k]}; keep one row for it",
                Loc(file, rec.line),
                key=key,
            )
        )
        return True
    seen[k] = rec.line
    return False


def read_redcap_users(data: bytes, file: str, *, version: str | Sequence[int] | None = None) -> Parsed[RedcapUser]:
    diags: list[Diagnostic] = []
    table = read_table(
        data, file, required=("username",), optional=USER_HEADER[1:] + NEWER_RIGHT_COLUMNS + USER_OPTIONAL, diags=diags
    )
    rows: list[RedcapUser] = []
    if table is not None:
        scheme = _scheme(table.records, file, version, diags)
        seen: dict[str, int] = {}
        for rec in table.records:
            username = require(rec, "username", file, diags)
            exp = rec.cells.get("expiration", "").strip()
            bad = username is None
            if exp and not _DATE.fullmatch(exp):
                diags.append(
                    error(
                        interchange_rules.CSV_UNKNOWN_VALUE.code,
                        f"expiration {exp!r} is not a date; write YYYY-MM-DD or leave it blank for no expiry",
                        Loc(file, rec.line),
                        column="expiration",
                    )
                )
                bad = True
            parts = _rights_and_forms(rec, file, scheme, diags, f" for {username}")
            if username is not None and _dup(seen, username, f"user {username}", rec, file, diags):
                bad = True
            if not bad and username is not None and parts is not None:  # (bad when username is None)
                extra = {k: rec.cells[k] for k in USER_OPTIONAL if k in rec.cells}
                rows.append(
                    RedcapUser(
                        username,
                        exp,
                        rec.cells.get("data_access_group", "").strip(),
                        *parts,
                        MappingProxyType(extra),
                        rec.line,
                    )
                )
    return Parsed(tuple(rows), tuple(diags))


def _refuse_unwritable(rows, columns: tuple[str, ...]) -> None:
    for r in rows:
        lost = [c for c, v in r.rights.items() if v and c not in columns]
        if lost:
            name = getattr(r, "username", None) or getattr(r, "role_label", "")
            raise ValueError(f"{name}: this REDCap version has no column for {', '.join(lost)}")


def _forms_cell(forms: Mapping[str, int]) -> str:
    return ",".join(f"{k}:{v}" for k, v in forms.items())


def _extras(rows, optional) -> tuple[str, ...]:
    return tuple(k for k in optional if any(k in r.extra for r in rows))


def write_redcap_users(rows: Iterable[RedcapUser], version: str | Sequence[int] | None = rv.DEFAULT_VERSION) -> bytes:
    """The User Rights upload of a version: its right columns only. A row holding a right the version
    has no column for is refused (ValueError), never written as if it were 0."""
    rows = list(rows)
    extra = _extras(rows, USER_OPTIONAL)
    columns = right_columns(version)
    _refuse_unwritable(rows, columns)
    # the cells of a role's rights, rendered once: the rows of one role share its mappings (providers.bulk);
    # by identity, while every row (and so every mapping) is alive in `rows`
    rendered: dict[tuple[int, int, int], list] = {}

    def role_cells(r: RedcapUser) -> list:
        key = (id(r.rights), id(r.forms), id(r.forms_export))
        cells = rendered.get(key)
        if cells is None:
            cells = rendered[key] = [int(r.rights.get(c, 0)) for c in columns] + [
                _forms_cell(r.forms),
                _forms_cell(r.forms_export),
            ]
        return cells

    return write_table(
        user_header(version) + extra,
        (
            [r.username, r.expiration, r.data_access_group] + role_cells(r) + [r.extra.get(k, "") for k in extra]
            for r in rows
        ),
        quote=quote_fputcsv,
        newline=NEWLINE,
        final_newline=True,
    )


def read_redcap_roles(data: bytes, file: str, *, version: str | Sequence[int] | None = None) -> Parsed[RedcapRole]:
    diags: list[Diagnostic] = []
    table = read_table(
        data, file, required=("role_label",), optional=ROLE_HEADER + NEWER_RIGHT_COLUMNS + ROLE_OPTIONAL, diags=diags
    )
    rows: list[RedcapRole] = []
    if table is not None:
        scheme = _scheme(table.records, file, version, diags)
        names: dict[str, int] = {}
        labels: dict[str, int] = {}
        for rec in table.records:
            label = require(rec, "role_label", file, diags)
            unique = rec.cells.get("unique_role_name", "").strip()
            bad = label is None
            if unique and _dup(names, unique, f"role {unique}", rec, file, diags):
                bad = True
            if label is not None and _dup(labels, label, f"role label {label!r}", rec, file, diags):
                bad = True
            parts = _rights_and_forms(rec, file, scheme, diags, f" for role {label or unique!r}")
            if not bad and label is not None and parts is not None:  # (bad when label is None)
                extra = {k: rec.cells[k] for k in ROLE_OPTIONAL if k in rec.cells}
                rows.append(RedcapRole(unique, label, *parts, MappingProxyType(extra)))
    return Parsed(tuple(rows), tuple(diags))


def write_redcap_roles(rows: Iterable[RedcapRole], version: str | Sequence[int] | None = rv.DEFAULT_VERSION) -> bytes:
    rows = list(rows)
    extra = _extras(rows, ROLE_OPTIONAL)
    columns = right_columns(version)
    _refuse_unwritable(rows, columns)
    return write_table(
        role_header(version) + extra,
        (
            [r.unique_role_name, r.role_label]
            + [int(r.rights.get(c, 0)) for c in columns]
            + [_forms_cell(r.forms), _forms_cell(r.forms_export)]
            + [r.extra.get(k, "") for k in extra]
            for r in rows
        ),
        quote=quote_fputcsv,
        newline=NEWLINE,
        final_newline=True,
    )


def read_redcap_role_assignments(data: bytes, file: str) -> Parsed[RedcapRoleAssignment]:
    diags: list[Diagnostic] = []
    table = read_table(
        data, file, required=("username", "unique_role_name"), optional=("data_access_group",), diags=diags
    )
    keyed: list[tuple[str, int, RedcapRoleAssignment | None]] = []
    if table is not None:
        has_dag = "data_access_group" in table.header
        for rec in table.records:
            username = require(rec, "username", file, diags)
            role = rec.cells["unique_role_name"].strip()  # blank: the user is in no role (REDCap's export)
            if username is not None:
                keyed.append(
                    (
                        username,
                        rec.line,
                        RedcapRoleAssignment(
                            username, role, rec.cells["data_access_group"].strip() if has_dag else None
                        ),
                    )
                )
    return Parsed(tuple(last_row_wins(keyed, file, diags)), tuple(diags))


def write_redcap_role_assignments(rows: Iterable[RedcapRoleAssignment]) -> bytes:
    """Writes data_access_group whenever a row carries one: REDCap drops a DAG an import omits (docs/catalogs.md)."""
    rows = list(rows)
    dag = any(r.data_access_group is not None for r in rows)
    header = ("username", "unique_role_name") + (("data_access_group",) if dag else ())
    return write_table(
        header,
        ([r.username, r.unique_role_name] + ([r.data_access_group or ""] if dag else []) for r in rows),
        quote=quote_fputcsv,
        newline=NEWLINE,
        final_newline=True,
    )


def read_redcap_dag_assignments(data: bytes, file: str) -> Parsed[RedcapDagAssignment]:
    diags: list[Diagnostic] = []
    table = read_table(data, file, required=("username", "redcap_data_access_group"), diags=diags)
    keyed: list[tuple[str, int, RedcapDagAssignment | None]] = []
    if table is not None:
        for rec in table.records:
            username = require(rec, "username", file, diags)
            if username is not None:
                keyed.append(
                    (username, rec.line, RedcapDagAssignment(username, rec.cells["redcap_data_access_group"].strip()))
                )
    return Parsed(tuple(last_row_wins(keyed, file, diags)), tuple(diags))


def write_redcap_dag_assignments(rows: Iterable[RedcapDagAssignment]) -> bytes:
    return write_table(
        ("username", "redcap_data_access_group"),
        ([r.username, r.redcap_data_access_group] for r in rows),
        quote=quote_fputcsv,
        newline=NEWLINE,
        final_newline=True,
    )
