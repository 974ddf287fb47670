"""Fuzzing the file readers: whatever bytes a file holds, the file connector reports a
problem naming the file (or reads it), and never lets an exception out.

Random and truncated bytes are read as CSV, XLSX, ODS and the other workbook kinds;
valid workbooks are cut short or have bytes changed; and tables of random Unicode are
written as CSV, XLSX and ODS and must read back exactly as written.

The examples are seeded (``derandomize``), so ``make test`` tries the same few every
time and stays fast. ``HYPOTHESIS_PROFILE=soak`` (``make soak``) tries many more, at
random, and keeps any failure it finds in ``tests/.hypothesis-examples/`` so that the
next soak replays it first; a failure found that way becomes an ``@example`` here.
"""

from __future__ import annotations

import csv
import io
import os
import re
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
from conftest import scalar, write_config
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from test_files import write_ods

from harvest.config import load_config
from harvest.connectors.base import Problem, Table
from harvest.connectors.files import FileConnector, FileOptions
from harvest.normalise.mapping import ColumnMap
from harvest.normalise.record import RowNormaliser
from harvest.normalise.standard import load_standard
from harvest.sync import sync

SOAK = os.environ.get("HYPOTHESIS_PROFILE") == "soak"
EXAMPLES_DIR = Path(__file__).parent / ".hypothesis-examples"


def fuzz(examples: int) -> settings:
    """Seeded and small by default; many random examples, remembered, when soaking."""
    return settings(
        max_examples=examples * 20 if SOAK else examples,
        derandomize=not SOAK,
        database=DirectoryBasedExampleDatabase(EXAMPLES_DIR) if SOAK else None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )


TEXT_KINDS = [".csv", ".tsv", ".txt"]
BOOK_KINDS = [".xlsx", ".xlsm", ".xlsb", ".xls", ".ods"]
# beginnings that get random bytes past the first checks: zip (xlsx, ods), OLE (xls),
# byte-order marks, and nothing at all
PREFIXES = [
    b"",
    b"PK\x03\x04",
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"\xfe\xff",
    b"Name,Town\r\n",
]


# ---- reading, and what must hold whatever the bytes ----------------------------------------


def read_all(folder: Path, name: str, **options: Any) -> list[Table | Problem]:
    """Fetch every item of the folder as a sync does, reading each table's rows to the end,
    and check what must hold of any file: only tables and problems, each naming the file."""
    connector = FileConnector("fuzz", FileOptions(path=name, **options), folder)
    items: list[Table | Problem] = []
    for item in connector.fetch({}, full=True):
        assert isinstance(item, Table | Problem), item
        assert item.location == name or item.location.startswith(f"{name}, "), item.location
        if isinstance(item, Table):
            item.rows = list(item.rows)
            assert all(len(row.values) == len(item.headers) for row in item.rows)
            assert all(isinstance(v, str) for row in item.rows for v in row.values)
            assert len(set(h.casefold() for h in item.headers)) == len(item.headers)
        else:
            assert item.message.strip() and "Traceback" not in item.message
        items.append(item)
    return items


def clear(folder: Path) -> None:
    """Hypothesis runs every example in the same folder: empty it first."""
    for old in folder.iterdir():
        old.unlink()


def write(folder: Path, name: str, data: bytes) -> None:
    clear(folder)
    (folder / name).write_bytes(data)


# ---- random and damaged bytes ---------------------------------------------------------------


OPTIONS = st.fixed_dictionaries(
    {},
    optional={
        "header_row": st.integers(1, 30),
        "encoding": st.sampled_from(["utf-8", "cp1252", "utf-16", "utf-32", "shift_jis"]),
        "delimiter": st.sampled_from([",", ";", "|", "tab", " ", "a"]),
        "sheets": st.lists(st.sampled_from(["Sheet1", "Tuesday", "sheet1", ""]), max_size=2),
    },
)


@fuzz(80)
@given(
    suffix=st.sampled_from(TEXT_KINDS + BOOK_KINDS),
    prefix=st.sampled_from(PREFIXES),
    body=st.binary(max_size=2000) | st.text(max_size=500).map(str.encode),
    options=OPTIONS,
)
def test_random_bytes_are_read_or_reported(
    tmp_path: Path, suffix: str, prefix: bytes, body: bytes, options: dict[str, Any]
):
    write(tmp_path, f"junk{suffix}", prefix + body)
    read_all(tmp_path, f"junk{suffix}", **options)


def _xlsx() -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Tuesday"
    sheet.append(["Lunch club: sign-in"])
    sheet.append(["First name", "Surname", "Postcode", "Date"])
    for n in range(20):
        sheet.append([f"Ann{n}", "Lee", "NW1 2AB", 46000 + n])
    book.create_sheet("Notes")["A1"] = "spare"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _ods(folder: Path) -> bytes:
    rows: list[list[Any]] = [["Name", "Phone"], *[[f"Bo{n}", "07700 900123"] for n in range(20)]]
    return write_ods(folder / "model.ods", rows).read_bytes()


def _csv() -> bytes:
    lines = ["Name,Town,Note", *[f'Siân {n},Café,"a, b"' for n in range(40)]]
    return "\r\n".join(lines).encode() + "\r\nRené,Brest,x\r\n".encode("cp1252")


def _model(kind: str, folder: Path) -> bytes:
    return {".xlsx": _xlsx, ".csv": _csv}[kind]() if kind != ".ods" else _ods(folder)


@fuzz(40)
@given(kind=st.sampled_from([".xlsx", ".ods", ".csv"]), cut=st.floats(0, 1))
def test_truncated_files_are_read_or_reported(tmp_path: Path, kind: str, cut: float):
    data = _model(kind, tmp_path)
    write(tmp_path, f"cut{kind}", data[: int(len(data) * cut)])
    read_all(tmp_path, f"cut{kind}")


@fuzz(60)
@given(
    kind=st.sampled_from([".xlsx", ".ods", ".csv"]),
    changes=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), min_size=1, max_size=8),
)
def test_files_with_changed_bytes_are_read_or_reported(
    tmp_path: Path, kind: str, changes: list[tuple[float, int]]
):
    data = bytearray(_model(kind, tmp_path))
    for where, byte in changes:
        data[min(int(where * len(data)), len(data) - 1)] = byte
    write(tmp_path, f"changed{kind}", bytes(data))
    read_all(tmp_path, f"changed{kind}")


def _zip_with(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as book:
        for name, body in members.items():
            book.writestr(name, body)
    return out.getvalue()


@fuzz(40)
@given(
    kind=st.sampled_from([".xlsx", ".ods"]),
    member=st.sampled_from(
        ["xl/worksheets/sheet1.xml", "xl/workbook.xml", "xl/sharedStrings.xml", "content.xml"]
    ),
    body=st.binary(max_size=500) | st.text(max_size=300).map(str.encode),
)
def test_a_workbook_zip_with_a_junk_member_is_read_or_reported(
    tmp_path: Path, kind: str, member: str, body: bytes
):
    model = zipfile.ZipFile(io.BytesIO(_model(kind, tmp_path)))
    members = {name: model.read(name) for name in model.namelist()}
    members[member] = body
    write(tmp_path, f"junk{kind}", _zip_with(members))
    read_all(tmp_path, f"junk{kind}")


# ---- random Unicode in every cell -----------------------------------------------------------

# Any character a cell can hold. Left out: NUL (a text file holding it is binary, and says
# so), the C0 controls that XML (so xlsx and ods) cannot hold, and \r, which XML reads as \n.
CELL = st.text(
    st.characters(codec="utf-8", exclude_characters="\x00\r", exclude_categories=["Cs"]),
    max_size=12,
).filter(lambda s: not ILLEGAL_CHARACTERS_RE.search(s))
HEADERS = ["Name", "Town", "Note"]


def _grid() -> st.SearchStrategy[list[list[str]]]:
    return st.lists(st.lists(CELL, min_size=3, max_size=3), min_size=1, max_size=8)


def _kept(rows: list[list[str]]) -> list[list[str]]:
    """The rows a reader gives back: a row of blank or whitespace-only cells is skipped."""
    return [row for row in rows if "".join(row).strip()]


def _csv_of(rows: list[list[str]], encoding: str = "utf-8", ending: str = "\r\n") -> bytes:
    out = io.StringIO(newline="")
    # csv quotes a cell holding \r or \n only if the line ending has it; Excel always does
    quoting = csv.QUOTE_MINIMAL if ending == "\r\n" else csv.QUOTE_ALL
    csv.writer(out, lineterminator=ending, quoting=quoting).writerows([HEADERS, *rows])
    return out.getvalue().encode(encoding)


CSV_CELL = st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=12)


@fuzz(60)
@given(
    rows=st.lists(st.lists(CSV_CELL, min_size=3, max_size=3), min_size=1, max_size=8),
    ending=st.sampled_from(["\r\n", "\n", "\r"]),
)
@example(
    rows=[["Siân", "Llanelli", "a\nb"], [" ", "", "\u2028"], ["=1+1", "0123", "1e5"]], ending="\n"
)
@example(rows=[["a\rb", "\r", "c\r\nd"], ["\x85", "\x1c", "\x0c"]], ending="\r")
def test_random_unicode_cells_round_trip_through_csv(
    tmp_path: Path, rows: list[list[str]], ending: str
):
    write(tmp_path, "cells.csv", _csv_of(rows, ending=ending))
    items = read_all(tmp_path, "cells.csv", delimiter=",")
    tables = [i for i in items if isinstance(i, Table)]
    assert [t.headers for t in tables] == [HEADERS]
    assert [r.values for r in tables[0].rows] == _kept(rows)


# Western text, whose accents and symbols stand alone ("£5", "Café"): a run of them
# ("Èâàí") may rightly be taken for another script (Cyrillic "Иван") and is left out
CP1252_CELL = st.text(st.sampled_from('aZ 1,"\n£éÃ©Â€–—’“”©®°±½ÿ'), max_size=8).map(
    lambda s: re.sub(r"([^\x00-\x7f])(?=[^\x00-\x7f])", r"\1a", s)
)


@fuzz(60)
@given(rows=st.lists(st.lists(CP1252_CELL, min_size=3, max_size=3), min_size=1, max_size=8))
@example(rows=[["Ã©", "x", "y"], ["é", "x", "y"]])
@example(rows=[["", "", "£"]])  # was read as Japanese (cp932): see detect_encoding
@example(rows=[["", "", "£Z£Z"]])  # was read as Korean or Chinese
@example(rows=[["", "", "£Z°a£"]])
def test_a_windows_1252_csv_reads_back_exactly_or_says_which_rows_may_not(
    tmp_path: Path, rows: list[list[str]]
):
    """A line of Windows-1252 bytes can also be valid UTF-8 ('Ã©' is the bytes of 'é'):
    no reader can tell which was meant. Such a file reads back exactly unless it also has
    a line that is not UTF-8, and then a warning names the rows read as Windows-1252."""
    data = _csv_of(rows, "cp1252")
    write(tmp_path, "excel.csv", data)
    items = read_all(tmp_path, "excel.csv", delimiter=",")
    [table] = [i for i in items if isinstance(i, Table)]
    warnings = [i for i in items if isinstance(i, Problem)]
    if [r.values for r in table.rows] != _kept(rows):
        assert any("Windows-1252" in w.message for w in warnings), warnings


@fuzz(30)
@given(rows=_grid())
def test_random_unicode_cells_round_trip_through_xlsx(tmp_path: Path, rows: list[list[str]]):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Cells"
    for r, values in enumerate([HEADERS, *rows], 1):
        for c, value in enumerate(values, 1):
            if value:
                sheet.cell(r, c).value = value
                sheet.cell(r, c).data_type = "s"  # "=1+1" is text here, not a formula
    clear(tmp_path)
    book.save(tmp_path / "cells.xlsx")
    tables = [i for i in read_all(tmp_path, "cells.xlsx") if isinstance(i, Table)]
    assert [t.headers for t in tables] == [HEADERS]
    # openpyxl writes a cell that is only whitespace (to Python) without xml:space="preserve",
    # which Excel would write, so its XML spaces, tabs and newlines are lost: not harvest's doing
    unpreserved = [[v.strip(" \t\n") if not v.strip() else v for v in row] for row in rows]
    assert [r.values for r in tables[0].rows] == _kept(unpreserved)


@fuzz(30)
@given(rows=_grid())
def test_random_unicode_cells_round_trip_through_ods(tmp_path: Path, rows: list[list[str]]):
    clear(tmp_path)
    write_ods(tmp_path / "cells.ods", [HEADERS, *rows], sheet="Cells")
    tables = [i for i in read_all(tmp_path, "cells.ods") if isinstance(i, Table)]
    assert [t.headers for t in tables] == [HEADERS]
    assert [r.values for r in tables[0].rows] == _kept(rows)


# ---- random Unicode through cleaning: every field of the standard ---------------------------

FIELDS = [f.name for f in load_standard().fields]
NORMALISE = RowNormaliser(FIELDS, [ColumnMap(f, f, 100.0, "config") for f in FIELDS])
ANY_CELL = st.text(st.characters(exclude_categories=["Cs"]), max_size=40) | st.sampled_from(
    ["31/02/2026", "1e400", "-0", "٣/٤/١٩٨٥", "07700 900123", "ＳＷ１Ａ １ＡＡ", "NaN", "∞"]
)


@fuzz(200)
@given(values=st.lists(ANY_CELL, min_size=len(FIELDS), max_size=len(FIELDS)))
def test_random_unicode_in_every_field_is_cleaned_or_a_problem(values: list[str]) -> None:
    out = NORMALISE(values)
    for name, value in out.fields.items():
        assert value is None or isinstance(value, str | int | float), (name, value)
    for name, raw, problem in out.problems:
        assert name in FIELDS and problem and raw in values or raw.endswith("…")


@fuzz(10)
@given(rows=st.lists(st.lists(ANY_CELL, min_size=6, max_size=6), min_size=1, max_size=6))
def test_a_sync_of_random_unicode_lands_every_row(tmp_path: Path, rows: list[list[str]]) -> None:
    clear(tmp_path)
    headers = ["First name", "Surname", "Postcode", "Date of birth", "Gender", "Attended"]
    out = io.StringIO(newline="")
    csv.writer(out).writerows([headers, *rows])
    (tmp_path / "signups.csv").write_bytes(out.getvalue().replace("\x00", "").encode())
    source = {"name": "fuzz", "type": "file", "options": {"path": "signups.csv", "delimiter": ","}}
    config = write_config(
        tmp_path, [source], matching={"enabled": False}, publish={"after_sync": False}
    )
    [result] = sync(load_config(config)).sources
    assert result.status in ("ok", "problems"), result.messages
    if result.status == "ok":
        landed = scalar(tmp_path / "harvest.db", "SELECT count(*) FROM raw_rows")
        assert landed == result.counts.read
