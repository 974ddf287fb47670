"""What the file readers share: the options of a ``type: file`` source, how far a
table's rows were read, and the words used when a file cannot be read.

The readers themselves are :mod:`harvest.connectors.textfiles` (CSV, TSV) and
:mod:`harvest.connectors.workbooks` (xlsx, xlsm, xlsb, xls, ods); the connector that
finds the files is :mod:`harvest.connectors.files`.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Iterator
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from harvest.connectors.base import Problem, Row, Table
from harvest.connectors.tabular import find_date

RESAVE = "Open it in Excel and save it again as .xlsx or .csv."


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


class RowsRead:
    """How far a table's rows were read: to the end (``done``) or stopped by ``error``.

    ``warnings`` found while reading (lines that were not UTF-8) are reported by
    :func:`~harvest.connectors.files.read_file` once the rows have been read.
    """

    def __init__(self) -> None:
        self.done = False
        self.error: str | None = None
        self.warnings: list[str] = []

    def watch(self, table: Table) -> None:
        """Make ``table.rows`` report here once it has been read to the end."""
        table.rows = self._watched(table.rows)

    def _watched(self, rows: Iterable[Row]) -> Iterator[Row]:
        yield from rows
        self.done = True


Item = tuple[Table | Problem, RowsRead | None]


def unreadable(error: OSError) -> str:
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


def name_date(rel: str) -> str | None:
    """A date in the file's name or folder (``lunch-2026-03-03.csv``), if any."""
    path = Path(rel)
    return find_date(path.stem) or find_date(path.parent.as_posix())
