"""The Microsoft 365 connector end to end: MSAL and Graph calls over real HTTPS against a
local fake of Microsoft's sign-in and Graph, syncing into a real SQLite store."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import query, run, scalar, snapshot, write_config, write_csv
from fakes.microsoft import CLIENT, HOST, TENANT, FakeMicrosoft, workbook
from typer.testing import CliRunner

from harvest.cli import app
from harvest.config import load_config
from harvest.connectors.microsoft import forms_table, is_forms_table
from harvest.connectors.microsoft_auth import MicrosoftApp, MicrosoftAuth
from harvest.connectors.microsoft_graph import quote_path, share_id
from harvest.connectors.tabular import build_table
from harvest.errors import ConfigError

SIGNUPS = [
    ["St Mary's lunch club – sign-in sheet"],
    [],
    ["First name", "Surname", "Postcode", "Date"],
    ["Ann", "Lee", "nw1 2ab", dt.date(2026, 3, 3)],
    ["Bob", "Smith", "SW1A1AA", dt.date(2026, 3, 3)],
]
FORMS_HEADERS = [
    "ID",
    "Start time",
    "Completion time",
    "Email",
    "Name",
    "What is your postcode?",
    "How did you hear about us?",
]


def response(n: int, email: str, name: str, postcode: str, day: int = 3) -> list[Any]:
    return [
        n,
        dt.datetime(2026, 3, day, 10, 0, 5),
        dt.datetime(2026, 3, day, 10, 4, 59),
        email,
        name,
        postcode,
        "GP surgery",
    ]


STEADY = {"source_state": "source, state"}  # snapshot columns: its times move with every sync


def sign_in(fake: FakeMicrosoft) -> None:
    MicrosoftAuth(MicrosoftApp(TENANT, CLIENT, fake.url)).sign_in(lambda message: None)


@pytest.fixture
def ms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeMicrosoft]:
    """The fake, trusted for this test only, with Sam signed in by the device-code flow."""
    with FakeMicrosoft(tmp_path) as fake:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(fake.ca_bundle))
        sign_in(fake)
        yield fake


def source(ms: FakeMicrosoft, name: str = "signups", **options: Any) -> dict[str, Any]:
    where = {} if {"path", "share_url"} & set(options) else {"path": "Sign ups/Lunch club.xlsx"}
    return {
        "name": name,
        "type": "microsoft_excel",
        "options": {
            "tenant_id": TENANT,
            "client_id": CLIENT,
            "api_url": ms.url + "/v1.0",
            "authority_url": ms.url,
            "max_wait_seconds": 1,
            **where,
            **options,
        },
    }


def downloads(ms: FakeMicrosoft) -> list[str]:
    return [r.path for r in ms.calls("/download/")]


# --- reading a workbook ------------------------------------------------------------------------


def test_a_onedrive_workbook_lands_through_the_file_connectors_reader(project, ms):
    book = ms.add_file(
        "Sign ups/Lunch club.xlsx", workbook({"Tuesday": SIGNUPS, "Notes": [["just a note"]]})
    )
    [result] = run(project, source(ms))
    assert result.status == "ok", result.messages
    db = project / "harvest.db"
    assert query(
        db,
        "SELECT given_name, family_name, postcode, activity_date, location FROM records ORDER BY 1",
    ) == [
        ("Ann", "Lee", "NW1 2AB", "2026-03-03", "Sign ups/Lunch club.xlsx, sheet 'Tuesday'"),
        ("Bob", "Smith", "SW1A 1AA", "2026-03-03", "Sign ups/Lunch club.xlsx, sheet 'Tuesday'"),
    ]
    # The path was URL-encoded; /content's 302 was followed without the bearer token.
    assert ms.calls("/v1.0/me/drive/root:/Sign%20ups/Lunch%20club.xlsx")
    assert downloads(ms) == [f"/download/{book['id']}"]
    assert all("authorization" not in r.headers for r in ms.calls("/download/"))
    state = json.loads(scalar(db, "SELECT state FROM source_state"))
    assert state["items"] == {
        f"b!me-onedrive!{book['id']}": {
            "eTag": book["eTag"],
            "lastModifiedDateTime": book["lastModifiedDateTime"],
        }
    }


def test_an_unchanged_workbook_is_not_downloaded_again(project, ms):
    book = ms.add_file("Sign ups/Lunch club.xlsx", workbook({"Tuesday": SIGNUPS}))
    run(project, source(ms))
    [again] = run(project, source(ms))
    assert again.status == "ok" and again.counts.read == 0
    assert len(downloads(ms)) == 1
    ms.update_file(book["id"], workbook({"Tuesday": [*SIGNUPS, ["Cat", "Khan", "E1 6AN"]]}))
    [changed] = run(project, source(ms))
    assert (changed.counts.new, changed.counts.unchanged) == (1, 2)
    assert len(downloads(ms)) == 2
    [full] = run(project, source(ms), full=True)
    assert full.counts.unchanged == 3 and len(downloads(ms)) == 3


def test_sheets_and_a_named_table(project, ms):
    ms.add_file(
        "Sign ups/Lunch club.xlsx",
        workbook(
            {
                "Tuesday": SIGNUPS,
                "Thursday": [["First name"], ["Dan"]],
                "Referrals": [["Referred by", "x"], ["Name", "Phone"], ["Eve", "07700 900123"]],
            },
            tables={"Referrals": "Referrals!A2:B3"},
        ),
    )
    [one] = run(project, source(ms, sheets=["thursday"]))
    assert one.status == "ok" and one.counts.read == 1
    [table] = run(project, source(ms, name="referrals", table="referrals"))
    assert table.status == "ok" and table.counts.read == 1
    assert query(
        project / "harvest.db",
        "SELECT full_name, phone, location FROM records WHERE source = 'referrals'",
    ) == [("Eve", "+447700900123", "Sign ups/Lunch club.xlsx, table 'Referrals'")]
    [missing] = run(project, source(ms, name="nope", table="Missing"))
    assert missing.status == "problems"
    assert "There is no table 'Missing' (it has 'Referrals')" in missing.messages[0]


def test_a_folder_reads_every_workbook_across_pages(project, ms):
    for week in (1, 2, 3):
        ms.add_file(
            f"Sign ups/Week {week}.xlsx",
            workbook({"Sheet1": [["Name", "Email"], [f"Person {week}", f"p{week}@example.org"]]}),
        )
    ms.add_file("Sign ups/Minutes.docx", b"PK\x03\x04 not a workbook", mime="application/msword")
    ms.add_file("Sign ups/Old/Week 0.xlsx", workbook({"Sheet1": [["Name"], ["Zed"]]}))
    [result] = run(project, source(ms, path="/Sign ups/"))
    assert result.status == "ok", result.messages
    assert result.counts.new == 3
    pages = ms.calls("/v1.0/drives/b!me-onedrive/items/")
    assert [r.query.get("$skiptoken") for r in pages if r.path.endswith("/children")] == [
        None,
        "2",
        "4",
    ]
    assert result.messages == [
        "Sign ups/Minutes.docx: Not a workbook, so it was not read: harvest reads .xlsx, "
        ".xlsm, .xlsb, .xls, .ods, .csv, .tsv and .txt files, and 'Minutes.docx' is '.docx'."
    ]


def test_a_sharepoint_site_and_library(project, ms):
    site = ms.add_site("sites/Volunteers", libraries=("Documents", "Referrals"))
    drive = ms.site_drives[site["id"]][1]
    ms.add_file("2026/March.xlsx", workbook({"Sheet1": [["Name"], ["Fay"]]}), drive=drive)
    [result] = run(
        project,
        source(
            ms,
            site=f"https://{HOST}/sites/Volunteers/",
            library="referrals",
            path="2026/March.xlsx",
        ),
    )
    assert result.status == "ok", result.messages
    assert scalar(project / "harvest.db", "SELECT full_name FROM records") == "Fay"
    assert ms.calls(f"/v1.0/sites/{HOST}:/sites/Volunteers")
    [wrong] = run(
        project,
        source(ms, site=f"{HOST}/sites/Volunteers", library="Archive", path="2026/March.xlsx"),
    )
    assert wrong.messages == [
        "Source 'signups': "
        f"The SharePoint site {HOST}/sites/Volunteers has no document "
        "library 'Archive' (it has 'Documents', 'Referrals'). Check "
        "'library' in harvest.yaml."
    ]


def test_another_persons_onedrive(project, ms):
    ms.add_file(
        "Lists/Referrals.xlsx",
        workbook({"Sheet1": [["Name"], ["Gus"]]}),
        drive=ms.user_drives["alex@stmarys.example.org"],
    )
    [result] = run(
        project, source(ms, path="Lists/Referrals.xlsx", user="alex@stmarys.example.org")
    )
    assert result.status == "ok" and result.counts.new == 1
    assert ms.calls("/v1.0/users/alex@stmarys.example.org/drive/root:/Lists/Referrals.xlsx")


def test_a_sharing_link(project, ms):
    book = ms.add_file("Shared/Referrals.xlsx", workbook({"Sheet1": [["Name"], ["Hal"]]}))
    link = ms.share(book["id"])
    [result] = run(project, source(ms, share_url=link))
    assert result.status == "ok" and result.counts.new == 1
    assert ms.calls(f"/v1.0/shares/{share_id(link)}/driveItem")
    assert query(project / "harvest.db", "SELECT location FROM records") == [
        ("Referrals.xlsx, sheet 'Sheet1'",)
    ]


# --- Microsoft Forms ---------------------------------------------------------------------------


def test_a_forms_response_workbook(project, ms):
    book = ms.add_file(
        "Forms/Lunch club sign-up.xlsx",
        workbook(
            {
                "Sheet1": [
                    FORMS_HEADERS,
                    response(1, "ann@example.org", "Ann Lee", "nw1 2ab"),
                    response(2, "anonymous", "", "SW1A 1AA", day=4),
                ]
            },
            tables={"Table1": "Sheet1!A1:G3"},
        ),
    )
    [result] = run(project, source(ms, path="Forms/Lunch club sign-up.xlsx"))
    assert result.status == "ok", result.messages
    db = project / "harvest.db"
    rows = query(
        db,
        "SELECT source_key, source_record_id, activity_date, email, full_name,"
        " postcode, referral_source, extra FROM records ORDER BY 1",
    )
    assert [r[:7] for r in rows] == [
        ("id:1", "1", "2026-03-03", "ann@example.org", "Ann Lee", "NW1 2AB", "GP surgery"),
        ("id:2", "2", "2026-03-04", None, None, "SW1A 1AA", "GP surgery"),
    ]
    assert json.loads(rows[0][7]) == {"Start time": "2026-03-03T10:00:05"}  # not a date field
    # Nobody's email is "anonymous", but the row as read keeps it.
    raw = json.loads(scalar(db, "SELECT data FROM raw_rows WHERE source_key = 'id:2'"))
    assert raw["Email"] == "anonymous" and raw["Completion time"] == "2026-03-04T10:04:59"
    assert scalar(db, "SELECT count(*) FROM issues WHERE field = 'email'") == 0
    # A new response: only it is new; the others keep their identity.
    ms.update_file(
        book["id"],
        workbook(
            {
                "Sheet1": [
                    FORMS_HEADERS,
                    response(1, "ann@example.org", "Ann Lee", "nw1 2ab"),
                    response(2, "anonymous", "", "SW1A 1AA", day=4),
                    response(3, "cat@example.org", "Cat Khan", "E1 6AN", day=5),
                ]
            }
        ),
    )
    [again] = run(project, source(ms, path="Forms/Lunch club sign-up.xlsx"))
    assert (again.counts.new, again.counts.unchanged) == (1, 2)


def test_the_forms_shape_is_recognised_only_when_it_is_there():
    def table(headers: list[str]) -> Any:
        return build_table("x", "x", iter([(1, headers), (2, ["1"] * len(headers))]))

    forms = forms_table(
        table(["Id", "Start time", "Completion time", "Email", "Name", "Last modified time", "Q1"])
    )
    assert forms.id_column == "Id"
    assert forms.hxl == ["#meta+id", "", "#date+activity", "#contact+email", "#person+name", "", ""]
    other = table(["ID", "Name", "Email", "Start time", "Completion time"])
    assert not is_forms_table(other) and forms_table(other).hxl is None


# --- bad input -----------------------------------------------------------------------------------


def test_a_file_that_is_not_a_workbook(project, ms):
    ms.add_file("Sign ups/Lunch club.docx", b"PK\x03\x04", mime="application/msword")
    ms.add_file("Sign ups/Lunch club.xlsx", b"<html><body>Sign in</body></html>")
    docx, fake = run(
        project, source(ms, name="docx", path="Sign ups/Lunch club.docx"), source(ms, name="fake")
    )
    assert docx.status == "problems" and "'Lunch club.docx' is '.docx'" in docx.messages[0]
    assert fake.status == "problems"
    assert fake.messages == [
        "Sign ups/Lunch club.xlsx: This is a text file (perhaps a CSV) "
        "with a .xlsx name. Open it in Excel and save it again as .xlsx "
        "or .csv."
    ]
    assert downloads(ms) == [
        f"/download/{ms.items[i]['id']}"
        for i in ms.content
        if ms.items[i]["name"].endswith(".xlsx")
    ]
    # Not recorded as read: the next sync tries again.
    run(project, source(ms, name="fake"))
    assert len(downloads(ms)) == 2


def test_a_worksheet_with_only_headings(project, ms):
    ms.add_file("Sign ups/Lunch club.xlsx", workbook({"Sheet1": [FORMS_HEADERS]}))
    [result] = run(project, source(ms))
    assert result.status == "ok" and result.counts.read == 0
    assert query(
        project / "harvest.db",
        "SELECT location, problem FROM issues WHERE problem LIKE '%headings%'",
    ) == [("Sign ups/Lunch club.xlsx, sheet 'Sheet1'", "It has headings but no rows of data.")]


def test_a_missing_path_says_where_it_looked(project, ms):
    [result] = run(project, source(ms, path="Sign ups/Nope.xlsx"))
    assert result.messages == [
        "Source 'signups': the signed-in account's OneDrive has no file or folder "
        "'Sign ups/Nope.xlsx', or the signed-in account cannot open it (HTTP 404) (Microsoft "
        "said: The resource could not be found.). Check 'path' in harvest.yaml against the "
        "address the file has in the browser."
    ]
    [site] = run(project, source(ms, site=f"{HOST}/sites/Nowhere", path="a.xlsx"))
    assert site.messages == [
        "Source 'signups': "
        f"There is no SharePoint site {HOST}/sites/Nowhere that the signed-in account can open "
        "(HTTP 404). Check 'site' in harvest.yaml: the site's address, e.g. "
        "yourcharity.sharepoint.com/sites/Volunteers."
    ]


def test_harvest_map_shows_how_a_forms_workbook_is_understood(project, ms):
    ms.add_file(
        "Forms/Lunch.xlsx",
        workbook({"Sheet1": [FORMS_HEADERS, response(1, "ann@example.org", "Ann Lee", "nw1 2ab")]}),
    )
    cfg = write_config(project, [source(ms, path="Forms/Lunch.xlsx")])
    result = CliRunner().invoke(app, ["map", "signups", "--config", str(cfg)])
    assert result.exit_code == 0, result.output
    lines = {" ".join(line.replace("│", " ").split()) for line in result.output.splitlines()}
    assert any(line.startswith("Completion time activity_date 100% HXL") for line in lines)
    assert any(line.startswith("ID source_record_id 100% HXL") for line in lines)


def test_a_sharing_link_without_access_fails_clearly_and_others_sync(
    project, ms, signup_rows, lunch_source
):
    write_csv(project / "lunch.csv", signup_rows)
    shared, lunch = run(project, source(ms, share_url=ms.share(status=403)), lunch_source())
    assert shared.status == "failed" and lunch.status == "ok"
    assert shared.messages == [
        "Source 'signups': the sharing link could not be opened by the signed-in account "
        "(HTTP 403) (Microsoft said: The caller does not have permission to perform the "
        "action.). Ask the file's owner to share it with that account (or with people in your "
        "organisation), or run `harvest auth microsoft` as someone who can open it."
    ]


def test_a_locked_workbook_keeps_what_was_stored_and_is_read_next_time(project, ms):
    book = ms.add_file("Sign ups/Lunch club.xlsx", workbook({"Tuesday": SIGNUPS}))
    run(project, source(ms))
    db = project / "harvest.db"
    before = snapshot(db, STEADY)
    ms.update_file(book["id"], workbook({"Tuesday": SIGNUPS[:4]}))
    ms.locked.add(book["id"])
    [locked] = run(project, source(ms))
    assert locked.status == "ok"
    assert locked.messages == [
        "Sign ups/Lunch club.xlsx: The workbook is locked (checked out, or open for editing in "
        "a way that stops copies being made), so it was not read; the rows already stored are "
        "kept, and the next sync tries again."
    ]
    assert {k: v for k, v in snapshot(db, STEADY).items() if k != "issues"} == {
        k: v for k, v in before.items() if k != "issues"
    }
    ms.locked.clear()
    [after] = run(project, source(ms))
    assert after.counts.read == 1
    assert scalar(db, "SELECT count(*) FROM records WHERE is_current") == 1


def test_a_workbook_edited_while_read_is_stored_and_read_again(project, ms):
    book = ms.add_file("Sign ups/Lunch club.xlsx", workbook({"Tuesday": SIGNUPS}))
    ms.edit_on_download.add(book["id"])
    [first] = run(project, source(ms))
    assert first.status == "ok" and first.counts.new == 2
    assert "changed while harvest was reading it" in first.messages[0]
    ms.edit_on_download.clear()
    [second] = run(project, source(ms))
    assert second.counts.unchanged == 2 and second.messages == []
    [third] = run(project, source(ms))
    assert third.counts.read == 0 and len(downloads(ms)) == 2


# --- a good API citizen --------------------------------------------------------------------------


def test_429_with_a_fractional_retry_after_and_503_are_retried(project, ms):
    ms.add_file("Sign ups/Lunch club.xlsx", workbook({"Tuesday": SIGNUPS}))
    path = "/v1.0/me/drive/root:/"
    ms.fail(path, "429", times=1, retry_after="0.128")
    ms.fail("/v1.0/drives/", "503", times=2, retry_after="0.01")
    [result] = run(project, source(ms))
    assert result.status == "ok" and result.counts.new == 2
    tries = ms.calls(path)
    assert len(tries) == 2 and tries[1].at - tries[0].at >= 0.128


def test_graph_asking_to_wait_too_long_stops_the_source_for_now(project, ms):
    ms.add_file("Sign ups/Lunch club.xlsx", workbook({"Tuesday": SIGNUPS}))
    ms.fail("/v1.0/me/", "429", times=1, retry_after="120")
    [result] = run(project, source(ms))
    assert result.status == "failed"
    assert "asked harvest to wait 120 s" in result.messages[0]


def test_a_revoked_sign_in_fails_only_this_source(project, ms, signup_rows, lunch_source):
    ms.add_file("Sign ups/Lunch club.xlsx", workbook({"Tuesday": SIGNUPS}))
    ms.access_ttl = 60  # every sync must renew
    sign_in(ms)
    ms.revoked = True
    write_csv(project / "lunch.csv", signup_rows)
    graph, lunch = run(project, source(ms), lunch_source())
    assert graph.status == "failed" and lunch.status == "ok"
    assert "run `harvest auth microsoft`" in graph.messages[0]
    assert ms.calls("/v1.0/") == []
    assert scalar(project / "harvest.db", "SELECT count(*) FROM records") == 3


def test_each_sync_renews_the_token_and_saves_the_rotated_sign_in(project, ms, token_store):
    ms.add_file("Sign ups/Lunch club.xlsx", workbook({"Tuesday": SIGNUPS}))
    ms.access_ttl = 60
    sign_in(ms)
    for _ in range(3):
        [result] = run(project, source(ms), full=True)
        assert result.status == "ok", result.messages
    renewals = [
        r
        for r in ms.calls(f"/{TENANT}/oauth2/v2.0/token")
        if ms.form(r).get("grant_type") == "refresh_token"
    ]
    assert len(renewals) == 3  # each with the refresh token the one before saved
    cache = json.loads(token_store.get("microsoft").get_secret_value())
    [saved] = cache["RefreshToken"].values()
    assert saved["secret"] in ms.refresh_tokens
    assert ms.form(renewals[-1])["refresh_token"] not in ms.refresh_tokens  # rotated away


def test_a_token_graph_refuses_says_how_to_authorise(project, ms):
    ms.add_file("Sign ups/Lunch club.xlsx", workbook({"Tuesday": SIGNUPS}))
    ms.access_tokens.clear()  # e.g. revoked by an administrator; MSAL still has it cached
    [result] = run(project, source(ms))
    assert result.messages == [
        "Source 'signups': "
        "The Microsoft Graph token was refused (Microsoft Graph said: Lifetime validation "
        "failed, the token is expired.): run `harvest auth microsoft`."
    ]


def test_no_sign_in_yet(project, ms, token_store):
    token_store.delete("microsoft")
    before = len(ms.requests)
    [result] = run(project, source(ms))
    assert result.messages == [
        "Source 'signups': harvest has no Microsoft sign-in yet: run `harvest auth microsoft`."
    ]
    assert len(ms.requests) == before


def test_sync_through_the_cli_never_prints_tokens(project, ms, caplog):
    ms.add_file("Sign ups/Lunch club.xlsx", workbook({"Tuesday": SIGNUPS}))
    cfg = write_config(project, [source(ms)])
    with caplog.at_level(logging.DEBUG):
        ok = CliRunner().invoke(app, ["sync", "--config", str(cfg), "--no-progress"])
    assert ok.exit_code == 0, ok.output
    secrets = [*ms.access_tokens, *ms.refresh_tokens]
    assert not any(s in ok.output or s in caplog.text for s in secrets)


# --- configuration -----------------------------------------------------------------------------


def test_options_are_checked_with_the_rest_of_harvest_yaml(project, ms):
    cfg = write_config(
        project,
        [
            source(ms, share_url="https://x.sharepoint.com/:x:/g/abc", path="a.xlsx"),
            {"name": "b", "type": "microsoft_excel", "options": {"path": "a.xlsx"}},
            source(ms, name="c", library="Docs"),
            source(ms, name="d", site="not a site", path="x.xlsx"),
        ],
    )
    with pytest.raises(ConfigError) as caught:
        load_config(cfg)
    message = str(caught.value)
    assert (
        "sources[0].options: give either path (with site for SharePoint) or share_url"
        in message.replace("Value error, ", "")
    )
    assert "sources[1].options.tenant_id: is required but missing" in message
    assert "sources[1].options.client_id: is required but missing" in message
    assert "library needs site" in message
    assert "sources[3].options.site: give the site as its address" in message


@pytest.mark.parametrize(
    "path, quoted",
    [
        ("Sign ups/Week 1.xlsx", "Sign%20ups/Week%201.xlsx"),
        ("/Forms/Q&A #2 100%.xlsx", "Forms/Q%26A%20%232%20100%25.xlsx"),
        ("", ""),
    ],
)
def test_paths_are_url_encoded_segment_by_segment(path, quoted):
    assert quote_path(path) == quoted


def test_share_ids_are_unpadded_base64url():
    assert (
        share_id("https://onedrive.live.com/redir?resid=1231244193912!12&authKey=1201919!12921!1")
        == "u!aHR0cHM6Ly9vbmVkcml2ZS5saXZlLmNvbS9yZWRpcj9yZXNpZD0xMjMxMjQ0MTkzOTEyITEyJmF1dGhLZXk9MTIwMTkxOSExMjkyMSEx"
    )
