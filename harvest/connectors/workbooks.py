"""Reading workbooks (xlsx, xlsm, xlsb, xls, ods) with python-calamine, one sheet at a
time, into :func:`~harvest.connectors.tabular.build_table`."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain
from pathlib import Path

from python_calamine import (
    CalamineError,
    CalamineSheet,
    CalamineWorkbook,
    PasswordError,
    SheetTypeEnum,
    SheetVisibleEnum,
    TablesNotSupported,
)

from harvest.connectors.base import Problem
from harvest.connectors.reading import (
    RESAVE,
    FileOptions,
    Item,
    RowsRead,
    name_date,
    unreadable,
)
from harvest.connectors.tabular import NoTable, Record, build_table, cell_text


def read_book(
    path: Path, rel: str, options: FileOptions, table: str | None = None
) -> Iterator[Item]:
    try:
        with open(path, "rb") as file:  # plain open() explains permission problems best
            signature = file.read(8)
        book = CalamineWorkbook.from_path(str(path), load_tables=table is not None)
    except OSError as error:
        yield Problem(rel, unreadable(error)), None
        return
    except PasswordError:
        yield Problem(rel, "The workbook has a password. Remove it in Excel and save again."), None
        return
    except TablesNotSupported:
        message = (
            f"Only .xlsx workbooks have named tables; name the sheet holding '{table}' instead."
        )
        yield Problem(rel, message), None
        return
    except CalamineError as error:
        yield Problem(rel, _corrupt(path.suffix, signature, error)), None
        return
    with book:
        if table is not None:
            yield from _read_named_table(book, table, rel, options)
            return
        for name, problem in _chosen_sheets(book, rel, options.sheets):
            if problem is not None:
                yield problem, None
            else:
                yield from _read_sheet(book, name, rel, options)


def _corrupt(suffix: str, signature: bytes, error: Exception) -> str:
    if not signature:
        return "The file is empty (0 bytes), so it may not have saved properly. " + RESAVE
    if not signature.startswith((b"PK", b"\xd0\xcf")) and b"\x00" not in signature:
        return f"This is a text file (perhaps a CSV) with a {suffix} name. " + RESAVE
    return f"This file could not be read as a {suffix} workbook ({error}). " + RESAVE


def _chosen_sheets(
    book: CalamineWorkbook, rel: str, wanted: list[str] | None
) -> Iterator[tuple[str, Problem | None]]:
    """The sheets to read (with None) or skip (with a Problem): those named in
    ``sheets``, else every visible worksheet."""
    if wanted is None:
        for meta in book.sheets_metadata:
            if meta.typ != SheetTypeEnum.WorkSheet:
                continue
            if meta.visible != SheetVisibleEnum.Visible:
                skip = f"Sheet '{meta.name}' is hidden, skipped (name it under 'sheets' to read it)"
                where = f"{rel}, sheet '{meta.name}'"
                yield meta.name, Problem(where, skip, fatal=False, note=True)
            else:
                yield meta.name, None
        return
    names = book.sheet_names
    folded = {name.strip().casefold(): name for name in names}
    for want in wanted:
        name = want if want in names else folded.get(want.strip().casefold())
        if name is None:
            have = ", ".join(f"'{n}'" for n in names)
            yield want, Problem(rel, f"There is no sheet '{want}' (it has {have}). Check 'sheets'.")
        else:
            yield name, None


def _read_sheet(
    book: CalamineWorkbook, name: str, rel: str, options: FileOptions
) -> Iterator[Item]:
    location = f"{rel}, sheet '{name}'"
    try:
        sheet = book.get_sheet_by_name(name)
    except CalamineError as error:
        yield Problem(location, f"Sheet '{name}' could not be read ({error}). " + RESAVE), None
        return
    rows = RowsRead()
    try:
        table = build_table(
            location, f"{rel}#{name}", _sheet_records(sheet),
            header_row=options.header_row, name_date=name_date(rel),
            wider=lambda after, width: _used_width(sheet, after, width),
        )  # fmt: skip
    except NoTable as empty:
        message = f"Sheet '{name}' is empty, skipped." if not empty.fatal else f"{empty}"
        yield Problem(location, message, fatal=empty.fatal), None
        return
    rows.watch(table)
    yield table, rows


def _read_named_table(
    book: CalamineWorkbook, want: str, rel: str, options: FileOptions
) -> Iterator[Item]:
    """A named Excel table (Insert → Table): its header row, then its rows as Excel numbers them."""
    names = book.table_names or []
    name = want if want in names else {n.casefold(): n for n in names}.get(want.strip().casefold())
    if name is None:
        have = ", ".join(f"'{n}'" for n in names) or "no named tables"
        yield Problem(rel, f"There is no table '{want}' (it has {have}). Check 'table'."), None
        return
    found = book.get_table_by_name(name)
    location = f"{rel}, table '{name}'"
    first = found.start[0] if found.start else 1  # 0-based first data row = 1-based header row
    records = chain(
        [(first, [cell_text(v) for v in found.columns])],
        ((first + 1 + i, [cell_text(v) for v in row]) for i, row in enumerate(found.to_python())),
    )
    rows = RowsRead()
    try:
        table = build_table(
            location, f"{rel}#{name}", records, header_row=first, name_date=name_date(rel)
        )
    except NoTable as empty:
        yield Problem(location, f"{empty}", fatal=empty.fatal), None
        return
    rows.watch(table)
    yield table, rows


def _sheet_records(sheet: CalamineSheet) -> Iterator[Record]:
    """Number a sheet's rows as Excel does (calamine starts at the first used column)."""
    cells = sheet.iter_rows()
    first = next(cells, None)
    if first is None:
        return
    start = sheet.start
    # calamine yields rows from row 1 (leading blank rows included); should a version
    # start at the first used row instead, that row is not blank and says so.
    offset = start[0] if start and start[0] and any(v != "" for v in first) else 0
    for number, row in enumerate([first], offset + 1):
        yield number, [v if v.__class__ is str else cell_text(v) for v in row]
    for number, row in enumerate(cells, offset + 2):
        yield number, [v if v.__class__ is str else cell_text(v) for v in row]


def _used_width(sheet: CalamineSheet, after: int, width: int) -> int:
    """The width of the rows below row ``after``: keeps data in columns with no heading."""
    if sheet.width <= width:
        return width
    for number, cells in _sheet_records(sheet):
        if number > after:
            for i in range(len(cells) - 1, width - 1, -1):
                if cells[i].strip():
                    width = i + 1
                    break
    return width
