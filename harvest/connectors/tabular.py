"""Turn the rows of a sheet or a delimited text file into a :class:`Table`.

Reading a file and laying out its rows are separate: a reader produces *records*
(``(row number, cells as text)``) and :func:`build_table` finds the header row
among the first rows, reads the title rows above it, names the columns and
streams the rest. Nothing here opens a file, so any connector that reads
spreadsheet-shaped data can reuse it.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import re
from collections import Counter
from collections.abc import Callable, Iterator
from itertools import chain, islice

import charset_normalizer

from harvest.connectors.base import Row, Table

Record = tuple[int, list[str]]  # (1-based row number as a person sees it, cells as text)

HEADER_SCAN_ROWS = 20  # the header row is looked for among this many rows
SAMPLE_ROWS = 200  # rows read ahead to find the header and the table's width
DELIMITERS = ",;\t|"

# Encodings for scripts other than Latin: when charset-normalizer is sure of one
# of these we believe it; otherwise a file that is not UTF-8 is read as Windows-1252.
_OTHER_SCRIPTS = {
    "cp1251", "koi8_r", "koi8_u", "mac_cyrillic", "cp1253", "cp1255", "cp1256",
    "gb18030", "gb2312", "big5", "shift_jis", "cp932", "euc_jp", "euc_kr", "cp949",
    "utf_16", "utf_16_le", "utf_16_be", "utf_32",
}  # fmt: skip

# Two letters in a row of Greek, Cyrillic, Hebrew, Arabic, kana, CJK or Hangul
_SCRIPT_WORD = re.compile(
    "[\u0370-\u03ff\u0400-\u04ff\u0590-\u05ff\u0600-\u06ff\u3040-\u30ff\u3400-\u9fff"
    "\uac00-\ud7af]{2,}"
)

# Read as Windows-1252, another script's letters come out as runs of accented letters
# ("Èâàí" for "Иван"); a Western file's accents and £ signs mostly stand alone ("£5", "Café")
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]{2,}")

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_DATE = re.compile(
    rf"""
      (?<!\d)\d{{4}}[-_./]\d{{1,2}}[-_./]\d{{1,2}}(?!\d)                 # 2026-03-03
    | (?<!\d)\d{{1,2}}[-_./]\d{{1,2}}[-_./](?:\d{{4}}|\d{{2}})(?!\d)     # 03/03/2026, 3.3.26
    | (?<!\d)\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}\.?,?\s+\d{{4}}(?!\d)  # 3rd March 2026
    | \b{_MONTH}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}(?!\d)        # March 3, 2026
    """,
    re.IGNORECASE | re.VERBOSE,
)
_HXL_TAG = re.compile(r"#[a-z][a-z0-9_]*(?:\s*\+\s*[a-z][a-z0-9_]*)*", re.IGNORECASE)
_NUMBER = re.compile(r"[-+]?[£$€]?\s*[\d,]*\.?\d+%?")
_DATA_LIKE = re.compile(r"[^@\s]+@[^@\s]+\.[a-z]{2,}|\+?(?:[\s()-]*\d){7,}", re.IGNORECASE)


class NoTable(Exception):
    """The rows hold no table (for example an empty sheet). ``fatal`` as in Problem."""

    def __init__(self, message: str, *, fatal: bool = False) -> None:
        super().__init__(message)
        self.fatal = fatal


# ---- text files -----------------------------------------------------------------


def detect_encoding(sample: bytes) -> str:
    """Name the encoding of a text file from a sample of its first bytes.

    A byte-order mark decides; otherwise UTF-8 if the sample decodes as UTF-8, then
    charset-normalizer's guess if it is a non-Latin script, then Windows-1252 (what
    Excel on Windows writes for "CSV (Comma delimited)").

    charset-normalizer guesses from whatever it is given: a short file with a "£" in
    it looks like Japanese to it, six bytes like UTF-16. So a non-Latin guess is only
    believed when reading the sample that way gives words of that script and reading it
    as Windows-1252 gives runs of accented letters; UTF-16 or UTF-32 without a
    byte-order mark only when the sample has NUL bytes.
    """
    if sample.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    if _decodes(sample, "utf-8"):
        return "utf-8"
    best = charset_normalizer.from_bytes(sample).best()
    guess = best.encoding if best is not None else None
    if guess and guess.startswith(("utf_16", "utf_32")):  # without a byte-order mark
        return guess if b"\x00" in sample else "cp1252"
    if guess in _OTHER_SCRIPTS:
        latin = _NON_ASCII_RUN.search(sample.decode("cp1252", "replace"))
        script = _SCRIPT_WORD.search(sample.decode(guess, "replace"))
        return guess if latin and script else "cp1252"
    if guess and not _decodes(sample, "cp1252"):
        return guess
    return "cp1252"


def _decodes(sample: bytes, encoding: str) -> bool:
    """True if ``sample`` decodes, allowing a character cut off at its very end."""
    try:
        sample.decode(encoding)
    except UnicodeDecodeError as error:
        return error.reason == "unexpected end of data" and error.start >= len(sample) - 3
    return True


def detect_delimiter(text: str, default: str = ",") -> str:
    """Pick , ; tab or | by which splits the most of the first lines into the same width."""
    lines = [line for line in text.splitlines()[:40] if line.strip()][:20]
    best, best_score = default, (0, 0)
    for delimiter in DELIMITERS:
        try:
            widths = [len(cells) for cells in csv.reader(lines, delimiter=delimiter)]
        except csv.Error:
            continue
        common = Counter(w for w in widths if w > 1).most_common(1)
        if common and (common[0][1], common[0][0]) > best_score:
            best, best_score = delimiter, (common[0][1], common[0][0])
    return best


# ---- cells ----------------------------------------------------------------------


def cell_text(value: object) -> str:
    """A workbook cell as the text a person sees, never a guessed type.

    Whole numbers lose ``.0``; other numbers lose float noise (0.1+0.2 is "0.3");
    dates and times become ISO 8601 (a datetime at midnight is just the date);
    booleans become TRUE/FALSE; a duration becomes hours:minutes:seconds.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return format(value, ".15g")
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat(timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat(timespec="seconds")
    if isinstance(value, dt.timedelta):
        minutes, seconds = divmod(round(value.total_seconds()), 60)
        hours, minutes = divmod(minutes, 60)
        return f"{hours}:{minutes:02d}:{seconds:02d}"
    return "" if value is None else str(value)


def find_date(text: str) -> str | None:
    """The first date written in ``text`` ("3 March 2026", "03/03/2026", "2026-03-03")."""
    match = _DATE.search(text)
    return match.group(0) if match else None


def is_hxl_row(cells: list[str]) -> bool:
    """True if most non-blank cells are HXL hashtags such as ``#person+name``."""
    values = [c.strip() for c in cells if c.strip()]
    tags = sum(1 for v in values if _HXL_TAG.fullmatch(v))
    return bool(values) and tags * 2 > len(values)


def tidy_headers(raw: list[str]) -> tuple[list[str], list[str]]:
    """Unique, non-blank headers, and notes naming any that had to be made up.

    Whitespace and line breaks inside a heading become single spaces. A blank
    heading is named after its position (``Column 7``); a repeated one, compared
    ignoring case as SQLite does, is numbered (``Name (2)``).
    """
    headers: list[str] = []
    seen: set[str] = set()
    blank: list[str] = []
    repeated: list[str] = []
    for position, cell in enumerate(raw, 1):
        name = " ".join(cell.split())
        if not name:
            name = f"Column {position}"
            blank.append(f"'{name}'")
        base, count = name, 1
        while name.casefold() in seen:
            count += 1
            name = f"{base} ({count})"
        if count > 1:
            repeated.append(f"'{base}' (renamed '{name}')")
        seen.add(name.casefold())
        headers.append(name)
    notes = []
    if blank:
        notes.append(f"Some columns have no heading, so they were named: {_listed(blank)}.")
    if repeated:
        notes.append(f"Some headings appear more than once: {_listed(repeated)}.")
    return headers, notes


def _listed(items: list[str], limit: int = 10) -> str:
    shown = ", ".join(items[:limit])
    return shown if len(items) <= limit else f"{shown} and {len(items) - limit} more"


# ---- layout ---------------------------------------------------------------------


def _filled(cells: list[str]) -> int:
    return sum(1 for c in cells if c and not c.isspace())


def _width(cells: list[str]) -> int:
    """Position of the last non-blank cell (0 for a blank row)."""
    for i in range(len(cells) - 1, -1, -1):
        if cells[i] and not cells[i].isspace():
            return i + 1
    return 0


def _looks_like_header(cells: list[str]) -> bool:
    """Mostly short non-numeric text, and not a title row ("Venue: | St Mary's", a date)."""
    values = [c.strip() for c in cells if c.strip()]
    numbers = sum(1 for v in values if _NUMBER.fullmatch(v))
    long = sum(1 for v in values if len(v) > 100)
    pairs = zip(values, values[1:], strict=False)
    labelled = any(a.endswith(":") and not b.endswith(":") for a, b in pairs)
    dated = len(values) <= 3 and any(_DATE.search(v) for v in values)
    return numbers * 2 <= len(values) and long * 2 <= len(values) and not labelled and not dated


def find_header(head: list[Record]) -> int | None:
    """Index in ``head`` of the header row, or None if every row is blank.

    The header is the first of the first rows to fill at least half the table's
    width (so a one-cell title row is passed over) with mostly short, non-numeric
    text and no "Label: value" pairs. Failing that, the first non-blank row.
    """
    window = head[:HEADER_SCAN_ROWS]
    counts = [_filled(cells) for _, cells in window]
    widest = max(counts, default=0)
    if widest == 0:
        return None
    need = max(2, math.ceil(widest / 2)) if widest > 1 else 1
    for index, (_, cells) in enumerate(window):
        if counts[index] >= need and _looks_like_header(cells):
            return index
    return next(index for index, count in enumerate(counts) if count)


def _context(titles: list[str], name_date: str | None) -> dict[str, str]:
    context = {}
    if titles:
        context["title"] = titles[0]
    date = next((d for d in map(find_date, titles) if d), None) or name_date
    if date:
        context["activity_date"] = date
    return context


def build_table(
    location: str,
    key: str,
    records: Iterator[Record],
    *,
    header_row: int | None = None,
    name_date: str | None = None,
    joiner: str = " | ",
    wider: Callable[[int, int], int] | None = None,
) -> Table:
    """Lay out ``records`` as a Table whose rows stream from ``records``.

    ``header_row`` forces the 1-based header row. ``name_date`` is a date found in
    the file name (a date in a title row wins). ``wider(header_number, width)``, if
    given, returns the true width of the rows below the header (readers that can
    scan cheaply, such as workbooks, pass it; text files rely on the first rows).
    Raises :class:`NoTable` when there is nothing to read.
    """
    limit = SAMPLE_ROWS + (header_row or 0)
    head = list(islice(records, limit))
    at = find_header(head) if header_row is None else _row_index(head, header_row)
    if at is None:
        raise NoTable("It is empty, skipped.")
    number, raw = head[at]
    hxl = raw if is_hxl_row(raw) else None
    body = at + 1
    if hxl is None and body < len(head) and is_hxl_row(head[body][1]):
        hxl, body = head[body][1], body + 1
    pending = head[body:]
    width = max([_width(raw), _width(hxl or [])] + [_width(cells) for _, cells in pending])
    if wider is not None:
        width = wider(number, width)
    headers, notes = tidy_headers(_fit(raw, width))
    titles = [" ".join(c.strip() for c in cells if c.strip()) for _, cells in head[:at]]
    table = Table(
        location, key, headers, rows=(), header_row=number,
        hxl=[c.strip() for c in _fit(hxl, width)] if hxl else None,
        context=_context([t for t in titles if t], name_date), notes=notes,
    )  # fmt: skip
    if len(head) < limit and not any(_filled(cells) for _, cells in pending):
        table.notes.append("It has headings but no rows of data.")
    if header_row is None:
        table.notes += _doubtful_header(number, raw, None if hxl else head[at + 1 : at + 2])
    table.rows = _stream(chain(pending, records), width, table.notes, joiner)
    return table


def _doubtful_header(number: int, raw: list[str], below: list[Record] | None) -> list[str]:
    """Notes when the heading row found may be the wrong one: it holds data (a sheet with
    no heading row), or the row below fills more columns and looks like headings too."""
    data = [c.strip() for c in raw if _DATA_LIKE.fullmatch(c.strip())]
    if data:
        return [
            f"Row {number} was taken as the headings, but some of its cells look like data "
            f"({_listed([repr(c) for c in data], 3)}). If the sheet has no heading row, add "
            "one above the data (its values are kept meanwhile, as column names)."
        ]
    if below:
        n, cells = below[0]
        if (
            _filled(cells) > _filled(raw)
            and _looks_like_header(cells)
            and not any(_DATA_LIKE.fullmatch(c.strip()) for c in cells)
        ):
            return [
                f"Row {number} was taken as the headings, but row {n} below it also looks "
                f"like headings and fills more columns. If row {n} holds the headings, set "
                f"header_row: {n} in harvest.yaml."
            ]
    return []


def _row_index(head: list[Record], header_row: int) -> int:
    for index, (number, cells) in enumerate(head):
        if number == header_row:
            if not _filled(cells):
                message = f"Row {header_row} (header_row in harvest.yaml) is blank."
                raise NoTable(message, fatal=True)
            return index
    if not any(_filled(cells) for _, cells in head):
        raise NoTable("It is empty, skipped.")
    raise NoTable(f"It has no row {header_row} (header_row in harvest.yaml).", fatal=True)


def _fit(cells: list[str], width: int) -> list[str]:
    return cells[:width] + [""] * (width - len(cells))


def _stream(records: Iterator[Record], width: int, notes: list[str], joiner: str) -> Iterator[Row]:
    """Rows of exactly ``width`` cells, skipping blank rows. Kept lean: this is the hot path.

    A row longer than the header keeps its extra cells by joining them, with
    ``joiner``, onto its last cell; a note says how many rows this happened to.
    """
    spilled, first = 0, 0
    for number, cells in records:
        if len(cells) != width:
            if len(cells) < width:
                cells = cells + [""] * (width - len(cells))
            elif _width(cells) <= width:
                cells = cells[:width]
            else:
                spilled += 1
                first = first or number
                cells = cells[: width - 1] + [joiner.join(cells[width - 1 : _width(cells)])]
        if not any(cells) or "".join(cells).isspace():
            continue
        yield Row(number, cells)
    if spilled:
        notes.append(
            f"{spilled} row(s) have more cells than there are headings (first: row "
            f"{first}); the extra cells were added to the end of the last column."
        )
