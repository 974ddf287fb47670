"""The file connector (``type: file``): CSV and workbooks in a folder.

``path`` is a file or a glob relative to the folder holding harvest.yaml (a folder
itself is an error that says what to write instead). Each CSV file and each sheet of
a workbook becomes one :class:`Table`; a file that cannot be read becomes a
:class:`Problem` and the other files carry on. Files whose modification time and
size are unchanged since the last sync are not opened again.

CSV files are streamed row by row, so their size does not matter
(:mod:`~harvest.connectors.textfiles`). Workbooks are read with calamine, which loads
one sheet at a time (:mod:`~harvest.connectors.workbooks`).

A file is recorded as read in ``self.state`` only once the rows of every table it
gave have been read to the end without a fatal problem, so a consumer must read
each Table's rows before asking ``fetch`` for the next item (as syncing does).
"""

from __future__ import annotations

import glob
import os
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

from harvest.connectors.base import Connector, Problem, Table
from harvest.connectors.reading import FileOptions, unreadable
from harvest.connectors.textfiles import read_text
from harvest.connectors.workbooks import read_book
from harvest.errors import ConfigError

__all__ = ["BOOK_SUFFIXES", "TEXT_SUFFIXES", "FileConnector", "FileOptions", "read_file"]

TEXT_SUFFIXES = {".csv", ".tsv", ".txt"}
BOOK_SUFFIXES = {".xlsx", ".xlsm", ".xlsb", ".xls", ".ods"}


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
        wrong = self._no_files(matches)
        if wrong:
            self.state = {"files": seen}  # a missing folder must not forget what was read
            yield Problem(self.options.path, wrong)
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
                yield Problem(rel, unreadable(error))
                continue
            mark = {"mtime_ns": stat.st_mtime_ns, "size": stat.st_size}
            if full or seen.get(rel) != mark:
                if not (yield from self._read(path, rel)):
                    continue
            files[rel] = mark
        self.state = {"files": files}

    def _no_files(self, matches: list[Path]) -> str | None:
        """Why ``path`` gives no file to read (nothing matches, or only folders), or None."""
        path = self.options.path
        if not matches:
            return f"No files match '{path}' in the folder {self.base_dir}."
        if not all(m.is_dir() and _skip_reason(m) == "" for m in matches):
            return None
        if len(matches) == 1:
            inside, it = self._relative(matches[0]), "it"
            found = f"'{path}' is a folder, not a file"
            if glob.has_magic(path):
                found = f"'{path}' matches only the folder '{inside}', no files"
        else:
            inside, it = path.rstrip("/\\"), "them"
            names = ", ".join(f"'{self._relative(m)}'" for m in matches[:3])
            found = f"'{path}' matches only folders ({names}{', …' * (len(matches) > 3)})"
        return (
            f"{found}, so nothing was read. To read the spreadsheets in {it}, set "
            f"path: {inside}/* in harvest.yaml ({inside}/**/* includes sub-folders too)."
        )

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
        items = read_text(path, rel, options)
    else:
        items = read_book(path, rel, options, table)
    complete = True
    for item, rows in items:
        yield item
        if isinstance(item, Problem):
            complete = complete and not item.fatal
            continue
        for warning in rows.warnings if rows is not None else []:
            yield Problem(item.location, warning, fatal=False)
        if rows is not None and rows.error:
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
