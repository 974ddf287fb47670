"""A fake Microsoft identity platform and Microsoft Graph, over HTTPS, speaking the
documented JSON, so MSAL and harvest's Graph calls run unmodified.

The server has a throw-away certificate authority (``trustme``); a test trusts it by
pointing ``REQUESTS_CA_BUNDLE`` at :attr:`FakeMicrosoft.ca_bundle`.

Sign-in (``/{tenant}/...``): ``v2.0/.well-known/openid-configuration`` (an unknown
tenant answers 400 ``invalid_tenant``), ``oauth2/v2.0/devicecode`` and
``oauth2/v2.0/token`` for the device-code grant (``authorization_pending`` for
``pending_polls`` polls, then tokens; or ``authorization_declined``) and the
refresh-token grant (refresh tokens rotate: the old one stops working; a revoked one
answers ``invalid_grant``). Tokens carry an unsigned id_token and ``client_info``, as
Entra ID sends them.

Graph (``/v1.0/...``): driveItems by path in ``/me/drive``, ``/users/{upn}/drive`` and
``/drives/{id}``, by id, children (``page_size`` at a time, ``@odata.nextLink``), sites
by ``{host}:/{path}``, a site's ``drive`` and ``drives``, ``/shares/{u!…}/driveItem``
and ``/content``, which answers 302 to a short-lived ``/download/...`` address (that
address refuses a bearer token; a locked file answers 423). A request without a valid
access token gets Graph's 401 body.
"""

from __future__ import annotations

import base64
import io
import itertools
import json
import ssl
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

import openpyxl
import trustme

from harvest.testing.fake_api import FakeServer, Reply, Request

TENANT = "3f2a1b0c-5d4e-4f60-8a7b-9c0d1e2f3a4b"
CLIENT = "c0ffee00-1234-4abc-9def-0123456789ab"
USER = "sam@stmarys.example.org"
HOST = "stmarys.sharepoint.com"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def workbook(sheets: dict[str, list[list[Any]]], tables: dict[str, str] | None = None) -> bytes:
    """An .xlsx file's bytes: sheet name → rows; ``tables`` names a table → "Sheet!A1:C3"."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    for name, ref in (tables or {}).items():
        sheet_name, cells = ref.split("!")
        book[sheet_name].add_table(openpyxl.worksheet.table.Table(displayName=name, ref=cells))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _error(status: int, code: str, message: str) -> Reply:
    return Reply(
        status,
        {
            "error": {
                "code": code,
                "message": message,
                "innerError": {"request-id": str(uuid.uuid4())},
            }
        },
    )


def _oauth_error(error: str, description: str, status: int = 400) -> Reply:
    return Reply(
        status,
        {
            "error": error,
            "error_description": description + "\r\nTrace ID: "
            "0000\r\nCorrelation ID: 1111\r\nTimestamp: 2026-03-10 12:00:00Z",
            "error_codes": [int(description[6 : description.index(":")])],
        },
    )


class FakeMicrosoft(FakeServer):
    def __init__(self, folder: Path, page_size: int = 2) -> None:
        self.ca = trustme.CA()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        super().__init__(tls=context)
        self.ca_bundle = folder / "fake-microsoft-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_bundle))
        self.page_size = page_size
        # --- identity -----------------------------------------------------------------------
        self.tenants = {TENANT}
        self.clients = {CLIENT}
        self.oid = "9a8b7c6d-0000-4000-8000-00000000abcd"
        self.username = USER
        self.pending_polls = 1  # device-code polls answered authorization_pending first
        self.declined = False
        self.access_ttl = 3600  # seconds; below 300 MSAL refreshes at every sync
        self.access_tokens: set[str] = set()
        self.refresh_tokens: set[str] = set()
        self.revoked = False  # every refresh token answers invalid_grant
        self.device_codes: dict[str, str] = {}  # device code → the scope it was asked for
        self._n = itertools.count(1)
        # --- drives -------------------------------------------------------------------------
        self.items: dict[str, dict[str, Any]] = {}
        self.content: dict[str, bytes] = {}
        self.children_of: dict[str, list[str]] = {}
        self.roots: dict[str, str] = {}  # drive id → root item id
        self.drive_names: dict[str, str] = {}
        self.me_drive = self.add_drive("b!me-onedrive", "OneDrive")
        self.user_drives = {"alex@stmarys.example.org": self.add_drive("b!alex", "OneDrive")}
        self.sites: dict[str, dict[str, Any]] = {}
        self.site_drives: dict[str, list[str]] = {}
        self.shares: dict[str, str | int] = {}  # sharing link → item id, or an HTTP status
        self.locked: set[str] = set()
        self.edit_on_download: set[str] = set()  # items whose eTag moves as they download
        self._routes()

    # --- routes ---------------------------------------------------------------------------

    def _routes(self) -> None:
        t = r"/(?P<tenant>[^/]+)"
        self.add_route("GET", t + r"/v2.0/\.well-known/openid-configuration", self._openid)
        self.add_route("POST", t + r"/oauth2/v2.0/devicecode", self._devicecode)
        self.add_route("POST", t + r"/oauth2/v2.0/token", self._token)
        g = "/v1.0"
        self.add_route("GET", g + r"/me/drive/root:/(?P<path>.+?):?", self._me_path)
        self.add_route(
            "GET",
            g + r"/me/drive/root",
            lambda r: self._graph(r, lambda: self._item_reply(self.roots[self.me_drive])),
        )
        self.add_route(
            "GET", g + r"/users/(?P<upn>[^/]+)/drive/root:/(?P<path>.+?):?", self._user_path
        )
        self.add_route(
            "GET", g + r"/drives/(?P<drive>[^/]+)/root:/(?P<path>.+?):?", self._drive_path
        )
        self.add_route(
            "GET",
            g + r"/drives/(?P<drive>[^/]+)/root",
            lambda r, drive: self._graph(r, lambda: self._item_reply(self.roots.get(drive, ""))),
        )
        self.add_route(
            "GET",
            g + r"/drives/(?P<drive>[^/]+)/items/(?P<item>[^/]+)",
            lambda r, drive, item: self._graph(r, lambda: self._item_reply(item)),
        )
        self.add_route(
            "GET", g + r"/drives/(?P<drive>[^/]+)/items/(?P<item>[^/]+)/children", self._children
        )
        self.add_route(
            "GET", g + r"/drives/(?P<drive>[^/]+)/items/(?P<item>[^/]+)/content", self._content
        )
        self.add_route("GET", r"/download/(?P<item>[^/]+)", self._download)
        self.add_route("GET", g + r"/sites/(?P<host>[^/:]+):/(?P<path>.+?):?", self._site)
        self.add_route("GET", g + r"/sites/(?P<site>[^/:]+)/drive", self._site_drive)
        self.add_route("GET", g + r"/sites/(?P<site>[^/:]+)/drives", self._site_drives)
        self.add_route("GET", g + r"/shares/(?P<share>[^/]+)/driveItem", self._share)

    def error_body(self, status: int) -> Any:
        codes = {
            429: ("TooManyRequests", "Too many requests."),
            503: ("serviceNotAvailable", "The service is temporarily unavailable."),
            423: ("resourceLocked", "The resource you are attempting to access is locked."),
        }
        code, message = codes.get(status, ("generalException", "Something went wrong."))
        return {"error": {"code": code, "message": message}}

    # --- sign-in --------------------------------------------------------------------------

    def _openid(self, request: Request, tenant: str) -> Reply:
        if tenant not in self.tenants:
            return _oauth_error("invalid_tenant", f"AADSTS90002: Tenant '{tenant}' not found.")
        base = f"{self.url}/{tenant}"
        return Reply(
            200,
            {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "issuer": f"{base}/v2.0",
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "tenant_region_scope": "EU",
            },
        )

    @staticmethod
    def form(request: Request) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(request.body.decode()).items()}

    def _devicecode(self, request: Request, tenant: str) -> Reply:
        form = self.form(request)
        if form.get("client_id") not in self.clients:
            return _oauth_error(
                "unauthorized_client",
                "AADSTS700016: Application with "
                f"identifier '{form.get('client_id')}' was not found in the "
                f"directory '{tenant}'.",
            )
        code = f"device-{next(self._n)}"
        self.device_codes[code] = form.get("scope", "")
        return Reply(
            200,
            {
                "user_code": "HRV-7K2Q",
                "device_code": code,
                "verification_uri": "https://microsoft.com/devicelogin",
                "expires_in": 900,
                "interval": 0,
                "message": "To sign in, use a web browser to open the page "
                "https://microsoft.com/devicelogin and enter the code HRV-7K2Q to "
                "authenticate.",
            },
        )

    def _token(self, request: Request, tenant: str) -> Reply:
        form = self.form(request)
        grant = form.get("grant_type", "")
        if grant.endswith("device_code"):
            if form.get("device_code") not in self.device_codes:
                return _oauth_error("invalid_grant", "AADSTS70000: The code is not valid.")
            if self.declined:
                return _oauth_error(
                    "authorization_declined",
                    "AADSTS70000: The user denied the authorization request.",
                )
            if self.pending_polls > 0:
                self.pending_polls -= 1
                return _oauth_error(
                    "authorization_pending",
                    "AADSTS70016: OAuth 2.0 device "
                    "flow error. Authorization is pending. Continue polling.",
                )
            scope = self.device_codes.pop(form["device_code"])
            return self._tokens(tenant, {**form, "scope": scope})
        if grant == "refresh_token":
            old = form.get("refresh_token", "")
            if self.revoked or old not in self.refresh_tokens:
                return _oauth_error(
                    "invalid_grant",
                    "AADSTS50173: The provided grant has "
                    "expired due to it being revoked, a fresh auth token is "
                    "needed.",
                )
            self.refresh_tokens.discard(old)  # refresh tokens rotate
            return self._tokens(tenant, form)
        return _oauth_error(
            "unsupported_grant_type", "AADSTS70003: The app requested an unsupported grant type."
        )

    def _tokens(self, tenant: str, form: dict[str, str]) -> Reply:
        now = int(time.time())
        access, refresh = f"at-{next(self._n)}-{uuid.uuid4().hex}", f"rt-{uuid.uuid4().hex}"
        self.access_tokens.add(access)
        self.refresh_tokens.add(refresh)
        claims = {
            "aud": form.get("client_id"),
            "iss": f"{self.url}/{tenant}/v2.0",
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "name": "Sam Organiser",
            "oid": self.oid,
            "preferred_username": self.username,
            "sub": "s-" + self.oid,
            "tid": tenant,
            "ver": "2.0",
        }
        id_token = ".".join(
            [b64url(b'{"alg":"none","typ":"JWT"}'), b64url(json.dumps(claims).encode()), ""]
        )
        return Reply(
            200,
            {
                "token_type": "Bearer",
                "scope": form.get("scope", ""),
                "expires_in": self.access_ttl,
                "ext_expires_in": self.access_ttl,
                "access_token": access,
                "refresh_token": refresh,
                "id_token": id_token,
                "client_info": b64url(json.dumps({"uid": self.oid, "utid": tenant}).encode()),
            },
        )

    # --- drives -----------------------------------------------------------------------------

    def add_drive(self, drive_id: str, name: str) -> str:
        root = f"root-{drive_id}"
        self.items[root] = {
            "id": root,
            "name": "root",
            "root": {},
            "folder": {"childCount": 0},
            "parentReference": {"driveId": drive_id, "driveType": "business"},
        }
        self.children_of[root] = []
        self.roots[drive_id] = root
        self.drive_names[drive_id] = name
        return drive_id

    def add_site(self, path: str, libraries: tuple[str, ...] = ("Documents",)) -> dict[str, Any]:
        site = {
            "id": f"{HOST},{uuid.uuid4()},{uuid.uuid4()}",
            "name": path.split("/")[-1],
            "displayName": path.split("/")[-1],
            "webUrl": f"https://{HOST}/{path}",
        }
        self.sites[f"{HOST}:/{path}".casefold()] = site
        self.site_drives[site["id"]] = [
            self.add_drive(f"b!site-{next(self._n)}", name) for name in libraries
        ]
        return site

    def _find(self, drive: str, path: str) -> str | None:
        item = self.roots.get(drive)
        for part in unquote(path).strip("/").split("/"):
            item = next(
                (
                    c
                    for c in self.children_of.get(item or "", [])
                    if self.items[c]["name"].casefold() == part.casefold()
                ),
                None,
            )
            if item is None:
                return None
        return item

    def _folder(self, drive: str, path: str) -> str:
        parent = self.roots[drive]
        for part in [p for p in path.split("/") if p]:
            found = self._find(drive, self._path_of(parent) + "/" + part)
            if found is None:
                found = f"folder-{next(self._n)}"
                self.items[found] = {
                    "id": found,
                    "name": part,
                    "folder": {"childCount": 0},
                    "eTag": f'"{{{found}}},1"',
                    "parentReference": {"driveId": drive, "id": parent},
                }
                self.children_of[found] = []
                self.children_of[parent].append(found)
            parent = found
        return parent

    def _path_of(self, item_id: str) -> str:
        parts = []
        while "root" not in self.items[item_id]:
            parts.append(self.items[item_id]["name"])
            item_id = self.items[item_id]["parentReference"]["id"]
        return "/".join(reversed(parts))

    def add_file(
        self, path: str, content: bytes, drive: str | None = None, mime: str = XLSX
    ) -> dict[str, Any]:
        drive = drive or self.me_drive
        folder, _, name = path.strip("/").rpartition("/")
        parent = self._folder(drive, folder)
        item_id = f"01ITEM{next(self._n):04d}"
        self.items[item_id] = {
            "id": item_id,
            "name": name,
            "file": {"mimeType": mime},
            "parentReference": {
                "driveId": drive,
                "id": parent,
                "path": f"/drives/{drive}/root:/{folder}",
            },
        }
        self.children_of[parent].append(item_id)
        self.update_file(item_id, content)
        return self.items[item_id]

    def update_file(self, item_id: str, content: bytes) -> None:
        """A new version: the eTag and lastModifiedDateTime move on, as in OneDrive."""
        item = self.items[item_id]
        version = int(item.get("eTag", '"{x},0"').rsplit(",", 1)[1].strip('"')) + 1
        self.now += timedelta(minutes=1)
        item.update(
            {
                "eTag": f'"{{{item_id}}},{version}"',
                "cTag": f'"c:{{{item_id}}},{version}"',
                "size": len(content),
                "lastModifiedDateTime": self.now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        )
        self.content[item_id] = content

    def share(self, item_id: str | None = None, status: int | None = None) -> str:
        """A sharing link to an item (or one that answers ``status``)."""
        link = f"https://{HOST}/:x:/g/personal/sam/E{uuid.uuid4().hex}?e=AbC123"
        self.shares[link] = item_id if item_id is not None else (status or 403)
        return link

    # --- Graph handlers ---------------------------------------------------------------------

    def _graph(self, request: Request, answer: Any) -> Reply:
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.access_tokens:
            return _error(
                401,
                "InvalidAuthenticationToken",
                "Lifetime validation failed, the token is expired.",
            )
        return answer()

    def _item_reply(self, item_id: str | None) -> Reply:
        if not item_id or item_id not in self.items:
            return _error(404, "itemNotFound", "The resource could not be found.")
        item = dict(self.items[item_id])
        if "folder" in item:
            item["folder"] = {"childCount": len(self.children_of[item_id])}
        return Reply(200, {"@odata.context": f"{self.url}/v1.0/$metadata#driveItem", **item})

    def _me_path(self, request: Request, path: str) -> Reply:
        return self._graph(request, lambda: self._item_reply(self._find(self.me_drive, path)))

    def _user_path(self, request: Request, upn: str, path: str) -> Reply:
        drive = self.user_drives.get(unquote(upn).casefold())
        if drive is None:
            return self._graph(request, lambda: _error(404, "itemNotFound", "User not found"))
        return self._graph(request, lambda: self._item_reply(self._find(drive, path)))

    def _drive_path(self, request: Request, drive: str, path: str) -> Reply:
        return self._graph(request, lambda: self._item_reply(self._find(drive, path)))

    def _children(self, request: Request, drive: str, item: str) -> Reply:
        def answer() -> Reply:
            if item not in self.children_of:
                return _error(404, "itemNotFound", "The resource could not be found.")
            return self._paged(request, [self.items[c] for c in self.children_of[item]])

        return self._graph(request, answer)

    def _paged(self, request: Request, values: list[dict[str, Any]]) -> Reply:
        start = int(request.query.get("$skiptoken") or 0)
        body: dict[str, Any] = {"value": values[start : start + self.page_size]}
        if start + self.page_size < len(values):
            body["@odata.nextLink"] = (
                f"{self.url}{request.path}?$skiptoken={start + self.page_size}"
            )
        return Reply(200, body)

    def _content(self, request: Request, drive: str, item: str) -> Reply:
        def answer() -> Reply:
            if item not in self.content:
                return _error(404, "itemNotFound", "The resource could not be found.")
            if item in self.locked:
                return _error(
                    423, "resourceLocked", "The resource you are attempting to access is locked"
                )
            return Reply(
                302, b"", {"Location": f"{self.url}/download/{item}?tempauth={uuid.uuid4().hex}"}
            )

        return self._graph(request, answer)

    def _download(self, request: Request, item: str) -> Reply:
        if "authorization" in request.headers:  # a pre-authenticated address wants no token
            return Reply(401, {"error": "a bearer token was sent to the download address"})
        data = self.content[item]
        if item in self.edit_on_download:
            self.update_file(item, data)
        return Reply(200, data)

    def _site(self, request: Request, host: str, path: str) -> Reply:
        site = self.sites.get(f"{host}:/{unquote(path).strip('/')}".casefold())
        return self._graph(
            request,
            lambda: (
                Reply(200, site)
                if site
                else _error(404, "itemNotFound", "Requested site could not be found")
            ),
        )

    def _drive_json(self, drive: str) -> dict[str, Any]:
        return {"id": drive, "name": self.drive_names[drive], "driveType": "documentLibrary"}

    def _site_drive(self, request: Request, site: str) -> Reply:
        drives = self.site_drives.get(unquote(site))
        return self._graph(
            request,
            lambda: (
                Reply(200, self._drive_json(drives[0]))
                if drives
                else _error(404, "itemNotFound", "Requested site could not be found")
            ),
        )

    def _site_drives(self, request: Request, site: str) -> Reply:
        drives = self.site_drives.get(unquote(site), [])
        return self._graph(
            request, lambda: self._paged(request, [self._drive_json(d) for d in drives])
        )

    def _share(self, request: Request, share: str) -> Reply:
        def answer() -> Reply:
            for link, target in self.shares.items():
                if "u!" + b64url(link.encode()) == share:
                    if isinstance(target, int):
                        return _error(
                            target,
                            "accessDenied",
                            "The caller does not have permission to perform the action.",
                        )
                    return self._item_reply(target)
            return _error(404, "itemNotFound", "The sharing link no longer exists.")

        return self._graph(request, answer)
