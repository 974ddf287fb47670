"""The Google Forms connector end to end: the unmodified google-api-python-client over real
HTTP against a local fake of the Forms v1 API and Google's token endpoint, syncing into a
real SQLite store."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import query, run, scalar, snapshot, write_config, write_csv
from fakes.google import FakeGoogle, grid, question, section

from harvest.config import load_config
from harvest.connectors.google_forms import FormsOptions, answer_text, form_questions
from harvest.errors import ConfigError

FORM_URL = "https://docs.google.com/forms/d/{}/edit"


pytestmark = pytest.mark.usefixtures("google_authorised")


@pytest.fixture
def wellbeing(google: FakeGoogle) -> dict[str, Any]:
    """A wellbeing questionnaire with a choice, a date, a scale, a grid and checkboxes."""
    form = google.add_form(
        "Wellbeing check-in",
        [
            question("q1", "First name"),
            question("q2", "Surname"),
            section("About you"),
            question("q3", "Postcode"),
            question("q4", "Date of birth", "date"),
            question("q5", "How are you feeling today?", "scale"),
            question(
                "q6",
                "Which sessions did you come to?",
                "checkbox",
                options=["Lunch club", "Walk", "Art"],
            ),
            grid(
                "In the last week, how often did you",
                {"g1": "Feel lonely", "g2": "Sleep well"},
                ["Never", "Sometimes", "Often"],
            ),
        ],
    )
    ann = google.respond(
        form,
        {
            "q1": "Ann",
            "q2": "Lee",
            "q3": "nw1 2ab",
            "q4": "1958-05-06",
            "q5": "4",
            "q6": ["Lunch club", "Walk"],
            "g1": "Sometimes",
            "g2": "Often",
        },
    )
    bob = google.respond(form, {"q1": "Bob", "q2": "Smith", "q5": "2", "g1": "Often"})
    cat = google.respond(form, {"q1": "Cat", "q2": "Khan", "q3": "SW1A1AA"})
    return {"form": form, "ann": ann, "bob": bob, "cat": cat}


def source(fake: FakeGoogle, form: str, **options: Any) -> dict[str, Any]:
    return {
        "name": "wellbeing",
        "type": "google_forms",
        "options": {
            "form": FORM_URL.format(form),
            "api_url": fake.api_url,
            "max_wait_seconds": 0.05,
            **options,
        },
    }


def response_calls(fake: FakeGoogle, form: str) -> list:
    return fake.calls(f"/v1/forms/{form}/responses")


# --- a first sync ----------------------------------------------------------------------------


def test_first_sync_lands_each_response_as_a_record(project, google, wellbeing):
    [result] = run(project, source(google, wellbeing["form"]))
    assert result.status == "ok", result.messages
    assert (result.counts.read, result.counts.new) == (3, 3)
    db = project / "harvest.db"
    rows = query(
        db,
        "SELECT source_record_id, given_name, family_name, postcode, date_of_birth,"
        " activity, activity_date FROM records ORDER BY given_name",
    )
    assert rows == [
        (
            wellbeing["ann"]["responseId"],
            "Ann",
            "Lee",
            "NW1 2AB",
            "1958-05-06",
            "Wellbeing check-in",
            "2026-03-10",
        ),
        (
            wellbeing["bob"]["responseId"],
            "Bob",
            "Smith",
            None,
            None,
            "Wellbeing check-in",
            "2026-03-10",
        ),
        (
            wellbeing["cat"]["responseId"],
            "Cat",
            "Khan",
            "SW1A 1AA",
            None,
            "Wellbeing check-in",
            "2026-03-10",
        ),
    ]
    # Choice, scale and grid answers all land (kept as extras under the question's title).
    extra = json.loads(scalar(db, "SELECT extra FROM records WHERE given_name = 'Ann'"))
    assert extra["How are you feeling today?"] == "4"
    assert extra["Which sessions did you come to?"] == "Lunch club | Walk"
    assert extra["In the last week, how often did you [Feel lonely]"] == "Sometimes"
    assert extra["In the last week, how often did you [Sleep well]"] == "Often"
    assert extra["First submitted"] == "2026-03-10 12:00:00"  # UK time
    # The response's JSON is kept exactly as the API sent it.
    raw = scalar(
        db,
        "SELECT data FROM raw_rows WHERE source_key = ?",
        ("id:" + wellbeing["bob"]["responseId"],),
    )
    assert json.loads(raw) == wellbeing["bob"]
    # The form is an activity, and every response an attendance at it.
    assert query(db, "SELECT name FROM activities") == [("Wellbeing check-in",)]
    assert scalar(db, "SELECT count(*) FROM attendances") == 3
    state = json.loads(scalar(db, "SELECT state FROM source_state WHERE source = 'wellbeing'"))
    assert state["latest_submitted"] == wellbeing["cat"]["lastSubmittedTime"]
    assert state["form_id"] == wellbeing["form"]


def test_pages_are_followed_and_the_first_sync_sends_no_filter(project, google, wellbeing):
    run(project, source(google, wellbeing["form"]))
    calls = response_calls(google, wellbeing["form"])
    assert [("filter" in c.query, bool(c.query.get("pageToken"))) for c in calls] == [
        (False, False),
        (False, True),
    ]
    assert all(c.headers["authorization"].startswith("Bearer ya29.") for c in calls)


def test_the_activity_can_be_configured(project, google, wellbeing):
    [result] = run(project, source(google, wellbeing["form"], activity="Wellbeing group"))
    assert result.status == "ok"
    assert query(project / "harvest.db", "SELECT DISTINCT activity FROM records") == [
        ("Wellbeing group",)
    ]


def test_british_summer_time_gives_the_local_date(project, google):
    form = google.add_form("Evening club", [question("q1", "Name")])
    google.now = google.now.replace(month=6, hour=23, minute=30)  # 00:30 in London
    google.respond(form, {"q1": "Dee Ray"})
    run(project, source(google, form))
    assert scalar(project / "harvest.db", "SELECT activity_date FROM records") == "2026-06-11"


# --- incremental -----------------------------------------------------------------------------


def test_next_sync_asks_only_for_responses_since_the_last_with_the_same_filter_on_each_page(
    project, google, wellbeing
):
    run(project, source(google, wellbeing["form"]))
    db = project / "harvest.db"
    google.tick(60)
    dan = google.respond(wellbeing["form"], {"q1": "Dan", "q2": "Wu"})
    eve = google.respond(wellbeing["form"], {"q1": "Eve", "q2": "Ng"})
    google.edit(wellbeing["form"], wellbeing["bob"], {"q3": "E1 6AN"})
    before = len(google.requests)
    [result] = run(project, source(google, wellbeing["form"], overlap_minutes=1))
    assert result.status == "ok", result.messages
    calls = [r for r in google.requests[before:] if r.path.endswith("/responses")]
    # The last response read was Cat's at 12:02; a minute's overlap.
    assert {c.query["filter"] for c in calls} == {"timestamp >= 2026-03-10T12:01:00.000000Z"}
    assert len(calls) == 2 and calls[1].query["pageToken"]
    # Cat comes again in the overlap, unchanged; Bob edited his; Dan and Eve are new.
    assert (result.counts.new, result.counts.changed, result.counts.unchanged) == (2, 1, 1)
    assert query(
        db,
        "SELECT given_name, postcode FROM records WHERE is_current"
        " AND given_name IN ('Bob', 'Dan') ORDER BY 1",
    ) == [("Bob", "E1 6AN"), ("Dan", None)]
    assert query(
        db,
        "SELECT version, is_current FROM raw_rows JOIN records USING (id)"
        " WHERE raw_rows.source_key = ? ORDER BY version",
        ("id:" + wellbeing["bob"]["responseId"],),
    ) == [(1, 0), (2, 1)]
    assert scalar(db, "SELECT count(*) FROM records WHERE is_current") == 5
    state = json.loads(scalar(db, "SELECT state FROM source_state"))
    assert (
        state["latest_submitted"]
        == wellbeing["bob"]["lastSubmittedTime"]
        > eve["lastSubmittedTime"]
        > dan["lastSubmittedTime"]
    )


def test_nothing_new_changes_nothing(project, google, wellbeing):
    run(project, source(google, wellbeing["form"]))
    db = project / "harvest.db"
    before = snapshot(db)
    [result] = run(project, source(google, wellbeing["form"]))
    assert result.status == "ok" and result.messages == []
    assert snapshot(db)["records"] == before["records"]


def test_full_reads_every_response_again(project, google, wellbeing):
    run(project, source(google, wellbeing["form"]))
    before = len(google.requests)
    [result] = run(project, source(google, wellbeing["form"]), full=True)
    assert result.counts.unchanged == 3
    assert all("filter" not in r.query for r in google.requests[before:])


def test_a_response_repeated_across_pages_lands_once(project, google, wellbeing):
    google.responses[wellbeing["form"]].insert(2, dict(wellbeing["ann"]))
    [result] = run(project, source(google, wellbeing["form"]))
    assert result.counts.read == 3
    assert scalar(project / "harvest.db", "SELECT count(*) FROM raw_rows") == 3


# --- bad input -------------------------------------------------------------------------------


def test_a_form_with_no_responses_is_noted_and_kept_as_an_activity(project, google):
    form = google.add_form("Summer trip sign-up", [question("q1", "Name")])
    [result] = run(project, source(google, form))
    assert result.status == "ok"
    assert result.messages == ["form 'Summer trip sign-up': The form has no responses yet."]
    db = project / "harvest.db"
    assert query(db, "SELECT name FROM activities") == [("Summer trip sign-up",)]
    assert scalar(db, "SELECT count(*) FROM records") == 0
    assert response_calls(google, form)[0].query == {"alt": "json"}  # answered with {}
    google.respond(form, {"q1": "Fay Oduya"})
    [later] = run(project, source(google, form))
    assert later.counts.new == 1


def test_answers_to_a_deleted_question_are_kept_under_its_last_title(project, google, wellbeing):
    run(project, source(google, wellbeing["form"]))
    form = google.forms[wellbeing["form"]]
    form["items"] = [i for i in form["items"] if i.get("itemId") != "itemq3"]  # Postcode goes
    google.edit(wellbeing["form"], wellbeing["ann"], {"q5": "5"})
    google.respond(wellbeing["form"], {"q1": "Gus", "q9": "an answer to a question never seen"})
    [result] = run(project, source(google, wellbeing["form"]))
    assert result.status == "ok", result.messages
    db = project / "harvest.db"
    assert (
        scalar(db, "SELECT postcode FROM records WHERE is_current AND given_name = 'Ann'")
        == "NW1 2AB"
    )
    gus = json.loads(scalar(db, "SELECT extra FROM records WHERE given_name = 'Gus'"))
    assert gus["Question q9"] == "an answer to a question never seen"
    notes = [p for (p,) in query(db, "SELECT problem FROM issues WHERE problem LIKE 'Answers to%'")]
    assert notes == [
        "Answers to 2 question(s) no longer in the form are kept in their own "
        "columns: 'Postcode', 'Question q9'."
    ]


def test_a_file_upload_question_keeps_the_file_names_and_links(project, google):
    form = google.add_form(
        "Referral", [question("q1", "Full name"), question("q2", "Attach a photo", "file")]
    )
    google.respond(
        form,
        {
            "q1": "Hal Test",
            "q2": {
                "fileUploadAnswers": {
                    "answers": [
                        {
                            "fileId": "1AbCfile",
                            "fileName": "letter.pdf",
                            "mimeType": "application/pdf",
                        }
                    ]
                }
            },
        },
    )
    [result] = run(project, source(google, form))
    assert result.status == "ok"
    db = project / "harvest.db"
    extra = json.loads(scalar(db, "SELECT extra FROM records"))
    assert extra["Attach a photo"] == "letter.pdf (https://drive.google.com/open?id=1AbCfile)"
    assert query(db, "SELECT problem FROM issues WHERE problem LIKE '%file-upload%'") == [
        (
            "'Attach a photo' is a file-upload question: the files stay in Google "
            "Drive; their names and links are kept in the column.",
        )
    ]


def test_collected_emails_and_quiz_scores_are_columns(project, google):
    form = google.add_form(
        "Quiz",
        [question("q1", "Name")],
        emailCollectionType="VERIFIED",
        quizSettings={"isQuiz": True},
    )
    r = google.respond(form, {"q1": "Ivy Moss"}, email="ivy@example.org")
    r["totalScore"] = 7
    run(project, source(google, form))
    db = project / "harvest.db"
    assert scalar(db, "SELECT email FROM records") == "ivy@example.org"
    assert scalar(db, "SELECT score FROM records") == 7  # "Total score" is the standard's score


def test_a_missing_form_fails_with_a_clear_message(project, google):
    [result] = run(project, source(google, "1FAIpQLnot-a-real-form-id-0000000"))
    assert result.status == "failed"
    assert result.messages[0].startswith(
        "Google has no form 1FAIpQLnot-a-real-form-id-0000000 that harvest may read."
    )


@pytest.mark.parametrize(
    "form, expected",
    [
        (
            "https://docs.google.com/forms/d/1FAIpQLabcdefghijklmnopqrstuv/edit#responses",
            "1FAIpQLabcdefghijklmnopqrstuv",
        ),
        ("1FAIpQLabcdefghijklmnopqrstuv", "1FAIpQLabcdefghijklmnopqrstuv"),
    ],
)
def test_a_form_is_named_by_its_id_or_address(form, expected):
    assert FormsOptions(form=form).form == expected


def test_the_address_people_fill_in_is_refused_with_a_hint(project, google):
    cfg = write_config(
        project,
        [
            source(google, "x")
            | {"options": {"form": "https://docs.google.com/forms/d/e/1FAIpQLSfPublished/viewform"}}
        ],
    )
    with pytest.raises(ConfigError) as caught:
        load_config(cfg)
    assert "sources[0].options.form: " in str(caught.value)
    assert "copy the address from your browser" in str(caught.value)


# --- quotas, retries and tokens ------------------------------------------------------------


def test_429_with_retry_after_is_retried(project, google, wellbeing):
    path = f"/v1/forms/{wellbeing['form']}/responses"
    google.fail(path, "429", times=2, retry_after="0.02")
    [result] = run(project, source(google, wellbeing["form"]))
    assert result.status == "ok" and result.counts.new == 3
    calls = response_calls(google, wellbeing["form"])
    assert len(calls) == 4  # two refused, then both pages
    assert calls[1].at - calls[0].at >= 0.02


def test_5xx_is_retried_then_fails_the_source_changing_nothing(project, google, wellbeing):
    run(project, source(google, wellbeing["form"]))
    db = project / "harvest.db"
    before = snapshot(db)
    google.respond(wellbeing["form"], {"q1": "Jo"})
    google.fail(f"/v1/forms/{wellbeing['form']}/responses", "503", times=99)
    [result] = run(project, source(google, wellbeing["form"], max_attempts=2))
    assert result.status == "failed"
    assert result.messages == [
        f"Google answered HTTP 503 for /v1/forms/{wellbeing['form']}/responses, 2 times in a "
        "row. Nothing from this source was changed; the next sync will try again."
    ]
    assert snapshot(db) == before


def test_a_dropped_connection_is_retried(project, google, wellbeing):
    google.fail(f"/v1/forms/{wellbeing['form']}", "drop", times=1)
    [result] = run(project, source(google, wellbeing["form"]))
    assert result.status == "ok", result.messages


def test_the_access_token_is_renewed_when_it_expires_mid_sync(project, google, wellbeing):
    calls = []
    original = google.dispatch

    def expire_after_first_page(request):  # Google ends the access token half way
        calls.append(request.path)
        if request.query.get("pageToken") and calls.count(request.path) == 2:
            google.expire_access_tokens()
        return original(request)

    google.dispatch = expire_after_first_page
    [result] = run(project, source(google, wellbeing["form"]))
    assert result.status == "ok", result.messages
    assert [r.path for r in google.requests if r.path == "/token"] == ["/token", "/token"]
    token_bodies = [r.body.decode() for r in google.requests if r.path == "/token"]
    assert all("grant_type=refresh_token" in b for b in token_bodies)


def test_a_revoked_token_fails_this_source_only(
    project, google, wellbeing, signup_rows, lunch_source
):
    write_csv(project / "lunch.csv", signup_rows)
    google.refresh_tokens.clear()  # the charity removed harvest's access in its Google account
    forms, lunch = run(project, source(google, wellbeing["form"]), lunch_source())
    assert forms.status == "failed" and lunch.status == "ok"
    assert forms.messages[0].startswith(
        "Source 'wellbeing': Google refused harvest's authorisation (invalid_grant: Token has "
        "been expired or revoked.): run `harvest auth google`."
    )
    assert [r.path for r in google.requests] == ["/token"]  # not retried
    assert scalar(project / "harvest.db", "SELECT count(*) FROM records") == 3


def test_without_authorisation_the_source_says_how_to_authorise(project, google, token_store):
    token_store.delete("google")
    [result] = run(project, source(google, "1FAIpQLabcdefghijklmnopqrstuv"))
    assert result.messages == [
        "Source 'wellbeing': harvest has no google authorisation yet: run `harvest auth google`."
    ]
    assert google.requests == []


# --- the mapping rules -----------------------------------------------------------------------


def test_questions_in_form_order_with_one_column_per_grid_row():
    form = {
        "items": [
            question("a", "Name"),
            section("Next"),
            {"itemId": "t", "title": "Hello", "textItem": {}},
            grid("Rate", {"r1": "Food", "r2": ""}, ["1", "2"]),
            question("b", "", "rating"),
        ]
    }
    assert form_questions(form) == [
        ("a", "Name", False),
        ("r1", "Rate [Food]", False),
        ("r2", "Rate []", False),
        ("b", "Question b", False),
    ]


@pytest.mark.parametrize(
    "answer, expected",
    [
        ({"textAnswers": {"answers": [{"value": "Yes"}]}}, "Yes"),
        ({"textAnswers": {"answers": [{"value": "A"}, {"value": "B"}]}}, "A | B"),
        ({"grade": {"score": 1}}, ""),
        (None, ""),
        ("odd", ""),
        (
            {
                "fileUploadAnswers": {
                    "answers": [{"fileId": "f1", "fileName": "a.png"}, {"fileId": "f2"}]
                }
            },
            "a.png (https://drive.google.com/open?id=f1) | file (https://drive.google.com/open?id=f2)",
        ),
    ],
)
def test_answers_become_text(answer, expected):
    assert answer_text(answer) == expected


def test_an_answer_that_is_not_json_fails_the_source_changing_nothing(project, google, wellbeing):
    google.fail(f"/v1/forms/{wellbeing['form']}/responses", "not_json")
    [result] = run(project, source(google, wellbeing["form"]))
    assert result.status == "failed"
    assert result.messages == [
        f"Google answered /v1/forms/{wellbeing['form']}/responses with something that is not "
        "JSON. Nothing from this source was changed; the next sync will try again."
    ]
    assert scalar(project / "harvest.db", "SELECT count(*) FROM records") == 0
