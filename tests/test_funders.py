"""funders.db and the funder view: nobody identifiable, small numbers suppressed, who sees what.

The store is built by the real pipeline from CSV files written here; funders.db by
the real `publish_funders`; permissions are checked against a real Datasette.
"""

from __future__ import annotations

import hashlib
import hmac
import sqlite3
import stat
from collections.abc import Iterator
from datetime import date
from io import BytesIO
from pathlib import Path

import httpx
import pytest
from conftest import free_port, login, serving, write_config, write_csv
from openpyxl import load_workbook
from typer.testing import CliRunner

from harvest.cli import app
from harvest.config import load_config
from harvest.errors import ConfigError, PublishError
from harvest.publish.datasette import funders_command, staff_command
from harvest.publish.funders import publish_funders
from harvest.publish.privacy import PublishConfig, Rule
from harvest.publish.protect import NOISE, attendance_key, protect, ptable, record_key
from harvest.publish.site import FUNDER_TABLES, load_funder_queries
from harvest.publish.source import age_band
from harvest.publish.users import Users, demo_logins, users_path
from harvest.secrets import TokenStore
from harvest.sync import sync

N = 30
LETTERS = "ABDEFGHJ"
FUNDER, STAFF = ("fay", "funder-pass-123"), ("sam", "staff-pass-1234")
TOO_FEW = "Too few people to show for this choice"
COUNT_COLUMNS = {
    "people",
    "new_people",
    "returning_people",
    "attendances",
    "records",
    "people_improved",
    "volunteers",
    "hours_volunteered",
}


def person(i: int) -> dict[str, str]:
    district = "NW1" if i < 20 else "E8"
    return {
        "given": f"Given{LETTERS[i % 8]}{LETTERS[i // 8]}",
        "family": f"Family{i:02d}x",
        "email": f"person{i}@example.org",
        "phone": f"07700 900{i:03d}",
        "postcode": f"{district} {i % 9 + 1}{LETTERS[i % 8]}{LETTERS[(i // 8) % 8]}",
        "dob": f"1{i % 9 + 1}/0{i % 9 + 1}/19{50 + i}",
        "dob_iso": f"19{50 + i}-0{i % 9 + 1}-1{i % 9 + 1}",
        "gender": "Female" if i % 2 == 0 else "Male",
        "ethnicity": "White British" if i < 24 else "Indian",
    }


def club_rows() -> list[list[str]]:
    rows = [
        [
            "First name",
            "Surname",
            "Email",
            "Phone",
            "Postcode",
            "Date of birth",
            "Gender",
            "Ethnicity",
            "Activity",
            "Date",
            "Attended?",
        ]
    ]
    for i in range(N):
        p = person(i)
        base = [
            p["given"],
            p["family"],
            p["email"],
            p["phone"],
            p["postcode"],
            p["dob"],
            p["gender"],
            p["ethnicity"],
        ]
        rows.append([*base, "Lunch club", "09/01/2024", "yes"])
        if i < 12:
            rows.append([*base, "Lunch club", "06/02/2024", "yes"])
        if i < 3:
            rows.append([*base, "=Job club", "12/03/2024", "yes"])
    rows.append([*rows[-1][:8], "=Job club", "12/03/2024", "no show"])
    return rows


def wellbeing_rows() -> list[list[str]]:
    rows = [
        [
            "First name",
            "Surname",
            "Date of birth",
            "Email",
            "Measure",
            "Score",
            "Assessment date",
            "Outcome",
        ]
    ]
    for i in range(12):
        p = person(i)
        who = [p["given"], p["family"], p["dob"], p["email"]]
        rows.append([*who, "WEMWBS", "40", "10/01/2024", ""])
        rows.append(
            [*who, "WEMWBS", str(41 + i % 3), "20/03/2024", "Started employment" if i < 9 else ""]
        )
    return rows


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("funders")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HARVEST_SECRETS_FILE", str(folder / "secrets.json"))
        write_csv(folder / "club.csv", club_rows())
        write_csv(folder / "wellbeing.csv", wellbeing_rows())
        write_config(
            folder,
            [
                {"name": "club", "type": "file", "options": {"path": "club.csv"}},
                {"name": "wellbeing", "type": "file", "options": {"path": "wellbeing.csv"}},
            ],
            publish={
                "min_population": 10,
                "periods": [{"name": "Winter grant", "from": "2023-12", "to": "2024-02"}],
            },
        )
        config = load_config(folder / "harvest.yaml")
        assert sync(config).exit_code == 0
        publish_funders(config, today=date(2024, 6, 1))
        users = Users(users_path(config.database_path))
        users.add(*FUNDER[:1], "funder", FUNDER[1])
        users.add(STAFF[0], "staff", STAFF[1])
        yield folder


@pytest.fixture(scope="module")
def funders_db(project: Path) -> Path:
    return project / "funders.db"


def run(db: Path, name: str, settings: PublishConfig | None = None, **params: str) -> list[dict]:
    query = load_funder_queries(settings)[name]
    conn = sqlite3.connect(db)
    try:
        cursor = conn.execute(query["sql"], {p: params.get(p, "") for p in query["params"]})
        columns = [c[0] for c in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    finally:
        conn.close()


# --- the rule --------------------------------------------------------------------------

D = NOISE


def near(published: object, truth: int, below: int = 8) -> bool:
    """Whether a published count can come from ``truth`` under the rule."""
    if isinstance(published, str):
        return published == f"<{below}" and truth < below + D
    assert isinstance(published, int) and published % 5 == 0
    return truth >= below and abs(published - truth) <= D + 2


def test_noise_table_is_bounded_zero_mean_and_never_negative() -> None:
    table = ptable()
    assert table.shape == (2 * D + 2, 256)
    assert (table[0] == 0).all()
    for n in range(table.shape[0]):
        assert table[n].min() >= max(-D, -n) and table[n].max() <= D
        assert abs(table[n].mean()) <= 1 / 256 + 1e-9, n
    assert len(set(table[-1])) == 2 * D + 1


def test_same_people_same_noise_and_zero_and_small_look_the_same() -> None:
    keys = [record_key(b"k", i) for i in range(40)]
    assert (
        keys == [record_key(b"k", i) for i in range(40)] != [record_key(b"j", i) for i in range(40)]
    )
    assert all(0 <= k < 256 for k in keys)
    cell = sum(keys[:30]) % 256
    assert protect([30], [cell], 8, 5) == protect([30], [cell], 8, 5)
    assert protect([0, 1, 7], [0, 5, 9], 8, 5) == ["<8", "<8", "<8"]
    # the same people with one attendance more: another key, so the noise does not cancel
    keys = attendance_key([cell] * 3, [40, 41, 40])
    assert keys[0] == keys[2] != keys[1]
    shown = protect(list(range(8, 200)), [(i * 37) % 256 for i in range(192)], 8, 5)
    assert all(
        s == "<8" or (s % 5 == 0 and abs(s - n) <= D + 2)
        for s, n in zip(shown, range(8, 200), strict=True)
    )


def test_rule_for_counts_that_are_not_people() -> None:
    rule = Rule()
    assert [rule.count(n) for n in (0, 1, 7, 8, 12, 13, 102, 103)] == [
        0,
        "<8",
        "<8",
        10,
        10,
        15,
        100,
        105,
    ]
    assert rule.count(None) is None
    assert rule.percent(30, 40) == 75.0 and rule.percent(37, 40) == "suppressed"
    assert rule.percent(3, 40) == "suppressed" and rule.percent(0, 40) == 0.0


def test_publish_config_checks_its_settings() -> None:
    with pytest.raises(ValueError, match="special_suppress_below"):
        PublishConfig(suppress_below=10, special_suppress_below=5)
    with pytest.raises(ValueError, match="min_population"):
        PublishConfig(min_population=5)
    with pytest.raises(ValueError):
        PublishConfig(round_to=0)
    grant = PublishConfig(periods=[{"name": "Lottery grant", "from": "2024-04", "to": "2025-03"}])
    assert grant.periods[0].start == "2024-04"
    for bad in (
        {"name": "2024-Q1", "from": "2024-01", "to": "2024-03"},
        {"name": "x", "from": "2024-05", "to": "2024-04"},
        {"name": "x", "from": "April", "to": "2024-04"},
    ):
        with pytest.raises(ValueError):
            PublishConfig(periods=[bad])


def test_age_bands() -> None:
    today = date(2024, 6, 1)
    assert age_band("2008-06-02", None, today) == "0-15"
    assert age_band("2008-06-01", None, today) == "16-24"
    assert age_band(None, 80, today) == "75+"
    assert age_band(None, None, today) == age_band("not a date", None, today) == "Not known"


# --- nobody identifiable --------------------------------------------------------------


def identifiers(project: Path) -> set[str]:
    """Every name, email, phone, postcode and date of birth, as typed and as stored."""
    values = set()
    for i in range(N):
        p = person(i)
        values |= {
            p["given"],
            p["family"],
            p["email"],
            p["phone"],
            p["phone"].replace(" ", ""),
            p["postcode"],
            p["postcode"].replace(" ", ""),
            p["dob"],
            p["dob_iso"],
        }
    conn = sqlite3.connect(project / "harvest.db")
    for row in conn.execute(
        "SELECT given_name, family_name, full_name, email, phone, postcode,"
        " address, date_of_birth FROM people"
    ):
        values |= {v for v in row if v}
    conn.close()
    return values


def pseudonyms(project: Path) -> set[str]:
    """Every pseudonym the old funders.db held, made with this project's key."""
    key = TokenStore(project / "secrets.json").get("funders_hmac_key")
    assert key is not None
    secret = key.get_secret_value().encode()
    ids = [
        r[0]
        for r in sqlite3.connect(project / "harvest.db").execute("SELECT person_id FROM people")
    ]
    return {
        hmac.new(secret, f"harvest-person:{i}".encode(), hashlib.sha256).hexdigest()[:16]
        for i in ids
    }


def test_funders_db_holds_no_identifier_and_no_pseudonym(project: Path, funders_db: Path) -> None:
    found = identifiers(project) | pseudonyms(project)
    assert len(found) > 7 * N
    data = funders_db.read_bytes().lower()
    leaks = [v for v in found if v.lower().encode() in data]
    assert leaks == []
    assert not Path(f"{funders_db}-wal").exists() or Path(f"{funders_db}-wal").stat().st_size == 0
    assert stat.S_IMODE(funders_db.stat().st_mode) == 0o600


def test_funders_db_holds_aggregates_only(funders_db: Path) -> None:
    conn = sqlite3.connect(funders_db)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == set(FUNDER_TABLES)
    assert not {"people", "contacts", "outcomes", "scores"} & tables
    for table in tables:
        columns = {r[1] for r in conn.execute(f"PRAGMA table_info([{table}])")}
        assert not {"pseudonym", "person_id", "record_key"} & columns, table
    choices = conn.execute("SELECT kind, value FROM choices").fetchall()
    assert ("activity", "Lunch club") in choices and ("activity", "'=Job club") not in choices
    assert {v for k, v in choices if k == "period"} >= {
        "2024-01",
        "2024-Q1",
        "2024",
        "2023/24",
        "All time",
    }
    conn.close()


def test_publish_without_a_store(tmp_path: Path) -> None:
    write_config(tmp_path, [])
    with pytest.raises(PublishError, match="run `harvest sync` first"):
        publish_funders(load_config(tmp_path / "harvest.yaml"), tokens=TokenStore(tmp_path / "s"))


# --- the canned queries ---------------------------------------------------------------


def test_every_query_has_title_description_and_reads_protected_tables(funders_db: Path) -> None:
    for name, query in load_funder_queries().items():
        assert query["title"] and len(query["description"]) > 80, name
        assert "{{" not in query["sql"] and " like '%' ||" not in query["sql"], name
        if name != "data_coverage":
            assert "may not add up" in query["description"], name
        for param in query["params"]:
            assert f":{param}" in query["sql"], f"{name} declares {param} but does not use it"
        for params in ({}, {"period": "2024-02"}, {"area": "E8"}, {"period_type": "quarter"}):
            for row in run(
                funders_db, name, **{k: v for k, v in params.items() if k in query["params"]}
            ):
                for column in COUNT_COLUMNS & set(row):
                    value = row[column]
                    hidden = (None, "<8", "<10", "suppressed")
                    assert value in hidden or (value % 5 == 0), (name, row)


def test_reach(funders_db: Path) -> None:
    months = run(funders_db, "reach")
    assert [r["period"] for r in months] == ["2024-01", "2024-02", "2024-03"]
    assert near(months[0]["people"], 30) and near(months[0]["new_people"], 30)
    assert months[0]["returning_people"] == "<8" and near(months[0]["attendances"], 30)
    assert near(months[1]["people"], 12) and months[1]["new_people"] == "<8"
    assert months[2]["people"] == "<10" and months[2]["attendances"] is None  # too few
    [quarter] = run(funders_db, "reach", period_type="quarter")
    assert quarter["period"] == "2024-Q1" and near(quarter["attendances"], 45)
    assert run(funders_db, "reach", period_type="quarter")[0]["people"] == quarter["people"]


def test_named_periods_are_published_like_the_others(funders_db: Path) -> None:
    [grant] = run(funders_db, "reach", period_type="named")
    assert grant["period"] == "Winter grant" and near(grant["people"], 30)
    assert grant["period_name"] == "Winter grant (2023-12 to 2024-02)"
    who = run(funders_db, "who", period="Winter grant")
    assert who[0]["people"] == grant["people"]  # the same people as January alone
    assert who[0]["people"] == run(funders_db, "who", period="2024-01")[0]["people"]


def test_who_lists_every_category_and_uses_the_higher_threshold(funders_db: Path) -> None:
    rows = {
        (r["characteristic"], r["value"]): (r["people"], r["percent"])
        for r in run(funders_db, "who")
    }
    assert len(rows) == 1 + 9 + 6 + 7 + 4
    total = rows[("Everyone", "All people")][0]
    assert near(total, 30) and rows[("Everyone", "All people")][1] == 100.0
    assert near(rows[("Gender", "Female")][0], 15)
    assert rows[("Gender", "Non-binary")] == ("<8", "suppressed")
    white = rows[("Ethnic group", "White")][0]
    assert near(white, 24, 10) and rows[("Ethnic group", "White")][1] == round(
        100 * white / total, 1
    )
    assert rows[("Ethnic group", "Asian or Asian British")] == ("<10", "suppressed")  # 6 people
    assert rows[("Ethnic group", "Black, Black British, Caribbean or African")][0] == "<10"
    # the same people give the same figure on every page
    assert run(funders_db, "reach", period_type="all")[0]["people"] == total
    assert run(funders_db, "sessions_per_person")[0]["people"] is not None
    assert run(funders_db, "who", period="2024-03") == [
        {"characteristic": TOO_FEW, "value": None, "people": None, "percent": None}
    ]


def test_where_activities_outcomes_and_scores(funders_db: Path) -> None:
    where = run(funders_db, "where_people_live")
    assert [(r["postcode_district"], r["county"]) for r in where] == [
        ("E8", "Greater London"),
        ("NW1", "Greater London"),
    ]
    assert near(where[1]["people"], 20) and all(isinstance(r["latitude"], float) for r in where)
    areas = {(r["area_type"], r["area_name"]): r["people"] for r in run(funders_db, "areas")}
    assert set(areas) == {("Country", "England"), ("County or area", "Greater London")}
    activities = run(funders_db, "activities")
    assert [r["activity"] for r in activities] == ["All activities", "Lunch club"]  # Job club: 3
    assert near(activities[1]["attendances"], 42)
    sessions = {r["sessions"]: r["people"] for r in run(funders_db, "sessions_per_person")}
    assert list(sessions) == ["Once", "2 or 3 times", "4 to 9 times", "10 times or more"]
    assert near(sessions["Once"], 18) and sessions["10 times or more"] == "<8"
    assert run(funders_db, "outcomes") == [{"outcome": TOO_FEW, "people": None}]  # 9 people
    scores = {r["measure"]: r for r in run(funders_db, "score_change")}
    assert list(scores)[:2] == ["WEMWBS", "SWEMWBS"] and len(scores) == 6
    wemwbs = scores["WEMWBS"]
    assert near(wemwbs["people"], 12, 10) and near(wemwbs["people_improved"], 12, 10)
    assert abs(wemwbs["average_first_score"] - 40.0) <= 2.0
    assert abs(wemwbs["average_change"] - 2.0) <= 2.0
    assert scores["PHQ-9"]["average_change"] == "suppressed"
    assert run(funders_db, "score_change", area="E8")[0]["measure"] == TOO_FEW
    coverage = run(funders_db, "data_coverage")
    assert [(r["source"], r["records"], r["with_postcode_pct"]) for r in coverage] == [
        ("club", 45, 100.0),
        ("wellbeing", 25, 0.0),
    ]


# --- users and the CLI ----------------------------------------------------------------


def test_users_file_keeps_hashes_only(project: Path) -> None:
    path = project / "harvest.users.json"
    text = path.read_text("utf-8")
    assert FUNDER[1] not in text and STAFF[1] not in text and "pbkdf2_sha256$" in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    users = Users(path)
    assert users.verify(*FUNDER) and not users.verify(FUNDER[0], STAFF[1])
    with pytest.raises(ConfigError, match="role 'boss'.*at least 10"):
        users.add("x", "boss", "short")


def test_users_cli(tmp_path: Path) -> None:
    write_config(tmp_path, [])
    cfg = ["--config", str(tmp_path / "harvest.yaml")]
    runner = CliRunner()
    added = runner.invoke(
        app,
        ["users", "add", "ann", "--role", "funder", "--password-stdin", *cfg],
        input="a-long-password\n",
    )
    assert added.exit_code == 0, added.output
    again = runner.invoke(
        app,
        ["users", "add", "ann", "--role", "staff", "--password-stdin", *cfg],
        input="a-long-password\n",
    )
    assert again.exit_code == 2 and "--replace" in again.output
    listed = runner.invoke(app, ["users", "list", *cfg])
    assert "ann" in listed.output and "funder" in listed.output
    assert "a-long-password" not in listed.output
    assert runner.invoke(app, ["users", "remove", "ann", *cfg]).exit_code == 0
    assert runner.invoke(app, ["users", "remove", "ann", *cfg]).exit_code == 2


def test_publish_cli(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARVEST_SECRETS_FILE", str(project / "secrets.json"))  # the key it used
    result = CliRunner().invoke(app, ["publish", "--config", str(project / "harvest.yaml")])
    assert result.exit_code == 0, result.output
    assert "about 30 people" in result.output


def test_funder_view_needs_a_user(project: Path, tmp_path: Path) -> None:
    config = load_config(project / "harvest.yaml")
    with pytest.raises(PublishError, match="harvest users add"):
        funders_command(config, users=[])


# --- a real Datasette: who sees what --------------------------------------------------


@pytest.fixture(scope="module")
def funder_server(project: Path) -> Iterator[str]:
    port = free_port()
    tokens = TokenStore(project / "secrets.json")
    config = load_config(project / "harvest.yaml")
    args, env = funders_command(config, port=port, tokens=tokens)
    with serving(args, port, env) as base:
        yield base


@pytest.fixture(scope="module")
def staff_server(project: Path) -> Iterator[str]:
    port = free_port()
    tokens = TokenStore(project / "secrets.json")
    args, env = staff_command("Test Trust", project / "harvest.db", port=port, tokens=tokens)
    with serving(args, port, env) as base:
        yield base


def status(client: httpx.Client, path: str) -> int:
    return client.get(path).status_code


def test_anonymous_visitors_get_only_the_login_page(funder_server: str, staff_server: str) -> None:
    for base in (funder_server, staff_server):
        anon = httpx.Client(base_url=base, timeout=10)
        for path in (
            "/",
            "/funders",
            "/funders/reach",
            "/funders/reach.json",
            "/funders/coverage.csv",
            "/harvest/records",
            "/-/metadata.json",
            "/funders.json?sql=select+1",
        ):
            response = anon.get(path)
            if base == funder_server and path.startswith("/harvest"):
                assert response.status_code == 404  # the store is not served at all
                continue
            assert response.status_code == 302, (base, path)
            assert response.headers["location"] == "/-/login", (base, path)
        assert anon.get("/-/login").status_code == 200


def test_a_funder_sees_queries_and_published_tables_only(funder_server: str) -> None:
    funder = login(funder_server, *FUNDER)
    for name in load_funder_queries():  # the dashboard's plain page of the same rows
        assert status(funder, f"/funders/{name}") == 302, name
        assert status(funder, f"/funders/{name}.json") == 200, name
    assert near(funder.get("/funders/reach.json?_shape=array").json()[0]["people"], 30)
    for table in FUNDER_TABLES:
        assert status(funder, f"/funders/{table}.json") == 200, table
        assert funder.get(f"/funders/{table}").headers["location"] == "/dashboard/tables"
    for gone in (
        "/funders/people",
        "/funders/people.json",
        "/funders/contacts/1",
        "/funders/scores.csv",
    ):
        assert status(funder, gone) in (400, 404), gone
    for denied in (
        "/funders.json?sql=select+*+from+who_took_part",
        "/funders?sql=select+1",
        "/funders/coverage.json?_where=1=1",
        "/funders.db",
    ):
        assert status(funder, denied) == 403, denied
    assert "/harvest" not in funder.get("/", follow_redirects=True).text


def test_funder_downloads_csv_json_and_xlsx(funder_server: str) -> None:
    funder = login(funder_server, *FUNDER)
    page = funder.get("/funders/activities.json?_shape=array").json()
    csv_text = funder.get("/funders/activities.csv").text
    assert csv_text.splitlines()[0] == "activity,attendances,people"
    assert csv_text.splitlines()[2] == f"Lunch club,{page[1]['attendances']},{page[1]['people']}"
    response = funder.get("/funders/activities.xlsx")
    assert response.status_code == 200
    sheet = load_workbook(BytesIO(response.content)).active
    rows = list(sheet.values)
    assert rows[0][:3] == ("activity", "attendances", "people")
    assert rows[2][:3] == ("Lunch club", page[1]["attendances"], page[1]["people"])
    assert sheet.cell(2, 1).data_type == "s"


def test_staff_view_keeps_the_store_for_staff(staff_server: str) -> None:
    funder = login(staff_server, *FUNDER)
    for denied in (
        "/harvest",
        "/harvest/records",
        "/harvest/people_per_month",
        "/harvest.json?sql=select+1",
    ):
        assert status(funder, denied) == 403, denied
    assert status(funder, "/funders/reach.json") == 200
    assert funder.get("/funders/reach").headers["location"] == "/dashboard/table/reach"
    staff = login(staff_server, *STAFF)
    for allowed in (
        "/harvest/records",
        "/harvest/people_per_month",
        "/funders/who_took_part",
        "/funders/reach",
        "/harvest.json?sql=select+count(*)+from+people",
    ):
        assert status(staff, allowed) == 200, allowed


def test_metadata_carries_the_geonames_attribution(funder_server: str) -> None:
    metadata = login(funder_server, *STAFF).get("/-/metadata.json").json()
    assert "GeoNames" in metadata["source"] and metadata["license_url"].endswith("by/4.0/")
    assert "© GeoNames" in login(funder_server, *STAFF).get("/funders/districts").text
    assert "© GeoNames" in login(funder_server, *FUNDER).get("/dashboard/tables").text
    assert "pbkdf2" not in str(metadata) and "password_hash" not in str(metadata)


def test_demo_logins_work_and_are_fresh(tmp_path: Path) -> None:
    users = Users(tmp_path / "harvest.users.json")
    first = demo_logins(users)
    assert [(n, r) for n, r, _ in first] == [("demo-funder", "funder"), ("demo-staff", "staff")]
    assert all(users.verify(n, p) for n, _, p in first)
    second = demo_logins(users)
    assert not users.verify(first[0][0], first[0][2]) and users.verify(*second[0][::2])


def test_an_activity_called_all_activities_is_not_offered_on_its_own() -> None:
    import pandas as pd

    from harvest.publish.source import StoreData
    from harvest.publish.tables import offered_activities

    contacts = pd.DataFrame(
        [(i, name, "2024-01", 1) for i in range(25) for name in ("All activities", "Walk")],
        columns=["person", "activity", "month", "attendances"],
    )
    data = StoreData(pd.DataFrame(), contacts, pd.DataFrame(), pd.DataFrame())
    assert offered_activities(data, PublishConfig()) == ["Walk"]
