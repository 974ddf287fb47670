"""The staff console in a real browser (Debian's Chromium driven by Playwright): a sync
started with a click, a review answered with a key, an erasure confirmed by typing the
name, and axe-core on every page. Set HARVEST_SCREENSHOTS=docs/images to refresh the
screenshots in docs/console.md."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import query, scalar
from fakes.microsoft import USER, FakeMicrosoft
from playwright.sync_api import Browser, Page, expect
from test_browser import browser  # noqa: F401  (the shared Chromium fixture)
from test_console import PASSWORD
from test_console import project as console_project  # noqa: F401
from test_logins import harvest_serve
from test_microsoft_auth import config as microsoft_config

from harvest.publish.users import Users, users_path
from harvest.store import connect

AXE = Path(__file__).parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
PAGES = [
    ("home", "/-/console"),
    ("sources", "/-/console/sources"),
    ("review", "/-/console/review"),
    ("people", "/-/console/people?email=rp%40example.org"),
    ("audit", "/-/console/audit"),
    ("mapping", "/-/console/mapping/signups"),
    ("connect", "/-/console/connect"),
]


@pytest.fixture(scope="module")
def project(console_project: Path) -> Path:  # noqa: F811
    return console_project


@pytest.fixture(scope="module")
def server(project: Path) -> Iterator[str]:
    with harvest_serve(project) as base:
        yield base


def log_in(page: Page, server: str) -> Page:
    page.goto(server + "/-/login")
    page.locator("input[name=username]").fill("staff1")
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("input[type=submit]").click()
    page.wait_for_url(server + "/")
    return page


@pytest.fixture
def page(browser: Browser, server: str) -> Iterator[Page]:  # noqa: F811
    page = log_in(browser.new_page(viewport={"width": 1000, "height": 720}), server)
    yield page
    page.close()


def shot(page: Page, name: str) -> None:
    folder = os.environ.get("HARVEST_SCREENSHOTS")
    if folder:
        page.screenshot(path=str(Path(folder) / f"console-{name}.png"), full_page=False)


def axe_violations(page: Page) -> list[str]:
    assert AXE.exists(), f"{AXE} is missing: run `make test` (it installs axe-core with npm)"
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document)")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@pytest.mark.parametrize("name,path", PAGES)
def test_axe_finds_no_serious_problems(page: Page, server: str, name: str, path: str) -> None:
    page.goto(server + path)
    expect(page.locator("h1")).to_be_visible()
    shot(page, name)
    assert axe_violations(page) == []


def test_sync_now_runs_in_the_background_and_shows_how_it_went(
    page: Page, server: str, project: Path
) -> None:
    runs = scalar(project / "harvest.db", "SELECT count(*) FROM sync_runs")
    page.goto(server + "/-/console/sources")
    page.get_by_role("button", name="Sync now").click()
    expect(page.locator("#sync-status")).to_contain_text("finished", timeout=60_000)
    expect(page.locator("#sync-status")).to_contain_text("referrals: FAILED")
    expect(page.locator(".failure")).to_contain_text("no files match 'referrals.csv'")
    assert scalar(project / "harvest.db", "SELECT count(*) FROM sync_runs") == runs + 1
    who = query(project / "harvest.db", "SELECT user FROM audit_runs WHERE action = 'sync'")
    assert who[-1] == ("staff1",)


def test_a_review_answered_in_the_browser_changes_the_people(
    page: Page, server: str, project: Path
) -> None:
    db = project / "harvest.db"
    people = scalar(db, "SELECT count(DISTINCT person_id) FROM records WHERE is_current = 1")
    page.goto(server + "/-/console/review")
    left = page.locator("#left").inner_text()
    page.keyboard.press("s")
    expect(page.locator(".message-info")).to_contain_text("Saved: the same person")
    assert page.locator("#left").inner_text() != left
    after = scalar(db, "SELECT count(DISTINCT person_id) FROM records WHERE is_current = 1")
    assert after == people - 1
    decided = query(db, "SELECT decision, decided_by, via FROM match_decisions")
    assert decided[-1] == ("same", "staff1", "browser")
    page.get_by_role("button", name="Undo the last answer").click()
    expect(page.locator(".message-info")).to_contain_text("Undone")
    assert scalar(db, "SELECT count(DISTINCT person_id) FROM records WHERE is_current = 1") == (
        people
    )


def _files(project: Path) -> bytes:
    names = ("harvest.db", "funders.db")
    return b"".join(p.read_bytes() for p in project.iterdir() if p.name.startswith(names))


def test_an_erasure_from_the_browser_leaves_nothing_behind(
    page: Page, server: str, project: Path
) -> None:
    assert b"zed.quill@example.org" in _files(project)
    page.goto(server + "/-/console/people")
    page.get_by_label("Email address").fill("zed.quill@example.org")
    page.get_by_role("button", name="Find").click()
    page.get_by_role("link", name="Zed Quill").click()
    expect(page.locator("h1")).to_have_text("Zed Quill")
    expect(page.locator("main")).to_contain_text("records: 1; raw rows: 1; attendances: 0")
    shot(page, "person")
    page.get_by_label("To confirm").fill("Zed Quil")
    page.get_by_role("button", name="Erase this person").click()
    expect(page.locator(".error-summary")).to_contain_text("Type Zed Quill")
    assert axe_violations(page) == []
    page.get_by_label("To confirm").fill("zed  quill")
    page.get_by_role("button", name="Erase this person").click()
    expect(page.locator(".message-info")).to_contain_text("Forgotten: 1 record(s)")
    data = _files(project)
    assert b"zed.quill@example.org" not in data and b"Quill" not in data
    who = query(project / "harvest.db", "SELECT user FROM audit_runs WHERE action = 'forget'")
    assert who and who[-1] == ("staff1",)


def test_a_mapping_changed_in_the_browser_lands_in_harvest_yaml_and_the_next_sync(
    page: Page, server: str, project: Path
) -> None:
    page.goto(server + "/-/console/mapping/signups")
    column = page.get_by_role("combobox", name="Email")
    expect(column).to_have_value("email")
    column.select_option("extra")
    page.get_by_role("button", name="Save the mapping").click()
    expect(page.locator(".message-info")).to_contain_text("Saved 1 column(s)")
    text = (project / "harvest.yaml").read_text()
    assert "# The test charity's settings: this comment must survive" in text
    assert "# The sign-up sheet, typed up every Tuesday." in text
    assert "Email: null" in text or "Email:\n" in text
    who = query(
        project / "harvest.db", "SELECT user, counts FROM audit_runs WHERE action = 'mapping'"
    )
    assert who == [("staff1", '{"columns": 1}')]
    with (project / "signups.csv").open("a") as fh:
        fh.write("Una,Moss,04/04/1990,M1 1AE,una@example.org\n")
    page.get_by_role("button", name="Sync signups now").click()
    page.wait_for_url(server + "/-/console/sources")
    expect(page.locator("#sync-status")).to_contain_text("finished", timeout=60_000)
    row = query(project / "harvest.db", "SELECT email, extra FROM records WHERE given_name = 'Una'")
    assert row[0][0] is None and "una@example.org" in row[0][1]


def test_connecting_eventbrite_says_what_is_wrong_and_never_shows_the_token(
    page: Page, server: str
) -> None:
    page.goto(server + "/-/console/connect")
    page.get_by_role("button", name="Check and save the token").click()
    expect(page.locator(".error-summary")).to_contain_text("No token was given")
    assert axe_violations(page) == []
    expect(page.locator("main")).to_contain_text("harvest auth microsoft --config")


def test_signing_in_to_microsoft_shows_the_code_then_who_signed_in(
    browser: Browser,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with FakeMicrosoft(tmp_path) as ms:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ms.ca_bundle))  # trust its throw-away CA
        project = tmp_path / "project"
        project.mkdir()
        microsoft_config(project, ms)
        connect(project / "harvest.db").conn.close()
        Users(users_path(project / "harvest.db")).add("staff1", "staff", PASSWORD)
        with harvest_serve(project) as base:
            page = log_in(browser.new_page(), base)
            page.goto(base + "/-/console/connect")
            page.get_by_role("button", name="Sign in to Microsoft").click()
            status = page.locator("#microsoft-status")
            expect(status).to_contain_text(f"Signed in as {USER}", timeout=30_000)
            expect(status).to_contain_text("enter the code HRV-7K2Q")
            html = page.content()
            page.close()
        saved = json.loads((project / "secrets.json").read_text())
        assert "microsoft" in saved
        assert not any(t in html for t in [*ms.access_tokens, *ms.refresh_tokens])
        who = query(project / "harvest.db", "SELECT user FROM audit_runs WHERE action LIKE 'auth%'")
        assert who == [("staff1",)]
