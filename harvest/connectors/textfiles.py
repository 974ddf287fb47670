"""Reading delimited text files (CSV, TSV): detect the encoding and the delimiter,
then stream records to :func:`~harvest.connectors.tabular.build_table`."""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Generator, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from harvest.connectors.base import Problem
from harvest.connectors.reading import (
    RESAVE,
    FileOptions,
    Item,
    RowsRead,
    name_date,
    unreadable,
)
from harvest.connectors.tabular import (
    NoTable,
    Record,
    build_table,
    detect_delimiter,
    detect_encoding,
)

SAMPLE_BYTES = 1 << 20  # bytes read to detect the encoding and the delimiter


# A cell may hold far more than csv's default 131,072 characters; an unclosed quote
# could still read the rest of a file into one cell, so keep a (generous) limit.
csv.field_size_limit(max(csv.field_size_limit(), 1 << 27))


def read_text(path: Path, rel: str, options: FileOptions) -> Iterator[Item]:
    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed by _records or below
        sample = raw.read(SAMPLE_BYTES)
    except OSError as error:
        yield Problem(rel, unreadable(error)), None
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
    rows = RowsRead()
    by_line = options.encoding is None and _utf8_lines(codecs.lookup(encoding).name, sample)
    records = _records(raw, encoding, delimiter, rows, by_line)
    try:
        table = build_table(
            rel, rel, records, header_row=options.header_row,
            name_date=name_date(rel), joiner=delimiter,
        )  # fmt: skip
    except NoTable as empty:
        records.close()
        yield Problem(rel, f"{empty}", fatal=empty.fatal), None
        return
    rows.watch(table)
    yield table, rows


def _utf8_lines(encoding: str, sample: bytes) -> bool:
    """Whether to read the file line by line, each line as UTF-8 or else as Windows-1252:
    when it is UTF-8 (a line far down may not be), or Windows-1252 with some lines of
    UTF-8 letters. A Windows-1252 file with none is read whole, exactly as ever."""
    if encoding in ("utf-8", "utf-8-sig"):
        return True
    if encoding != "cp1252":
        return False
    for line in sample.split(b"\n")[:-1]:  # the last may be cut short
        if not line.isascii():
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                continue
            return True
    return False


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
    raw: BinaryIO, encoding: str, delimiter: str, rows: RowsRead, by_line: bool
) -> Generator[Record, None, None]:
    """Number the file's records 1, 2, 3… as a spreadsheet would show them.

    ``by_line`` decodes each line as UTF-8 if it can be and as Windows-1252 if not
    (a UTF-8 file with a line pasted in from Excel); see :class:`_Lines`.
    """
    lines: _Lines | io.TextIOWrapper
    if by_line:
        lines = _Lines(raw)
    else:
        lines = io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline="")
    lossy = [0]
    reader = csv.reader(_counting(lines, lossy), delimiter=delimiter)
    others: list[int] = []  # records with a line read as Windows-1252
    try:
        for number, cells in enumerate(reader, 1):
            if isinstance(lines, _Lines) and lines.fell_back(reader.line_num):
                others.append(number)
            yield number, cells
    except (csv.Error, OSError, UnicodeError) as error:
        rows.error = (
            f"Stopped reading at line {reader.line_num} ({error}); the rows before it were read. "
            + RESAVE
        )
    finally:
        lines.close()
        if isinstance(lines, _Lines) and lines.utf8 and others:
            rows.warnings.append(_mixed(others))
        if lossy[0]:
            what = "UTF-8 or Windows-1252" if by_line else encoding
            rows.warnings.append(
                f"{lossy[0]} line(s) have characters that are not valid {what}; they are "
                "shown as \ufffd. Open the file in Excel and save it as 'CSV UTF-8' to fix this."
            )


def _mixed(numbers: list[int]) -> str:
    return (
        f"The file is UTF-8 but for {len(numbers)} row(s) saved in another encoding "
        f"({_rows(numbers)}); they were read as Windows-1252, as Excel on Windows writes "
        "them. Check that their accented letters look right (Siân, not SiÃ¢n), then save "
        "the file as 'CSV UTF-8' in Excel so that every row is in one encoding."
    )


def _rows(numbers: list[int], limit: int = 10) -> str:
    """'row 4', 'rows 3 and 5', 'rows 1, 2, … 10 and 5 more'."""
    if len(numbers) == 1:
        return f"row {numbers[0]}"
    shown = [str(n) for n in numbers[:limit]]
    last = f"{len(numbers) - limit} more" if len(numbers) > limit else shown.pop()
    return f"rows {', '.join(shown)} and {last}"


class _Lines:
    """The text lines of a file that is UTF-8, Windows-1252, or both.

    Each line (ending in \\n, \\r\\n or \\r, as ``newline=""`` gives them to csv) is
    decoded as UTF-8 if it can be, else as Windows-1252. A file of one encoding reads
    exactly as it would whole; a file with both keeps each line's own letters.
    ``utf8`` says whether any line needed UTF-8 (had a letter beyond ASCII).
    """

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.utf8 = False
        self.count = 0  # lines given to csv so far
        self._fallback: list[int] = []  # their numbers, of lines read as Windows-1252
        self._seen = 0  # how many of _fallback a record has been checked against
        self._iter = self._decode()

    def __iter__(self) -> Iterator[str]:
        return self._iter

    def close(self) -> None:
        self.raw.close()

    def fell_back(self, line_num: int) -> bool:
        """Whether a line up to ``line_num`` not yet asked about was read as Windows-1252."""
        found = False
        while self._seen < len(self._fallback) and self._fallback[self._seen] <= line_num:
            self._seen += 1
            found = True
        return found

    def _decode(self) -> Iterator[str]:
        first = True
        for chunk in self.raw:
            if first and chunk.startswith(codecs.BOM_UTF8):
                chunk = chunk[len(codecs.BOM_UTF8) :]
            first = False
            try:
                text = chunk.decode("utf-8")
                other = False
                self.utf8 = self.utf8 or not chunk.isascii()
            except UnicodeDecodeError:
                text = chunk.decode("cp1252", "replace")
                other = True
            for line in _CR_LINES.findall(text) if _bare_cr(text) else [text]:
                self.count += 1
                if other:
                    self._fallback.append(self.count)
                yield line


def _bare_cr(text: str) -> bool:
    """True if the line holds a \\r that ends a line on its own (old Mac line endings)."""
    return "\r" in text and not (text.endswith("\r\n") and text.count("\r") == 1)


_CR_LINES = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")


def _counting(lines: Iterable[str], lossy: list[int]) -> Iterator[str]:
    """Pass lines through, counting those with undecodable bytes (replaced by U+FFFD)."""
    for line in lines:
        if "\ufffd" in line:
            lossy[0] += 1
        yield line
