"""Downloads a spreadsheet cannot turn into formulas: CSV, TSV, JSON and XLSX, every table.

Forms and booking tools are filled in by anyone, so a cell can hold
``=HYPERLINK("http://…"&A1, "Click")``. Any text cell that a spreadsheet would read
as a formula — starting ``=``, ``+``, ``-``, ``@``, a tab or a carriage return — gets
a leading apostrophe in every download from the published Datasette (OWASP's "CSV
Injection"). A cell that is just a number (``-3``, ``+44``, ``-2.5e3``) is left as
it is: a spreadsheet reads it as that number and nothing more, so negative numbers
stay numbers. JSON numbers are never touched.

``wrap`` is an ASGI wrapper (plugins/harvest_site.py) that rewrites the body of
``.csv``, ``.tsv`` and ``.json`` responses (or ``?_format=``) cell by cell, streaming
CSV record by record; ``xlsx_bytes`` (every XLSX download) calls ``safe_cell`` itself.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
DELIMITERS = {"csv": ",", "tsv": "\t"}
TEXT_TYPES = ("text/plain", "text/csv", "text/tab-separated-values")  # never an HTML page

ASGI = Callable[[dict, Callable, Callable], Awaitable[None]]


def safe_text(text: str) -> str:
    """The text, with a leading apostrophe if a spreadsheet would run it as a formula."""
    if text.startswith(FORMULA_START) and not NUMBER.fullmatch(text):
        return "'" + text
    return text


def safe_cell(value: Any) -> Any:
    """A cell for a spreadsheet: formula text neutralised, bytes described, numbers kept."""
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return value


def xlsx_bytes(title: str, columns: list[str], rows: Iterable[Any]) -> bytes:
    """A workbook of one sheet named ``title`` (cut to what Excel allows), every cell safe."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=re.sub(r"[^A-Za-z0-9_ -]", "_", title)[:31])
    sheet.append([safe_cell(c) for c in columns])
    for row in rows:
        sheet.append([safe_cell(v) for v in row])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def csv_bytes(columns: list[str], rows: Iterable[Any]) -> bytes:
    """CSV (UTF-8 with a byte order mark, for Excel), every cell safe."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_cell(c) for c in columns])
    writer.writerows([safe_cell(v) for v in row] for row in rows)
    return out.getvalue().encode("utf-8-sig")


def safe_json(value: Any) -> Any:
    """Every string in a JSON value made safe (numbers, keys and structure kept)."""
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, list):
        return [safe_json(v) for v in value]
    if isinstance(value, dict):
        return {k: safe_json(v) for k, v in value.items()}
    return value


def safe_document(doc: Any, shape: str | None) -> Any:
    """A Datasette JSON response with the cells of its rows made safe."""
    if isinstance(doc, list):  # _shape=array
        return safe_json(doc)
    if isinstance(doc, dict) and "rows" in doc:  # the default shape, arrays, objects
        return {**doc, "rows": safe_json(doc["rows"])}
    if isinstance(doc, dict) and shape in ("object", "array"):  # keyed by primary key; _nl
        return safe_json(doc)
    return doc


def record_end(text: str) -> int:
    """Where the last complete CSV record in ``text`` ends (after its newline), or 0.

    A newline ends a record when an even number of quotes comes before it."""
    end = text.rfind("\n")
    while end >= 0 and text.count('"', 0, end) % 2:
        end = text.rfind("\n", 0, end)
    return end + 1


class CsvRewriter:
    """Rewrites a CSV body chunk by chunk: complete records out, the rest kept for later."""

    def __init__(self, delimiter: str = ",") -> None:
        self.delimiter = delimiter
        # Where a cell may begin: the start, after a delimiter or a newline, maybe quoted.
        self.starts = re.compile(f'(?:^|[{re.escape(delimiter)}\\n])"?[=+\\-@\\t\\r]')
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.pending = ""

    def feed(self, data: bytes, final: bool = False) -> bytes:
        text = self.pending + self.decoder.decode(data, final)
        cut = len(text) if final else record_end(text)
        done, self.pending = text[:cut], text[cut:]
        if not self.starts.search(done):  # no cell starts with a formula character
            return done.encode("utf-8")
        out = io.StringIO()
        writer = csv.writer(out, delimiter=self.delimiter, lineterminator="\r\n")
        for row in csv.reader(io.StringIO(done, newline=""), delimiter=self.delimiter):
            writer.writerow([safe_text(cell) for cell in row])
        return out.getvalue().encode("utf-8")


def download_format(scope: dict) -> str | None:
    """'csv', 'tsv' or 'json' when the request asks for one of those from a table or query."""
    # Datasette routes on the path as sent (raw_path), before %-decoding: so do we.
    path = (scope.get("raw_path") or scope.get("path", "").encode()).decode("latin-1")
    path = path.partition("?")[0]
    if scope.get("type") != "http" or path.startswith("/-/"):
        return None
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    fmt = (query.get("_format") or [""])[0] or path.rpartition(".")[2]
    return fmt if fmt in ("csv", "tsv", "json") else None


def wrap(app: ASGI) -> ASGI:
    """The ASGI wrapper that makes every CSV, TSV and JSON download safe."""

    async def safe_downloads(scope: dict, receive: Callable, send: Callable) -> None:
        fmt = download_format(scope)
        if fmt is None:
            return await app(scope, receive, send)
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        shape = (query.get("_shape") or [None])[0]
        await app(scope, receive, Rewrite(send, fmt, shape).send)

    return safe_downloads


class Rewrite:
    """The ``send`` of one response, rewriting its body when it is a 200 of the format."""

    def __init__(self, send: Callable, fmt: str, shape: str | None) -> None:
        self.downstream, self.fmt, self.shape = send, fmt, shape
        self.start: dict | None = None
        self.csv: CsvRewriter | None = None
        self.body: list[bytes] = []

    async def send(self, message: dict) -> None:
        if message["type"] == "http.response.start":
            return await self.started(message)
        if message["type"] != "http.response.body" or self.start is None:
            return await self.downstream(message)
        final = not message.get("more_body", False)
        if self.csv is not None:
            chunk = self.csv.feed(message.get("body", b""), final)
            return await self.downstream({**message, "body": chunk})
        self.body.append(message.get("body", b""))
        if final:
            body = self.json_body(b"".join(self.body))
            headers = [(k, v) for k, v in self.start["headers"] if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await self.downstream({**self.start, "headers": headers})
            await self.downstream({"type": "http.response.body", "body": body})

    async def started(self, message: dict) -> None:
        headers = list(message.get("headers", []))
        kind = next((v for k, v in headers if k.lower() == b"content-type"), b"").decode()
        if message["status"] != 200:
            return await self.downstream(message)
        if self.fmt in DELIMITERS and kind.startswith(TEXT_TYPES):
            self.csv = CsvRewriter(DELIMITERS[self.fmt])
            headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
            self.start = dict(message, headers=headers)
            return await self.downstream(self.start)
        if self.fmt == "json" and kind.startswith(("application/json", "text/plain")):  # _nl=on
            self.start = dict(message, headers=headers)  # sent with the body, for its length
            return None
        return await self.downstream(message)

    def json_body(self, body: bytes) -> bytes:
        try:
            docs = [json.loads(body)]
        except ValueError:  # newline-delimited (_shape=array&_nl=on): one row a line
            try:
                docs = [json.loads(line) for line in body.splitlines() if line.strip()]
            except ValueError:
                return body
            return b"".join(json.dumps(safe_json(row)).encode() + b"\n" for row in docs)
        safe = safe_document(docs[0], self.shape)
        return body if safe == docs[0] else json.dumps(safe).encode()
