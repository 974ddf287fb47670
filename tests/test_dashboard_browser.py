"""A funder opens the dashboard in a real browser: choices, figures as published, every
download, the PDF, axe-core with no serious or critical problem, no console errors, and
screenshots at 1400 and 390 px wide (in the test's tmp folder); every page a funder can
reach from the dashboard is in plain words, with no SQL and no codes.

Debian's Chromium driven by Playwright, and axe-core from npm (`make axe`); these tests
fail, never skip, if either is missing.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect
from test_browser import browser  # noqa: F401  (the shared Chromium fixture)
from test_dashboard import pdf_text
from test_funders import FUNDER, TOO_FEW, funder_server, project  # noqa: F401

from harvest.publish.dashboard import shown_value
from harvest.publish.dashboard_web import QUERY_FIGURES
from harvest.publish.site import load_funder_queries

AXE = Path(__file__).parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:  # noqa: F811
    assert AXE.is_file(), f"{AXE} is missing: run `make axe`"
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.errors = []  # type: ignore[attr-defined]
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))  # type: ignore[attr-defined]
    page.on("pageerror", lambda e: page.errors.append(str(e)))  # type: ignore[attr-defined]
    yield page
    assert page.errors == []  # type: ignore[attr-defined]
    page.close()


def serious_problems(page: Page) -> list[dict]:
    """axe-core's serious and critical violations of WCAG 2.2 AA on the page."""
    page.add_script_tag(path=str(AXE))
    return page.evaluate(
        """async () => (await axe.run(document, {runOnly: {type: 'tag', values:
            ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']}}))
            .violations.filter(v => ['serious', 'critical'].includes(v.impact))
            .map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target)}))"""
    )


def headline(project: Path, period: str, activity: str) -> tuple:  # noqa: F811
    conn = sqlite3.connect(project / "funders.db")
    try:
        return conn.execute(
            "SELECT people, attendances FROM people_reached WHERE period = ? AND activity = ? "
            "AND area = 'All areas'",
            (period, activity),
        ).fetchone()
    finally:
        conn.close()


def log_in(page: Page, base: str) -> None:
    page.goto(base + "/")
    page.wait_for_url(base + "/-/login")
    expect(page.locator("body")).to_contain_text("Test Trust")  # the charity's name
    lead = page.locator(".lead").inner_text()  # and one sentence on what this is
    assert lead.count(". ") == 0 and lead.endswith(".") and "funders" in lead
    assert serious_problems(page) == []
    page.locator("input[name=username]").fill(FUNDER[0])
    page.locator("input[name=password]").fill(FUNDER[1])
    page.locator("input[type=submit]").click()
    page.wait_for_url(base + "/dashboard")


def test_funder_chooses_a_period_and_an_activity(
    funder_server: str,  # noqa: F811
    project: Path,  # noqa: F811
    page: Page,
    tmp_path: Path,
) -> None:
    log_in(page, funder_server)
    expect(page.locator("h1")).to_have_text("Who we reached and what changed")
    for period, activity in (("2024-01", "All activities"), ("2024-Q1", "Lunch club")):
        page.locator("#period").select_option(period)
        page.locator("#activity").select_option(activity)
        page.locator("button[type=submit]", has_text="Show figures").click()
        page.wait_for_url(f"**/dashboard?period={period}*")
        assert activity.replace(" ", "+") in page.url  # the choice is in the address
        people, attendances = headline(project, period, activity)
        expect(page.locator("[data-figure=people]")).to_have_text(shown_value(people))
        expect(page.locator("[data-figure=attendances]")).to_have_text(shown_value(attendances))
    expect(page.locator("#who")).to_contain_text("Female")
    expect(page.locator("svg.map circle").first).to_be_visible()  # no internet needed
    assert "Run SQL" not in page.content() and "female" not in page.locator("#who").inner_text()
    assert serious_problems(page) == []
    page.screenshot(path=str(tmp_path / "dashboard-1400.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width} px wide on a phone"
    assert serious_problems(page) == []
    page.screenshot(path=str(tmp_path / "dashboard-390.png"), full_page=True)
    assert (tmp_path / "dashboard-390.png").stat().st_size > 0


def test_every_download_and_the_pdf(funder_server: str, page: Page) -> None:  # noqa: F811
    log_in(page, funder_server)
    page.goto(funder_server + "/dashboard?period=2024-Q1")
    links = page.locator(".downloads a").evaluate_all("links => links.map(a => a.href)")
    assert len(links) == 3 * len(QUERY_FIGURES)  # CSV, XLSX and the page of every figure
    for href in links:
        response = page.request.get(href)
        assert response.status == 200, href
        if ".csv" in href:
            assert (
                response.text()
                .lstrip("\ufeff")
                .startswith(
                    (
                        "Period,",
                        "Characteristic,",
                        "Circumstance,",
                        "Times,",
                        "Area,",
                        "Postcode district,",
                        "Decile,",
                        "Activity,",
                        "Outcome,",
                        "Measure,",
                        "Source,",
                    )
                )
            ), href  # a table, in words
        if ".xlsx" in href:
            assert response.body()[:2] == b"PK", href
    with page.expect_download() as info:
        page.get_by_role("link", name="Download this overview as a PDF").click()
    pdf = Path(info.value.path()).read_bytes()
    text = pdf_text(pdf)
    assert "Test Trust" in text and "2024 quarter 1" in text


def test_too_few_people_and_a_choice_that_is_not_offered(
    funder_server: str,  # noqa: F811
    page: Page,
) -> None:
    log_in(page, funder_server)
    page.goto(funder_server + "/dashboard?period=2024-03")
    expect(page.locator("[data-figure=too-few]")).to_have_text(TOO_FEW)
    assert serious_problems(page) == []
    response = page.goto(funder_server + "/dashboard?period=March+2024")
    assert response is not None and response.status == 400
    expect(page.locator("body")).to_contain_text("not one of the choices")
    assert serious_problems(page) == []
    page.errors.clear()  # type: ignore[attr-defined]  (the browser logs the 400 itself)


# What a funder must never read: SQL, query jargon, or a code instead of a label
# (snake_case such as prefer_not_to_say, with_postcode_pct or period_type).
JARGON = re.compile(
    r"\bSQL\b|Run SQL|Custom SQL|\bselect\b[^.]*\bfrom\b|canned quer|\b[a-z]+_[a-z_]+\b",
    re.IGNORECASE,
)
DOWNLOAD = re.compile(r"\.(csv|xlsx|pdf)(\?|$)")


def test_every_page_a_funder_can_reach_is_plain(
    funder_server: str,  # noqa: F811
    page: Page,
    tmp_path: Path,
) -> None:
    """Follow every link from the dashboard (and from the Datasette pages a funder might
    type in): each page is in plain words, passes axe-core and fits a phone."""
    log_in(page, funder_server)
    typed = ["/funders", "/funders/people_reached", "/funders/who?period=2024-Q1"]
    queue = ["/dashboard", *typed, *(f"/funders/{name}" for name in load_funder_queries())]
    seen: set[str] = set()
    pages: list[str] = []
    while queue:
        address = queue.pop(0)
        if address in seen:
            continue
        seen.add(address)
        response = page.goto(funder_server + address)
        assert response is not None and response.status == 200, address
        landed = urlsplit(page.url)
        assert landed.path.startswith("/dashboard"), (address, page.url)  # never Datasette's
        pages.append(page.url)
        words = page.title() + "\n" + page.locator("body").inner_text()
        found = JARGON.search(words)
        assert found is None, (page.url, found and found.group(0))
        assert serious_problems(page) == [], page.url
        page.set_viewport_size({"width": 390, "height": 844})
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, page.url
        page.set_viewport_size({"width": 1400, "height": 900})
        hrefs = page.locator("a[href]").evaluate_all("links => links.map(a => a.href)")
        for href in hrefs:
            split = urlsplit(href)
            if split.netloc != urlsplit(funder_server).netloc:
                continue  # the attribution links to GeoNames
            local = split.path + (f"?{split.query}" if split.query else "")
            if DOWNLOAD.search(split.path):
                assert page.request.get(href).status == 200, href
            elif split.fragment == "" or split.path != landed.path:
                queue.append(local)
    reached = {urlsplit(u).path for u in pages}
    assert {f"/dashboard/table/{key}" for key in QUERY_FIGURES.values()} <= reached
    assert "/dashboard/tables" in reached
    page.goto(funder_server + "/dashboard/table/who?period=2024-Q1")
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(tmp_path / "table-390.png"), full_page=True)
