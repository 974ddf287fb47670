"""The Google Sheets connector (``type: google_sheets``): worksheets read like spreadsheet files.

Through gspread (Sheets API v4, Drive API v3), one sync:

1. asks Drive for the spreadsheet's ``modifiedTime``; if it and the source's options are
   unchanged since the last sync, nothing else is read (one call);
2. reads the spreadsheet's worksheets (``spreadsheets.get`` without grid data) and picks
   those named in ``worksheets`` (any case), else every visible one;
3. reads the values of all of them in one ``values:batchGet`` (``FORMATTED_VALUE``: the
   text as Sheets shows it, so ``07700 900654`` keeps its zero), up to ``batch_size``
   worksheets a call, so a 50-sheet workbook costs three reads, well inside Sheets'
   per-minute quota;
4. lays out each worksheet with :func:`harvest.connectors.tabular.build_table`, exactly as
   the file connector does a sheet of a workbook: header detection, title rows, a HXL
   row, blank and repeated headings.

A worksheet's table is keyed by its sheet id (``#gid=…``), which survives a rename. A
worksheet named in ``worksheets`` that has been renamed since the last sync is read under
its new name, with a warning to update harvest.yaml; one that was never there is an error
listing the worksheets there are.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gspread
from pydantic import Field, field_validator

from harvest.connectors.base import Problem, Table
from harvest.connectors.google_auth import Google, GoogleConnector, GoogleOptions, google_id
from harvest.connectors.tabular import NoTable, Record, build_table, cell_text

Tab = dict[str, Any]  # a worksheet's ``properties`` in the Sheets API


class SheetsOptions(GoogleOptions):
    """Options of a ``type: google_sheets`` source in harvest.yaml."""

    spreadsheet: str  # the spreadsheet's key, or its address (…/spreadsheets/d/<key>/edit)
    worksheets: list[str] | None = None  # only these worksheets (default: every visible one)
    header_row: int | None = Field(default=None, ge=1)  # force the 1-based header row
    batch_size: int = Field(default=100, ge=1, le=500)  # worksheets per values:batchGet

    @field_validator("spreadsheet")
    @classmethod
    def _key(cls, value: str) -> str:
        return google_id(value, "spreadsheet", "spreadsheets")

    @field_validator("worksheets", mode="before")
    @classmethod
    def _listed(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


def a1_sheet(title: str) -> str:
    """A whole worksheet as an A1 range: its name in single quotes, quotes doubled."""
    return "'" + title.replace("'", "''") + "'"


def records(values: list[list[Any]]) -> Iterator[Record]:
    """Rows numbered as Sheets shows them (the API keeps leading blank rows, drops trailing)."""
    for number, row in enumerate(values, 1):
        yield number, [v if v.__class__ is str else cell_text(v) for v in row]


class GoogleSheetsConnector(GoogleConnector):
    """Reads worksheets of one Google spreadsheet."""

    type = "google_sheets"
    Options = SheetsOptions
    options: SheetsOptions

    def fetch(self, state: dict[str, Any], full: bool = False) -> Iterator[Table | Problem]:
        state, key, o = state or {}, self.options.spreadsheet, self.options
        google = self.google()
        client = gspread.Client(google.credentials, session=google.session())
        client.http_client.set_timeout((min(10.0, o.timeout_seconds), o.timeout_seconds))
        drive = self._call(
            google, lambda: client.get_file_drive_metadata(key), f"/drive/v3/files/{key}"
        )
        fingerprint = {"worksheets": o.worksheets, "header_row": o.header_row}
        same = state.get("spreadsheet") == key
        if (
            same
            and not full
            and state.get("options") == fingerprint
            and drive.get("modifiedTime")
            and state.get("modified") == drive["modifiedTime"]
        ):
            self.state = state  # unchanged since the last sync: not read again
            return
        book = self._call(
            google, lambda: client.http_client.fetch_sheet_metadata(key), f"/v4/spreadsheets/{key}"
        )
        title = str((book.get("properties") or {}).get("title") or drive.get("name") or key)
        known = dict(state.get("worksheets") or {}) if same else {}
        chosen, problems = choose(book, o.worksheets, known, title)
        yield from problems
        for start in range(0, len(chosen), o.batch_size):
            part = chosen[start : start + o.batch_size]
            ranges = [a1_sheet(tab["title"]) for _, tab in part]
            answer = self._call(
                google,
                lambda r=ranges: client.http_client.values_batch_get(
                    key,
                    r,
                    params={"valueRenderOption": "FORMATTED_VALUE", "majorDimension": "ROWS"},
                ),
                f"/v4/spreadsheets/{key}/values:batchGet",
            )
            found = answer.get("valueRanges") or []
            for (_, tab), value_range in zip(part, found, strict=False):
                yield from worksheet_table(
                    key, title, tab, value_range.get("values") or [], o.header_row
                )
        failed = any(p.fatal for p in problems)
        self.state = {
            "spreadsheet": key,
            "title": title,
            "options": fingerprint,
            "modified": None if failed else drive.get("modifiedTime"),
            "worksheets": {**known, **{name: tab["sheetId"] for name, tab in chosen}},
        }

    def _call(self, google: Google, fn: Any, path: str) -> Any:
        return google.call(
            fn,
            path,
            missing=(
                f"Google has no spreadsheet {self.options.spreadsheet} that harvest may read. Check "
                "'spreadsheet' in harvest.yaml and that the spreadsheet is shared with the Google "
                "account harvest was authorised as."
            ),
        )


def choose(
    book: dict[str, Any], wanted: list[str] | None, known: dict[str, int], title: str
) -> tuple[list[tuple[str, Tab]], list[Problem]]:
    """The worksheets to read, as (name in harvest.yaml or title, properties), and problems."""
    tabs = [s.get("properties") or {} for s in book.get("sheets") or []]
    tabs = [t for t in tabs if t.get("sheetType", "GRID") == "GRID" and "title" in t]
    where = f"spreadsheet '{title}'"
    chosen: list[tuple[str, Tab]] = []
    problems: list[Problem] = []
    if wanted is None:
        for tab in tabs:
            if tab.get("hidden"):
                problems.append(
                    Problem(
                        f"{where}, worksheet '{tab['title']}'",
                        "The worksheet is hidden, skipped (name it under 'worksheets' to read it).",
                        fatal=False,
                        note=True,
                    )
                )
            else:
                chosen.append((tab["title"], tab))
        return chosen, problems
    by_title = {t["title"]: t for t in tabs}
    folded = {t["title"].strip().casefold(): t for t in tabs}
    by_id = {t.get("sheetId"): t for t in tabs}
    have = ", ".join(f"'{t['title']}'" for t in tabs)
    for name in wanted:
        tab = by_title.get(name) or folded.get(name.strip().casefold())
        if tab is None and known.get(name) in by_id:
            tab = by_id[known[name]]
            problems.append(
                Problem(
                    where,
                    f"The worksheet '{name}' has been renamed "
                    f"'{tab['title']}' since the last sync; it was read under its "
                    f"new name. Change '{name}' to '{tab['title']}' under "
                    "'worksheets' in harvest.yaml.",
                    fatal=False,
                )
            )
        if tab is None:
            problems.append(
                Problem(
                    where,
                    f"There is no worksheet '{name}' (there are {have}). "
                    "Check 'worksheets' in harvest.yaml; the rows already read "
                    "from it are kept.",
                )
            )
            continue
        chosen.append((name, tab))
    return chosen, problems


def worksheet_table(
    key: str, title: str, tab: Tab, values: list[list[Any]], header_row: int | None
) -> Iterator[Table | Problem]:
    """One worksheet's values as a Table, laid out exactly as a sheet of a workbook file."""
    location = f"spreadsheet '{title}', worksheet '{tab['title']}'"
    try:
        yield build_table(
            location,
            f"google_sheets:{key}#gid={tab.get('sheetId')}",
            records(values),
            header_row=header_row,
        )
    except NoTable as empty:
        message = (
            f"Worksheet '{tab['title']}' is empty, skipped." if not empty.fatal else f"{empty}"
        )
        yield Problem(location, message, fatal=empty.fatal)
