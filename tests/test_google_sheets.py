"""The Google Sheets connector end to end: unmodified gspread over real HTTP against a local
fake of the Sheets v4 and Drive v3 APIs, laid out by the same code as spreadsheet files."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import query, run, scalar, write_csv
from fakes.google import SA_EMAIL, FakeGoogle

from harvest.connectors.google_sheets import SheetsOptions, a1_sheet

ROTA = [
    ["St Mary's volunteer rota – spring 2026", "", "", ""],
    ["First name", "Surname", "Mobile", "Postcode"],
    ["#person+name+given", "#person+name+family", "#contact+phone", "#adm+postcode"],
    ["Ann", "Lee", "07700900654", "nw1 2ab"],
    ["Bob", "Smith", "07700 900123", ""],
]
REFERRALS = [
    ["Referred on", "Full name", "Phone", "Referred by"],
    ["03/03/2026", "Cat Khan", "020 7946 0001", "GP surgery"],
]


pytestmark = pytest.mark.usefixtures("google_authorised")


@pytest.fixture
def book(google: FakeGoogle) -> str:
    return google.add_spreadsheet(
        "Volunteers and referrals", {"Rota": ROTA, "Referrals": REFERRALS}
    )


def source(fake: FakeGoogle, key: str, **options: Any) -> dict[str, Any]:
    return {
        "name": "volunteers",
        "type": "google_sheets",
        "options": {
            "spreadsheet": f"https://docs.google.com/spreadsheets/d/{key}/edit#gid=0",
            "api_url": fake.api_url,
            "max_wait_seconds": 0.05,
            **options,
        },
    }


def api_calls(fake: FakeGoogle) -> list[str]:
    return [
        r.path.rsplit("/", 1)[-1] if "values" in r.path else r.path.split("/")[1]
        for r in fake.requests
        if r.path != "/token"
    ]


# --- a first sync ----------------------------------------------------------------------------


def test_worksheets_land_like_a_workbook_with_leading_zeros_kept(project, google, book):
    [result] = run(project, source(google, book))
    assert result.status == "ok", result.messages
    assert (result.tables, result.counts.new) == (2, 3)
    db = project / "harvest.db"
    assert query(
        db,
        "SELECT given_name, family_name, phone, postcode, location FROM records"
        " WHERE location LIKE '%Rota%' ORDER BY 1",
    ) == [
        (
            "Ann",
            "Lee",
            "+447700900654",
            "NW1 2AB",
            "spreadsheet 'Volunteers and referrals', worksheet 'Rota'",
        ),
        (
            "Bob",
            "Smith",
            "+447700900123",
            None,
            "spreadsheet 'Volunteers and referrals', worksheet 'Rota'",
        ),
    ]
    # The row as typed: the title row and HXL row are not data, the zero is kept.
    raw = json.loads(scalar(db, "SELECT data FROM raw_rows WHERE data LIKE '%Ann%'"))
    assert raw == {
        "First name": "Ann",
        "Surname": "Lee",
        "Mobile": "07700900654",
        "Postcode": "nw1 2ab",
    }
    assert scalar(db, "SELECT row_number FROM raw_rows WHERE data LIKE '%Ann%'") == 4
    assert query(
        db,
        "SELECT full_name, referral_source, json_extract(extra, '$.\"Referred on\"')"
        " FROM records WHERE location LIKE '%worksheet ''Referrals''%'",
    ) == [("Cat Khan", "GP surgery", "03/03/2026")]
    state = json.loads(scalar(db, "SELECT state FROM source_state"))
    assert state["modified"] == google.sheets[book]["modified"]
    assert state["worksheets"] == {"Rota": 0, "Referrals": google.tab(book, "Referrals")["sheetId"]}


def test_all_worksheets_are_read_in_one_batch_get_of_formatted_values(project, google, book):
    run(project, source(google, book))
    assert api_calls(google) == ["drive", "v4", "values:batchGet"]
    [batch] = google.calls(f"/v4/spreadsheets/{book}/values:batchGet")
    assert batch.params["ranges"] == ["'Rota'", "'Referrals'"]
    assert batch.query["valueRenderOption"] == "FORMATTED_VALUE"
    # The token was renewed once, and every call carried it.
    assert [r.path for r in google.requests].count("/token") == 1
    assert all(
        r.headers["authorization"].startswith("Bearer ya29.")
        for r in google.requests
        if r.path != "/token"
    )


def test_a_fifty_sheet_workbook_costs_three_reads(project, google):
    tabs = {
        f"Week {n}": [["Name", "Phone"], [f"Person {n}", f"07700 9{n:05d}"]] for n in range(1, 51)
    }
    key = google.add_spreadsheet("Weekly sign-ins", tabs)
    [result] = run(project, source(google, key))
    assert result.status == "ok" and result.counts.new == 50 and result.tables == 50
    assert len(api_calls(google)) == 3
    [result] = run(project, source(google, key, batch_size=20), full=True)
    assert api_calls(google)[3:] == ["drive", "v4", *["values:batchGet"] * 3]


def test_ten_thousand_rows_in_one_sheet(project, google):
    rows = [["Name", "Phone", "Postcode"]] + [
        [f"Person {i}", f"07700{i:06d}", "NW1 2AB"] for i in range(10_000)
    ]
    key = google.add_spreadsheet("Food bank visits", {"Visits": rows})
    [result] = run(project, source(google, key))
    assert result.status == "ok" and result.counts.new == 10_000
    db = project / "harvest.db"
    assert scalar(db, "SELECT count(*) FROM raw_rows") == 10_000
    assert (
        scalar(
            db,
            "SELECT json_extract(data, '$.Phone') FROM raw_rows"
            " WHERE json_extract(data, '$.Name') = 'Person 42'",
        )
        == "07700000042"
    )


# --- incremental -----------------------------------------------------------------------------


def test_an_unchanged_spreadsheet_is_not_read_again(project, google, book):
    run(project, source(google, book))
    db = project / "harvest.db"
    before = query(db, "SELECT * FROM records")
    [result] = run(project, source(google, book))
    assert result.status == "ok" and result.counts.read == 0
    assert api_calls(google) == ["drive", "v4", "values:batchGet", "drive"]
    assert query(db, "SELECT * FROM records") == before
    # A change of options reads it again, as does --full.
    run(project, source(google, book, worksheets=["Rota"]))
    run(project, source(google, book, worksheets=["Rota"]), full=True)
    assert api_calls(google)[4:] == ["drive", "v4", "values:batchGet"] * 2


def test_an_edited_spreadsheet_is_read_again_as_a_snapshot(project, google, book):
    run(project, source(google, book))
    rota = google.tab(book, "Rota")["rows"]
    rota[4] = ["Bob", "Smith", "07700 900123", "E1 6AN"]  # Bob's postcode typed in
    rota.append(["Dan", "Wu", "07700 900999", ""])
    del google.tab(book, "Referrals")["rows"][1]  # the referral was removed
    google.touch(book)
    [result] = run(project, source(google, book))
    assert result.status == "ok", result.messages
    assert (result.counts.new, result.counts.unchanged) == (2, 1)
    db = project / "harvest.db"
    assert query(db, "SELECT given_name, postcode FROM records WHERE is_current ORDER BY 1") == [
        ("Ann", "NW1 2AB"),
        ("Bob", "E1 6AN"),
        ("Dan", None),
    ]
    assert scalar(db, "SELECT count(*) FROM raw_rows") == 5  # nothing lost


# --- worksheets ------------------------------------------------------------------------------


def test_named_worksheets_only_in_any_case(project, google, book):
    [result] = run(project, source(google, book, worksheets=["referrals"]))
    assert result.status == "ok" and result.tables == 1
    [batch] = google.calls(f"/v4/spreadsheets/{book}/values:batchGet")
    assert batch.params["ranges"] == ["'Referrals'"]


def test_a_worksheet_that_is_not_there_is_an_error_listing_those_that_are(project, google, book):
    [result] = run(project, source(google, book, worksheets=["Rota", "Tuesday"]))
    assert result.status == "problems"
    assert result.messages == [
        "spreadsheet 'Volunteers and referrals': There is no worksheet 'Tuesday' (there are "
        "'Rota', 'Referrals'). Check 'worksheets' in harvest.yaml; the rows already read from it "
        "are kept."
    ]
    assert result.counts.new == 2
    state = json.loads(scalar(project / "harvest.db", "SELECT state FROM source_state"))
    assert state["modified"] is None  # read again next time


def test_a_worksheet_renamed_between_syncs_is_followed_with_a_warning(project, google, book):
    run(project, source(google, book, worksheets=["Rota"]))
    google.tab(book, "Rota")["title"] = "Rota 2026"
    google.touch(book)
    [result] = run(project, source(google, book, worksheets=["Rota"]))
    assert result.status == "ok"
    assert result.messages == [
        "spreadsheet 'Volunteers and referrals': The worksheet 'Rota' has been renamed "
        "'Rota 2026' since the last sync; it was read under its new name. Change 'Rota' to "
        "'Rota 2026' under 'worksheets' in harvest.yaml."
    ]
    db = project / "harvest.db"
    # Keyed by the worksheet's id, so its rows are the same rows, not new ones.
    assert (result.counts.new, result.counts.unchanged) == (0, 2)
    assert scalar(db, "SELECT count(*) FROM records WHERE is_current") == 2


def test_renaming_a_worksheet_keeps_its_rows_when_reading_every_worksheet(project, google, book):
    run(project, source(google, book))
    google.tab(book, "Referrals")["title"] = "Referrals (old)"
    google.touch(book)
    [result] = run(project, source(google, book))
    assert (result.counts.new, result.counts.unchanged) == (0, 3)
    assert scalar(project / "harvest.db", "SELECT count(*) FROM records WHERE is_current") == 3


def test_hidden_and_empty_worksheets_are_noted_and_skipped(project, google, book):
    google.add_worksheet(book, "Lookups", [["a", "b"], ["1", "2"]], hidden=True)
    google.add_worksheet(book, "Blank", [])
    [result] = run(project, source(google, book))
    assert result.status == "ok"
    assert result.messages == [
        "spreadsheet 'Volunteers and referrals', worksheet 'Blank': Worksheet 'Blank' is empty, "
        "skipped.",
    ]
    # a hidden worksheet is hidden on purpose: a note in `harvest check`, not a problem
    assert query(project / "harvest.db", "SELECT severity, problem FROM issues WHERE location"
                 " LIKE '%Lookups%'") == [
        ("info", "The worksheet is hidden, skipped (name it under 'worksheets' to read it).")
    ]  # fmt: skip
    [hidden] = run(project, source(google, book, worksheets=["Lookups"]))
    assert hidden.tables == 1


def test_two_heading_rows_are_noted_and_header_row_picks_one(project, google):
    rows = [
        ["", "", "", ""],
        ["About you", "", "Contact", ""],
        ["First name", "Surname", "Phone", "Email"],
        ["Eve", "Ng", "07700 900555", "eve@example.org"],
    ]
    key = google.add_spreadsheet("Sign-ups", {"Sheet1": rows})
    [result] = run(project, source(google, key))
    assert result.status == "ok"
    db = project / "harvest.db"
    assert scalar(db, "SELECT count(*) FROM raw_rows") == 2  # nothing is lost
    assert query(db, "SELECT problem FROM issues WHERE problem LIKE 'Row 2 was taken%'") == [
        (
            "Row 2 was taken as the headings, but row 3 below it also looks like headings and "
            "fills more columns. If row 3 holds the headings, set header_row: 3 in harvest.yaml.",
        )
    ]
    [fixed] = run(project, source(google, key, header_row=3))
    assert fixed.status == "ok"
    assert query(db, "SELECT given_name, email, row_number FROM records WHERE is_current") == [
        ("Eve", "eve@example.org", 4)
    ]


def test_a_sheet_with_no_heading_row_is_noted_and_nothing_is_lost(project, google):
    rows = [
        ["Fay", "Oduya", "07700 900321", "fay@example.org"],
        ["Gus", "Obi", "07700 900322", "gus@example.org"],
    ]
    key = google.add_spreadsheet("Quick list", {"Sheet1": rows})
    [result] = run(project, source(google, key))
    assert result.status == "ok" and result.counts.new == 1
    db = project / "harvest.db"
    assert query(db, "SELECT problem FROM issues WHERE problem LIKE 'Row 1 was taken%'") == [
        (
            "Row 1 was taken as the headings, but some of its cells look like data ('07700 900321', "
            "'fay@example.org'). If the sheet has no heading row, add one above the data (its values "
            "are kept meanwhile, as column names).",
        )
    ]
    assert "Fay" in scalar(db, "SELECT data FROM raw_rows")


def test_a_sheet_with_only_headings_is_noted(project, google):
    key = google.add_spreadsheet("New list", {"Sheet1": [["Name", "Phone"]]})
    [result] = run(project, source(google, key))
    assert result.status == "ok"
    assert query(
        project / "harvest.db",
        "SELECT problem FROM issues WHERE severity = 'info' AND problem LIKE 'It has%'",
    ) == [("It has headings but no rows of data.",)]


def test_a_missing_spreadsheet_fails_with_a_clear_message(project, google):
    [result] = run(project, source(google, "1BxiMVs0XRA5nFMdKvBdBZjgmNotThere"))
    assert result.status == "failed"
    assert result.messages[0].startswith(
        "Google has no spreadsheet 1BxiMVs0XRA5nFMdKvBdBZjgmNotThere that harvest may read."
    )


@pytest.mark.parametrize(
    "title, a1", [("Rota", "'Rota'"), ("Bob's list", "'Bob''s list'"), ("Week 1!A1", "'Week 1!A1'")]
)
def test_worksheet_names_are_quoted_for_a1_ranges(title, a1):
    assert a1_sheet(title) == a1


def test_options_accept_one_worksheet_name():
    options = SheetsOptions(spreadsheet="1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74O", worksheets="Rota")
    assert options.worksheets == ["Rota"]


# --- quotas, retries and tokens ------------------------------------------------------------


def test_quota_429_with_retry_after_and_drive_rate_limit_403_are_retried(project, google, book):
    google.fail(f"/v4/spreadsheets/{book}/values:batchGet", "429", times=1, retry_after="0.02")
    google.fail("/drive/v3/files/", "403", times=1)
    google.error_body = lambda status: (
        {
            "error": {  # Drive's rate limit answer
                "code": 403,
                "message": "User Rate Limit Exceeded",
                "errors": [
                    {
                        "domain": "usageLimits",
                        "reason": "userRateLimitExceeded",
                        "message": "User Rate Limit Exceeded",
                    }
                ],
            }
        }
        if status == 403
        else {"error": {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED"}}
    )
    [result] = run(project, source(google, book))
    assert result.status == "ok", result.messages
    assert api_calls(google) == ["drive", "drive", "v4", "values:batchGet", "values:batchGet"]
    batches = google.calls(f"/v4/spreadsheets/{book}/values:batchGet")
    assert batches[1].at - batches[0].at >= 0.02


def test_a_dropped_connection_is_retried(project, google, book):
    google.fail(f"/v4/spreadsheets/{book}/values:batchGet", "drop", times=1)
    [result] = run(project, source(google, book))
    assert result.status == "ok", result.messages
    assert len(google.calls(f"/v4/spreadsheets/{book}/values:batchGet")) == 2


def test_a_retry_after_longer_than_max_wait_stops_at_once(project, google, book):
    google.fail(f"/v4/spreadsheets/{book}/values:batchGet", "429", times=1, retry_after="120")
    [result] = run(project, source(google, book))
    assert result.status == "failed"
    assert "asked harvest to wait 120 s (its rate limit)" in result.messages[0]


def test_a_revoked_token_fails_this_source_only(project, google, book, signup_rows, lunch_source):
    write_csv(project / "lunch.csv", signup_rows)
    google.refresh_tokens.clear()
    sheets, lunch = run(project, source(google, book), lunch_source())
    assert sheets.status == "failed" and lunch.status == "ok"
    assert "run `harvest auth google`" in sheets.messages[0]
    assert "Testing" in sheets.messages[0]
    assert api_calls(google) == []


def test_an_expired_access_token_is_renewed_by_gspread_session(project, google, book):
    run(project, source(google, book))
    google.expire_access_tokens()
    google.touch(book)
    [result] = run(project, source(google, book))
    assert result.status == "ok"
    assert [r.path for r in google.requests].count("/token") == 2


def test_a_service_account_key_file_is_the_alternative(project, google, book, token_store):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    token_store.delete("google")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    (project / "keys").mkdir()
    (project / "keys" / "harvest-sa.json").write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "st-marys",
                "private_key_id": "abc123",
                "private_key": pem,
                "client_email": SA_EMAIL,
                "client_id": "1000",
                "token_uri": "https://oauth2.googleapis.com/token",
            }
        )
    )
    [result] = run(project, source(google, book, service_account_file="keys/harvest-sa.json"))
    assert result.status == "ok", result.messages
    [grant] = [r for r in google.requests if r.path == "/token"]
    assert b"jwt-bearer" in grant.body
    [missing] = run(project, source(google, book, service_account_file="keys/nope.json"))
    assert missing.status == "failed" and "there is no file" in missing.messages[0]
