"""Publishing with Datasette: metadata, the canned queries' SQL, and a real Datasette server."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from conftest import ctrl_c_works, free_port, serving, stop, wait_until_up
from markupsafe import escape

from harvest.errors import PublishError
from harvest.normalise.standard import load_standard
from harvest.publish.datasette import (
    build_metadata,
    datasette_args,
    load_queries,
    serve,
    write_metadata,
)
from harvest.store import PERSON_FIELDS, connect

ORG = "Riverside Community Trust"
ACTIVITIES = {1: "Lunch club", 2: "Coffee morning", 3: "Job club"}
# (person, activity, date, status, source, is_current)
ATTENDANCES = [
    (1, 1, "2024-01-09", "attended", "lunch_club_sheet", 1),
    (2, 1, "2024-01-09", "attended", "lunch_club_sheet", 1),
    (1, 1, "2024-01-16", "attended", "lunch_club_sheet", 1),
    (3, 2, "2024-01-20", "registered", "eventbrite", 1),
    (4, 2, "2024-01-20", "no_show", "eventbrite", 1),
    (1, 1, "2024-02-06", "attended", "lunch_club_sheet", 1),
    (4, 3, "2024-02-12", "attended", "eventbrite", 1),
    (5, 3, "2024-02-12", "attended", "eventbrite", 1),
    (2, 2, "2024-02-17", "cancelled", "eventbrite", 1),
    (2, 1, "2024-03-05", "attended", "lunch_club_sheet", 1),
    (5, 1, "2024-03-05", "attended", "lunch_club_sheet", 1),
    (6, 2, "2024-03-16", None, "eventbrite", 1),
    (6, 3, "2024-03-18", "attended", "eventbrite", 1),
    (3, 3, "2024-03-18", "attended", "eventbrite", 1),
    (6, 1, "2024-03-05", "attended", "lunch_club_sheet", 0),  # row since deleted from the sheet
]
PEOPLE = [
    ("Amina", "Hussain", "female", "E1 6AN"),
    ("Bob", "Jones", "male", "E2 7DP"),
    ("Carys", "Evans", "female", "E3 2AB"),
    ("Dev", "Patel", "male", None),
    ("Ewa", "Nowak", "female", "E1 4NS"),
    ("Femi", "Adeyemi", "male", "E14 5AB"),
]
# (source, record id or None for a whole-sheet problem, field, value, problem, severity)
ISSUES = [
    ("eventbrite", 4, "postcode", "E1 ???", "not a valid UK postcode", "warning"),
    ("eventbrite", 7, "postcode", "ZZ99", "not a valid UK postcode", "warning"),
    ("eventbrite", 7, "activity_date", "31/02/2024", "not a real date", "warning"),
    ("lunch_club_sheet", 3, "postcode", "E1", "not a valid UK postcode", "warning"),
    ("lunch_club_sheet", 15, "postcode", "E1", "not a valid UK postcode", "warning"),  # gone
    ("lunch_club_sheet", None, None, None, 'sheet "Sheet2" has no header row', "error"),
]
SYNCED = "2024-03-21T09:00:00Z"

PEOPLE_PER_MONTH = [
    {"month": "2024-01", "people": 3, "attendances": 4},
    {"month": "2024-02", "people": 3, "attendances": 3},
    {"month": "2024-03", "people": 4, "attendances": 5},
]
BY_ACTIVITY = [
    {
        "activity": "Lunch club",
        "attendances": 6,
        "people": 3,
        "first_date": "2024-01-09",
        "last_date": "2024-03-05",
    },
    {
        "activity": "Job club",
        "attendances": 4,
        "people": 4,
        "first_date": "2024-02-12",
        "last_date": "2024-03-18",
    },
    {
        "activity": "Coffee morning",
        "attendances": 2,
        "people": 2,
        "first_date": "2024-01-20",
        "last_date": "2024-03-16",
    },
]
NEW_AND_RETURNING = [
    {"month": "2024-01", "people": 3, "new_people": 3, "returning_people": 0},
    {"month": "2024-02", "people": 3, "new_people": 2, "returning_people": 1},
    {"month": "2024-03", "people": 4, "new_people": 1, "returning_people": 3},
]


def _person_row(person_id: int, person: tuple) -> dict:
    given, family, gender, postcode = person
    return {
        "given_name": given,
        "family_name": family,
        "full_name": f"{given} {family}",
        "gender": gender,
        "postcode": postcode,
        "role": "beneficiary",
    }


def build_store(path: Path) -> Path:
    """A small real store: 6 people, 3 activities, 15 attendances over 3 months, 6 issues."""
    db = connect(path)
    people = {i: _person_row(i, p) for i, p in enumerate(PEOPLE, start=1)}
    db["people"].insert_all(
        {
            "person_id": i,
            **row,
            "first_seen": SYNCED,
            "last_seen": SYNCED,
            "record_count": 0,
            "sources": "[]",
        }
        for i, row in people.items()
    )
    db["activities"].insert_all(
        {"id": i, "name": n, "first_source": "eventbrite"} for i, n in ACTIVITIES.items()
    )
    for n, (person, activity, date, status, source, current) in enumerate(ATTENDANCES, 1):
        key = f"{source}-{n}"
        db["records"].insert(
            {
                "id": n,
                "source": source,
                "source_key": key,
                "is_current": current,
                "person_id": person,
                "location": source,
                "row_number": n + 1,
                **people[person],
                "activity": ACTIVITIES[activity],
                "activity_date": date,
                "attendance_status": status,
                "synced_at": SYNCED,
            }
        )
        db["attendances"].insert(
            {
                "id": n,
                "source": source,
                "source_key": key,
                "record_id": n,
                "person_id": person,
                "activity_id": activity,
                "activity_date": date,
                "attendance_status": status,
            }
        )
    db["issues"].insert_all(
        {
            "sync_run_id": 1,
            "source": s,
            "source_key": r and f"{s}-{r}",
            "record_id": r,
            "location": s,
            "row_number": r and r + 1,
            "field": f,
            "value": v,
            "problem": p,
            "severity": sev,
            "created_at": SYNCED,
        }
        for s, r, f, v, p, sev in ISSUES
    )
    db["source_state"].insert_all(
        [
            {
                "source": "eventbrite",
                "state": "{}",
                "updated_at": SYNCED,
                "last_success_at": SYNCED,
            },
            {
                "source": "lunch_club_sheet",
                "state": "{}",
                "updated_at": SYNCED,
                "last_success_at": "2024-03-20T10:00:00Z",
            },
            {
                "source": "referral_form",
                "state": "{}",
                "updated_at": SYNCED,
                "last_success_at": None,
            },
        ]
    )
    db.close()
    return path


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_store(tmp_path_factory.mktemp("store") / "harvest.db")


def run_query(db_path: Path, name: str, **params: str) -> list[dict]:
    """Run a canned query's SQL straight against the store, blank parameters as Datasette does."""
    query = load_queries()[name]
    values = {p: params.get(p, "") for p in query["params"]}
    db = connect(db_path)
    try:
        cursor = db.execute(query["sql"], values)
        columns = [c[0] for c in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    finally:
        db.close()


# --- the canned queries' SQL ----------------------------------------------------------


def test_every_query_has_title_description_sql_and_declared_params() -> None:
    for name, query in load_queries().items():
        assert query["title"] and len(query["description"]) > 40, name
        for param in query["params"]:
            assert f":{param}" in query["sql"], f"{name} declares {param} but does not use it"


def test_people_per_month(store: Path) -> None:
    assert run_query(store, "people_per_month") == PEOPLE_PER_MONTH


def test_people_per_month_date_range(store: Path) -> None:
    assert run_query(store, "people_per_month", **{"from": "2024-02"}) == PEOPLE_PER_MONTH[1:]
    assert run_query(store, "people_per_month", to="2024-02") == PEOPLE_PER_MONTH[:2]
    assert run_query(store, "people_per_month", **{"from": "2024-01-10", "to": "2024-01-31"}) == [
        {"month": "2024-01", "people": 2, "attendances": 2}
    ]


def test_attendances_by_activity(store: Path) -> None:
    assert run_query(store, "attendances_by_activity") == BY_ACTIVITY


def test_attendances_by_activity_filters(store: Path) -> None:
    assert run_query(store, "attendances_by_activity", activity="LUNCH") == BY_ACTIVITY[:1]
    march = run_query(store, "attendances_by_activity", **{"from": "2024-03", "to": "2024-03"})
    assert [(r["activity"], r["attendances"], r["people"]) for r in march] == [
        ("Job club", 2, 2),
        ("Lunch club", 2, 2),
        ("Coffee morning", 1, 1),
    ]


def test_new_and_returning(store: Path) -> None:
    assert run_query(store, "new_and_returning") == NEW_AND_RETURNING


def test_new_and_returning_keeps_earlier_visits_when_filtered(store: Path) -> None:
    assert run_query(store, "new_and_returning", **{"from": "2024-03"}) == NEW_AND_RETURNING[2:]


def test_data_problems(store: Path) -> None:
    rows = run_query(store, "data_problems")
    assert [
        (
            r["source"],
            r["problem"],
            r["severity"],
            r["problems"],
            r["rows_affected"],
            r["last_successful_sync"],
        )
        for r in rows
    ] == [
        ("eventbrite", "not a valid UK postcode", "warning", 2, 2, SYNCED),
        ("eventbrite", "not a real date", "warning", 1, 1, SYNCED),
        (
            "lunch_club_sheet",
            'sheet "Sheet2" has no header row',
            "error",
            1,
            0,
            "2024-03-20T10:00:00Z",
        ),
        ("lunch_club_sheet", "not a valid UK postcode", "warning", 1, 1, "2024-03-20T10:00:00Z"),
        ("referral_form", "(no problems)", None, 0, 0, None),
    ]
    only = run_query(store, "data_problems", source="referral_form")
    assert [r["source"] for r in only] == ["referral_form"]


def test_queries_run_on_an_empty_store(tmp_path: Path) -> None:
    connect(tmp_path / "empty.db").close()
    for name in load_queries():
        assert run_query(tmp_path / "empty.db", name) == []


# --- metadata -------------------------------------------------------------------------


def test_metadata_titles_and_queries() -> None:
    meta = build_metadata(ORG)
    assert meta["title"] == f"{ORG} — harvest"
    assert meta["license"] and meta["source"] == ORG
    db = meta["databases"]["harvest"]
    assert set(db["queries"]) == {
        "people_per_month",
        "attendances_by_activity",
        "new_and_returning",
        "data_problems",
    }


def test_metadata_column_descriptions_come_from_the_standard() -> None:
    tables = build_metadata(ORG)["databases"]["harvest"]["tables"]
    std = load_standard()
    for f in std.fields:
        assert tables["records"]["columns"][f.name].startswith(f.description)
    for name in PERSON_FIELDS:
        assert tables["people"]["columns"][name].startswith(std.field(name).description)
    assert "Identifies a person" in tables["people"]["columns"]["email"]
    assert "Special category" in tables["people"]["columns"]["ethnicity"]


def test_metadata_describes_every_table_and_column_of_the_store(tmp_path: Path) -> None:
    db = connect(tmp_path / "harvest.db")
    tables = build_metadata(ORG)["databases"]["harvest"]["tables"]
    assert set(db.table_names()) <= set(tables)
    for name in ("records", "people"):
        assert set(db[name].columns_dict) == set(tables[name]["columns"]), name
    db.close()


def test_write_metadata_beside_the_database(tmp_path: Path) -> None:
    path = write_metadata(ORG, tmp_path / "lunch.db")
    assert path == tmp_path / "lunch.metadata.json"
    written = json.loads(path.read_text("utf-8"))
    assert written["title"] == f"{ORG} — harvest"
    assert "people_per_month" in written["databases"]["lunch"]["queries"]


def test_datasette_args(tmp_path: Path) -> None:
    args = datasette_args(tmp_path / "harvest.db", tmp_path / "m.json", "127.0.0.1", 8123)
    assert args[:5] == [sys.executable, "-m", "datasette", "serve", str(tmp_path / "harvest.db")]
    assert "--immutable" not in args
    assert ["--port", "8123"] == args[args.index("--port") : args.index("--port") + 2]
    assert "sql_time_limit_ms" in args and "max_returned_rows" in args


# --- serve's errors -------------------------------------------------------------------


def test_serve_without_a_database(tmp_path: Path) -> None:
    with pytest.raises(PublishError, match="run `harvest sync` first"):
        serve(ORG, tmp_path / "missing.db", port=free_port())


def test_serve_on_a_port_in_use(store: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(PublishError, match=f"port {port} is in use: pass --port"):
            serve(ORG, store, port=port)


# --- a real Datasette -----------------------------------------------------------------


@contextmanager
def datasette_server(db_path: Path) -> Iterator[str]:
    """Run real Datasette on the store; yield its base URL; always stop it."""
    port = free_port()
    metadata = write_metadata(ORG, db_path)
    args = datasette_args(db_path, metadata, "127.0.0.1", port)
    with serving(args, port, ready="/-/versions.json") as base:
        yield base


@pytest.fixture(scope="module")
def server(store: Path) -> Iterator[str]:
    with datasette_server(store) as base:
        yield base


def get_rows(base: str, path: str, **params: str) -> list[dict]:
    response = httpx.get(f"{base}{path}", params={**params, "_shape": "array"}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def test_datasette_serves_people_per_month(server: str) -> None:
    assert get_rows(server, "/harvest/people_per_month.json") == PEOPLE_PER_MONTH
    assert get_rows(server, "/harvest/people_per_month.json", to="2024-02") == PEOPLE_PER_MONTH[:2]


def test_datasette_serves_the_other_queries(server: str) -> None:
    assert get_rows(server, "/harvest/attendances_by_activity.json") == BY_ACTIVITY
    assert get_rows(server, "/harvest/attendances_by_activity.json", activity="job") == [
        BY_ACTIVITY[1]
    ]
    assert get_rows(server, "/harvest/new_and_returning.json") == NEW_AND_RETURNING
    problems = get_rows(server, "/harvest/data_problems.json")
    assert [(r["source"], r["problems"]) for r in problems] == [
        ("eventbrite", 2),
        ("eventbrite", 1),
        ("lunch_club_sheet", 1),
        ("lunch_club_sheet", 1),
        ("referral_form", 0),
    ]


def test_query_pages_show_title_and_description(server: str) -> None:
    for name, query in load_queries().items():
        html = httpx.get(f"{server}/harvest/{name}", timeout=10).text
        assert query["title"] in html, name
        assert str(escape(query["description"])) in html, name


def test_index_and_table_pages_show_metadata(server: str) -> None:
    index = httpx.get(f"{server}/", timeout=10).text
    assert f"{ORG} — harvest" in index
    database = httpx.get(f"{server}/harvest", timeout=10).text
    assert "People reached each month" in database
    records = httpx.get(f"{server}/harvest/records", timeout=10).text
    assert str(escape(load_standard().field("postcode").description)) in records


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM], ids=["Ctrl-C", "SIGTERM"])
def test_serve_runs_datasette_until_interrupted(store: Path, how: signal.Signals) -> None:
    """Ctrl-C at a terminal, or SIGTERM from a service manager or `kill`: Datasette stops
    with harvest and the exit code is 0."""
    port = free_port()
    code = (
        f"from harvest.publish.datasette import serve; raise SystemExit(serve({ORG!r}, "
        f"__import__('pathlib').Path({str(store)!r}), port={port}))"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=ctrl_c_works,
    )
    try:
        wait_until_up(proc, f"http://127.0.0.1:{port}/harvest/people_per_month.json")
        proc.send_signal(how)
        assert proc.wait(timeout=20) == 0
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
    finally:
        stop(proc)
