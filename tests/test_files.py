"""The file connector on real files written to a temporary folder."""

from __future__ import annotations

import datetime as dt
import os
import tracemalloc
import types
import zipfile
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import openpyxl
import pytest
from conftest import query, run
from pydantic import ValidationError

from harvest import store
from harvest.connectors.base import Problem, Table
from harvest.connectors.files import FileConnector, FileOptions
from harvest.connectors.registry import connector_types
from harvest.connectors.tabular import (
    cell_text,
    detect_delimiter,
    detect_encoding,
    find_date,
    tidy_headers,
)
from harvest.errors import ConfigError
from harvest.normalise.check import check_source

# ---- helpers -------------------------------------------------------------------------


def connect(folder: Path, path: str = "*", **options: Any) -> FileConnector:
    return FileConnector("signups", FileOptions(path=path, **options), folder)


def fetch(conn: FileConnector, state: dict | None = None, full: bool = False) -> list[Any]:
    """Every item fetch yields, each table's rows read before the next (as syncing does)."""
    items = []
    for item in conn.fetch(state or {}, full=full):
        if isinstance(item, Table):
            item.rows = list(item.rows)
        items.append(item)
    return items


def tables(items: list[Any]) -> list[Table]:
    return [i for i in items if isinstance(i, Table)]


def problems(items: list[Any]) -> list[Problem]:
    return [i for i in items if isinstance(i, Problem)]


def only_table(folder: Path, path: str = "*", **options: Any) -> Table:
    items = fetch(connect(folder, path, **options))
    assert len(items) == 1, items
    assert isinstance(items[0], Table), items[0]
    return items[0]


def values(table: Table) -> list[list[str]]:
    return [row.values for row in table.rows]


def write_xlsx(path: Path, sheets: dict[str, dict[str, Any]]) -> Path:
    """Write a workbook: {sheet name: {"A1": value, ...}}."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, cells in sheets.items():
        sheet = book.create_sheet(name)
        for ref, value in cells.items():
            sheet[ref] = value
    book.save(path)
    return path


def grid(rows: list[list[Any]], first_row: int = 1) -> dict[str, Any]:
    """Cells for write_xlsx from a list of rows starting at ``first_row``."""
    letters = openpyxl.utils.get_column_letter
    return {
        f"{letters(c)}{r}": v
        for r, row in enumerate(rows, first_row)
        for c, v in enumerate(row, 1)
        if v is not None
    }


def write_ods(path: Path, rows: list[list[Any]], sheet: str = "Sheet1") -> Path:
    """A minimal valid OpenDocument spreadsheet, written by hand (nothing installed writes ODS)."""

    def cell(value: Any) -> str:
        if isinstance(value, dt.date):
            iso = value.isoformat()
            return (
                f'<table:table-cell office:value-type="date" office:date-value="{iso}">'
                f"<text:p>{iso}</text:p></table:table-cell>"
            )
        if isinstance(value, (int, float)):
            return (
                f'<table:table-cell office:value-type="float" office:value="{value}">'
                f"<text:p>{value}</text:p></table:table-cell>"
            )
        return (
            f'<table:table-cell office:value-type="string"><text:p>{escape(value)}</text:p>'
            "</table:table-cell>"
        )

    body = "".join(
        "<table:table-row>" + "".join(cell(v) for v in row) + "</table:table-row>" for row in rows
    )
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
        ' xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"'
        ' xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        f'<office:body><office:spreadsheet><table:table table:name="{sheet}">{body}'
        "</table:table></office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"'
        ' manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/"'
        ' manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    with zipfile.ZipFile(path, "w") as ods:
        ods.writestr(
            "mimetype", "application/vnd.oasis.opendocument.spreadsheet", zipfile.ZIP_STORED
        )
        ods.writestr("content.xml", content, zipfile.ZIP_DEFLATED)
        ods.writestr("META-INF/manifest.xml", manifest, zipfile.ZIP_DEFLATED)
    return path


SIGNUPS = (
    "First name,Surname,Phone,Postcode\n"
    "Bob,Smith,07700 900123,nw1 2ab\n"
    "Alice,Jones,07700900124,M14 5TQ\n"
)


# ---- registration and options ---------------------------------------------------------


def test_registered_as_type_file() -> None:
    assert connector_types()["file"] is FileConnector


def test_options_reject_unknown_keys_and_bad_values() -> None:
    with pytest.raises(ValidationError):
        FileOptions(path="x.csv", sheet="Tuesday")
    with pytest.raises(ValidationError, match="unknown text encoding"):
        FileOptions(path="x.csv", encoding="klingon")
    with pytest.raises(ValidationError):
        FileOptions(path="x.csv", header_row=0)
    assert FileOptions(path="x.csv", delimiter="tab").delimiter == "\t"


def test_check_names_the_pattern_and_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        connect(tmp_path, "signups/*.xlsx").check()
    assert "signups/*.xlsx" in str(error.value) and str(tmp_path) in str(error.value)
    (tmp_path / "a.csv").write_text(SIGNUPS)
    connect(tmp_path, "*.csv").check()


def test_no_match_is_a_problem_and_keeps_state(tmp_path: Path) -> None:
    conn = connect(tmp_path, "missing/*.csv")
    old = {"files": {"missing/a.csv": {"mtime_ns": 1, "size": 2}}}
    items = fetch(conn, old)
    assert [p.fatal for p in problems(items)] == [True]
    assert conn.state == old


# ---- CSV: values, encodings, delimiters --------------------------------------------------


def test_csv_cells_are_text_exactly_as_typed(tmp_path: Path) -> None:
    (tmp_path / "week1.csv").write_text(SIGNUPS)
    table = only_table(tmp_path)
    assert table.location == "week1.csv" and table.key == "week1.csv"
    assert table.headers == ["First name", "Surname", "Phone", "Postcode"]
    assert values(table) == [
        ["Bob", "Smith", "07700 900123", "nw1 2ab"],
        ["Alice", "Jones", "07700900124", "M14 5TQ"],
    ]
    assert [row.number for row in table.rows] == [2, 3]
    assert table.notes == [] and table.hxl is None


def test_cp1252_file_with_pound_and_accents(tmp_path: Path) -> None:
    text = "Name,Donation,Note\r\nRené,£5,“thanks” – café\r\n"
    (tmp_path / "gifts.csv").write_bytes(text.encode("cp1252"))
    table = only_table(tmp_path)
    assert values(table) == [["René", "£5", "“thanks” – café"]]
    assert table.notes == []


def test_utf8_bom_is_stripped(tmp_path: Path) -> None:
    (tmp_path / "bom.csv").write_bytes("\ufeffName,Town\nZoë,Léon\n".encode())
    table = only_table(tmp_path)
    assert table.headers == ["Name", "Town"]
    assert values(table) == [["Zoë", "Léon"]]


def test_utf16_with_bom_as_excel_unicode_text(tmp_path: Path) -> None:
    (tmp_path / "export.txt").write_bytes("Name\tTown\r\nZoë\tLéon\r\n".encode("utf-16"))
    assert values(only_table(tmp_path)) == [["Zoë", "Léon"]]


def test_undecodable_bytes_never_drop_a_row(tmp_path: Path) -> None:
    # valid UTF-8 in the sample, then a byte far beyond it that no encoding read here has
    body = "Name,Town\n" + "Ann,Leeds\n" * 150_000 + "Bob,Caf\xe9\n"
    data = body.encode("utf-8").replace(b"Caf\xc3\xa9", b"Caf\x81")
    (tmp_path / "mixed.csv").write_bytes(data)
    table, problem = fetch(connect(tmp_path))
    rows = values(table)
    assert len(rows) == 150_001
    assert rows[-1] == ["Bob", "Caf\ufffd"]
    assert (problem.location, problem.fatal) == ("mixed.csv", False)
    assert "1 line(s)" in problem.message and "CSV UTF-8" in problem.message


def test_a_cp1252_line_far_into_an_ascii_file_is_read_as_cp1252(tmp_path: Path) -> None:
    body = "Name,Town\n" + "Ann,Leeds\n" * 150_000 + "Bob,Café\n"
    (tmp_path / "late.csv").write_bytes(body.encode("cp1252"))
    assert values(only_table(tmp_path))[-1] == ["Bob", "Café"]  # an Excel CSV: no warning


def test_a_utf8_file_with_one_cp1252_row_keeps_both_and_names_the_row(tmp_path: Path) -> None:
    lines = [
        b"Name,Town",
        "Siân,Llanelli".encode(),
        '"Zoë, the elder",Léon'.encode(),
        "René,Brest".encode("cp1252"),  # pasted in from a Windows-1252 file
        "Chloë,Café Nero\r".encode(),
    ]
    (tmp_path / "signups.csv").write_bytes(b"\r\n".join(lines) + b"\r\n")
    table, problem = fetch(connect(tmp_path))
    assert values(table) == [
        ["Siân", "Llanelli"],
        ["Zoë, the elder", "Léon"],
        ["René", "Brest"],
        ["Chloë", "Café Nero"],
    ]
    assert (problem.location, problem.fatal) == ("signups.csv", False)
    assert "row 4)" in problem.message and "Windows-1252" in problem.message


def test_the_mixed_encoding_warning_names_rows_that_span_lines(tmp_path: Path) -> None:
    data = (
        "Name,Note\nSiân,ok\n".encode()
        + '"René","line one\nline two"\n'.encode("cp1252")
        + "Zoë,fine\n".encode()
        + b'Bob,"a\n'
        + 'café"\nAnn,x\n'.encode("cp1252")
    )
    (tmp_path / "m.csv").write_bytes(data)
    table, problem = fetch(connect(tmp_path))
    assert [r.values for r in table.rows][1::2] == [
        ["René", "line one\nline two"],
        ["Bob", "a\ncafé"],
    ]
    assert "(rows 3 and 5)" in problem.message  # "Ann,x" is ASCII: the same in both


def test_a_mixed_encoding_csv_is_a_warning_in_the_store(project: Path) -> None:
    data = "First name,Surname\nSiân,Jones\n".encode() + "René,Morel\n".encode("cp1252")
    (project / "lunch.csv").write_bytes(data)
    [result] = run(project, {"name": "lunch", "type": "file", "options": {"path": "lunch.csv"}})
    assert result.status == "ok" and result.counts.problems == 1
    db = project / "harvest.db"
    assert query(db, "SELECT given_name FROM records ORDER BY 1") == [("René",), ("Siân",)]
    [(severity, problem)] = query(db, "SELECT severity, problem FROM issues")
    assert severity == "warning" and "(row 3)" in problem


def test_notes_found_while_reading_rows_reach_the_store(project: Path) -> None:
    lines = ["Name,Town"] + ["Cat,Hull"] * 300 + ["Dan,Leeds,tea"]
    (project / "a.csv").write_text("\n".join(lines) + "\n")
    run(project, {"name": "lunch", "type": "file", "options": {"path": "a.csv"}})
    notes = query(project / "harvest.db", "SELECT problem FROM issues WHERE severity = 'info'")
    assert any("row 302" in note for (note,) in notes)


@pytest.mark.parametrize(
    "data",
    [b"Name,Town,Note\r\n,,\xa3\r\n", b"x\r\n\xa3\r\n", b"Price\r\n\xa35\r\n\xa310\r\n"],
)
def test_a_short_cp1252_file_with_a_pound_sign_is_not_japanese_or_utf16(data: bytes) -> None:
    # found by tests/test_fuzz_readers.py: charset-normalizer guessed cp932 and UTF-16-BE
    assert detect_encoding(data) == "cp1252"


@pytest.mark.parametrize(
    ("text", "encoding"),
    [("Имя,Город\r\nИван,Москва\r\n", "cp1251"), ("名前,町\r\n山田太郎,東京\r\n", "gb18030")],
)
def test_files_in_other_scripts_are_still_recognised(text: str, encoding: str) -> None:
    assert text.encode(encoding).decode(detect_encoding(text.encode(encoding))) == text


def test_forced_encoding(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_bytes("Name,Town\nRené,Brest\n".encode("latin-1"))
    table = only_table(tmp_path, encoding="latin-1")
    assert values(table) == [["René", "Brest"]]


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_delimiters_are_detected(tmp_path: Path, delimiter: str) -> None:
    lines = [
        ["Name", "Note", "Phone"],
        ["Ann", "tea, no sugar", "07700 900123"],
        ["Bob", "", "0161"],
    ]
    text = "\n".join(delimiter.join(line) for line in lines) + "\n"
    (tmp_path / "a.txt").write_text(text)
    table = only_table(tmp_path)
    assert table.headers == ["Name", "Note", "Phone"]
    assert values(table)[0] == ["Ann", "tea, no sugar", "07700 900123"]


def test_detect_delimiter_ignores_commas_inside_quotes() -> None:
    assert detect_delimiter('a;b;c\n"x, y";2;3\n"p, q";4;5\n') == ";"
    assert detect_delimiter('a,b,c\n"x; y",2,3\n') == ","


def test_forced_delimiter(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("Name;Age\nAnn;42\n")
    assert only_table(tmp_path, delimiter=",").headers == ["Name;Age"]


def test_quoted_newlines_and_row_numbers_count_records(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text('Name,Address\nAnn,"1 High St\nLeeds"\n\nBob,"2 Low Rd"\n')
    table = only_table(tmp_path)
    assert [(r.number, r.values) for r in table.rows] == [
        (2, ["Ann", "1 High St\nLeeds"]),
        (4, ["Bob", "2 Low Rd"]),
    ]


def test_old_mac_line_endings(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_bytes(b"Name,Town\rAnn,Leeds\rBob,York\r")
    assert values(only_table(tmp_path)) == [["Ann", "Leeds"], ["Bob", "York"]]


# ---- layout: titles, header, HXL, headers ------------------------------------------------


def test_title_rows_and_blank_rows_above_the_header(tmp_path: Path) -> None:
    text = (
        "St Mary's Lunch Club – sign-in sheet,,,\n"
        "Tuesday 3 March 2026,,,\n"
        ",,,\n"
        "\n"
        "Name,Phone,Postcode,Dietary needs\n"
        "Ann,07700 900123,LS1 1AA,\n"
        ",,,\n"
        "Bob,,,vegetarian\n"
    )
    (tmp_path / "lunch.csv").write_text(text)
    table = only_table(tmp_path)
    assert table.header_row == 5
    assert table.headers == ["Name", "Phone", "Postcode", "Dietary needs"]
    assert table.context == {
        "title": "St Mary's Lunch Club – sign-in sheet",
        "activity_date": "3 March 2026",
    }
    assert [(r.number, r.values) for r in table.rows] == [
        (6, ["Ann", "07700 900123", "LS1 1AA", ""]),
        (8, ["Bob", "", "", "vegetarian"]),
    ]


@pytest.mark.parametrize(
    "title",
    ["Venue:,St Mary's Hall\nDate:,Tuesday 3 March 2026\n", "Tuesday,3 March 2026\n"],
)
def test_two_cell_title_rows_above_a_three_column_table(tmp_path: Path, title: str) -> None:
    (tmp_path / "a.csv").write_text(title + "Name,Phone,Signed\nAnn,0161,yes\n")
    table = only_table(tmp_path)
    assert table.headers == ["Name", "Phone", "Signed"]
    assert table.context["activity_date"] == "3 March 2026"


def test_a_two_cell_title_row_is_not_the_header(tmp_path: Path) -> None:
    text = (
        "Venue:,St Mary's Hall,,,\nDate:,03/03/2026,,,\n"
        "Name,Phone,Email,Town,Age\nAnn,0161,a@b.org,Leeds,42\n"
    )
    (tmp_path / "a.csv").write_text(text)
    table = only_table(tmp_path)
    assert table.header_row == 3
    assert table.context["activity_date"] == "03/03/2026"
    assert table.context["title"] == "Venue: St Mary's Hall"


def test_date_in_the_file_name(tmp_path: Path) -> None:
    (tmp_path / "lunch_2026-03-03.csv").write_text(SIGNUPS)
    (tmp_path / "lunch 10-03-2026.csv").write_text(SIGNUPS)
    dates = [t.context.get("activity_date") for t in tables(fetch(connect(tmp_path)))]
    assert dates == ["10-03-2026", "2026-03-03"]


def test_header_row_option(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("Report,Q1\nName,Phone\nAnn,0161\n")
    table = only_table(tmp_path, header_row=2)
    assert table.headers == ["Name", "Phone"] and values(table) == [["Ann", "0161"]]
    items = fetch(connect(tmp_path, header_row=9))
    assert problems(items)[0].fatal and "no row 9" in problems(items)[0].message


def test_hxl_row_under_the_header(tmp_path: Path) -> None:
    text = "Given name,Family name,Notes\n#person+name+given,#person+name+family,\nAnn,Smith,hi\n"
    (tmp_path / "a.csv").write_text(text)
    table = only_table(tmp_path)
    assert table.hxl == ["#person+name+given", "#person+name+family", ""]
    assert [(r.number, r.values) for r in table.rows] == [(3, ["Ann", "Smith", "hi"])]


def test_hashtags_as_the_only_header(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("#person+name,#contact+phone\nAnn,0161 496 0000\n")
    table = only_table(tmp_path)
    assert table.headers == ["#person+name", "#contact+phone"]
    assert table.hxl == table.headers
    assert values(table) == [["Ann", "0161 496 0000"]]


def test_blank_and_duplicate_headers_are_named_with_notes(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text('Name," Phone\n number ",,name,Name\nAnn,0161,x,y,z\n')
    table = only_table(tmp_path)
    assert table.headers == ["Name", "Phone number", "Column 3", "name (2)", "Name (3)"]
    assert any("'Column 3'" in note for note in table.notes)
    assert any("'name (2)'" in note and "'Name (3)'" in note for note in table.notes)


def test_tidy_headers_avoids_clashing_with_real_names() -> None:
    headers, _ = tidy_headers(["Name", "Name (2)", "Name", ""])
    assert headers == ["Name", "Name (2)", "Name (3)", "Column 4"]


def test_short_rows_padded_and_long_rows_keep_extra_cells(tmp_path: Path) -> None:
    lines = (
        ["Name,Town,Note", "Ann", "Bob,York,,,"]
        + ["Cat,Hull,ok"] * 300
        + ["Dan,Leeds,tea,two sugars"]
    )
    (tmp_path / "a.csv").write_text("\n".join(lines) + "\n")
    table = only_table(tmp_path)
    rows = values(table)
    assert rows[0] == ["Ann", "", ""] and rows[1] == ["Bob", "York", ""]
    assert rows[-1] == ["Dan", "Leeds", "tea,two sugars"]
    assert all(len(row) == 3 for row in rows)
    assert any("row 304" in note for note in table.notes)


def test_data_beyond_the_headings_in_the_first_rows_gets_a_column(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("Name,Town\nAnn,Leeds,vegan\n")
    table = only_table(tmp_path)
    assert table.headers == ["Name", "Town", "Column 3"]
    assert values(table) == [["Ann", "Leeds", "vegan"]]


def test_300_columns(tmp_path: Path) -> None:
    headers = [f"Q{i}" for i in range(1, 301)]
    (tmp_path / "wide.csv").write_text(",".join(headers) + "\n" + ",".join(["x"] * 300) + "\n")
    write_xlsx(tmp_path / "wide.xlsx", {"S": grid([headers, ["y"] * 300])})
    found = tables(fetch(connect(tmp_path)))
    assert [len(t.headers) for t in found] == [300, 300]
    assert [values(t) for t in found] == [[["x"] * 300], [["y"] * 300]]


def test_a_cell_of_100k_characters_is_kept_whole(tmp_path: Path) -> None:
    big = "é" * 100_000 + "end"
    (tmp_path / "a.csv").write_text(f'Name,Story\nAnn,"{big}"\n', encoding="utf-8")
    write_xlsx(tmp_path / "b.xlsx", {"S": grid([["Name", "Story"], ["Ann", big[:32_000]]])})
    found = tables(fetch(connect(tmp_path)))
    assert values(found[0]) == [["Ann", big]]
    assert values(found[1]) == [["Ann", big[:32_000]]]  # Excel's own limit per cell is 32,767


def test_header_only_file_gives_a_table_with_a_note(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("Name,Phone\n\n")
    table = only_table(tmp_path)
    assert table.headers == ["Name", "Phone"] and values(table) == []
    assert any("no rows of data" in note for note in table.notes)


# ---- workbooks -------------------------------------------------------------------------


def test_xlsx_sheets_titles_and_typed_cells(tmp_path: Path) -> None:
    rows = [
        ["Name", "Phone", "Phone as number", "Born", "Arrived", "Age", "Score", "Member"],
        ["Ann", "07700900123", 7700900123, dt.date(1961, 3, 2), dt.datetime(2026, 3, 3, 14, 5),
         42, 0.1 + 0.2, True],
    ]  # fmt: skip
    cells = {"B2": "St Mary's Lunch Club", "B3": "Tuesday 3 March 2026", **grid(rows, 5)}
    write_xlsx(tmp_path / "signups.xlsx", {"Tuesday": cells, "Blank": {}})
    items = fetch(connect(tmp_path))
    table = tables(items)[0]
    assert table.location == "signups.xlsx, sheet 'Tuesday'"
    assert table.key == "signups.xlsx#Tuesday"
    assert table.header_row == 5
    assert table.context == {"title": "St Mary's Lunch Club", "activity_date": "3 March 2026"}
    assert table.rows[0].number == 6
    assert values(table) == [
        ["Ann", "07700900123", "7700900123", "1961-03-02", "2026-03-03T14:05:00", "42", "0.3",
         "TRUE"],
    ]  # fmt: skip
    empty = problems(items)
    assert len(empty) == 1 and not empty[0].fatal
    assert empty[0].location == "signups.xlsx, sheet 'Blank'" and "empty" in empty[0].message


def test_xlsx_date_in_a_title_cell_and_merged_title(tmp_path: Path) -> None:
    path = tmp_path / "register.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Register"
    sheet["A1"] = "Lunch club register"
    sheet.merge_cells("A1:C1")
    sheet["A2"] = dt.date(2026, 3, 3)
    for ref, value in {"A4": "Name", "B4": "Town", "C4": "Phone", "A5": "Ann"}.items():
        sheet[ref] = value
    book.save(path)
    table = only_table(tmp_path)
    assert table.context == {"title": "Lunch club register", "activity_date": "2026-03-03"}
    assert (table.header_row, values(table)) == (4, [["Ann", "", ""]])


def test_xlsx_formulas_give_their_saved_result(tmp_path: Path) -> None:
    # openpyxl saves formulas without a result, so calamine reads "" for them (as would
    # anything but Excel itself); add the result Excel would have saved to a second copy.
    path = write_xlsx(
        tmp_path / "f.xlsx", {"S": grid([["A", "Double", "Bad"], [2, "=A2*2", "=1/0"]])}
    )
    assert values(only_table(tmp_path)) == [["2", "", ""]]
    with zipfile.ZipFile(path) as book:
        parts = {name: book.read(name) for name in book.namelist()}
    xml = parts["xl/worksheets/sheet1.xml"].decode()
    xml = xml.replace("<f>A2*2</f><v />", "<f>A2*2</f><v>4</v>")
    xml = xml.replace('<c r="C2"><f>1/0</f><v />', '<c r="C2" t="e"><f>1/0</f><v>#DIV/0!</v>')
    assert "<v>4</v>" in xml and "<v>#DIV/0!</v>" in xml
    parts["xl/worksheets/sheet1.xml"] = xml.encode()
    with zipfile.ZipFile(path, "w") as book:
        for name, data in parts.items():
            book.writestr(name, data)
    # calamine (python-calamine 0.9) reads a saved error value such as #DIV/0! as blank
    assert values(only_table(tmp_path)) == [["2", "4", ""]]


def test_xlsx_data_right_of_the_headings_far_down_gets_a_column(tmp_path: Path) -> None:
    rows = [["Name", "Town"]] + [["Ann", "Leeds"]] * 300 + [["Bob", "York", "see me"]]
    write_xlsx(tmp_path / "a.xlsx", {"S": grid(rows)})
    table = only_table(tmp_path)
    assert table.headers == ["Name", "Town", "Column 3"]
    assert values(table)[-1] == ["Bob", "York", "see me"]
    assert table.rows[-1].number == 302


def test_sheets_option_and_missing_sheet(tmp_path: Path) -> None:
    write_xlsx(tmp_path / "a.xlsx", {"Mon": grid([["N"], ["1"]]), "Tue": grid([["N"], ["2"]])})
    items = fetch(connect(tmp_path, sheets=["tue", "Wed"]))
    assert [t.key for t in tables(items)] == ["a.xlsx#Tue"]
    (missing,) = problems(items)
    assert missing.fatal and "'Wed'" in missing.message and "'Mon'" in missing.message


def test_hidden_sheet_is_skipped_with_a_note(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "a.xlsx", {"Data": grid([["N"], ["1"]]), "Lists": {"A1": "x"}})
    book = openpyxl.load_workbook(path)
    book["Lists"].sheet_state = "hidden"
    book.save(path)
    items = fetch(connect(tmp_path))
    assert [t.key for t in tables(items)] == ["a.xlsx#Data"]
    assert [(p.fatal, "hidden" in p.message) for p in problems(items)] == [(False, True)]


def test_ods_written_by_hand(tmp_path: Path) -> None:
    rows = [["Lunch club"], [], ["Name", "Phone", "Visits", "Date"],
            ["Ann", "07700 900123", 3, dt.date(2026, 3, 3)]]  # fmt: skip
    write_ods(tmp_path / "club.ods", rows, sheet="Week 1")
    table = only_table(tmp_path)
    assert table.location == "club.ods, sheet 'Week 1'"
    assert table.header_row == 3 and table.context["title"] == "Lunch club"
    assert values(table) == [["Ann", "07700 900123", "3", "2026-03-03"]]
    assert table.rows[0].number == 4


def test_cell_text_conversions() -> None:
    assert cell_text(42.0) == "42"
    assert cell_text(0.1 + 0.2) == "0.3"
    assert cell_text(1234.5678) == "1234.5678"
    assert cell_text(1e-12) == "1e-12"
    assert cell_text(True) == "TRUE" and cell_text(False) == "FALSE"
    assert cell_text(dt.datetime(2026, 3, 3)) == "2026-03-03"
    assert cell_text(dt.datetime(2026, 3, 3, 14, 5)) == "2026-03-03T14:05:00"
    assert cell_text(dt.time(9, 30)) == "09:30:00"
    assert cell_text(dt.timedelta(hours=26, minutes=5)) == "26:05:00"
    assert cell_text("#N/A") == "#N/A"


def test_find_date_forms() -> None:
    assert find_date("Tuesday 3rd March 2026") == "3rd March 2026"
    assert find_date("week of March 3, 2026") == "March 3, 2026"
    assert find_date("signups_2026-03-03") == "2026-03-03"
    assert find_date("sheet 03.03.26 am") == "03.03.26"
    assert find_date("Room 12, 2026 plans") is None


# ---- bad input ---------------------------------------------------------------------------


def test_zero_byte_files_are_fatal_problems(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_bytes(b"")
    (tmp_path / "b.xlsx").write_bytes(b"")
    conn = connect(tmp_path)
    items = fetch(conn)
    assert [(p.location, p.fatal) for p in items] == [("a.csv", True), ("b.xlsx", True)]
    assert all("0 bytes" in p.message and "save it again" in p.message for p in items)
    assert conn.state == {"files": {}}


def test_corrupt_xlsx_is_a_fatal_problem_and_the_rest_carries_on(tmp_path: Path) -> None:
    (tmp_path / "a.xlsx").write_bytes(b"PK\x03\x04 this is not really a zip \x00\x01")
    (tmp_path / "b.xlsx").write_text("Name,Phone\nAnn,0161\n")
    (tmp_path / "c.csv").write_text(SIGNUPS)
    conn = connect(tmp_path)
    items = fetch(conn)
    first, second, table = items
    assert (first.location, first.fatal) == ("a.xlsx", True)
    assert "Open it in Excel and save it again" in first.message
    assert "text file" in second.message
    assert isinstance(table, Table) and len(table.rows) == 2
    assert list(conn.state["files"]) == ["c.csv"]


def test_workbook_renamed_to_csv(tmp_path: Path) -> None:
    write_xlsx(tmp_path / "a.xlsx", {"S": {"A1": "x"}})
    os.rename(tmp_path / "a.xlsx", tmp_path / "a.csv")
    (problem,) = fetch(connect(tmp_path))
    assert problem.fatal and "workbook" in problem.message


def test_binary_garbage_named_csv(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_bytes(bytes(range(256)) * 4)
    (problem,) = fetch(connect(tmp_path))
    assert problem.fatal and "not text" in problem.message


@pytest.mark.parametrize("name", ["x.csv", "x.xlsx"])
def test_a_folder_named_like_a_file_is_unreadable(tmp_path: Path, name: str) -> None:
    (tmp_path / name).mkdir()
    (problem,) = fetch(connect(tmp_path))
    assert (problem.location, problem.fatal) == (name, True)
    assert "folder" in problem.message


def _fetch_as_unprivileged_user(folder: Path) -> list:
    """Fetch in a forked child that has given up root, so chmod 000 really blocks reading."""
    import pickle

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_end)
        try:
            if os.geteuid() == 0:
                os.setgid(65534)
                os.setuid(65534)  # nobody
            items = fetch(connect(folder))
            payload = pickle.dumps([(p.location, p.fatal, p.message) for p in items])
        except BaseException as exc:  # report anything to the parent
            payload = pickle.dumps(repr(exc))
        os.write(write_end, payload)
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as fh:
        data = fh.read()
    os.waitpid(pid, 0)
    return pickle.loads(data)


@pytest.mark.parametrize("name", ["locked.csv", "locked.xlsx"])
def test_permission_denied(name: str) -> None:
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="harvest-perm-"))
    try:
        folder.chmod(0o755)
        path = folder / name
        path.write_text(SIGNUPS)
        path.chmod(0)
        result = _fetch_as_unprivileged_user(folder)
    finally:
        shutil.rmtree(folder)
    assert isinstance(result, list), result
    [(location, fatal, message)] = result
    assert location == name and fatal and "permission denied" in message


def test_blank_csv_is_a_non_fatal_empty_problem(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(",,,\n\n , \n")
    (problem,) = fetch(connect(tmp_path))
    assert not problem.fatal and "empty" in problem.message


def test_other_files_are_reported_lock_and_hidden_files_ignored(tmp_path: Path) -> None:
    (tmp_path / "notes.docx").write_bytes(b"x")
    (tmp_path / "~$signups.xlsx").write_bytes(b"lock")
    (tmp_path / ".hidden.csv").write_text(SIGNUPS)
    (tmp_path / "old").mkdir()
    items = fetch(connect(tmp_path, path="*"))
    items += fetch(connect(tmp_path, path=".*"))
    assert [(p.location, p.fatal) for p in items] == [("notes.docx", False)]
    assert "Not a spreadsheet" in items[0].message


def test_a_csv_error_mid_file_is_reported_and_the_file_retried(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(SIGNUPS)
    conn = connect(tmp_path)
    fetch(conn)  # read once so a.csv is in the state
    state = conn.state
    (tmp_path / "a.csv").write_text(SIGNUPS + '"Carol,Brown\n' + "x" * 64 + "\n")
    import csv as csv_module

    limit = csv_module.field_size_limit(20)  # make the unclosed quote fail fast
    try:
        items = fetch(conn, state)
    finally:
        csv_module.field_size_limit(limit)
    table, problem = items
    assert len(table.rows) == 2
    assert problem.fatal and problem.location == "a.csv" and "Stopped reading" in problem.message
    assert conn.state == {"files": {}}


# ---- state and globs -----------------------------------------------------------------------


def test_glob_over_weekly_files_in_name_order(tmp_path: Path) -> None:
    (tmp_path / "signups").mkdir()
    for week in (2, 1, 3):
        (tmp_path / "signups" / f"week{week}.csv").write_text(SIGNUPS)
    (tmp_path / "other.csv").write_text(SIGNUPS)
    found = tables(fetch(connect(tmp_path, "signups/*.csv")))
    assert [t.location for t in found] == [f"signups/week{w}.csv" for w in (1, 2, 3)]
    deep = tables(fetch(connect(tmp_path, "**/*.csv")))
    assert [t.key for t in deep][0] == "other.csv" and len(deep) == 4


def test_unchanged_files_are_skipped_changed_and_full_reread(tmp_path: Path) -> None:
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text(SIGNUPS)
    b.write_text(SIGNUPS)
    conn = connect(tmp_path)
    assert len(tables(fetch(conn))) == 2
    first = conn.state
    assert set(first["files"]) == {"a.csv", "b.csv"}
    assert first["files"]["a.csv"]["size"] == len(SIGNUPS)

    assert fetch(conn, first) == []
    assert conn.state == first

    b.write_text(SIGNUPS + "Carol,Brown,,\n")
    assert [t.key for t in tables(fetch(conn, first))] == ["b.csv"]
    second = conn.state
    assert second["files"]["b.csv"] != first["files"]["b.csv"]

    assert [t.key for t in tables(fetch(conn, second, full=True))] == ["a.csv", "b.csv"]

    a.unlink()
    fetch(conn, second)
    assert set(conn.state["files"]) == {"b.csv"}


def test_a_file_whose_rows_were_not_read_is_not_recorded(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(SIGNUPS)
    conn = connect(tmp_path)
    assert [type(item) for item in conn.fetch({})] == [Table]  # rows never read
    assert conn.state == {"files": {}}


def test_failed_file_is_retried_next_time(tmp_path: Path) -> None:
    (tmp_path / "a.xlsx").write_bytes(b"garbage")
    conn = connect(tmp_path)
    fetch(conn)
    assert conn.state == {"files": {}}
    assert problems(fetch(conn, conn.state))[0].fatal


# ---- streaming -------------------------------------------------------------------------


def test_rows_are_a_lazy_generator(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(SIGNUPS)
    table = next(connect(tmp_path).fetch({}))
    assert isinstance(table.rows, types.GeneratorType)


def test_a_big_csv_is_streamed_in_flat_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with path.open("w") as out:
        out.write("First name,Surname,Email,Phone,Postcode,Notes\n")
        line = "Ann,Smith,ann@example.org,07700 900123,LS1 1AA,likes tea and biscuits\n"
        for _ in range(20):
            out.write(line * 10_000)
    size = path.stat().st_size
    tracemalloc.start()
    try:
        count = 0
        for item in connect(tmp_path).fetch({}):
            for _row in item.rows:
                count += 1
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == 200_000
    assert peak < size / 3, (peak, size)


def test_a_50_mb_csv_streams_in_flat_memory(tmp_path: Path) -> None:
    import tracemalloc

    line = "Bob,Smith,07700 900123,NW1 2AB,02/03/1961," + "note " * 12 + "\n"
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8") as fh:
        fh.write("First,Last,Phone,Postcode,DOB,Notes\n")
        n = 50_000_000 // len(line) + 1
        for _ in range(n // 1000):
            fh.write(line * 1000)
    assert path.stat().st_size >= 49_000_000
    tracemalloc.start()
    count = 0
    for item in connect(tmp_path).fetch({}):
        for row in item.rows:
            count += 1
            assert row.values[2] == "07700 900123"
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert count == (n // 1000) * 1000
    assert peak < 10_000_000, f"peak {peak:,} bytes while reading a 50 MB file"


# ---- a folder as path (issue 15, finding 4) ------------------------------------------------


@pytest.mark.parametrize("path", ["signups", "signups/", "sign*"])
def test_a_folder_as_path_is_a_fatal_problem_saying_what_to_write(
    tmp_path: Path, path: str
) -> None:
    (tmp_path / "signups").mkdir()
    (tmp_path / "signups" / "a.csv").write_text(SIGNUPS)
    conn = connect(tmp_path, path)
    state = {"files": {"signups/a.csv": {"mtime_ns": 1, "size": 1}}}
    (problem,) = fetch(conn, state)
    assert problem.fatal and problem.location == path
    assert "folder" in problem.message and "path: signups/*" in problem.message
    assert conn.state == state  # what was read before is not forgotten


def test_only_folders_matching_a_pattern_is_a_fatal_problem(tmp_path: Path) -> None:
    for name in ("2026-03", "2026-04"):
        (tmp_path / name).mkdir()
    (problem,) = fetch(connect(tmp_path, "2026-*"))
    assert problem.fatal and "only folders ('2026-03', '2026-04')" in problem.message


def test_a_folder_as_path_fails_the_sync_and_shows_in_check(project: Path) -> None:
    (project / "signups").mkdir()
    (project / "signups" / "a.csv").write_text(SIGNUPS)
    [result] = run(project, {"name": "lunch", "type": "file", "options": {"path": "signups"}})
    assert result.status == "problems" and result.counts.read == 0
    assert "is a folder" in " ".join(result.messages)
    (severity,) = [r[0] for r in query(project / "harvest.db", "SELECT severity FROM issues")]
    assert severity == "error"


# ---- problems do not pile up (issue 15, finding 5) ------------------------------------------


def _table_issues(project: Path) -> list[tuple]:
    return query(
        project / "harvest.db",
        "SELECT location, severity, problem FROM issues WHERE record_id IS NULL"
        " AND problem NOT LIKE 'kept as extras%' ORDER BY id",
    )


def _touch(path: Path, seconds: int) -> None:
    """Make the file look edited (a new modification time), so the next sync reads it again."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + seconds * 10**9))


def test_a_missing_sheet_is_one_problem_however_often_it_is_synced(project: Path) -> None:
    write_xlsx(project / "lunch.xlsx", {"Mondays": grid([["Name"], ["Ann"]])})
    lunch = {"name": "lunch", "type": "file", "options": {"path": "lunch.xlsx"}}
    lunch["options"]["sheets"] = ["Tuesdays"]
    for _ in range(4):
        [result] = run(project, lunch)
        assert result.status == "problems"  # still reported, and still exits 1, every time
    missing = "There is no sheet 'Tuesdays' (it has 'Mondays'). Check 'sheets'."
    assert _table_issues(project) == [("lunch.xlsx", "error", missing)]
    db = store.connect(project / "harvest.db")
    assert [n["problem"] for n in check_source(db, "lunch").table_notes] == [missing]
    db.conn.close()
    # the workbook gains a sheet: the problem now says so, and replaces the old one
    write_xlsx(project / "lunch.xlsx", {"Mondays": grid([["Name"]]), "Weds": grid([["Name"]])})
    run(project, lunch)
    assert [p for _, _, p in _table_issues(project)] == [
        "There is no sheet 'Tuesdays' (it has 'Mondays', 'Weds'). Check 'sheets'."
    ]
    # 'sheets' is put right: the next sync does not find the error, so it is gone
    lunch["options"]["sheets"] = ["Weds"]
    [result] = run(project, lunch)
    assert result.status == "ok"
    assert [s for _, s, _ in _table_issues(project)] == ["info"]  # Weds: headings, no rows


def test_an_error_that_is_mended_leaves_check(project: Path) -> None:
    lunch = {"name": "lunch", "type": "file", "options": {"path": "signups"}}
    (project / "signups").mkdir()
    (project / "signups" / "a.csv").write_text(SIGNUPS)
    run(project, lunch)
    assert [(loc, s) for loc, s, _ in _table_issues(project)] == [("signups", "error")]
    lunch["options"]["path"] = "signups/*"
    [result] = run(project, lunch)
    assert result.status == "ok" and _table_issues(project) == []


def test_a_hidden_sheet_is_a_note_not_a_problem_and_is_noted_once(project: Path) -> None:
    path = write_xlsx(project / "a.xlsx", {"Data": grid([["Name"], ["Ann"]]), "Notes": {"A1": "x"}})
    book = openpyxl.load_workbook(path)
    book["Notes"].sheet_state = "hidden"
    book.save(path)
    lunch = {"name": "lunch", "type": "file", "options": {"path": "a.xlsx"}}
    for n in range(3):
        _touch(path, n)  # the sheet is edited every week, so it is read at every sync
        [result] = run(project, lunch)
        assert (result.status, result.counts.problems, result.messages) == ("ok", 0, [])
    assert _table_issues(project) == [
        (
            "a.xlsx, sheet 'Notes'",
            "info",
            "Sheet 'Notes' is hidden, skipped (name it under 'sheets' to read it)",
        )
    ]
