"""Reading delimited text files (CSV, TSV): detect the encoding and the delimiter,
then stream records to :func:`~harvest.connectors.tabular.build_table`."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Generator, Iterator
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
    records = _records(raw, encoding, delimiter, rows)
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
    raw: BinaryIO, encoding: str, delimiter: str, rows: RowsRead
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
