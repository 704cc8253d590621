"""REDCap Access Control Groups (REDCap 15+, docs/interchange.md, 002): group definitions and user assignments.

Definitions: `group_id,group_name,is_default_group` then REDCap's internal right names in the module's order.
Ids are `G-` + 13 hex characters; the built-in default is `G-NORIGHTS` "No Rights" with
is_default_group 1. A blank group_id means a group the import will create (as in the SAG module).
Assignments: `Username,ACG ID,Group Name (For Reference Only)`; REDCap keeps the last row of a username
listed twice (any case), and so does edcconf, with a `csv-duplicate-row` warning naming both lines.

Values (our reading; 002 gives no value table, so they follow the REDCap user-right codes the rights
carry): user_rights 0/2/1 (like the SAG key); data_entry 0–5 as SAG dataViewing; data_export_instruments
0–3 as SAG dataExport; lock_record 0/1/2; data_quality_resolution 0–5 with REDCap's user-right codes
(0 no access, 1 view, 4 open, 2 respond, 5 open+respond, 3 open+close+respond); double_data and every
other right 0/1.

Dialect: REDCap core writes its CSV downloads with PHP `fputcsv` (cells enclosed only when they hold a
comma, quote, backslash, CR, LF, tab or space; `\\n` after every row, the last included) and no BOM; we do
the same. This is our assumption about REDCap's closed source, not checked against a downloaded file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ..diagnostics import Diagnostic, Loc, error
from ..rules import interchange as interchange_rules
from . import sag
from ._csv import Parsed, cell_int, last_row_wins, quote_fputcsv, read_table, require, write_table

NEWLINE = "\n"

RIGHT_NAMES: tuple[str, ...] = (
    "lock_record",
    "lock_record_multiform",
    "lock_record_customize",
    "data_export_instruments",
    "data_import_tool",
    "data_comparison_tool",
    "data_logging",
    "email_logging",
    "file_repository",
    "double_data",
    "user_rights",
    "data_access_groups",
    "graphical",
    "reports",
    "design",
    "alerts",
    "calendar",
    "data_entry",
    "api_export",
    "api_import",
    "api_modules",
    "mobile_app",
    "mobile_app_download_data",
    "record_create",
    "record_rename",
    "record_delete",
    "dts",
    "participants",
    "data_quality_design",
    "data_quality_execute",
    "data_quality_resolution",
    "random_setup",
    "random_dashboard",
    "random_perform",
    "realtime_webservice_mapping",
    "realtime_webservice_adjudicate",
    "mycap_participants",
)
DEFINITIONS_HEADER: tuple[str, ...] = ("group_id", "group_name", "is_default_group") + RIGHT_NAMES
ASSIGNMENTS_HEADER: tuple[str, ...] = ("Username", "ACG ID", "Group Name (For Reference Only)")
DEFAULT_GROUP_ID = "G-NORIGHTS"
DEFAULT_GROUP_NAME = "No Rights"
GROUP_ID = re.compile(r"G-[0-9A-Fa-f]{13}|G-NORIGHTS")

_DQR = (
    "data_quality_resolution_view",
    "data_quality_resolution_open",
    "data_quality_resolution_respond",
    "data_quality_resolution_close",
)
#: How each ACG internal right corresponds to the SAG module's keys (the rest share their name).
SAG_KEY_OF_ACG: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        **{name: (name,) for name in RIGHT_NAMES},
        "data_entry": ("dataViewing",),
        "data_export_instruments": ("dataExport",),
        "double_data": ("double_data_reviewer", "double_data_person"),
        "data_quality_resolution": _DQR,
    }
)
#: data_quality_resolution code -> which of the SAG's four query rights it needs (view, open, respond, close).
DQR_CODES: Mapping[int, tuple[int, int, int, int]] = MappingProxyType(
    {0: (0, 0, 0, 0), 1: (1, 0, 0, 0), 4: (1, 1, 0, 0), 2: (1, 0, 1, 0), 5: (1, 1, 1, 0), 3: (1, 1, 1, 1)}
)


def _allowed(name: str) -> tuple[int, ...]:
    if name == "data_quality_resolution":
        return tuple(DQR_CODES)
    keys = SAG_KEY_OF_ACG[name]
    return sag.ALLOWED.get(keys[0], (0, 1)) if len(keys) == 1 else (0, 1)


ALLOWED: Mapping[str, tuple[int, ...]] = MappingProxyType({n: _allowed(n) for n in RIGHT_NAMES})


@dataclass(frozen=True)
class AcgDefinition:
    group_id: str  # "" for a group the import will create
    group_name: str
    is_default: bool = False
    rights: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class AcgAssignment:
    username: str
    group_id: str
    group_name: str = ""
    line: int = field(default=0, compare=False)  # where a read row starts in its file (0: not read)


def sag_rights_from_acg(rights: Mapping[str, int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for name, value in rights.items():
        keys = SAG_KEY_OF_ACG.get(name)
        if keys is None:
            continue
        if name == "data_quality_resolution":
            out.update(zip(_DQR, DQR_CODES.get(value, (0, 0, 0, 0))))
        else:
            out.update((k, value) for k in keys)
    return out


def acg_rights_from_sag(rights: Mapping[str, int]) -> dict[str, int]:
    """Exact inverse where both sides can say the same thing; otherwise the tighter of the two readings
    (double_data: the lower of reviewer/person; query rights: the largest code whose needs the SAG meets)."""
    out: dict[str, int] = {}
    for name, keys in SAG_KEY_OF_ACG.items():
        present = [rights[k] for k in keys if k in rights]
        if not present:
            continue
        if name == "data_quality_resolution":
            have = tuple(int(rights.get(k, 0)) for k in _DQR)
            fits = [c for c, need in DQR_CODES.items() if all(h >= n for h, n in zip(have, need))]
            out[name] = max(fits, key=lambda c: (sum(DQR_CODES[c]), c))
        else:
            out[name] = min(present)
    return out


def read_acg_definitions(data: bytes, file: str) -> Parsed[AcgDefinition]:
    diags: list[Diagnostic] = []
    table = read_table(
        data, file, required=("group_id", "group_name", "is_default_group"), optional=RIGHT_NAMES, diags=diags
    )
    rows: list[AcgDefinition] = []
    if table is not None:
        ids: dict[str, int] = {}
        names: dict[str, int] = {}
        defaults: list[int] = []
        for rec in table.records:
            loc = Loc(file, rec.line)
            name = require(rec, "group_name", file, diags)
            gid = rec.cells["group_id"].strip()
            bad = name is None
            if gid and not GROUP_ID.fullmatch(gid):
                diags.append(
                    error(
                        interchange_rules.CSV_UNKNOWN_VALUE.code,
                        f"group_id {gid!r} is not an ACG id; use G- + 13 hex "
                        "characters or G-NORIGHTS, or leave it blank for a new group",
                        loc,
                        column="group_id",
                        value=gid,
                    )
                )
                bad = True
            elif gid in ids:
                diags.append(
                    error(
                        interchange_rules.CSV_DUPLICATE_ROW.code,
                        f"group_id {gid} is also defined on line {ids[gid]}; keep one row per group",
                        loc,
                        group_id=gid,
                    )
                )
                bad = True
            elif gid:
                ids[gid] = rec.line
            if name is not None:
                if name.casefold() in names:
                    diags.append(
                        error(
                            interchange_rules.CSV_DUPLICATE_ROW.code,
                            f"group name {name!r} is also used on line "
                            f"{names[name.casefold()]}; give each group its own name",
                            loc,
                            group_name=name,
                        )
                    )
                    bad = True
                else:
                    names[name.casefold()] = rec.line
            default = cell_int(rec, "is_default_group", (0, 1), file, diags)
            if default is None:
                bad = True
            elif default:
                defaults.append(rec.line)
            if gid == DEFAULT_GROUP_ID and name not in (None, DEFAULT_GROUP_NAME):
                diags.append(
                    error(
                        interchange_rules.CSV_UNKNOWN_VALUE.code,
                        f"{DEFAULT_GROUP_ID} is REDCap's built-in {DEFAULT_GROUP_NAME!r} group; keep that name",
                        loc,
                        column="group_name",
                    )
                )
                bad = True
            rights: dict[str, int] = {}
            for key in table.header:
                if key in ALLOWED:
                    value = cell_int(rec, key, ALLOWED[key], file, diags, label=f" for group {name or gid!r}")
                    if value is None:
                        bad = True
                    else:
                        rights[key] = value
            for key in RIGHT_NAMES:
                rights.setdefault(key, 0)
            if not bad and name is not None:  # (bad when it is None)
                rows.append(AcgDefinition(gid, name, bool(default), MappingProxyType(rights)))
        for line in defaults[1:]:
            diags.append(
                error(
                    interchange_rules.CSV_DUPLICATE_ROW.code,
                    f"a second default group (the first is on line {defaults[0]}); "
                    "set is_default_group to 1 on one group only",
                    Loc(file, line),
                )
            )
    return Parsed(tuple(rows), tuple(diags))


def write_acg_definitions(rows: Iterable[AcgDefinition]) -> bytes:
    rows = list(rows)
    for r in rows:
        for k, v in r.rights.items():
            if k not in ALLOWED or v not in ALLOWED[k]:
                raise ValueError(f"ACG {r.group_name!r}: {k}={v!r} is not a value REDCap accepts")
    return write_table(
        DEFINITIONS_HEADER,
        ([r.group_id, r.group_name, int(r.is_default)] + [int(r.rights.get(k, 0)) for k in RIGHT_NAMES] for r in rows),
        quote=quote_fputcsv,
        newline=NEWLINE,
        final_newline=True,
    )


def read_acg_assignments(data: bytes, file: str) -> Parsed[AcgAssignment]:
    diags: list[Diagnostic] = []
    ref = ASSIGNMENTS_HEADER[2]
    table = read_table(data, file, required=("Username", "ACG ID"), optional=(ref,), diags=diags)
    keyed: list[tuple[str, int, AcgAssignment | None]] = []
    if table is not None:
        for rec in table.records:
            username = require(rec, "Username", file, diags)
            gid = require(rec, "ACG ID", file, diags)
            bad = username is None or gid is None
            if gid and not GROUP_ID.fullmatch(gid):
                diags.append(
                    error(
                        interchange_rules.CSV_UNKNOWN_VALUE.code,
                        f"ACG ID {gid!r} is not an ACG id; use G- + 13 hex characters or G-NORIGHTS",
                        Loc(file, rec.line),
                        column="ACG ID",
                        value=gid,
                    )
                )
                bad = True
            if username is not None:
                keyed.append(
                    (
                        username,
                        rec.line,
                        None if bad or gid is None else AcgAssignment(username, gid, rec.cells.get(ref, ""), rec.line),
                    )
                )
    return Parsed(tuple(last_row_wins(keyed, file, diags)), tuple(diags))


def write_acg_assignments(rows: Iterable[AcgAssignment]) -> bytes:
    return write_table(
        ASSIGNMENTS_HEADER,
        ([r.username, r.group_id, r.group_name] for r in rows),
        quote=quote_fputcsv,
        newline=NEWLINE,
        final_newline=True,
    )
