"""REDCap "Security Access Groups" external module: SAG definitions and SAG user assignments (docs/interchange.md, 004).

The module's own files, read from its source (github.com/AndrewPoppe/Security-Access-Groups):

- Export (`js/system-settings-sags.js` `sag_module.exportRawCsv`, and `js/system-settings-userlist.js`
  `sag_module.exportCsv`): every cell, header included, is enclosed in double quotes with quotes doubled
  (`sag_module.join` with boundary `"`); rows are joined with `\\n` (`\\r\\n` only when the browser runs
  on Windows) and there is **no line ending after the last row**; the Blob goes to DataTables'
  `fileSave(blob, name, true)`, whose `true` turns FileSaver's automatic BOM off, so there is no BOM;
  the text is UTF-8 (`document.characterSet`). A right left empty in the table is exported as 0.
- Import (`classes/CsvSAGImport.php`, `classes/CsvUserImport.php`): the file is split on `\\r\\n` if it
  contains one, else on `\\n`, then with `str_getcsv(row, ',', '"', '')`; columns are found by name
  (`array_search('sag_name', $header)`), any other header than `sag_name`, `sag_id` or a known right is an
  error, a missing right reads as 0 (`?? 0`), a blank or unknown `sag_id` means a new SAG, and a blank
  row (what a final line ending produces) fails as an empty SAG name. New ids are
  `'sag_' . substr(md5(uniqid()), 0, 13)` (`SecurityAccessGroups.php`), the default SAG is `sag_Default`.
- The user assignments import needs `username` and `sag_id` and ignores other columns (a username listed
  twice keeps its last row, as REDCap's uploads do: a `csv-duplicate-row` warning names both lines); the export's
  header is the table's `data-id`s `username,name,email,sag,sag_id` (`html/system-settings-userlist.html`),
  `name` being "first last".

So `write_*` produce exactly that: all cells quoted, `\\n`, no final line ending, no BOM, UTF-8.
Allowed values come from `catalog("redcap").right_keys`; docs/interchange.md adds dataViewing 4 and 5 for newer
versions, which the catalog does not list yet.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ..catalogs import catalog
from ..diagnostics import Diagnostic, Loc, error
from ..rules import interchange as interchange_rules
from ._csv import Parsed, cell_int, last_row_wins, quote_all, read_table, require, write_table

NEWLINE = "\n"

#: The 40 right columns in the module's order (docs/interchange.md); the catalog holds the same keys in this order.
OPTIONAL_RIGHT_KEYS: tuple[str, ...] = ("api_modules", "external_module_config")  # newer module versions
_NEWER_VALUES: Mapping[str, tuple[int, ...]] = {"dataViewing": (4, 5)}  # docs/interchange.md: newer versions


def _allowed() -> dict[str, tuple[int, ...]]:
    redcap = catalog("redcap")
    assert redcap is not None  # shipped with edcconf
    keys = redcap.right_keys
    return {k: tuple(v) + tuple(x for x in _NEWER_VALUES.get(k, ()) if x not in v) for k, v in keys.items()}


ALLOWED: Mapping[str, tuple[int, ...]] = MappingProxyType(_allowed())
RIGHT_KEYS: tuple[str, ...] = tuple(k for k in ALLOWED if k not in OPTIONAL_RIGHT_KEYS)
DEFINITIONS_HEADER: tuple[str, ...] = ("sag_name", "sag_id") + RIGHT_KEYS
ASSIGNMENTS_HEADER: tuple[str, ...] = ("username", "name", "email", "sag", "sag_id")
DEFAULT_SAG_ID = "sag_Default"
SAG_ID = re.compile(r"sag_[0-9a-f]{13}|sag_Default")


@dataclass(frozen=True)
class SagDefinition:
    sag_id: str  # "" for a SAG the import will create
    sag_name: str
    rights: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class SagAssignment:
    username: str
    sag_id: str
    name: str = ""
    email: str = ""
    sag_name: str = ""
    line: int = field(default=0, compare=False)  # where a read row starts in its file (0: not read)


def read_sag_definitions(data: bytes, file: str) -> Parsed[SagDefinition]:
    diags: list[Diagnostic] = []
    table = read_table(data, file, required=("sag_name", "sag_id"), optional=tuple(ALLOWED), diags=diags)
    rows: list[SagDefinition] = []
    if table is not None:
        ids: dict[str, int] = {}
        new_names: dict[str, int] = {}
        for rec in table.records:
            loc = Loc(file, rec.line)
            name = require(rec, "sag_name", file, diags)
            sag_id = rec.cells["sag_id"].strip()
            bad = False
            if sag_id and not SAG_ID.fullmatch(sag_id):
                diags.append(
                    error(
                        interchange_rules.CSV_UNKNOWN_VALUE.code,
                        f"sag_id {sag_id!r} is not a SAG id; use the id shown on "
                        "the Security Access Groups tab (sag_ + 13 hex characters, or sag_Default), or "
                        "leave it blank to create a new SAG",
                        loc,
                        column="sag_id",
                        value=sag_id,
                    )
                )
                bad = True
            elif sag_id in ids:
                diags.append(
                    error(
                        interchange_rules.CSV_DUPLICATE_ROW.code,
                        f"sag_id {sag_id} is also defined on line {ids[sag_id]}; keep one row per SAG",
                        loc,
                        sag_id=sag_id,
                    )
                )
                bad = True
            elif sag_id:
                ids[sag_id] = rec.line
            elif name is not None:
                if name in new_names:
                    diags.append(
                        error(
                            interchange_rules.CSV_DUPLICATE_ROW.code,
                            f"new SAG {name!r} is also on line {new_names[name]}; keep one row per new SAG",
                            loc,
                            sag_name=name,
                        )
                    )
                    bad = True
                else:
                    new_names[name] = rec.line
            rights: dict[str, int] = {}
            for key in table.header:
                if key in ALLOWED:
                    value = cell_int(rec, key, ALLOWED[key], file, diags, label=f" for SAG {name or sag_id!r}")
                    if value is None:
                        bad = True
                    else:
                        rights[key] = value
            for key in RIGHT_KEYS:
                rights.setdefault(key, 0)  # a missing right column reads as 0, as the module does
            if name is not None and not bad:
                rows.append(SagDefinition(sag_id, name, MappingProxyType(rights)))
    return Parsed(tuple(rows), tuple(diags))


def write_sag_definitions(rows: Iterable[SagDefinition]) -> bytes:
    """The module's raw export; `api_modules`/`external_module_config` are added only when a row sets them."""
    rows = list(rows)
    extra = tuple(k for k in OPTIONAL_RIGHT_KEYS if any(r.rights.get(k) for r in rows))
    keys = RIGHT_KEYS + extra
    for r in rows:
        for k, v in r.rights.items():
            if k not in ALLOWED or v not in ALLOWED[k]:
                raise ValueError(f"SAG {r.sag_name!r}: {k}={v!r} is not a value the module accepts")
    return write_table(
        ("sag_name", "sag_id") + keys,
        ([r.sag_name, r.sag_id] + [int(r.rights.get(k, 0)) for k in keys] for r in rows),
        quote=quote_all,
        newline=NEWLINE,
        final_newline=False,
    )


def read_sag_assignments(data: bytes, file: str) -> Parsed[SagAssignment]:
    diags: list[Diagnostic] = []
    table = read_table(data, file, required=("username", "sag_id"), ignore_unknown=True, diags=diags)
    keyed: list[tuple[str, int, SagAssignment | None]] = []
    if table is not None:
        for rec in table.records:
            username = require(rec, "username", file, diags)
            sag_id = require(rec, "sag_id", file, diags)
            bad = username is None or sag_id is None
            if sag_id and not SAG_ID.fullmatch(sag_id):
                diags.append(
                    error(
                        interchange_rules.CSV_UNKNOWN_VALUE.code,
                        f"sag_id {sag_id!r} is not a SAG id; use sag_ + 13 hex characters or sag_Default",
                        Loc(file, rec.line),
                        column="sag_id",
                        value=sag_id,
                    )
                )
                bad = True
            if username is not None:  # REDCap usernames are case-insensitive; the last row of one counts
                c = rec.cells
                keyed.append(
                    (
                        username,
                        rec.line,
                        None
                        if bad or sag_id is None
                        else SagAssignment(
                            username, sag_id, c.get("name", ""), c.get("email", ""), c.get("sag", ""), rec.line
                        ),
                    )
                )
    return Parsed(tuple(last_row_wins(keyed, file, diags)), tuple(diags))


def write_sag_assignments(rows: Iterable[SagAssignment]) -> bytes:
    return write_table(
        ASSIGNMENTS_HEADER,
        ([r.username, r.name, r.email, r.sag_name, r.sag_id] for r in rows),
        quote=quote_all,
        newline=NEWLINE,
        final_newline=False,
    )
