"""Microsoft Graph, read-only: find a driveItem, list a folder, download a file.

Every request goes through harvest's :class:`~harvest.connectors.http.HttpClient`
(timeouts, 429/503 retried honouring ``Retry-After``, fractions included; 401 → "run
`harvest auth microsoft`"). Only delegated calls are made: ``/me/drive`` is the
signed-in person's OneDrive, which works because harvest never uses an app-only token.

Finding the item (Graph's documented addressing):

==========================  ====================================================
OneDrive path               ``/me/drive/root:/{path}`` (``/users/{upn}/drive/...``)
SharePoint site + path      ``/sites/{host}:/{site-path}`` → the site's drive →
                            ``/drives/{drive-id}/root:/{path}``
sharing link                ``/shares/u!{base64url(link)}/driveItem``
==========================  ====================================================

Paths are URL-encoded segment by segment ("Sign ups/Week 1.xlsx" → ``Sign%20ups/…``).
``/content`` answers 302 with a short-lived, pre-authenticated address: it is followed
by hand, *without* the bearer token, since that address belongs to another host and
needs none.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urljoin

import requests
from pydantic import SecretStr

from harvest.connectors.http import HttpClient, describe_error, paginate, url_path
from harvest.errors import SourceError

DEFAULT_API_URL = "https://graph.microsoft.com/v1.0"


def share_id(link: str) -> str:
    """A sharing link as Graph's share id: ``u!`` + unpadded base64url of the link."""
    encoded = base64.urlsafe_b64encode(link.strip().encode("utf-8")).decode("ascii")
    return "u!" + encoded.rstrip("=")


def quote_path(path: str) -> str:
    """A drive path, each segment URL-encoded (spaces, #, %, and so on), no leading ``/``."""
    return "/".join(quote(part, safe="") for part in path.strip().strip("/").split("/") if part)


class Missing(Exception):
    """Graph answered 403 or 404 for an item: the caller explains what that means."""

    def __init__(self, status: int, said: str) -> None:
        super().__init__(said)
        self.status = status
        self.said = said


class Graph:
    """A few Graph calls with a bearer token, through harvest's HttpClient."""

    def __init__(self, api_url: str, token: SecretStr, http: HttpClient) -> None:
        self.api_url = api_url.rstrip("/")
        self.token = token
        self.http = http

    def _url(self, path: str) -> str:
        return path if path.startswith(("https://", "http://")) else self.api_url + path

    def get(self, path: str, allow: tuple[int, ...] = (), **kwargs: Any) -> requests.Response:
        headers = {
            "Authorization": f"Bearer {self.token.get_secret_value()}",
            "Accept": "application/json",
        }
        return self.http.request("GET", self._url(path), headers=headers, allow=allow, **kwargs)

    def json(self, path: str, missing_ok: bool = False) -> dict[str, Any]:
        """The JSON object at ``path``; with ``missing_ok``, 403/404 raise :class:`Missing`."""
        response = self.get(path, allow=(403, 404) if missing_ok else ())
        if response.status_code in (403, 404):
            raise Missing(response.status_code, describe_error(response))
        body = self.http.json(response)
        if not isinstance(body, dict):
            raise SourceError(
                f"Microsoft Graph answered {url_path(response.url)} with JSON "
                "that is not an object.",
                retriable=True,
            )
        return body

    def pages(self, path: str) -> Iterator[dict[str, Any]]:
        """Every item of a collection, following ``@odata.nextLink`` to the end."""

        def page(link: str | None) -> tuple[list[dict[str, Any]], str | None]:
            body = self.json(link or path)
            items = body.get("value")
            if not isinstance(items, list):
                raise SourceError(
                    f"Microsoft Graph answered {url_path(self._url(link or path))}"
                    " without a list of items.",
                    retriable=True,
                )
            more = body.get("@odata.nextLink")
            return [i for i in items if isinstance(i, dict)], (str(more) if more else None)

        return paginate(page, f"Microsoft Graph {url_path(self._url(path))}")

    # --- finding a workbook -----------------------------------------------------------------

    def drive_path(self, user: str | None = None) -> str:
        """The signed-in person's OneDrive, or another person's by user principal name."""
        return f"/users/{quote(user, safe='@')}/drive" if user else "/me/drive"

    def site_drive(self, site: str, library: str | None) -> str:
        """``/drives/{id}`` of a SharePoint site's library (default: its "Documents")."""
        host, _, site_path = site.partition("/")
        address = (
            f"/sites/{host}:/{quote_path(site_path)}" if site_path.strip("/") else f"/sites/{host}"
        )
        try:
            found = self.json(address, missing_ok=True)
        except Missing as gone:
            raise SourceError(
                f"There is no SharePoint site {site} that the signed-in account "
                f"can open (HTTP {gone.status}). Check 'site' in harvest.yaml: the "
                "site's address, e.g. yourcharity.sharepoint.com/sites/Volunteers."
            ) from None
        site_id = quote(str(found.get("id")), safe=",")
        if library is None:
            drive = self.json(f"/sites/{site_id}/drive")
            return f"/drives/{drive.get('id')}"
        drives = list(self.pages(f"/sites/{site_id}/drives"))
        for drive in drives:
            if str(drive.get("name", "")).strip().casefold() == library.strip().casefold():
                return f"/drives/{drive.get('id')}"
        have = ", ".join(f"'{d.get('name')}'" for d in drives) or "none"
        raise SourceError(
            f"The SharePoint site {site} has no document library '{library}' "
            f"(it has {have}). Check 'library' in harvest.yaml."
        )

    def item_at(self, drive: str, path: str) -> dict[str, Any]:
        """The driveItem at ``path`` in ``drive`` (the drive's root for an empty path)."""
        where = quote_path(path)
        return self.json(f"{drive}/root:/{where}" if where else f"{drive}/root", missing_ok=True)

    def shared_item(self, link: str) -> dict[str, Any]:
        return self.json(f"/shares/{share_id(link)}/driveItem", missing_ok=True)

    # --- reading it ----------------------------------------------------------------------------

    @staticmethod
    def address(item: dict[str, Any]) -> str:
        """``/drives/{drive}/items/{id}``: where the item is, whichever way it was found."""
        drive = (item.get("parentReference") or {}).get("driveId")
        return (
            f"/drives/{drive}/items/{item.get('id')}"
            if drive
            else f"/me/drive/items/{item.get('id')}"
        )

    def children(self, folder: dict[str, Any]) -> Iterator[dict[str, Any]]:
        return self.pages(f"{self.address(folder)}/children")

    def refresh(self, item: dict[str, Any]) -> dict[str, Any]:
        return self.json(self.address(item), missing_ok=True)

    def download(self, item: dict[str, Any]) -> requests.Response:
        """The file's bytes: ``/content``, then its 302 followed without the token.

        A 423 (the file is locked) is returned for the caller to explain.
        """
        path = f"{self.address(item)}/content"
        first = self.get(path, allow=(302, 303, 307, 423), allow_redirects=False)
        if first.status_code == 423 or first.status_code < 300:
            return first
        location = first.headers.get("Location")
        if not location:
            raise SourceError(
                f"Microsoft Graph answered {url_path(first.url)} with a redirect "
                "but no address to download from.",
                retriable=True,
            )
        target = urljoin(first.url, location)
        return self.http.request("GET", target, allow=(423,), allow_redirects=True)
