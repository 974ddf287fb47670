"""funders.db and the funder view: nobody identifiable, small numbers suppressed, who sees what.

The store is built by the real pipeline from CSV files written here; funders.db by
the real `publish_funders`; permissions are checked against a real Datasette.
"""

from __future__ import annotations

import re
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
from harvest.publish.funders import age_band, pseudonym, publish_funders
from harvest.publish.privacy import PublishConfig, Rule, expand_sql
from harvest.publish.site import load_funder_queries
from harvest.publish.users import Users, demo_logins, users_path
from harvest.secrets import TokenStore
from harvest.sync import sync

N = 30
LETTERS = "ABDEFGHJ"
FUNDER, STAFF = ("fay", "funder-pass-123"), ("sam", "staff-pass-1234")
COUNT_COLUMNS = {
    "people",
    "new_people",
    "returning_people",
    "attendances",
    "records",
    "people_improved",
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


# --- the suppression rule -------------------------------------------------------------


def test_rule_suppresses_one_to_seven_and_rounds_the_rest_to_five() -> None:
    rule = Rule()
    assert [rule.count(n) for n in range(0, 16)] == [
        0,
        "<8",
        "<8",
        "<8",
        "<8",
        "<8",
        "<8",
        "<8",
        10,
        10,
        10,
        10,
        10,
        15,
        15,
        15,
    ]
    assert rule.count(102) == 100 and rule.count(103) == 105 and rule.count(None) is None
    assert rule.percent(13, 40) == 37.5  # 15 of 40, from the rounded counts
    assert rule.percent(3, 40) == "suppressed" and rule.percent(0, 40) == 0.0


def test_sql_rule_matches_python_rule_for_other_settings() -> None:
    settings = PublishConfig(suppress_below=11, round_to=10, special_suppress_below=20)
    conn = sqlite3.connect(":memory:")
    for n in range(0, 60):
        for special in (False, True):
            sql = expand_sql("select {{" + ("s" if special else "n") + "::x}}", settings)
            assert conn.execute(sql, {"x": n}).fetchone()[0] == settings.rule(special).count(n)
    pct = expand_sql("select {{pct::x, :y}}", settings)
    assert conn.execute(pct, {"x": 37, "y": 80}).fetchone()[0] == settings.rule().percent(37, 80)
    assert settings.rule().percent(37, 80) == 50.0


def test_publish_config_checks_its_thresholds() -> None:
    with pytest.raises(ValueError, match="special_suppress_below"):
        PublishConfig(suppress_below=10, special_suppress_below=5)
    with pytest.raises(ValueError):
        PublishConfig(round_to=0)


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


def test_funders_db_holds_no_identifier(project: Path, funders_db: Path) -> None:
    found = identifiers(project)
    assert len(found) > 6 * N
    data = funders_db.read_bytes().lower()
    leaks = [v for v in found if v.lower().encode() in data]
    assert leaks == []
    assert not Path(f"{funders_db}-wal").exists() or Path(f"{funders_db}-wal").stat().st_size == 0
    conn = sqlite3.connect(funders_db)
    for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
        for row in conn.execute(f"SELECT * FROM [{table}]"):
            for value in row:
                assert str(value) not in found, (table, value)
    conn.close()


def test_people_are_pseudonyms_with_bands_districts_and_months(funders_db: Path) -> None:
    conn = sqlite3.connect(funders_db)
    people = conn.execute(
        "SELECT pseudonym, age_band, gender, ethnicity_group, "
        "postcode_district FROM people ORDER BY postcode_district"
    ).fetchall()
    assert len(people) == N
    assert all(re.fullmatch(r"[0-9a-f]{16}", p[0]) for p in people)
    assert {p[4] for p in people} == {"NW1", "E8"}
    assert {p[3] for p in people} == {"White", "Asian or Asian British"}
    months = {m for (m,) in conn.execute("SELECT DISTINCT month FROM contacts")}
    assert months == {"2024-01", "2024-02", "2024-03"}
    assert conn.execute("SELECT activity FROM contacts WHERE activity LIKE '%Job%'").fetchone() == (
        "'=Job club",
    )  # neutralised for spreadsheets
    assert stat.S_IMODE(funders_db.stat().st_mode) == 0o600
    conn.close()


def test_pseudonyms_are_stable_and_keyed(project: Path, funders_db: Path, tmp_path: Path) -> None:
    def names(db: Path) -> set[str]:
        with sqlite3.connect(db) as conn:
            return {r[0] for r in conn.execute("SELECT pseudonym FROM people")}

    config = load_config(project / "harvest.yaml")
    before = names(funders_db)
    publish_funders(config, tokens=TokenStore(project / "secrets.json"), today=date(2024, 6, 1))
    assert names(funders_db) == before
    other = tmp_path / "other-secrets.json"
    config.database = str(project / "harvest.db")
    config.path = tmp_path / "harvest.yaml"  # funders.db goes to tmp_path
    publish_funders(config, tokens=TokenStore(other), today=date(2024, 6, 1))
    assert names(tmp_path / "funders.db").isdisjoint(before)
    key = TokenStore(other).get("funders_hmac_key")
    assert key is not None and pseudonym(key.get_secret_value().encode(), 1) in names(
        tmp_path / "funders.db"
    )


def test_publish_without_a_store(tmp_path: Path) -> None:
    write_config(tmp_path, [])
    with pytest.raises(PublishError, match="run `harvest sync` first"):
        publish_funders(load_config(tmp_path / "harvest.yaml"), tokens=TokenStore(tmp_path / "s"))


# --- the canned queries ---------------------------------------------------------------


def test_every_query_has_title_description_and_suppresses_every_count(funders_db: Path) -> None:
    for name, query in load_funder_queries().items():
        assert query["title"] and len(query["description"]) > 80, name
        assert "{{" not in query["sql"], name
        for param in query["params"]:
            assert f":{param}" in query["sql"], f"{name} declares {param} but does not use it"
        for params in ({}, {"from": "2024-02"}, {"area": "E8"}, {"activity": "job"}):
            for row in run(
                funders_db, name, **{k: v for k, v in params.items() if k in query["params"]}
            ):
                for column in COUNT_COLUMNS & set(row):
                    value = row[column]
                    assert value in (0, "<8", "<10") or (value % 5 == 0), (name, row)


def test_reach(funders_db: Path) -> None:
    assert run(funders_db, "reach") == [
        {
            "period": "2024-01",
            "people": 30,
            "new_people": 30,
            "returning_people": 0,
            "attendances": 30,
        },
        {
            "period": "2024-02",
            "people": 10,
            "new_people": 0,
            "returning_people": 10,
            "attendances": 10,
        },
        {
            "period": "2024-03",
            "people": "<8",
            "new_people": 0,
            "returning_people": "<8",
            "attendances": "<8",
        },
    ]
    assert run(funders_db, "reach", period="quarter") == [
        {
            "period": "2024-Q1",
            "people": 30,
            "new_people": 30,
            "returning_people": 0,
            "attendances": 45,
        },
    ]
    assert run(funders_db, "reach", **{"from": "2024-02", "to": "2024-02"})[0]["people"] == 10
    assert run(funders_db, "reach", area="e8") == [
        {
            "period": "2024-01",
            "people": 10,
            "new_people": 10,
            "returning_people": 0,
            "attendances": 10,
        },
    ]


def test_who_uses_the_higher_threshold_for_special_category_data(funders_db: Path) -> None:
    rows = {
        (r["characteristic"], r["value"]): (r["people"], r["percent"])
        for r in run(funders_db, "who")
    }
    assert rows[("Everyone", "All people")] == (30, 100.0)
    assert rows[("Gender", "female")] == (15, 50.0)
    assert rows[("Ethnic group", "White")] == (25, 83.3)  # 24 → 25 of 30
    assert rows[("Ethnic group", "Asian or Asian British")] == ("<10", "suppressed")  # 6 people
    strict = PublishConfig(suppress_below=8, special_suppress_below=31)
    assert {
        r["people"] for r in run(funders_db, "who", strict) if r["characteristic"] == "Ethnic group"
    } == {"<31"}


def test_where_activities_outcomes_and_scores(funders_db: Path) -> None:
    where = run(funders_db, "where_people_live")
    assert [(r["postcode_district"], r["people"], r["county"]) for r in where] == [
        ("E8", 10, "Greater London"),
        ("NW1", 20, "Greater London"),
    ]
    assert all(isinstance(r["latitude"], float) for r in where)
    assert {(r["area_type"], r["area_name"], r["people"]) for r in run(funders_db, "areas")} >= {
        ("Country", "England", 30),
        ("County or area", "Greater London", 30),
    }
    assert [
        (r["activity"], r["attendances"], r["people"]) for r in run(funders_db, "activities")
    ] == [("'=Job club", "<8", "<8"), ("Lunch club", 40, 30)]
    assert run(funders_db, "sessions_per_person") == [
        {"sessions": "Once", "people": 20, "percent": 66.7},
        {"sessions": "2 or 3 times", "people": 10, "percent": 33.3},
    ]
    assert run(funders_db, "outcomes") == [{"outcome": "Started employment", "people": 10}]
    [wemwbs] = run(funders_db, "score_change")
    assert wemwbs == {
        "measure": "WEMWBS",
        "people": 10,
        "average_first_score": 40.0,
        "average_last_score": 42.0,
        "average_change": 2.0,
        "people_improved": 10,
    }
    assert run(funders_db, "score_change", area="E8") == []
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
    assert "30 people" in result.output


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
    for name in load_funder_queries():
        assert status(funder, f"/funders/{name}") == 200, name
    assert funder.get("/funders/reach.json?_shape=array").json()[0]["people"] == 30
    for table in ("coverage", "districts", "about"):
        assert status(funder, f"/funders/{table}") == 200, table
    for denied in (
        "/funders/people",
        "/funders/people.json",
        "/funders/contacts/1",
        "/funders/scores.csv",
        "/funders.json?sql=select+*+from+people",
        "/funders?sql=select+1",
        "/funders/coverage.json?_where=1=1",
        "/funders.db",
    ):
        assert status(funder, denied) == 403, denied
    assert "/harvest" not in funder.get("/").text


def test_funder_downloads_csv_json_and_xlsx(funder_server: str) -> None:
    funder = login(funder_server, *FUNDER)
    csv_text = funder.get("/funders/activities.csv").text
    assert csv_text.splitlines()[1].startswith("'=Job club,<8,<8")
    response = funder.get("/funders/activities.xlsx")
    assert response.status_code == 200
    sheet = load_workbook(BytesIO(response.content)).active
    rows = list(sheet.values)
    assert rows[0][:3] == ("activity", "attendances", "people")
    assert rows[1][:3] == ("'=Job club", "<8", "<8") and rows[2][1] == 40
    assert sheet.cell(2, 1).data_type == "s"


def test_staff_view_keeps_the_store_for_staff(staff_server: str) -> None:
    funder = login(staff_server, *FUNDER)
    for denied in (
        "/harvest",
        "/harvest/records",
        "/harvest/people_per_month",
        "/harvest.json?sql=select+1",
        "/funders/people",
    ):
        assert status(funder, denied) == 403, denied
    assert status(funder, "/funders/reach") == 200
    staff = login(staff_server, *STAFF)
    for allowed in (
        "/harvest/records",
        "/harvest/people_per_month",
        "/funders/people",
        "/funders/reach",
        "/harvest.json?sql=select+count(*)+from+people",
    ):
        assert status(staff, allowed) == 200, allowed


def test_metadata_carries_the_geonames_attribution(funder_server: str) -> None:
    metadata = login(funder_server, *STAFF).get("/-/metadata.json").json()
    assert "GeoNames" in metadata["source"] and metadata["license_url"].endswith("by/4.0/")
    assert "© GeoNames" in login(funder_server, *FUNDER).get("/funders/districts").text
    assert "pbkdf2" not in str(metadata) and "password_hash" not in str(metadata)


def test_demo_logins_work_and_are_fresh(tmp_path: Path) -> None:
    users = Users(tmp_path / "harvest.users.json")
    first = demo_logins(users)
    assert [(n, r) for n, r, _ in first] == [("demo-funder", "funder"), ("demo-staff", "staff")]
    assert all(users.verify(n, p) for n, _, p in first)
    second = demo_logins(users)
    assert not users.verify(first[0][0], first[0][2]) and users.verify(*second[0][::2])
