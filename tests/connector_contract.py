"""A harness for each registered connector, for the connector contract
(:mod:`harvest.testing.contract`, run by tests/test_connector_contract.py): each runs its
connector's local fake API (tests/fakes) and can add records, refuse access and fail the
next request. A registered connector without a harness here fails the contract.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from fakes.eventbrite import FakeEventbrite
from fakes.google import FakeGoogle, question
from fakes.microsoft import CLIENT, TENANT, FakeMicrosoft, workbook
from fakes.signins import FakeSignins

from harvest.connectors.microsoft_auth import MicrosoftApp, MicrosoftAuth
from harvest.errors import ConfigError
from harvest.testing.contract import PEOPLE, Harness

HERE = Path(__file__).parent
EXAMPLE = HERE / "example_connector"
HEADERS = ["First name", "Surname", "Postcode"]


class FileHarness(Harness):
    type = "file"
    http = False
    refused = ConfigError
    todo = "Check the path in harvest.yaml"

    def start(self) -> None:
        self.csv = self.folder / "signups" / "lunch.csv"
        self.write([])

    def write(self, rows: list[tuple[str, str, str]]) -> None:
        self.csv.parent.mkdir(parents=True, exist_ok=True)
        lines = [",".join(HEADERS), *(",".join(r) for r in rows)]
        self.csv.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def options(self) -> dict[str, Any]:
        return {"path": "signups/*.csv"}

    def put(self, people: list[tuple[str, str, str]]) -> None:
        self.write(PEOPLE[: self.added])  # a file grows as people sign up
        stat = self.csv.stat()  # a new modification time, even within the clock's tick
        os.utime(self.csv, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))

    def refuse_access(self) -> None:
        shutil.rmtree(self.csv.parent)


class EventbriteHarness(Harness):
    type = "eventbrite"
    todo = "run `harvest auth eventbrite`"

    def start(self) -> None:
        from fakes.eventbrite import TOKEN

        self.fake = self.eventbrite = FakeEventbrite(page_size=2).start()
        self.event = self.eventbrite.add_event("Lunch club", "2026-03-03T12:00:00")
        self.tokens.set("eventbrite", TOKEN)

    def options(self) -> dict[str, Any]:
        return {"api_url": self.eventbrite.api_url, "max_wait_seconds": 0.05}

    def put(self, people: list[tuple[str, str, str]]) -> None:
        for first, last, _ in people:
            self.eventbrite.add_attendee(self.event, first, last)

    def refuse_access(self) -> None:
        self.tokens.set("eventbrite", "a-token-eventbrite-does-not-know")

    def data_path(self) -> str:
        return f"/v3/events/{self.event}/attendees/"


class GoogleHarness(Harness):
    todo = "run `harvest auth google`"

    def start(self) -> None:
        self.fake = self.google = FakeGoogle(page_size=2).start()
        self.tokens.set("google", self.google.authorized_user())

    def refuse_access(self) -> None:
        self.google.refresh_tokens.clear()  # revoked, as from the Google account's page
        self.google.expire_access_tokens()


class GoogleFormsHarness(GoogleHarness):
    type = "google_forms"

    def start(self) -> None:
        super().start()
        questions = [question(f"q{i}", h) for i, h in enumerate(HEADERS, 1)]
        self.form = self.google.add_form("Lunch club sign-up", questions)

    def options(self) -> dict[str, Any]:
        return {"form": self.form, "api_url": self.google.api_url, "max_wait_seconds": 0.05}

    def put(self, people: list[tuple[str, str, str]]) -> None:
        for person in people:
            self.google.respond(self.form, {f"q{i}": v for i, v in enumerate(person, 1)})

    def data_path(self) -> str:
        return f"/v1/forms/{self.form}/responses"


class GoogleSheetsHarness(GoogleHarness):
    type = "google_sheets"

    def start(self) -> None:
        super().start()
        self.key = self.google.add_spreadsheet("Lunch club", {"Sign-ups": [HEADERS]})

    def options(self) -> dict[str, Any]:
        return {"spreadsheet": self.key, "api_url": self.google.api_url, "max_wait_seconds": 0.05}

    def put(self, people: list[tuple[str, str, str]]) -> None:
        self.google.tab(self.key, "Sign-ups")["rows"].extend(list(p) for p in people)
        self.google.touch(self.key)

    def data_path(self) -> str:
        return f"/v4/spreadsheets/{self.key}/values:batchGet"


class MicrosoftHarness(Harness):
    type = "microsoft_excel"
    todo = "run `harvest auth microsoft`"

    def start(self) -> None:
        self.fake = self.ms = FakeMicrosoft(self.folder).start()
        self.monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(self.ms.ca_bundle))
        MicrosoftAuth(MicrosoftApp(TENANT, CLIENT, self.ms.url)).sign_in(lambda message: None)
        self.book = self.ms.add_file("Lunch club.xlsx", workbook({"Sign-ups": [HEADERS]}))

    def options(self) -> dict[str, Any]:
        return {
            "tenant_id": TENANT,
            "client_id": CLIENT,
            "path": "Lunch club.xlsx",
            "api_url": self.ms.url + "/v1.0",
            "authority_url": self.ms.url,
            "max_wait_seconds": 0.05,
        }

    def put(self, people: list[tuple[str, str, str]]) -> None:
        rows = [HEADERS, *(list(p) for p in PEOPLE[: self.added])]
        self.ms.update_file(self.book["id"], workbook({"Sign-ups": rows}))

    def refuse_access(self) -> None:
        self.ms.revoked = True  # the sign-in was revoked: no token works, none renews
        self.ms.access_tokens.clear()

    def data_path(self) -> str:
        return "/download/"


class ExampleHarness(Harness):
    """The example outside connector (tests/example_connector), installed as a package."""

    type = "example_signins"
    todo = "environment variable SIGNINS_TOKEN"

    def start(self) -> None:
        from fakes.signins import TOKEN

        self.fake = self.api = FakeSignins(page_size=2).start()
        self.monkeypatch.setenv("SIGNINS_TOKEN", TOKEN)

    def options(self) -> dict[str, Any]:
        return {
            "api_url": self.api.url,
            "token": {"env": "SIGNINS_TOKEN"},
            "max_wait_seconds": 0.05,
        }

    def put(self, people: list[tuple[str, str, str]]) -> None:
        for first, last, postcode in people:
            self.api.add(first, last, postcode)

    def refuse_access(self) -> None:
        self.monkeypatch.setenv("SIGNINS_TOKEN", "a-token-the-api-does-not-know")

    def data_path(self) -> str:
        return "/api/signins"


HARNESSES: dict[str, type[Harness]] = {
    h.type: h
    for h in (
        FileHarness,
        EventbriteHarness,
        GoogleFormsHarness,
        GoogleSheetsHarness,
        MicrosoftHarness,
        ExampleHarness,
    )
}


def install(package: Path, target: Path) -> Path:
    """``pip install`` a package (from a copy, so no build files land in the repository)
    into ``target``, offline, without its dependencies; ``target``."""
    copy = target.parent / f"{package.name}-source"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index"]
        + ["--no-build-isolation", "--target", str(target), str(copy)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return target
