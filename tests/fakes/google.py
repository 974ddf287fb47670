"""A fake of Google's OAuth, Forms v1, Sheets v4 and Drive v3 APIs, speaking their documented
JSON, for the unmodified google-api-python-client, gspread and google-auth-oauthlib.

Routes, all on one local server (``api_url``):

- ``GET /o/oauth2/auth``: the consent page, already agreed: redirects (302) to the
  ``redirect_uri`` with a ``code`` and the ``state`` (or ``error=access_denied`` when
  ``deny`` is set), remembering the PKCE ``code_challenge``.
- ``POST /token``: ``authorization_code`` (checks the code, client and PKCE verifier),
  ``refresh_token`` (``invalid_grant`` once revoked) and the service account's
  ``jwt-bearer`` grant. Access tokens last ``token_lifetime`` seconds.
- ``GET /v1/forms/{id}`` and ``GET /v1/forms/{id}/responses`` (``filter`` of
  ``timestamp > T`` or ``timestamp >= T`` on ``lastSubmittedTime``; ``pageToken`` only
  with the identical filter; no responses is ``{}``).
- ``GET /v4/spreadsheets/{id}`` and ``GET /v4/spreadsheets/{id}/values:batchGet``
  (every ``ranges``; a range that names no sheet is a 400 "Unable to parse range").
- ``GET /drive/v3/files/{id}`` (``fields``) and ``GET /drive/v3/about``.

API calls need ``Authorization: Bearer <a live access token>``; otherwise Google's 401
body. Errors use Google's ``{"error": {"code", "message", "status"}}`` shape.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import itertools
import json
import re
import time
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode

from harvest.testing.fake_api import FakeServer, Reply, Request

CLIENT_ID = "1234-fake.apps.googleusercontent.com"
CLIENT_SECRET = "fake-client-secret-GOCSPX"
REFRESH_TOKEN = "1//fake-refresh-token-7Qz"
SA_EMAIL = "harvest@st-marys.iam.gserviceaccount.com"
_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


def stamp(dt: Any) -> str:
    """A timestamp as Google writes one: RFC 3339, UTC, with fractions of a second."""
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def google_error(status: int, message: str, reason: str | None = None) -> Reply:
    error: dict[str, Any] = {
        "code": status,
        "message": message,
        "status": _STATUS.get(status, "UNKNOWN"),
    }
    if reason:
        error["errors"] = [{"message": message, "domain": "usageLimits", "reason": reason}]
    return Reply(status, {"error": error})


class FakeGoogle(FakeServer):
    def __init__(self, page_size: int = 2) -> None:
        super().__init__()
        self.page_size = page_size
        self.token_lifetime = 3599
        self.refresh_tokens = {REFRESH_TOKEN}
        self.access: dict[str, float] = {}  # access token → expiry (monotonic)
        self.codes: dict[str, str | None] = {}  # authorisation code → PKCE challenge
        self.deny = False
        self.user = {"displayName": "Sam Organiser", "emailAddress": "sam@stmarys.example.org"}
        self.forms: dict[str, dict[str, Any]] = {}
        self.responses: dict[str, list[dict[str, Any]]] = {}
        self.sheets: dict[str, dict[str, Any]] = {}  # key → {"title", "modified", "tabs": [...]}
        self._ids = itertools.count(1)
        for method, pattern, handler in [
            ("GET", r"/o/oauth2/auth", self._consent),
            ("POST", r"/token", self._token),
            ("GET", r"/v1/forms/(?P<form>[^/]+)", self._form),
            ("GET", r"/v1/forms/(?P<form>[^/]+)/responses", self._responses),
            ("GET", r"/v4/spreadsheets/(?P<key>[^/:]+)", self._spreadsheet),
            ("GET", r"/v4/spreadsheets/(?P<key>[^/:]+)/values:batchGet", self._batch_get),
            ("GET", r"/drive/v3/files/(?P<key>[^/]+)", self._drive_file),
            ("GET", r"/drive/v3/about", self._about),
        ]:
            self.add_route(method, pattern, handler)

    @property
    def api_url(self) -> str:
        return self.url

    def error_body(self, status: int) -> Any:
        return google_error(
            status,
            "Quota exceeded for quota metric 'Read requests'."
            if status == 429
            else "The service is currently unavailable.",
        ).body

    def tick(self, minutes: int = 60) -> None:
        self.now += timedelta(minutes=minutes)

    # --- OAuth ---------------------------------------------------------------------------

    def client_file(self) -> dict[str, Any]:
        """The JSON a charity downloads for a "Desktop app" OAuth client."""
        return {
            "installed": {
                "client_id": CLIENT_ID,
                "project_id": "st-marys-harvest",
                "auth_uri": self.url + "/o/oauth2/auth",
                "token_uri": self.url + "/token",
                "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
                "client_secret": CLIENT_SECRET,
                "redirect_uris": ["http://localhost"],
            }
        }

    def authorized_user(self) -> str:
        """What `harvest auth google` keeps in the token store."""
        return json.dumps(
            {
                "type": "authorized_user",
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "refresh_token": REFRESH_TOKEN,
                "token_uri": "https://oauth2.googleapis.com/token",
            }
        )

    def expire_access_tokens(self) -> None:
        self.access.clear()

    def _consent(self, request: Request) -> Reply:
        q = request.query
        target = q["redirect_uri"]
        if self.deny:
            params = {"error": "access_denied", "state": q.get("state", "")}
        else:
            code = f"4/fake-code-{next(self._ids)}"
            self.codes[code] = q.get("code_challenge")
            params = {"code": code, "scope": q.get("scope", ""), "state": q.get("state", "")}
        return Reply(
            302, "", {"Location": target + ("&" if "?" in target else "?") + urlencode(params)}
        )

    def _token(self, request: Request) -> Reply:
        form = {k: v[-1] for k, v in parse_qs(request.body.decode()).items()}
        basic = request.headers.get("authorization", "")
        if basic.startswith("Basic "):  # the client may also authenticate with HTTP Basic
            client_id, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
            form.update(client_id=unquote(client_id), client_secret=unquote(secret))
        grant = form.get("grant_type")
        if grant == "authorization_code":
            challenge = self.codes.pop(form.get("code", ""), "missing")
            if challenge == "missing" or not self._client_ok(form):
                return _oauth_error("invalid_grant", "Malformed auth code.")
            verifier = form.get("code_verifier", "")
            digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            if challenge and digest.decode().rstrip("=") != challenge:
                return _oauth_error("invalid_grant", "Invalid code verifier.")
            return self._issue(refresh=REFRESH_TOKEN)
        if grant == "refresh_token":
            if not self._client_ok(form):
                return _oauth_error("invalid_client", "The OAuth client was not found.", 401)
            if form.get("refresh_token") not in self.refresh_tokens:
                return _oauth_error("invalid_grant", "Token has been expired or revoked.")
            return self._issue()
        if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            claims = _jwt_claims(form.get("assertion", ""))
            if claims.get("iss") != SA_EMAIL:
                return _oauth_error("invalid_grant", "Invalid JWT Signature.")
            return self._issue()
        return _oauth_error("unsupported_grant_type", f"Invalid grant_type: {grant}")

    def _client_ok(self, form: dict[str, str]) -> bool:
        return form.get("client_id") == CLIENT_ID and form.get("client_secret") == CLIENT_SECRET

    def _issue(self, refresh: str | None = None) -> Reply:
        token = f"ya29.fake-access-{next(self._ids)}"
        self.access[token] = time.monotonic() + self.token_lifetime
        body = {
            "access_token": token,
            "expires_in": self.token_lifetime,
            "token_type": "Bearer",
            "scope": " ".join(SCOPES),
        }
        if refresh:
            body["refresh_token"] = refresh
        return Reply(200, body)

    def _refused(self, request: Request) -> Reply | None:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if self.access.get(token, 0) > time.monotonic():
            return None
        return google_error(
            401,
            "Request had invalid authentication credentials. Expected OAuth "
            "2 access token, login cookie or other valid authentication "
            "credential.",
        )

    def _about(self, request: Request) -> Reply:
        return self._refused(request) or Reply(200, {"user": {**self.user, "kind": "drive#user"}})

    # --- Forms ---------------------------------------------------------------------------

    def add_form(
        self, title: str, items: list[dict[str, Any]], form_id: str | None = None, **settings: Any
    ) -> str:
        form_id = form_id or f"1FAIpQLfake{next(self._ids):04d}Form_Id-abcdefghij"
        self.forms[form_id] = {
            "formId": form_id,
            "info": {"title": title, "documentTitle": title + " (doc)"},
            "settings": settings,
            "items": items,
            "revisionId": "00000042",
            "responderUri": f"https://docs.google.com/forms/d/e/{form_id}-pub/viewform",
        }
        self.responses[form_id] = []
        return form_id

    def respond(
        self,
        form_id: str,
        answers: dict[str, Any],
        email: str | None = None,
        response_id: str | None = None,
    ) -> dict[str, Any]:
        """Submit a response: ``answers`` maps question id → text, list of texts, or an
        Answer object as the API gives it."""
        response: dict[str, Any] = {
            "responseId": response_id or f"ACYDBNfake{next(self._ids):05d}",
            "createTime": stamp(self.now),
            "lastSubmittedTime": stamp(self.now),
            "answers": {qid: _answer(qid, value) for qid, value in answers.items()},
        }
        if email:
            response["respondentEmail"] = email
        self.responses[form_id].append(response)
        self.tick(1)
        return response

    def edit(self, form_id: str, response: dict[str, Any], answers: dict[str, Any]) -> None:
        """The respondent edits their response: lastSubmittedTime moves on."""
        response["answers"].update({qid: _answer(qid, v) for qid, v in answers.items()})
        response["lastSubmittedTime"] = stamp(self.now)
        self.responses[form_id].remove(response)
        self.responses[form_id].append(response)
        self.tick(1)

    def _form(self, request: Request, form: str) -> Reply:
        if refused := self._refused(request):
            return refused
        if form not in self.forms:
            return google_error(404, "Requested entity was not found.")
        return Reply(200, copy.deepcopy(self.forms[form]))

    def _responses(self, request: Request, form: str) -> Reply:
        if refused := self._refused(request):
            return refused
        if form not in self.forms:
            return google_error(404, "Requested entity was not found.")
        items = self.responses[form]
        text = request.query.get("filter", "")
        if text:
            m = re.fullmatch(r"\s*timestamp\s*(>=|>)\s*(\S+)\s*", text)
            if not m:
                return google_error(400, f"Invalid filter: {text}")
            op, when = m.groups()
            items = [
                r
                for r in items
                if r["lastSubmittedTime"] > when or (op == ">=" and r["lastSubmittedTime"] == when)
            ]
        return self._page(request, items, text)

    def _page(self, request: Request, items: list[dict[str, Any]], text: str) -> Reply:
        token = request.query.get("pageToken")
        start = 0
        if token:
            start_text, _, token_filter = base64.urlsafe_b64decode(token).decode().partition("|")
            if token_filter != text:
                return google_error(400, "The page token does not match the filter.")
            start = int(start_text)
        size = int(request.query.get("pageSize") or 0) or self.page_size
        page = [{k: v for k, v in r.items() if k != "formId"} for r in items[start : start + size]]
        body: dict[str, Any] = {}
        if page:
            body["responses"] = copy.deepcopy(page)
        if start + size < len(items):
            body["nextPageToken"] = base64.urlsafe_b64encode(
                f"{start + size}|{text}".encode()
            ).decode()
        return Reply(200, body)

    # --- Sheets and Drive ----------------------------------------------------------------

    def add_spreadsheet(
        self, title: str, tabs: dict[str, list[list[str]]], key: str | None = None
    ) -> str:
        """A spreadsheet whose worksheets hold these rows (cells as Sheets shows them)."""
        key = key or f"1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs{next(self._ids):04d}fake"
        self.sheets[key] = {"title": title, "modified": stamp(self.now), "tabs": []}
        for name, rows in tabs.items():
            self.add_worksheet(key, name, rows, touch=False)
        return key

    def add_worksheet(
        self, key: str, name: str, rows: list[list[str]], hidden: bool = False, touch: bool = True
    ) -> dict[str, Any]:
        book = self.sheets[key]
        tab = {
            "sheetId": 0 if not book["tabs"] else next(self._ids) * 1000 + 7,
            "title": name,
            "rows": [list(r) for r in rows],
            "hidden": hidden,
        }
        book["tabs"].append(tab)
        if touch:
            self.touch(key)
        return tab

    def tab(self, key: str, name: str) -> dict[str, Any]:
        return next(t for t in self.sheets[key]["tabs"] if t["title"] == name)

    def touch(self, key: str) -> None:
        """Someone edited the spreadsheet: Drive's modifiedTime moves on."""
        self.tick(1)
        self.sheets[key]["modified"] = stamp(self.now)

    def _book(self, request: Request, key: str) -> Reply | dict[str, Any]:
        if refused := self._refused(request):
            return refused
        if key not in self.sheets:
            return google_error(404, "Requested entity was not found.")
        return self.sheets[key]

    def _spreadsheet(self, request: Request, key: str) -> Reply:
        book = self._book(request, key)
        if isinstance(book, Reply):
            return book
        sheets = []
        for index, tab in enumerate(book["tabs"]):
            props = {
                "sheetId": tab["sheetId"],
                "title": tab["title"],
                "index": index,
                "sheetType": "GRID",
                "gridProperties": {
                    "rowCount": max(1000, len(tab["rows"])),
                    "columnCount": max([26, *map(len, tab["rows"])]),
                },
            }
            if tab["hidden"]:
                props["hidden"] = True
            sheets.append({"properties": props})
        return Reply(
            200,
            {
                "spreadsheetId": key,
                "properties": {
                    "title": book["title"],
                    "locale": "en_GB",
                    "autoRecalc": "ON_CHANGE",
                    "timeZone": "Europe/London",
                },
                "sheets": sheets,
                "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{key}/edit",
            },
        )

    def _batch_get(self, request: Request, key: str) -> Reply:
        book = self._book(request, key)
        if isinstance(book, Reply):
            return book
        ranges = []
        for wanted in request.params.get("ranges", []):
            name = wanted[1:-1].replace("''", "'") if wanted.startswith("'") else wanted
            tab = next((t for t in book["tabs"] if t["title"] == name), None)
            if tab is None:
                return google_error(400, f"Unable to parse range: {wanted}")
            rows = [_trimmed(r) for r in tab["rows"]]
            while rows and not rows[-1]:
                rows.pop()
            quoted = "'" + name.replace("'", "''") + "'" if not name.isalnum() else name
            width = max(map(len, rows), default=1)
            value_range: dict[str, Any] = {
                "range": f"{quoted}!A1:{_column(width)}{max(1, len(rows))}",
                "majorDimension": "ROWS",
            }
            if rows:
                value_range["values"] = rows
            ranges.append(value_range)
        return Reply(200, {"spreadsheetId": key, "valueRanges": ranges})

    def _drive_file(self, request: Request, key: str) -> Reply:
        book = self._book(request, key)
        if isinstance(book, Reply):
            return book
        data = {
            "kind": "drive#file",
            "id": key,
            "name": book["title"],
            "mimeType": "application/vnd.google-apps.spreadsheet",
            "createdTime": "2025-09-01T09:00:00.000Z",
            "modifiedTime": book["modified"],
        }
        fields = request.query.get("fields")
        if fields:
            data = {k: v for k, v in data.items() if k in fields.split(",")}
        return Reply(200, data)


SCOPES = [
    "https://www.googleapis.com/auth/forms.responses.readonly",
    "https://www.googleapis.com/auth/forms.body.readonly",
    "https://www.googleapis.com/auth/spreadsheets.readonly",
    "https://www.googleapis.com/auth/drive.metadata.readonly",
]


def _oauth_error(error: str, description: str, status: int = 400) -> Reply:
    return Reply(status, {"error": error, "error_description": description})


def _jwt_claims(assertion: str) -> dict[str, Any]:
    try:
        payload = assertion.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}


def _answer(qid: str, value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return {"questionId": qid, **value}
    values = value if isinstance(value, list) else [value]
    return {"questionId": qid, "textAnswers": {"answers": [{"value": str(v)} for v in values]}}


def _trimmed(row: list[str]) -> list[str]:
    row = list(row)
    while row and row[-1] == "":
        row.pop()
    return row


def _column(n: int) -> str:
    name = ""
    while n:
        n, r = divmod(n - 1, 26)
        name = chr(65 + r) + name
    return name


# --- building forms as the API describes them -----------------------------------------


def question(qid: str, title: str, kind: str = "text", **extra: Any) -> dict[str, Any]:
    """A questionItem; ``kind`` is text, paragraph, radio, checkbox, dropdown, scale, date,
    time, rating or file."""
    q: dict[str, Any] = {"questionId": qid, "required": False}
    if kind in ("text", "paragraph"):
        q["textQuestion"] = {"paragraph": kind == "paragraph"}
    elif kind in ("radio", "checkbox", "dropdown"):
        q["choiceQuestion"] = {
            "type": {"radio": "RADIO", "checkbox": "CHECKBOX", "dropdown": "DROP_DOWN"}[kind],
            "options": [{"value": o} for o in extra.pop("options", [])],
        }
    elif kind == "scale":
        q["scaleQuestion"] = {"low": 1, "high": 5, "lowLabel": "Poor", "highLabel": "Great"}
    elif kind == "date":
        q["dateQuestion"] = {"includeTime": False, "includeYear": True}
    elif kind == "time":
        q["timeQuestion"] = {"duration": False}
    elif kind == "rating":
        q["ratingQuestion"] = {"ratingScaleLevel": 5, "iconType": "STAR"}
    elif kind == "file":
        q["fileUploadQuestion"] = {
            "folderId": "0Bfakefolder",
            "maxFiles": 5,
            "maxFileSize": "10485760",
        }
    return {"itemId": f"item{qid}", "title": title, **extra, "questionItem": {"question": q}}


def grid(title: str, rows: dict[str, str], columns: list[str]) -> dict[str, Any]:
    """A questionGroupItem with a grid: one question (id → row title) per row."""
    return {
        "itemId": "grid" + "".join(rows),
        "title": title,
        "questionGroupItem": {
            "questions": [
                {"questionId": qid, "rowQuestion": {"title": t}} for qid, t in rows.items()
            ],
            "grid": {"columns": {"type": "RADIO", "options": [{"value": c} for c in columns]}},
        },
    }


def section(title: str) -> dict[str, Any]:
    return {"itemId": "page" + title[:3], "title": title, "pageBreakItem": {}}
