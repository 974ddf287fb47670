"""A fake of the lunch club sign-in API that the example outside connector reads
(tests/example_connector).

Routes: ``GET /api/me`` and ``GET /api/signins`` (``since``: those updated at or after
it; ``page``: an opaque marker), ``page_size`` at a time, ``next`` the next page's
marker or null. Without ``Authorization: Bearer <token>`` the answer is a 401.
"""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

from harvest.testing.fake_api import FakeServer, Reply, Request

TOKEN = "fake-signins-token-51c2"


class FakeSignins(FakeServer):
    def __init__(self, page_size: int = 2) -> None:
        super().__init__()
        self.token = TOKEN
        self.page_size = page_size
        self.signins: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self.add_route("GET", r"/api/me", self._me)
        self.add_route("GET", r"/api/signins", self._signins)

    def add(self, first: str, last: str, postcode: str = "", date: str = "2026-03-03") -> None:
        self.signins.append(
            {
                "id": f"s-{next(self._ids)}",
                "first_name": first,
                "last_name": last,
                "postcode": postcode,
                "date": date,
                "activity": "Lunch club",
                "updated": self.now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        )
        self.now += timedelta(minutes=1)

    def _refused(self, request: Request) -> Reply | None:
        if request.headers.get("authorization") == f"Bearer {self.token}":
            return None
        return Reply(401, {"error": "invalid_token", "message": "The token is not valid."})

    def _me(self, request: Request) -> Reply:
        return self._refused(request) or Reply(200, {"name": "St Mary's lunch club"})

    def _signins(self, request: Request) -> Reply:
        if refused := self._refused(request):
            return refused
        since = request.query.get("since", "")
        items = [s for s in self.signins if s["updated"] >= since]
        start = int(request.query.get("page") or 0)
        more = start + self.page_size < len(items)
        return Reply(
            200,
            {
                "signins": items[start : start + self.page_size],
                "next": str(start + self.page_size) if more else None,
            },
        )
