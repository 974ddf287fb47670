"""The Microsoft 365 connector (``type: microsoft_excel``): Excel workbooks and Microsoft
Forms responses in OneDrive or SharePoint, read through Microsoft Graph.

One sync:

1. gets an access token silently from the MSAL cache in the token store
   (:mod:`~harvest.connectors.microsoft_auth`; ``harvest auth microsoft`` signs in once);
2. finds the driveItem named by ``path`` (OneDrive), ``site`` + ``path`` (SharePoint) or
   ``share_url`` (a sharing link) (:mod:`~harvest.connectors.microsoft_graph`). A folder
   means every workbook in it, listed page by page (``@odata.nextLink``);
3. skips a workbook whose ``eTag`` and ``lastModifiedDateTime`` are those of the last
   sync; otherwise downloads it (``/content``) to a temporary file and reads it with the
   file connector's own reader (:func:`harvest.connectors.files.read_file`): one code
   path for tabular data, so title rows, HXL rows, dates and every message are the same;
4. recognises a Microsoft Forms response sheet (ID, Start time, Completion time, Email,
   Name, then one column per question): the ID identifies the record and the
   completion time is the activity date.

A workbook is recorded as read only when all of it was read; one that changed while
being read is read again at the next sync. Nothing here writes to Microsoft 365.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Generator, Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from harvest.connectors.base import Connector, Problem, Row, Table
from harvest.connectors.files import BOOK_SUFFIXES, TEXT_SUFFIXES, FileOptions, read_file
from harvest.connectors.http import HttpClient, RetryPolicy, require_https
from harvest.connectors.microsoft_auth import (
    AUTH_COMMAND,
    DEFAULT_AUTHORITY_URL,
    TOKEN_NAME,
    MicrosoftApp,
    MicrosoftAuth,
)
from harvest.connectors.microsoft_graph import DEFAULT_API_URL, Graph, Missing
from harvest.errors import AuthError, SourceError
from harvest.secrets import TokenStore

READABLE = TEXT_SUFFIXES | BOOK_SUFFIXES
AGAIN = "the rows already stored are kept, and the next sync tries again"


class MicrosoftExcelOptions(BaseModel):
    """Options of a ``type: microsoft_excel`` source in harvest.yaml."""

    model_config = ConfigDict(extra="forbid")

    tenant_id: str = Field(min_length=1)  # Directory (tenant) ID of the app registration
    client_id: str = Field(min_length=1)  # Application (client) ID of the app registration
    path: str | None = None  # a workbook or folder in OneDrive, or in the SharePoint library
    user: str | None = None  # someone else's OneDrive (their sign-in name)
    site: str | None = None  # SharePoint site: contoso.sharepoint.com/sites/Volunteers
    library: str | None = None  # the site's document library (default: its "Documents")
    share_url: str | None = None  # a sharing link (Share → Copy link)
    sheets: list[str] | None = None  # only these worksheets (default: every visible one)
    table: str | None = None  # only this named Excel table
    header_row: int | None = Field(default=None, ge=1)
    account: str | None = None  # which signed-in account, when several have signed in
    api_url: str = DEFAULT_API_URL
    authority_url: str = DEFAULT_AUTHORITY_URL
    max_attempts: int = Field(default=5, ge=1, le=20)
    max_wait_seconds: float = Field(default=60.0, gt=0, le=3600)
    timeout_seconds: float = Field(default=60.0, gt=0, le=600)

    @field_validator("api_url", "authority_url")
    @classmethod
    def _https(cls, value: str) -> str:
        return require_https(value).rstrip("/")

    @field_validator("site")
    @classmethod
    def _site(cls, value: str | None) -> str | None:
        if value is None:
            return None
        site = value.strip().removeprefix("https://").removeprefix("http://").strip("/")
        if "." not in site.split("/")[0]:
            raise ValueError(
                "give the site as its address, e.g. contoso.sharepoint.com/sites/Volunteers"
            )
        return site

    @model_validator(mode="after")
    def _one_place(self) -> MicrosoftExcelOptions:
        if (self.path is None) == (self.share_url is None):
            raise ValueError("give either path (with site for SharePoint) or share_url")
        if self.share_url is not None and (self.site or self.user or self.library):
            raise ValueError(
                "share_url already says where the file is: remove site, user and library"
            )
        if self.site is not None and self.user is not None:
            raise ValueError("give site (SharePoint) or user (OneDrive), not both")
        if self.library is not None and self.site is None:
            raise ValueError("library needs site (the SharePoint site it belongs to)")
        if self.table is not None and self.sheets is not None:
            raise ValueError("give sheets or table, not both")
        return self


# --- Microsoft Forms --------------------------------------------------------------------------

FORMS_COLUMNS = {  # header (any case) → HXL hashtag, in the order Forms writes them
    "id": "#meta+id",
    "start time": "",  # left to the header matcher, which does not take it for a date
    "completion time": "#date+activity",
    "email": "#contact+email",
    "name": "#person+name",
}
ANONYMOUS = "anonymous"  # what Forms writes as the email (and name) of an anonymous response


def is_forms_table(table: Table) -> bool:
    """True for a Forms response sheet: ID, Start time, Completion time, Email, Name first."""
    return [h.casefold() for h in table.headers[:5]] == list(FORMS_COLUMNS) and table.hxl is None


def forms_table(table: Table) -> Table:
    """Tag a Forms response sheet's fixed columns; questions are left to the header matcher.

    "anonymous" in Email or Name becomes blank in the row's values (it is nobody's
    email); the row as read, "anonymous" included, is kept as its raw record.
    """
    if not is_forms_table(table):
        return table
    table.hxl = [
        FORMS_COLUMNS.get(h.casefold(), "") if i < 5 else "" for i, h in enumerate(table.headers)
    ]
    table.id_column = table.headers[0]
    table.rows = _known_respondents(table.rows, table.headers)
    return table


def _known_respondents(rows: Iterator[Row] | Any, headers: list[str]) -> Iterator[Row]:
    for row in rows:
        if any(v.strip().casefold() == ANONYMOUS for v in row.values[3:5]):
            raw = json.dumps(dict(zip(headers, row.values, strict=True)), ensure_ascii=False)
            values = (
                row.values[:3]
                + ["" if v.strip().casefold() == ANONYMOUS else v for v in row.values[3:5]]
                + row.values[5:]
            )
            row = Row(row.number, values, row.raw or raw)
        yield row


# --- the connector ----------------------------------------------------------------------------


def _mark(item: dict[str, Any]) -> dict[str, str]:
    return {
        "eTag": str(item.get("eTag") or ""),
        "lastModifiedDateTime": str(item.get("lastModifiedDateTime") or ""),
    }


class MicrosoftExcelConnector(Connector):
    """Reads Excel workbooks (and Forms responses) from OneDrive or SharePoint via Graph."""

    type = "microsoft_excel"
    Options = MicrosoftExcelOptions
    options: MicrosoftExcelOptions
    _found: tuple[Graph, dict[str, Any], str] | None = None  # what check() found

    def _app(self) -> MicrosoftApp:
        o = self.options
        return MicrosoftApp(
            o.tenant_id,
            o.client_id,
            o.authority_url,
            o.account,
            o.timeout_seconds,
            o.max_attempts,
            o.max_wait_seconds,
        )

    def _http(self, service: str) -> HttpClient:
        o = self.options
        policy = RetryPolicy(max_attempts=o.max_attempts, max_wait=o.max_wait_seconds)
        return HttpClient(service, f"run `{AUTH_COMMAND}`", policy, timeout=o.timeout_seconds)

    def check(self) -> None:
        """A token, then the file or folder: a refused sign-in or a wrong path fails at once.
        ``fetch()`` goes on from what this found (no call twice)."""
        with self.naming_source():
            self._found = self._connect()

    def _connect(self) -> tuple[Graph, dict[str, Any], str]:
        if TokenStore().get(TOKEN_NAME) is None:
            raise AuthError(f"harvest has no Microsoft sign-in yet: run `{AUTH_COMMAND}`.")
        token = MicrosoftAuth(self._app(), http=self._http("Microsoft sign-in")).token()
        graph = Graph(self.options.api_url, token, self._http("Microsoft Graph"))
        return (graph, *self._find(graph))

    def fetch(self, state: dict[str, Any], full: bool = False) -> Iterator[Table | Problem]:
        seen = dict((state or {}).get("items", {}))
        graph, found, where = self._found or self._connect()
        marks: dict[str, dict[str, str]] = {}
        for item, rel in self._workbooks(graph, found, where):
            if isinstance(item, Problem):
                yield item
                continue
            key = f"{(item.get('parentReference') or {}).get('driveId', '')}!{item.get('id')}"
            mark = _mark(item)
            if not full and seen.get(key) == mark:
                marks[key] = mark
                continue
            read = yield from self._read(graph, item, rel)
            if read is not None:
                marks[key] = read
            elif key in seen:  # not (wholly) read: keep what the last read saw, so the
                marks[key] = seen[key]  # next sync, seeing a newer eTag, reads it again
        self.state = {"items": marks}

    def _find(self, graph: Graph) -> tuple[dict[str, Any], str]:
        """The driveItem the options name, and what to call it in messages."""
        o = self.options
        try:
            if o.share_url is not None:
                item = graph.shared_item(o.share_url)
                return item, str(item.get("name") or "the shared file")
            assert o.path is not None
            drive = graph.site_drive(o.site, o.library) if o.site else graph.drive_path(o.user)
            return graph.item_at(drive, o.path), o.path.strip("/") or "/"
        except Missing as gone:
            raise SourceError(self._not_found(gone)) from None

    def _not_found(self, gone: Missing) -> str:
        o = self.options
        said = f" (Microsoft said: {gone.said})" if gone.said else ""
        if o.share_url is not None:
            return (
                f"Source '{self.name}': the sharing link could not be opened by the "
                f"signed-in account (HTTP {gone.status}){said}. Ask the file's owner to "
                "share it with that account (or with people in your organisation), or "
                f"run `{AUTH_COMMAND}` as someone who can open it."
            )
        place = (
            f"the SharePoint site {o.site}"
            if o.site
            else (f"{o.user}'s OneDrive" if o.user else "the signed-in account's OneDrive")
        )
        return (
            f"Source '{self.name}': {place} has no file or folder '{o.path}', or the "
            f"signed-in account cannot open it (HTTP {gone.status}){said}. Check 'path' in "
            "harvest.yaml against the address the file has in the browser."
        )

    def _workbooks(
        self, graph: Graph, found: dict[str, Any], where: str
    ) -> Iterator[tuple[dict[str, Any] | Problem, str]]:
        """The workbook itself, or each workbook in the folder (others are noted, skipped)."""
        if "folder" not in found:
            problem = _not_a_workbook(found, where)
            yield (Problem(where, problem) if problem else found), where
            return
        for child in graph.children(found):
            rel = str(child.get("name")) if where == "/" else f"{where}/{child.get('name')}"
            if "folder" in child or str(child.get("name", "")).startswith(("~$", ".")):
                continue
            problem = _not_a_workbook(child, rel)
            yield (Problem(rel, problem, fatal=False) if problem else child), rel

    def _read(
        self, graph: Graph, item: dict[str, Any], rel: str
    ) -> Generator[Table | Problem, None, dict[str, str] | None]:
        """Download and read one workbook; its mark if all of it was read, else None."""
        response = graph.download(item)
        if response.status_code == 423:
            yield Problem(
                rel,
                "The workbook is locked (checked out, or open for editing in a "
                f"way that stops copies being made), so it was not read; {AGAIN}.",
                fatal=False,
            )
            return None
        options = FileOptions(
            path=rel, sheets=self.options.sheets, header_row=self.options.header_row
        )
        suffix = PurePosixPath(str(item.get("name"))).suffix.lower()
        with tempfile.TemporaryDirectory(prefix="harvest-") as folder:
            copy = Path(folder) / f"workbook{suffix}"
            copy.write_bytes(response.content)
            reader = read_file(copy, rel, options, table=self.options.table)
            complete = yield from _recognising_forms(reader)
        if not complete:
            return None
        return (yield from self._unchanged_since(graph, item, rel))

    def _unchanged_since(
        self, graph: Graph, item: dict[str, Any], rel: str
    ) -> Generator[Problem, None, dict[str, str] | None]:
        """The item's mark, or None (with a note) if it changed while it was being read."""
        try:
            now = graph.refresh(item)
        except Missing:
            now = {}
        if _mark(now) != _mark(item):
            yield Problem(
                rel,
                "The workbook changed while harvest was reading it (someone is "
                "editing it, or a form response arrived). What was read is stored; "
                "the newer version will be read at the next sync.",
                fatal=False,
            )
            return None
        return _mark(item)


def _recognising_forms(
    reader: Generator[Table | Problem, None, bool],
) -> Generator[Table | Problem, None, bool]:
    """Pass the file reader's items on, Forms response sheets recognised; its result too."""
    while True:
        try:
            item = next(reader)
        except StopIteration as end:
            return bool(end.value)
        yield forms_table(item) if isinstance(item, Table) else item


def _not_a_workbook(item: dict[str, Any], rel: str) -> str | None:
    """Why a driveItem cannot be read as a workbook, or None if it can."""
    name = str(item.get("name") or rel)
    suffix = PurePosixPath(name).suffix.lower()
    if "file" in item and suffix in READABLE:
        return None
    kind = f"'{suffix}'" if suffix else "a file without an extension"
    if "package" in item or "file" not in item:
        kind = "not a file (perhaps a OneNote notebook)"
    return (
        f"Not a workbook, so it was not read: harvest reads .xlsx, .xlsm, .xlsb, .xls, "
        f".ods, .csv, .tsv and .txt files, and '{name}' is {kind}."
    )
