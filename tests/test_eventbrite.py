"""The Eventbrite connector end to end: the unmodified SDK over real HTTP against a local
fake of Eventbrite's v3 API, syncing into a real SQLite store."""

from __future__ import annotations

import json
import logging
import os
import re
import stat
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import query, run, scalar, snapshot, write_config, write_csv
from fakes.eventbrite import ORG_ID, TOKEN, FakeEventbrite, question
from typer.testing import CliRunner

from harvest.cli import app
from harvest.config import load_config
from harvest.connectors.eventbrite import EventbriteOptions
from harvest.connectors.eventbrite_rows import Layout, attendance_status, event_table, text
from harvest.errors import ConfigError
from harvest.secrets import TokenStore
from harvest.testing.fake_api import Reply

CURSOR_1 = "2026-03-10T11:50:00Z"  # the fake's clock (12:00) less the 10 minute overlap


@pytest.fixture(autouse=True)
def eventbrite_authorised(token_store: TokenStore) -> None:
    """Every test's own token store (see conftest.py) has the fake's token authorised."""
    token_store.set("eventbrite", TOKEN)


@pytest.fixture
def eventbrite() -> Iterator[FakeEventbrite]:
    with FakeEventbrite(page_size=2) as fake:
        yield fake


@pytest.fixture
def club(eventbrite: FakeEventbrite) -> dict[str, Any]:
    """Three events (one with nobody booked yet); the first's attendees come in two pages."""
    coffee = eventbrite.add_event("Coffee morning", "2026-03-03T10:00:00")
    empty = eventbrite.add_event("Quiz night", "2026-03-20T19:00:00")
    carers = eventbrite.add_event("Carers' lunch", "2026-03-05T12:30:00")
    ann = eventbrite.add_attendee(
        coffee,
        "Ann",
        "Lee",
        checked_in=True,
        answers=[
            question("21", "What is your postcode?", "nw1 2ab"),
            question("22", "How did you hear about us?", "GP surgery"),
        ],
    )
    bob = eventbrite.add_attendee(
        coffee,
        "Bob",
        "Smith",
        answers=[
            question("21", "What is your postcode?"),
            question("22", "How did you hear about us?"),
        ],
    )
    bob2 = eventbrite.add_attendee(coffee, "Bob", "Smith")  # a second ticket in Bob's order
    cat = eventbrite.add_attendee(carers, "Cat", "Khan", ticket="Carer (free)")
    cat["profile"].update(
        gender="Female", age=67, cell_phone="07700 900123", birth_date="1958-05-06"
    )
    cat["profile"]["addresses"]["home"] = {
        "address_1": "1 High St",
        "city": "London",
        "postal_code": "sw1a1aa",
    }
    return {
        "coffee": coffee,
        "empty": empty,
        "carers": carers,
        "ann": ann,
        "bob": bob,
        "bob2": bob2,
        "cat": cat,
    }


def source(fake: FakeEventbrite, **options: Any) -> dict[str, Any]:
    return {
        "name": "tickets",
        "type": "eventbrite",
        "options": {"api_url": fake.api_url, "max_wait_seconds": 0.05, **options},
    }


# --- a first sync ----------------------------------------------------------------------------


def test_first_sync_lands_attendees_as_records_and_attendances(project, eventbrite, club):
    [result] = run(project, source(eventbrite))
    assert result.status == "ok", result.messages
    assert (result.counts.read, result.counts.new) == (4, 4)
    db = project / "harvest.db"
    rows = query(
        db,
        "SELECT source_key, source_record_id, given_name, family_name, email,"
        " postcode, referral_source, gender, age, phone, date_of_birth, activity,"
        " activity_date, attendance_status, ticket_type"
        " FROM records WHERE is_current ORDER BY source_record_id",
    )
    assert rows == [
        (
            "id:" + club["ann"]["id"],
            club["ann"]["id"],
            "Ann",
            "Lee",
            "ann@example.org",
            "NW1 2AB",
            "GP surgery",
            None,
            None,
            None,
            None,
            "Coffee morning",
            "2026-03-03",
            "attended",
            "General admission",
        ),
        (
            "id:" + club["bob"]["id"],
            club["bob"]["id"],
            "Bob",
            "Smith",
            "bob@example.org",
            None,
            None,
            None,
            None,
            None,
            None,
            "Coffee morning",
            "2026-03-03",
            "registered",
            "General admission",
        ),
        (
            "id:" + club["bob2"]["id"],
            club["bob2"]["id"],
            "Bob",
            "Smith",
            "bob@example.org",
            None,
            None,
            None,
            None,
            None,
            None,
            "Coffee morning",
            "2026-03-03",
            "registered",
            "General admission",
        ),
        (
            "id:" + club["cat"]["id"],
            club["cat"]["id"],
            "Cat",
            "Khan",
            "cat@example.org",
            "SW1A 1AA",
            None,
            "female",
            67,
            "+447700900123",
            "1958-05-06",
            "Carers' lunch",
            "2026-03-05",
            "registered",
            "Carer (free)",
        ),
    ]
    assert scalar(db, "SELECT count(*) FROM attendances") == 4
    # Every event is an activity, the one nobody has booked yet included.
    assert {n for (n,) in query(db, "SELECT name FROM activities")} == {
        "Coffee morning",
        "Quiz night",
        "Carers' lunch",
    }
    # The attendee's JSON is kept as Eventbrite sent it.
    raw = scalar(db, "SELECT data FROM raw_rows WHERE source_key = ?", ("id:" + club["cat"]["id"],))
    assert json.loads(raw) == club["cat"]
    state = json.loads(scalar(db, "SELECT state FROM source_state WHERE source = 'tickets'"))
    assert state["changed_since"] == CURSOR_1 and state["organization_id"] == ORG_ID


def test_the_sdk_pages_with_continuation_and_sends_the_token_as_a_header(project, eventbrite, club):
    run(project, source(eventbrite))
    pages = eventbrite.calls(f"/v3/events/{club['coffee']}/attendees/")
    assert [r.query.get("continuation") for r in pages] == [None, "Mg=="]
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in eventbrite.requests)
    assert all(TOKEN not in json.dumps(r.query) for r in eventbrite.requests)
    assert eventbrite.calls("/v3/events/search/") == []


def test_custom_questions_are_columns_named_by_the_question(project, eventbrite, club):
    options = EventbriteOptions(api_url=eventbrite.api_url)
    layout = Layout([], {})
    attendees = [club["ann"], club["bob"], club["bob2"]]
    layout.learn(attendees, eventbrite.events[club["coffee"]])
    table = event_table(eventbrite.events[club["coffee"]], attendees, layout)
    assert table.headers[-2:] == ["What is your postcode?", "How did you hear about us?"]
    assert table.hxl is not None and table.hxl[-2:] == ["", ""]
    assert table.id_column == "Attendee ID" and table.complete is False
    # Profile fields nobody gave are not columns, so they cannot take a question's place.
    assert "Home postcode" not in table.headers and "Gender" not in table.headers
    assert options.api_url.endswith("/v3/")


def test_a_home_postcode_wins_over_a_postcode_question_which_is_kept(project, eventbrite, club):
    club["cat"]["answers"] = [question("21", "What is your postcode?", "E1 6AN")]
    eventbrite.attendees[club["carers"]].append(eventbrite.attendees[club["coffee"]].pop(0))
    [result] = run(project, source(eventbrite))
    db = project / "harvest.db"
    assert result.status == "ok"
    # Ann gave no home address, so her answer to the question is her postcode (issue 15)
    assert query(
        db,
        "SELECT given_name, postcode, json_extract(extra, '$.\"What is your postcode?\"')"
        " FROM records WHERE activity = ? ORDER BY 1",
        ("Carers' lunch",),
    ) == [("Ann", "NW1 2AB", "nw1 2ab"), ("Cat", "SW1A 1AA", "E1 6AN")]
    notes = query(db, "SELECT problem FROM issues WHERE problem LIKE '%also looks like%'")
    assert len(notes) == 1 and "'What is your postcode?' also looks like postcode" in notes[0][0]
    assert "where the other is blank" in notes[0][0]


def test_blank_profile_values_are_filled_from_the_question_row_by_row(project, eventbrite):
    """An event that collects the home address and asks its own postcode question: each
    attendee with no home postcode keeps the postcode they gave in answer (issue 15)."""
    event = eventbrite.add_event("Walk", "2026-03-07T10:00:00")
    for n in range(9):
        person = eventbrite.add_attendee(
            event, f"Walker{n}", "Hill", answers=[question("41", "Postcode", f"n1 {n}aa")]
        )
        if n % 3 == 0:  # a third filled in their home address on Eventbrite too
            person["profile"]["addresses"]["home"] = {"postal_code": f"e1 {n}bb"}
        if n % 2 == 0:
            person["profile"]["home_phone"] = f"020 7946 00{n:02d}"
        if n % 4 == 0:
            person["profile"]["cell_phone"] = f"07700 9001{n:02d}"
    [result] = run(project, source(eventbrite))
    assert result.status == "ok" and result.counts.read == 9
    rows = query(project / "harvest.db", "SELECT given_name, postcode, phone FROM records")
    got = {name: (postcode, phone) for name, postcode, phone in rows}
    for n in range(9):
        postcode = f"E1 {n}BB" if n % 3 == 0 else f"N1 {n}AA"
        mobile, home = f"+4477009001{n:02d}", f"+442079460{n:03d}"
        phone = mobile if n % 4 == 0 else home if n % 2 == 0 else None
        assert got[f"Walker{n}"] == (postcode, phone), n


# --- incremental ------------------------------------------------------------------------------


def test_next_sync_asks_only_for_changes_and_updates_attendances_in_place(
    project, eventbrite, club
):
    run(project, source(eventbrite))
    db = project / "harvest.db"
    eventbrite.tick(60)
    eventbrite.update_attendee(club["bob"], cancelled=True, status="Not Attending")
    eventbrite.update_attendee(club["cat"], refunded=True)
    eventbrite.add_attendee(club["empty"], "Dan", "Wu")
    before = len(eventbrite.requests)
    [result] = run(project, source(eventbrite))
    assert result.status == "ok", result.messages
    second = eventbrite.requests[before:]
    attendee_calls = [r for r in second if r.path.endswith("/attendees/")]
    assert attendee_calls and all(r.query["changed_since"] == CURSOR_1 for r in attendee_calls)
    # The overlap re-delivers Ann unchanged; Bob and Cat changed; Dan is new.
    assert (result.counts.new, result.counts.changed, result.counts.unchanged) == (1, 2, 2)
    assert query(
        db,
        "SELECT a.name, t.attendance_status FROM attendances t JOIN activities a"
        " ON a.id = t.activity_id ORDER BY t.record_id",
    ) == [
        ("Coffee morning", "attended"),
        ("Coffee morning", "registered"),
        ("Coffee morning", "cancelled"),
        ("Quiz night", "registered"),
        ("Carers' lunch", "cancelled"),
    ]
    assert query(
        db,
        "SELECT version, is_current FROM raw_rows JOIN records USING (id)"
        " WHERE raw_rows.source_key = ? ORDER BY version",
        ("id:" + club["bob"]["id"],),
    ) == [(1, 0), (2, 1)]
    state = json.loads(scalar(db, "SELECT state FROM source_state"))
    assert state["changed_since"] == "2026-03-10T12:50:00Z"


def test_overlap_redelivers_attendees_without_new_versions(project, eventbrite, club):
    run(project, source(eventbrite))
    db = project / "harvest.db"
    before = snapshot(db)
    # Only Eventbrite's `changed` moves (a barcode was reprinted): nothing we read changed.
    eventbrite.tick(5)
    eventbrite.update_attendee(club["ann"], barcodes=[{"barcode": "x", "is_printed": True}])
    [result] = run(project, source(eventbrite))
    assert (result.counts.read, result.counts.new, result.counts.changed) == (4, 0, 0)
    after = snapshot(db)
    assert after["records"] == before["records"] and after["attendances"] == before["attendances"]
    assert scalar(db, "SELECT count(*) FROM raw_rows") == 4


def test_full_ignores_the_cursor(project, eventbrite, club):
    run(project, source(eventbrite))
    before = len(eventbrite.requests)
    [result] = run(project, source(eventbrite), full=True)
    assert result.counts.unchanged == 4
    assert all("changed_since" not in r.query for r in eventbrite.requests[before:])


def test_duplicated_attendees_across_pages_land_once(project, eventbrite, club):
    eventbrite.repeat_last = True  # each page starts with the previous page's last attendee
    [result] = run(project, source(eventbrite))
    assert len(eventbrite.calls(f"/v3/events/{club['coffee']}/attendees/")) == 2
    assert result.counts.read == 4
    assert scalar(project / "harvest.db", "SELECT count(*) FROM records") == 4


# --- bad input ------------------------------------------------------------------------------


def test_an_attendee_with_no_profile_is_kept(project, eventbrite):
    event = eventbrite.add_event("Walk", "2026-04-01T09:00:00")
    nobody = eventbrite.add_attendee(event, profile={})
    del nobody["answers"]
    [result] = run(project, source(eventbrite))
    assert result.status == "ok"
    db = project / "harvest.db"
    assert query(db, "SELECT source_record_id, given_name, email, activity FROM records") == [
        (nobody["id"], None, None, "Walk")
    ]
    assert scalar(db, "SELECT count(*) FROM attendances") == 1


def test_answers_of_unexpected_types_are_kept_as_text_and_noted_once(project, eventbrite):
    event = eventbrite.add_event("Lunch", "2026-04-02T12:00:00")
    eventbrite.add_attendee(
        event,
        "Eve",
        "Ng",
        answers=[
            question("31", "Dietary needs", ["Vegan", "Nut free"], "checkbox"),
            question("32", "Number of children", 2.0),
            question("33", "Consent", True),
            question("34", "Extra", {"b": 1, "a": [1]}),
            "not an answer",
        ],
    )
    eventbrite.add_attendee(event, "Fay", "Ng", answers={"31": "odd"})
    for _ in range(2):
        [result] = run(project, source(eventbrite), full=True)
        assert result.status == "ok"
    db = project / "harvest.db"
    extra = json.loads(scalar(db, "SELECT extra FROM records WHERE given_name = 'Eve'"))
    # "Dietary needs" is a field of the standard since version 2: the list lands there
    assert scalar(db, "SELECT food_needs FROM records WHERE given_name = 'Eve'") == (
        '["vegan", "nut_allergy"]'
    )
    assert extra["Number of children"] == "2" and extra["Extra"] == '{"a": [1], "b": 1}'
    assert scalar(db, "SELECT consent_to_share FROM records WHERE given_name = 'Eve'") == "yes"
    notes = [p for (p,) in query(db, "SELECT problem FROM issues WHERE problem LIKE '%came as%'")]
    assert len(notes) == 5, notes  # four questions and Fay's answers: each noted once
    assert any("'Dietary needs' came as list" in n for n in notes)
    assert scalar(db, "SELECT count(*) FROM records") == 2


def test_an_event_deleted_between_two_syncs_keeps_what_was_stored(project, eventbrite, club):
    run(project, source(eventbrite))
    eventbrite.delete_event(club["coffee"])
    [result] = run(project, source(eventbrite))
    assert result.status == "ok"
    db = project / "harvest.db"
    assert scalar(db, "SELECT count(*) FROM attendances") == 4
    assert scalar(db, "SELECT count(*) FROM records WHERE is_current") == 4


def test_an_event_deleted_while_being_read_is_reported_and_the_rest_lands(
    project, eventbrite, club
):
    eventbrite.add_attendee(club["empty"], "Dan", "Wu")
    eventbrite.gone.add(club["coffee"])
    [result] = run(project, source(eventbrite))
    assert result.status == "ok"
    assert [m for m in result.messages if "no longer exists" in m] == [
        f"event 'Coffee morning' ({club['coffee']}): Eventbrite says this event no longer "
        "exists (deleted while harvest was reading it); its attendees already stored are kept."
    ]
    db = project / "harvest.db"
    assert query(db, "SELECT given_name FROM records ORDER BY 1") == [("Cat",), ("Dan",)]


def test_a_response_that_is_not_json_fails_the_source_once_and_changes_nothing(
    project, eventbrite, club
):
    run(project, source(eventbrite))
    db = project / "harvest.db"
    before = snapshot(db)
    eventbrite.tick(60)
    eventbrite.update_attendee(club["bob"], cancelled=True)
    eventbrite.fail(f"/v3/events/{club['empty']}/attendees/", "not_json")
    [result] = run(project, source(eventbrite))
    assert result.status == "failed"
    assert result.messages == [
        f"Eventbrite answered /v3/events/{club['empty']}/attendees/ with something that is not "
        "JSON (text/html, 50 bytes, starting '<html><body><h1>502 Bad Gateway</h1></body></html>')."
        " Nothing from this source was changed; the next sync will try again."
    ]
    assert snapshot(db) == before
    [again] = run(project, source(eventbrite))
    assert again.status == "ok" and again.counts.changed == 1


def test_json_that_is_not_an_object_fails_the_source(project, eventbrite, club):
    eventbrite.routes.insert(
        0,
        (
            "GET",
            re.compile(r"/v3/organizations/.*"),
            lambda request, **_: Reply(200, ["not", "an", "object"]),
        ),
    )
    [result] = run(project, source(eventbrite))
    assert result.status == "failed"
    assert result.messages == [
        f"Eventbrite answered /v3/organizations/{ORG_ID}/events/ with JSON that is not an object."
    ]


# --- a good API citizen ---------------------------------------------------------------------


def test_429_with_retry_after_is_retried(project, eventbrite, club):
    path = f"/v3/events/{club['coffee']}/attendees/"
    eventbrite.fail(path, "429", times=2, retry_after="0.02")
    [result] = run(project, source(eventbrite))
    assert result.status == "ok" and result.counts.new == 4
    first_page = [r for r in eventbrite.calls(path) if "continuation" not in r.query]
    assert len(first_page) == 3
    assert first_page[1].at - first_page[0].at >= 0.02


def test_429_without_retry_after_and_5xx_are_retried_with_backoff(project, eventbrite, club):
    eventbrite.fail("/v3/organizations/", "429", times=1)
    eventbrite.fail("/v3/events/", "503", times=2)
    [result] = run(project, source(eventbrite))
    assert result.status == "ok" and result.counts.new == 4


def test_a_slow_answer_times_out_and_is_tried_again(project, eventbrite, club):
    eventbrite.fail("/v3/organizations/", "hang", times=1, delay=0.3)
    [result] = run(project, source(eventbrite, timeout_seconds=0.1))
    assert result.status == "ok"
    first_page = [
        r for r in eventbrite.calls("/v3/organizations/") if "continuation" not in r.query
    ]
    assert len(first_page) == 2


@pytest.mark.parametrize("kind", ["drop", "cut"])
def test_a_network_failure_half_way_leaves_the_store_as_it_was(project, eventbrite, club, kind):
    run(project, source(eventbrite))
    db = project / "harvest.db"
    before = snapshot(db)
    eventbrite.tick(60)
    eventbrite.update_attendee(
        club["ann"], checked_in=False, cancelled=True, status="Not Attending"
    )
    eventbrite.add_attendee(club["coffee"], "Gus", "Obi")
    eventbrite.add_attendee(club["empty"], "Dan", "Wu")
    # The first event is read whole; the second one's attendees never arrive.
    eventbrite.fail(f"/v3/events/{club['empty']}/attendees/", kind, times=99)
    [result] = run(project, source(eventbrite, max_attempts=3))
    assert result.status == "failed"
    assert (
        "Nothing from this source was changed; the next sync will try again." in result.messages[0]
    )
    assert snapshot(db) == before
    eventbrite.failures.clear()
    [again] = run(project, source(eventbrite))
    assert (again.counts.new, again.counts.changed) == (2, 1)


def test_a_refused_token_stops_this_source_only(
    project, eventbrite, club, signup_rows, lunch_source
):
    write_csv(project / "lunch.csv", signup_rows)
    eventbrite.token = "a-newer-token"
    tickets, lunch = run(project, source(eventbrite), lunch_source())
    assert tickets.status == "failed" and lunch.status == "ok"
    assert tickets.messages == [
        "Source 'tickets': The Eventbrite token was refused (Eventbrite said: The OAuth token "
        "you provided was invalid.): run `harvest auth eventbrite`."
    ]
    # Refused by check(), at once: one request (no retries), none for the events.
    assert [r.path for r in eventbrite.requests] == ["/v3/users/me/"]
    assert scalar(project / "harvest.db", "SELECT count(*) FROM records") == 3


def test_sync_exit_codes_through_the_cli(project, eventbrite, club, caplog):
    cfg = write_config(project, [source(eventbrite)])
    runner = CliRunner()
    with caplog.at_level(logging.DEBUG):
        ok = runner.invoke(app, ["sync", "--config", str(cfg), "--no-progress"])
        assert ok.exit_code == 0, ok.output
        eventbrite.token = "a-newer-token"
        refused = runner.invoke(app, ["sync", "--config", str(cfg), "--no-progress"])
    assert refused.exit_code == 1
    assert "run `harvest auth eventbrite`" in " ".join(refused.output.split())
    for text_ in (ok.output, refused.output, caplog.text):
        assert TOKEN not in text_


# --- configuration -------------------------------------------------------------------------


def test_the_token_can_come_from_an_environment_variable(
    project, eventbrite, club, token_store, monkeypatch
):
    token_store.delete("eventbrite")
    [missing] = run(project, source(eventbrite, token={"env": "EB_TOKEN"}))
    assert missing.status == "failed" and "EB_TOKEN" in missing.messages[0]
    monkeypatch.setenv("EB_TOKEN", TOKEN)
    [result] = run(project, source(eventbrite, token={"env": "EB_TOKEN"}))
    assert result.status == "ok" and result.counts.new == 4
    eventbrite.token = "rotated"
    [refused] = run(project, source(eventbrite, token={"env": "EB_TOKEN"}))
    assert "environment variable EB_TOKEN" in refused.messages[0]


def test_without_authorisation_the_source_says_how_to_authorise(project, eventbrite, token_store):
    token_store.delete("eventbrite")
    [result] = run(project, source(eventbrite))
    assert result.messages == [
        "Source 'tickets': harvest has no eventbrite authorisation yet: run "
        "`harvest auth eventbrite`."
    ]
    assert eventbrite.requests == []


def test_several_organisations_need_organization_id(project, eventbrite, club):
    eventbrite.organizations.append({"id": "999", "name": "Another Trust"})
    [result] = run(project, source(eventbrite))
    assert result.status == "failed"
    assert "St Mary's Community Trust (organization_id: 4567)" in result.messages[0]
    assert "Another Trust (organization_id: 999)" in result.messages[0]
    [chosen] = run(project, source(eventbrite, organization_id=int(ORG_ID)))
    assert chosen.status == "ok" and chosen.counts.new == 4


def test_event_status_filters_events(project, eventbrite, club):
    draft = eventbrite.add_event("Draft event", "2026-05-01T10:00:00", status="draft")
    eventbrite.add_attendee(draft, "Hal", "Test")
    [result] = run(project, source(eventbrite, event_status=["live", "ended"]))
    assert result.counts.new == 4
    assert {r.query["status"] for r in eventbrite.calls("/v3/organizations/")} == {"live,ended"}
    assert eventbrite.calls(f"/v3/events/{draft}/attendees/") == []


def test_options_are_checked_with_the_rest_of_harvest_yaml(project, eventbrite):
    cfg = write_config(project, [source(eventbrite, event_status="sold out", colour="red")])
    with pytest.raises(ConfigError) as caught:
        load_config(cfg)
    message = str(caught.value)
    assert "sources[0].options.event_status: unknown event status 'sold out'" in message
    assert "sources[0].options.colour: is not a setting harvest knows" in message


@pytest.mark.parametrize("url", ["http://www.eventbriteapi.com/v3/", "http://192.0.2.2:8080/v3/"])
def test_plain_http_api_url_is_refused_so_the_token_never_travels_in_clear(
    project, eventbrite, url
):
    cfg = write_config(project, [source(eventbrite, api_url=url)])
    with pytest.raises(ConfigError, match=r"api_url: must start with https://.*plain http"):
        load_config(cfg)
    out = CliRunner().invoke(
        app, ["auth", "eventbrite", "--token-stdin", "--api-url", url], input=TOKEN
    )
    assert out.exit_code == 2 and "must start with https://" in out.output
    assert eventbrite.requests == []


def test_api_url_without_its_trailing_slash_still_keeps_v3(project, eventbrite, club):
    [result] = run(project, source(eventbrite, api_url=eventbrite.api_url.rstrip("/")))
    assert result.status == "ok"
    assert all(r.path.startswith("/v3/") for r in eventbrite.requests)


# --- the mapping rules ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "attendee, status",
    [
        ({"checked_in": True, "status": "Checked In"}, "attended"),
        ({"checked_in": False, "cancelled": True, "status": "Not Attending"}, "cancelled"),
        ({"refunded": True, "status": "Attending"}, "cancelled"),
        ({"status": "Deleted"}, "cancelled"),
        ({"status": "Attending"}, "registered"),
        ({"status": "Transferred"}, "registered"),
        ({}, "registered"),
    ],
)
def test_attendance_status_rule(attendee, status):
    assert attendance_status(attendee) == status


@pytest.mark.parametrize(
    "value, expected",
    [
        (None, ""),
        ("x", "x"),
        (True, "yes"),
        (False, "no"),
        (3.0, "3"),
        (2.5, "2.5"),
        (7, "7"),
        (["a", None, 2], "a | 2"),
        ({"b": 1, "a": "é"}, '{"a": "é", "b": 1}'),
    ],
)
def test_values_become_text_the_same_way_every_time(value, expected):
    assert text(value) == expected


# --- harvest auth eventbrite ----------------------------------------------------------------


def test_auth_stores_the_token_in_a_0600_file_and_never_prints_it(eventbrite, token_store, caplog):
    token_store.delete("eventbrite")
    with caplog.at_level(logging.DEBUG):
        result = CliRunner().invoke(
            app,
            ["auth", "eventbrite", "--token-stdin", "--api-url", eventbrite.api_url],
            input=TOKEN + "\n",
        )
    assert result.exit_code == 0, result.output
    assert "St Mary's Community Trust (organization_id: 4567)" in result.output
    assert str(token_store.path) in result.output.replace("\n", "")
    assert TOKEN not in result.output and TOKEN not in caplog.text
    assert stat.S_IMODE(os.stat(token_store.path).st_mode) == 0o600
    assert json.loads(token_store.path.read_text())["eventbrite"] == TOKEN
    assert [r.path for r in eventbrite.requests] == ["/v3/users/me/", "/v3/users/me/organizations/"]


def test_auth_asks_with_hidden_input(eventbrite, token_store):
    token_store.delete("eventbrite")
    result = CliRunner().invoke(
        app, ["auth", "eventbrite", "--api-url", eventbrite.api_url], input=TOKEN + "\n"
    )
    assert result.exit_code == 0, result.output
    assert "API keys" in result.output and TOKEN not in result.output
    assert token_store.get("eventbrite").get_secret_value() == TOKEN


def test_auth_with_a_refused_token_stores_nothing(eventbrite, token_store):
    token_store.delete("eventbrite")
    result = CliRunner().invoke(
        app,
        ["auth", "eventbrite", "--token-stdin", "--api-url", eventbrite.api_url],
        input="wrong-token\n",
    )
    assert result.exit_code == 1
    assert "The Eventbrite token was refused" in result.output
    assert "wrong-token" not in result.output
    assert token_store.get("eventbrite") is None


def test_auth_with_no_token(eventbrite, token_store):
    result = CliRunner().invoke(
        app, ["auth", "eventbrite", "--token-stdin", "--api-url", eventbrite.api_url], input="\n"
    )
    assert result.exit_code == 1 and "No token was given" in result.output
    assert eventbrite.requests == []


# --- orders bought for others ---------------------------------------------------------------


def test_guests_on_the_buyers_details_count_as_people_of_their_own(project, eventbrite) -> None:
    quiz = eventbrite.add_event("Quiz night", "2026-03-20T19:00:00")
    buyer = eventbrite.add_attendee(quiz, "Bob", "Smith", "bob@example.org")
    guests = [eventbrite.add_attendee(quiz, "Bob", "Smith", "bob@example.org") for _ in range(2)]
    named = eventbrite.add_attendee(quiz, "Ann", "Lee", "ann@example.org")  # her own details
    for ticket in (*guests, named):
        ticket["order_id"] = buyer["order_id"]
    other = eventbrite.add_attendee(quiz, "Bob", "Smith", "bob@example.org")  # his next order
    [result] = run(project, source(eventbrite))
    assert result.status == "ok", result.messages
    db = project / "harvest.db"
    rows = query(
        db,
        "SELECT source_record_id, given_name, email, json_extract(extra, '$.\"Guest ticket\"'),"
        " person_id FROM records ORDER BY CAST(source_record_id AS INTEGER)",
    )
    assert [r[1:4] for r in rows] == [
        ("Bob", "bob@example.org", None),
        (None, None, "yes"),
        (None, None, "yes"),
        ("Ann", "ann@example.org", None),
        ("Bob", "bob@example.org", None),
    ]
    person = {r[0]: r[4] for r in rows}
    assert person[buyer["id"]] == person[other["id"]]  # the buyer, twice
    assert len(set(person.values())) == 4  # Bob, two guests, Ann
    # A guest checked in at the door is read again on its own: still a guest.
    eventbrite.tick(60)
    eventbrite.update_attendee(guests[0], checked_in=True, status="Checked In")
    [again] = run(project, source(eventbrite))
    assert again.counts.changed == 1
    assert query(
        db,
        "SELECT given_name, person_id FROM records WHERE is_current AND source_record_id = ?",
        (guests[0]["id"],),
    ) == [(None, person[guests[0]["id"]])]


def test_people_who_share_only_a_name_are_not_joined(project, eventbrite) -> None:
    quiz = eventbrite.add_event("Quiz night", "2026-03-20T19:00:00")
    eventbrite.add_attendee(quiz, "Sam", "Jones", "sam.jones@example.org")
    eventbrite.add_attendee(quiz, "Sam", "Jones", "sjones@example.com")
    run(project, source(eventbrite))
    assert scalar(project / "harvest.db", "SELECT count(DISTINCT person_id) FROM records") == 2
