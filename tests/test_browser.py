"""A real browser (Debian's Chromium, driven by Playwright) clicks through `harvest serve`'s pages.

If Playwright's driver or Chromium cannot start, these tests fail (they never skip):
run `make chromium` and `make setup`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from test_publish import ORG, PEOPLE_PER_MONTH, build_store, datasette_server

from harvest.publish.datasette import load_queries

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    store = build_store(tmp_path_factory.mktemp("browser") / "harvest.db")
    with datasette_server(store) as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: run `make chromium`"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    page = browser.new_page()
    yield page
    page.close()


def table_rows(page: Page) -> list[list[str]]:
    cells = page.locator("table.rows-and-columns tbody tr")
    return [
        [c.strip() for c in cells.nth(i).locator("td").all_inner_texts()]
        for i in range(cells.count())
    ]


def test_click_from_index_to_people_per_month(server: str, page: Page) -> None:
    query = load_queries()["people_per_month"]
    page.goto(server + "/")
    expect(page.locator("h1")).to_have_text(f"{ORG} — harvest")
    page.get_by_role("link", name="harvest", exact=True).first.click()
    page.get_by_role("link", name=query["title"]).click()
    page.wait_for_url(f"{server}/harvest/people_per_month*")
    expect(page.locator("h1")).to_have_text(query["title"])
    expect(page.locator(".metadata-description")).to_have_text(query["description"])
    expect(page.locator(".metadata-description")).to_be_visible()
    assert table_rows(page) == [
        [r["month"], str(r["people"]), str(r["attendances"])] for r in PEOPLE_PER_MONTH
    ]


def test_query_form_filters_by_date(server: str, page: Page) -> None:
    page.goto(f"{server}/harvest/people_per_month")
    page.locator("input[name=from]").fill("2024-03")
    page.locator("form.sql input[type=submit]").click()
    page.wait_for_url("**from=2024-03*")
    assert table_rows(page) == [["2024-03", "4", "5"]]
