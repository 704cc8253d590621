"""What every interchange format shares: decoding, record line numbers, header checks, cell escaping.

Reading is forgiving about the envelope (a UTF-8 byte-order mark, CRLF or LF, a final line ending or
none) and strict about the content: every problem is collected as a Diagnostic with the 1-based line
on which its record starts (the header is line 1), never raised. Writing is exact: each format module
says which dialect its system writes and calls `write_table` with it.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from ..diagnostics import Diagnostic, Loc, error, warning

T = TypeVar("T")

BOM = "\ufeff"


@dataclass(frozen=True)
class Parsed(Generic[T]):
    rows: tuple[T, ...]
    diagnostics: tuple[Diagnostic, ...]  # errors and warnings, each with Loc(file, line)

    @property
    def ok(self) -> bool:
        return not any(d.severity == "error" for d in self.diagnostics)

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity == "error")

    @property
    def warnings(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity == "warning")


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    """A cell a spreadsheet will show as text, never run as a formula (OWASP CSV injection advice)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def to_csv(header: list[str], rows: list[list[object]]) -> bytes:
    """A plain CSV file (CRLF, every cell made safe): the bulk files and reports edcconf writes itself."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([[safe_cell(c) for c in row] for row in rows])
    return buf.getvalue().encode("utf-8")


def unsafe_cell(text: str) -> str:
    """Undo `safe_cell`: `'=x` reads as `=x`, so export -> import -> export is byte-identical."""
    if len(text) > 1 and text[0] == "'" and text[1] in FORMULA_START:
        return text[1:]
    return text


@dataclass(frozen=True)
class Record:
    line: int  # where the record starts in the file
    cells: Mapping[str, str]  # column name -> cell, formula prefix already undone


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    records: tuple[Record, ...]


def read_table(
    data: bytes,
    file: str,
    *,
    required: Sequence[str],
    optional: Sequence[str] = (),
    ignore_unknown: bool = False,
    diags: list[Diagnostic],
) -> Table | None:
    """Decode and split a CSV file into records keyed by column name.

    `required` columns must be present (else `csv-missing-column`); `optional` ones may be; any other
    column is `csv-unknown-column` unless `ignore_unknown`. A ragged row or bad quoting is
    `csv-malformed` for that record only; undecodable bytes make the whole file unreadable (None).
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        diags.append(
            error(
                "csv-malformed",
                f"the file is not UTF-8 (byte {exc.start}); save it as UTF-8 CSV",
                Loc(file, text_line(data, exc.start)),
            )
        )
        return None
    if text.startswith(BOM):
        text = text[1:]
    if "\x00" in text:
        diags.append(
            error(
                "csv-malformed",
                "the file contains NUL bytes; it is not a CSV file; save it as UTF-8 CSV",
                Loc(file, text[: text.index("\x00")].count("\n") + 1),
            )
        )
        return None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[tuple[int, list[str]]] = []
    start = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            diags.append(
                error(
                    "csv-malformed",
                    f"bad quoting ({exc}); enclose the cell in double quotes and double any quote inside it",
                    Loc(file, start),
                )
            )
            return None
        if row and any(c != "" for c in row) or (row and len(row) > 1):
            rows.append((start, row))
        start = reader.line_num + 1
    if not rows:
        diags.append(
            error(
                "csv-missing-column",
                f"the file is empty; its first line must be the header ({','.join(required)})",
                Loc(file, 1),
            )
        )
        return None
    header_line, header = rows[0]
    header = [h.strip() for h in header]
    ok_header = True
    seen: set[str] = set()
    known = set(required) | set(optional)
    for name in header:
        if name in seen:
            diags.append(
                error(
                    "csv-malformed",
                    f"column {name!r} appears twice in the header; remove one",
                    Loc(file, header_line),
                    column=name,
                )
            )
            ok_header = False
        seen.add(name)
        if name not in known and not ignore_unknown:
            diags.append(
                error(
                    "csv-unknown-column",
                    f"unknown column {name!r}; remove it or correct its name"
                    + (f" (known: {', '.join(list(required) + list(optional))})" if len(known) <= 12 else ""),
                    Loc(file, header_line),
                    column=name,
                )
            )
    for name in required:
        if name not in seen:
            diags.append(
                error(
                    "csv-missing-column",
                    f"column {name!r} is missing; add it to the header",
                    Loc(file, header_line),
                    column=name,
                )
            )
            ok_header = False
    if not ok_header:
        return None
    records = []
    for line, row in rows[1:]:
        if len(row) != len(header):
            diags.append(
                error(
                    "csv-malformed",
                    f"this row has {len(row)} cells but the header has {len(header)}; quote cells that contain commas",
                    Loc(file, line),
                )
            )
            continue
        records.append(Record(line, {h: unsafe_cell(c) for h, c in zip(header, row)}))
    return Table(tuple(header), tuple(records))


def text_line(data: bytes, offset: int) -> int:
    return data[:offset].count(b"\n") + 1


# --- writing ---------------------------------------------------------------------------------------


def quote_all(cell: str) -> str:
    return '"' + cell.replace('"', '""') + '"'


_FPUTCSV_SPECIAL = re.compile(r'[,"\\\n\r\t ]')


def quote_fputcsv(cell: str) -> str:
    """PHP fputcsv's rule: enclose when the cell holds the delimiter, a quote, a backslash, CR, LF, tab or a space."""
    return quote_all(cell) if _FPUTCSV_SPECIAL.search(cell) else cell


_MINIMAL_SPECIAL = re.compile(r'[,"\n\r]')


def quote_minimal(cell: str) -> str:
    """RFC 4180: enclose only cells holding a comma, a quote or a line break."""
    return quote_all(cell) if _MINIMAL_SPECIAL.search(cell) else cell


def write_table(
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    quote: Callable[[str], str],
    newline: str,
    final_newline: bool,
) -> bytes:
    """UTF-8 without BOM; text cells are made formula-safe (ints never start with a formula character)."""
    lines = [",".join(quote(h) for h in header)]
    for row in rows:
        lines.append(",".join(quote(str(c) if isinstance(c, int) else safe_cell(c)) for c in row))
    out = newline.join(lines)
    if final_newline:
        out += newline
    return out.encode("utf-8")


def cell_int(
    rec: Record,
    column: str,
    allowed: Sequence[int],
    file: str,
    diags: list[Diagnostic],
    *,
    blank: int | None = None,
    label: str = "",
) -> int | None:
    """A coded integer cell; blank reads as `blank` when given, else `csv-required`."""
    raw = rec.cells.get(column)
    if raw is None:
        return blank if blank is not None else 0
    raw = raw.strip()
    if raw == "":
        if blank is not None:
            return blank
        diags.append(
            error(
                "csv-required",
                f"{column} is blank{label}; enter one of {allowed_text(allowed)}",
                Loc(file, rec.line),
                column=column,
            )
        )
        return None
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or value not in allowed:
        diags.append(
            error(
                "csv-unknown-value",
                f"{column} = {raw!r}{label} is not allowed; use one of {allowed_text(allowed)}",
                Loc(file, rec.line),
                column=column,
                value=raw,
            )
        )
        return None
    return value


def allowed_text(allowed: Sequence[int]) -> str:
    return ", ".join(str(a) for a in allowed)


def last_row_wins(keyed: Sequence[tuple[str, int, T | None]], file: str, diags: list[Diagnostic]) -> list[T]:
    """An assignment upload's rows, REDCap's way: a username listed twice (any case) keeps its last row.

    `keyed` holds (username, line, row) in file order, row None where the row itself has an error.
    Each repeat is a `csv-duplicate-row` warning naming the line before it and the line that counts."""
    last: dict[str, int] = {}
    for username, line, _row in keyed:
        last[username.lower()] = line
    previous: dict[str, int] = {}
    kept: list[T] = []
    for username, line, row in keyed:
        key = username.lower()
        if key in previous:
            diags.append(
                warning(
                    "csv-duplicate-row",
                    f"user {username} is also assigned on line {previous[key]}; "
                    f"REDCap keeps the last row (line {last[key]})",
                    Loc(file, line),
                    username=username,
                    kept_line=last[key],
                )
            )
        previous[key] = line
        if row is not None and line == last[key]:
            kept.append(row)
    return kept


def require(rec: Record, column: str, file: str, diags: list[Diagnostic]) -> str | None:
    value = rec.cells.get(column, "").strip()
    if not value:
        diags.append(error("csv-required", f"{column} is blank; fill it in", Loc(file, rec.line), column=column))
        return None
    return value
