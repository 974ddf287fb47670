"""The funder view in a real browser: staff still get Datasette's queries, chart and map;
a funder who opens one of those pages gets the dashboard's plain page of the same rows.

Debian's Chromium, driven by Playwright; if either cannot start these tests fail (they
never skip): run `make chromium` and `make setup`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect
from test_browser import browser  # noqa: F401  (the shared Chromium fixture)
from test_funders import FUNDER, STAFF, funder_server, project  # noqa: F401

from harvest.publish.site import load_funder_queries


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:  # noqa: F811
    page = browser.new_page()
    yield page
    page.close()


def log_in(page: Page, base: str, name: str, password: str, lands: str = "/") -> None:
    page.goto(base + "/funders/reach")
    page.wait_for_url(base + "/-/login")  # anonymous: sent to the login page
    page.locator("input[name=username]").fill(name)
    page.locator("input[name=password]").fill(password)
    page.locator("input[type=submit]").click()
    page.wait_for_url(base + lands)


def test_a_funder_opening_a_query_gets_its_plain_page(funder_server: str, page: Page) -> None:  # noqa: F811
    log_in(page, funder_server, *FUNDER, lands="/dashboard")  # a funder lands on the dashboard
    expect(page.locator("h1")).to_contain_text("Who we reached")
    for name in load_funder_queries():
        page.goto(f"{funder_server}/funders/{name}")
        assert "/dashboard/table/" in page.url, name
        expect(page.locator(".downloads")).to_contain_text("CSV")
        assert "SQL" not in page.content()
    page.goto(f"{funder_server}/funders/who?period=not-a-month")
    expect(page.locator("body")).to_contain_text("not one of the choices")


def test_staff_open_every_query(funder_server: str, page: Page) -> None:  # noqa: F811
    log_in(page, funder_server, *STAFF)
    for name, query in load_funder_queries().items():
        page.goto(f"{funder_server}/funders/{name}")
        expect(page.locator("h1")).to_contain_text(query["title"])
        expect(page.locator("table.rows-and-columns")).to_be_visible()
    page.goto(f"{funder_server}/funders/who?period=2024-01")
    expect(page.locator("table.rows-and-columns")).to_contain_text("Everyone")
    page.goto(f"{funder_server}/funders/who?period=not-a-month")
    expect(page.locator("body")).to_contain_text("not one of the choices")
    page.goto(f"{funder_server}/funders/people")  # no person-level table any more
    expect(page.locator("body")).to_contain_text("not found")


def test_chart_of_reach_over_time(funder_server: str, page: Page) -> None:  # noqa: F811
    log_in(page, funder_server, *STAFF)
    page.goto(
        f"{funder_server}/funders/reach#g.mark=bar&g.x_column=period&g.x_type=ordinal"
        "&g.y_column=people&g.y_type=quantitative"
    )
    expect(page.locator("canvas.marks, svg.marks").first).to_be_visible(timeout=15000)


def test_map_of_where_people_live(funder_server: str, page: Page) -> None:  # noqa: F811
    log_in(page, funder_server, *STAFF)
    page.goto(f"{funder_server}/funders/where_people_live")
    expect(page.locator(".leaflet-container")).to_be_visible(timeout=15000)
    expect(page.locator(".leaflet-marker-icon").first).to_be_visible(timeout=15000)
