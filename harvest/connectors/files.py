"""The file connector (``type: file``): CSV and workbooks in a folder.

``path`` is a file or a glob relative to the folder holding harvest.yaml. Each CSV
file and each sheet of a workbook becomes one :class:`Table`; a file that cannot
be read becomes a :class:`Problem` and the other files carry on. Files whose
modification time and size are unchanged since the last sync are not opened again.

CSV files are streamed row by row, so their size does not matter. Workbooks are
read with calamine, which loads one sheet at a time.

A file is recorded as read in ``self.state`` only once the rows of every table it
gave have been read to the end without a fatal problem, so a consumer must read
each Table's rows before asking ``fetch`` for the next item (as syncing does).
"""

from __future__ import annotations

import codecs
import csv
import glob
import io
import os
from collections.abc import Generator, Iterable, Iterator
from itertools import chain
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import BaseModel, ConfigDict, Field, field_validator
from python_calamine import (
    CalamineError,
    CalamineSheet,
    CalamineWorkbook,
    PasswordError,
    SheetTypeEnum,
    SheetVisibleEnum,
    TablesNotSupported,
)

from harvest.connectors.base import Connector, Problem, Row, Table, register
from harvest.connectors.tabular import (
    NoTable,
    Record,
    build_table,
    cell_text,
    detect_delimiter,
    detect_encoding,
    find_date,
)
from harvest.errors import ConfigError

TEXT_SUFFIXES = {".csv", ".tsv", ".txt"}
BOOK_SUFFIXES = {".xlsx", ".xlsm", ".xlsb", ".xls", ".ods"}
SAMPLE_BYTES = 1 << 20  # bytes read to detect the encoding and the delimiter
RESAVE = "Open it in Excel and save it again as .xlsx or .csv."

# A cell may hold far more than csv's default 131,072 characters; an unclosed quote
# could still read the rest of a file into one cell, so keep a (generous) limit.
csv.field_size_limit(max(csv.field_size_limit(), 1 << 27))


class FileOptions(BaseModel):
    """Options of a ``type: file`` source in harvest.yaml."""

    model_config = ConfigDict(extra="forbid")

    path: str  # a file or a glob ("signups/*.xlsx", "**/*.csv"), relative to base_dir
    sheets: list[str] | None = None  # only these sheets of workbooks (default: every sheet)
    encoding: str | None = None  # force the text encoding of CSV files (default: detect)
    delimiter: str | None = None  # force the CSV delimiter (default: detect , ; tab |)
    header_row: int | None = Field(default=None, ge=1)  # force the 1-based header row

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                codecs.lookup(value)
            except LookupError:
                raise ValueError(f"unknown text encoding '{value}' (try utf-8 or cp1252)") from None
        return value

    @field_validator("delimiter")
    @classmethod
    def _one_character(cls, value: str | None) -> str | None:
        if value is not None and value.lower() in ("tab", "\\t"):
            return "\t"
        if value is not None and len(value) != 1:
            raise ValueError("delimiter must be one character, such as , ; | or tab")
        return value


class _Rows:
    """How far a table's rows were read: to the end (``done``) or stopped by ``error``.

    ``notes`` found while reading (undecodable bytes) join the table's notes at the end.
    """

    def __init__(self) -> None:
        self.done = False
        self.error: str | None = None
        self.notes: list[str] = []

    def watch(self, table: Table) -> None:
        """Make ``table.rows`` report here once it has been read to the end."""
        table.notes[:0] = self.notes  # notes seen while the header was being found
        self.notes.clear()
        table.rows = self._watched(table.rows, table.notes)

    def _watched(self, rows: Iterable[Row], notes: list[str]) -> Iterator[Row]:
        yield from rows
        notes.extend(self.notes)
        self.done = True


_Item = tuple[Table | Problem, _Rows | None]


@register
class FileConnector(Connector):
    """Reads CSV, TSV and workbook files (xlsx, xlsm, xlsb, xls, ods) matched by a glob."""

    type = "file"
    Options = FileOptions
    options: FileOptions

    def check(self) -> None:
        if not self._matches():
            raise ConfigError(
                f"Source '{self.name}': no files match '{self.options.path}' in the folder "
                f"{self.base_dir}. Check the path in harvest.yaml and that the files are there."
            )

    def fetch(self, state: dict[str, Any], full: bool = False) -> Iterator[Table | Problem]:
        seen = dict((state or {}).get("files", {}))
        matches = self._matches()
        if not matches:
            self.state = {"files": seen}  # a missing folder must not forget what was read
            message = f"No files match '{self.options.path}' in the folder {self.base_dir}."
            yield Problem(self.options.path, message)
            return
        files: dict[str, dict[str, int]] = {}
        for path in matches:
            rel = self._relative(path)
            skip = _skip_reason(path)
            if skip is not None:
                if skip:
                    yield Problem(rel, skip, fatal=False)
                continue
            try:
                stat = path.stat()
            except OSError as error:
                yield Problem(rel, _unreadable(error))
                continue
            mark = {"mtime_ns": stat.st_mtime_ns, "size": stat.st_size}
            if full or seen.get(rel) != mark:
                if not (yield from self._read(path, rel)):
                    continue
            files[rel] = mark
        self.state = {"files": files}

    def _matches(self) -> list[Path]:
        pattern = os.path.join(self.base_dir, os.path.expanduser(self.options.path))
        return sorted((Path(p) for p in glob.glob(pattern, recursive=True)), key=self._relative)

    def _relative(self, path: Path) -> str:
        return Path(os.path.relpath(path, self.base_dir)).as_posix()

    def _read(self, path: Path, rel: str) -> Generator[Table | Problem, None, bool]:
        """Yield the file's tables and problems; return True if it was read completely."""
        return (yield from read_file(path, rel, self.options))


def read_file(
    path: Path, rel: str, options: FileOptions, *, table: str | None = None
) -> Generator[Table | Problem, None, bool]:
    """Yield one file's tables and problems; return True if it was read completely.

    ``rel`` names the file in messages and table keys; it need not be ``path`` (a
    workbook downloaded by an API connector is read from a temporary file). ``table``
    reads that named table of an .xlsx workbook instead of its sheets.
    """
    if path.suffix.lower() in TEXT_SUFFIXES:
        items = _read_text(path, rel, options)
    else:
        items = _read_book(path, rel, options, table)
    complete = True
    for item, rows in items:
        yield item
        if isinstance(item, Problem):
            complete = complete and not item.fatal
        elif rows is not None and rows.error:
            complete = False
            yield Problem(item.location, rows.error)
        elif rows is not None and not rows.done:
            complete = False  # its rows were not all read: read the file again next time
    return complete


def _skip_reason(path: Path) -> str | None:
    """None to read the file, "" to skip it silently, or why it is skipped."""
    name = path.name
    if name.startswith(("~$", ".")):
        return ""  # Office lock files and hidden files
    suffix = path.suffix.lower()
    if suffix in TEXT_SUFFIXES or suffix in BOOK_SUFFIXES:
        return None
    if path.is_dir():
        return ""
    return (
        f"Not a spreadsheet, skipped: harvest reads .csv, .tsv, .txt, .xlsx, .xlsm, .xlsb, "
        f".xls and .ods files, not '{suffix or name}'."
    )


def _unreadable(error: OSError) -> str:
    if isinstance(error, PermissionError):
        return (
            "Could not open the file: permission denied. Check that the account running "
            "harvest may read it and that no other program has it locked, then sync again."
        )
    if isinstance(error, IsADirectoryError):
        return "This is a folder, not a file, so it was not read. Rename it or change 'path'."
    if isinstance(error, FileNotFoundError):
        return "The file disappeared while it was being read. Run the sync again."
    reason = error.strerror or error
    return f"Could not open the file ({reason}). Close it in other programs and sync again."


def _name_date(rel: str) -> str | None:
    path = Path(rel)
    return find_date(path.stem) or find_date(path.parent.as_posix())


# ---- delimited text ---------------------------------------------------------------


def _read_text(path: Path, rel: str, options: FileOptions) -> Iterator[_Item]:
    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed by _records or below
        sample = raw.read(SAMPLE_BYTES)
    except OSError as error:
        yield Problem(rel, _unreadable(error)), None
        return
    encoding = options.encoding or detect_encoding(sample)
    wrong = _not_text(sample, encoding)
    if wrong:
        raw.close()
        yield Problem(rel, wrong), None
        return
    default = "\t" if path.suffix.lower() == ".tsv" else ","
    delimiter = options.delimiter or detect_delimiter(sample.decode(encoding, "replace"), default)
    raw.seek(0)
    rows = _Rows()
    records = _records(raw, encoding, delimiter, rows)
    try:
        table = build_table(
            rel, rel, records, header_row=options.header_row,
            name_date=_name_date(rel), joiner=delimiter,
        )  # fmt: skip
    except NoTable as empty:
        records.close()
        yield Problem(rel, f"{empty}", fatal=empty.fatal), None
        return
    rows.watch(table)
    yield table, rows


def _not_text(sample: bytes, encoding: str) -> str | None:
    """Why a file named .csv/.tsv/.txt cannot be read as text, or None if it can."""
    if not sample:
        return "The file is empty (0 bytes), so it may not have saved properly. " + RESAVE
    if sample.startswith(b"PK\x03\x04"):
        return "This is a workbook (.xlsx or .ods) with a text file's name. " + RESAVE
    if sample.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "This is an old Excel workbook (.xls) with a text file's name. " + RESAVE
    if b"\x00" in sample and not codecs.lookup(encoding).name.startswith("utf-16"):
        return "This file holds binary data, not text. " + RESAVE
    return None


def _records(
    raw: BinaryIO, encoding: str, delimiter: str, rows: _Rows
) -> Generator[Record, None, None]:
    """Number the file's records 1, 2, 3… as a spreadsheet would show them."""
    stream = io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline="")
    lossy = [0]
    reader = csv.reader(_counting(stream, lossy), delimiter=delimiter)
    try:
        yield from enumerate(reader, 1)
    except (csv.Error, OSError, UnicodeError) as error:
        rows.error = (
            f"Stopped reading at line {reader.line_num} ({error}); the rows before it were read. "
            + RESAVE
        )
    finally:
        stream.close()
        if lossy[0]:
            rows.notes.append(
                f"{lossy[0]} line(s) have characters that are not valid {encoding}; they are "
                "shown as \ufffd. Open the file in Excel and save it as 'CSV UTF-8' to fix this."
            )


def _counting(lines: Iterator[str], lossy: list[int]) -> Iterator[str]:
    """Pass lines through, counting those with undecodable bytes (replaced by U+FFFD)."""
    for line in lines:
        if "\ufffd" in line:
            lossy[0] += 1
        yield line


# ---- workbooks ----------------------------------------------------------------------


def _read_book(
    path: Path, rel: str, options: FileOptions, table: str | None = None
) -> Iterator[_Item]:
    try:
        with open(path, "rb") as file:  # plain open() explains permission problems best
            signature = file.read(8)
        book = CalamineWorkbook.from_path(str(path), load_tables=table is not None)
    except OSError as error:
        yield Problem(rel, _unreadable(error)), None
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
                yield meta.name, Problem(f"{rel}, sheet '{meta.name}'", skip, fatal=False)
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
) -> Iterator[_Item]:
    location = f"{rel}, sheet '{name}'"
    try:
        sheet = book.get_sheet_by_name(name)
    except CalamineError as error:
        yield Problem(location, f"Sheet '{name}' could not be read ({error}). " + RESAVE), None
        return
    rows = _Rows()
    try:
        table = build_table(
            location, f"{rel}#{name}", _sheet_records(sheet),
            header_row=options.header_row, name_date=_name_date(rel),
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
) -> Iterator[_Item]:
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
    rows = _Rows()
    try:
        table = build_table(
            location, f"{rel}#{name}", records, header_row=first, name_date=_name_date(rel)
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
