"""In a real browser: a funder is logged in, is removed, and the next click lands on the
login page (Debian's Chromium driven by Playwright; these tests fail, never skip, if it
cannot start: run `make chromium` and `make setup`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from test_browser import browser  # noqa: F401  (the shared Chromium fixture)
from test_logins import PASSWORD, funder_server, project  # noqa: F401

from harvest.publish.users import Users, users_path


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:  # noqa: F811
    page = browser.new_page()
    yield page
    page.close()


def test_a_removed_funder_clicks_and_lands_on_the_login_page(
    project: Path,  # noqa: F811
    funder_server: str,  # noqa: F811
    page: Page,
) -> None:
    page.goto(funder_server + "/funders")
    page.wait_for_url(funder_server + "/-/login")
    page.locator("input[name=username]").fill("fund4")
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("input[type=submit]").click()
    page.wait_for_url(funder_server + "/dashboard")  # a funder lands on the dashboard
    page.goto(funder_server + "/funders")  # a funder gets the dashboard's plain pages
    expect(page.locator("h1")).to_contain_text("Every table")
    assert Users(users_path(project / "harvest.db")).remove("fund4")
    page.locator("a[href^='/dashboard/table/coverage']").first.click()
    page.wait_for_url(funder_server + "/-/login")
    expect(page.locator("h1")).to_contain_text("Log in")
    assert not [c for c in page.context.cookies() if c["name"] == "ds_actor"]
