"""The staff console (/-/console) over HTTP: a real Datasette started by `harvest serve`.

Who may do what: every change is a POST that a funder is refused (403), an anonymous
visitor is sent to the login page, and one without Datasette's CSRF token is refused.
The browser tests (test_console_browser.py) drive the same pages in Chromium.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from conftest import login, query, write_csv
from openpyxl import load_workbook
from test_logins import harvest_serve
from test_review import ALL_UNCERTAIN, HEADER
from test_review import ROWS as REVIEW_ROWS

from harvest.config import load_config
from harvest.publish.funders import publish_funders
from harvest.publish.users import Users, users_path
from harvest.sync import sync

PASSWORD = "a-long-password-1"
ROWS = [*REVIEW_ROWS, ["Zed", "Quill", "31/12/1980", "NOT A POSTCODE", "zed.quill@example.org"]]
CONFIG = """\
# The test charity's settings: this comment must survive a save from the browser.
organisation: Test Trust
database: harvest.db
matching: {matching}
sources:
  # The sign-up sheet, typed up every Tuesday.
  - name: signups
    type: file
    options:
      path: signups.csv
  - name: referrals  # a file that has gone missing
    type: file
    options:
      path: referrals.csv
"""
# Every page that changes something, with a form it might send.
POSTS = {
    "/-/console/sync": {},
    "/-/console/review/answer": {"decision": "same", "pair": "1:2"},
    "/-/console/review/undo": {},
    "/-/console/people/1/erase": {"confirm": "Ann Lee"},
    "/-/console/mapping/signups": {"map:Email": "extra"},
    "/-/console/connect": {"token": "not-a-real-token"},
    "/-/console/connect/microsoft": {},
}


def write_project(folder: Path) -> Path:
    write_csv(folder / "signups.csv", [HEADER, *ROWS])
    path = folder / "harvest.yaml"
    path.write_text(
        CONFIG.format(matching=yaml.safe_dump(ALL_UNCERTAIN, default_flow_style=True).strip())
    )
    return path


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("console")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HARVEST_SECRETS_FILE", str(folder / "secrets.json"))
        config = load_config(write_project(folder))
        sync(config)
        publish_funders(config)
        users = Users(users_path(config.database_path))
        users.add("staff1", "staff", PASSWORD)
        users.add("fund1", "funder", PASSWORD)
        yield folder


@pytest.fixture(scope="module")
def server(project: Path) -> Iterator[str]:
    with harvest_serve(project) as base:
        yield base


def csrf(client: httpx.Client, path: str = "/-/login") -> str:
    token = re.search(r'name="csrftoken" value="([^"]+)"', client.get(path).text)
    assert token, f"no form with a CSRF token at {path}"
    return token.group(1)


def test_the_sources_page_says_why_a_source_failed(server: str) -> None:
    staff = login(server, "staff1", PASSWORD)
    page = staff.get("/-/console/sources")
    assert page.status_code == 200
    assert "referrals" in page.text and "Failed" in page.text
    assert "Why it failed" in page.text and "no files match" in page.text
    assert "referrals.csv" in page.text  # the reason names the file
    assert "not a UK postcode" in page.text and "signups.csv" in page.text
    sheet = staff.get("/-/console/sources/signups/problems.xlsx")
    assert sheet.status_code == 200 and sheet.content[:2] == b"PK"
    rows = list(load_workbook(io.BytesIO(sheet.content)).active.iter_rows(values_only=True))
    assert rows[0] == ("where", "row", "field", "value as typed", "problem", "severity")
    assert ("signups.csv", 8, "postcode", "NOT A POSTCODE", "not a UK postcode", "warning") in rows


def test_the_staff_home_page_links_to_the_console(server: str) -> None:
    staff = login(server, "staff1", PASSWORD)
    assert 'href="/-/console"' in staff.get("/").text
    funder = login(server, "fund1", PASSWORD)
    assert "/-/console" not in funder.get("/").text


@pytest.mark.parametrize("path", [*POSTS, "/-/console/sources", "/-/console/people/1"])
def test_a_funder_is_refused_every_console_page(server: str, path: str) -> None:
    funder = login(server, "fund1", PASSWORD)
    token = csrf(funder)
    response = (
        funder.post(path, data={**POSTS[path], "csrftoken": token})
        if path in POSTS
        else funder.get(path)
    )
    assert response.status_code == 403


@pytest.mark.parametrize("path", list(POSTS))
def test_an_anonymous_post_goes_to_the_login_page(server: str, path: str) -> None:
    response = httpx.post(server + path, data=POSTS[path])
    assert response.status_code == 302
    assert response.headers["location"] == "/-/login"


def test_a_post_without_the_csrf_token_is_refused(server: str, project: Path) -> None:
    staff = login(server, "staff1", PASSWORD)
    before = query(project / "harvest.db", "SELECT count(*) FROM match_decisions")
    pair = staff.get("/-/console/review").text
    key = re.search(r'name="pair" value="([^"]+)"', pair)
    assert key
    response = staff.post(
        "/-/console/review/answer", data={"decision": "same", "pair": key.group(1)}
    )
    assert response.status_code == 403
    assert query(project / "harvest.db", "SELECT count(*) FROM match_decisions") == before


def test_an_unknown_person_is_a_page_that_says_so(server: str) -> None:
    staff = login(server, "staff1", PASSWORD)
    response = staff.get("/-/console/people/99999")
    assert response.status_code == 404 and "There is no person 99999" in response.text
