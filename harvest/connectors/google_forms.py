"""The Google Forms connector (``type: google_forms``): each response becomes a record.

Through google-api-python-client (Forms API v1), one sync:

1. reads the form (``forms.get``) for its title and questions, and yields it as an
   :class:`Activity` (the form's title, or ``activity`` from harvest.yaml);
2. lists the responses (``forms.responses.list``), following ``nextPageToken`` with the
   identical ``filter``; after the first sync only those submitted since the latest one
   already read, less ``overlap_minutes`` (``timestamp >= …``, by last submission, so an
   edited response is read again);
3. keeps one copy of each response (the latest submission) and yields one
   :class:`Table`, ``complete=False`` (responses not in it are not gone), each row
   keeping the response's JSON as ``Row.raw``;
4. leaves the latest ``lastSubmittedTime`` seen and the question columns in
   ``self.state``, which the sync commits with the rows.

Columns: ``Response ID`` (the record's id), ``Submitted`` (its activity date, UK time),
``Activity``, ``First submitted``, ``Respondent email`` and ``Total score`` when the form
collects them, then one per question, titled as in the form so the header matcher maps
it: a grid has one column per row (``How often do you… [Feel lonely]``); a file upload
gives the files' names and Drive links; several choices are joined with `` | ``. A
question deleted from the form keeps its column (and its answers) under its last title,
or ``Question <id>`` if harvest never saw it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator

from harvest.connectors.base import Activity, Problem, Row, Table
from harvest.connectors.google_auth import Google, GoogleConnector, GoogleOptions, google_id
from harvest.connectors.http import paginate
from harvest.connectors.tabular import tidy_headers

ID_COLUMN = "Response ID"
UK = ZoneInfo("Europe/London")
_FRACTION = re.compile(r"(\.\d{6})\d+")


class FormsOptions(GoogleOptions):
    """Options of a ``type: google_forms`` source in harvest.yaml."""

    form: str  # the form's id, or its address (…/forms/d/<id>/edit)
    activity: str | None = None  # default: the form's title
    overlap_minutes: int = Field(default=10, ge=0, le=24 * 60)

    @field_validator("form")
    @classmethod
    def _form_id(cls, value: str) -> str:
        return google_id(value, "form", "forms")


# --- from a response to a row (pure, no I/O) ------------------------------------------------


def parse_time(value: Any) -> datetime | None:
    """A Google timestamp (RFC 3339, up to nanoseconds) as an aware datetime, else None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(_FRACTION.sub(r"\1", value.replace("Z", "+00:00")))
    except ValueError:
        return None


def uk_time(value: Any) -> str:
    moment = parse_time(value)
    return moment.astimezone(UK).strftime("%Y-%m-%d %H:%M:%S") if moment else str(value or "")


def answer_text(answer: Any) -> str:
    """An Answer as text: its values joined with `` | ``; files as name and Drive link."""
    if not isinstance(answer, dict):
        return ""
    texts = (answer.get("textAnswers") or {}).get("answers") or []
    files = (answer.get("fileUploadAnswers") or {}).get("answers") or []
    parts = [str(t.get("value", "")) for t in texts if isinstance(t, dict)]
    parts += [
        f"{f.get('fileName') or 'file'} (https://drive.google.com/open?id={f.get('fileId')})"
        for f in files
        if isinstance(f, dict)
    ]
    return " | ".join(p for p in parts if p)


def form_questions(form: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(question id, column title, is a file upload) for every question, in form order."""
    found = []
    for item in form.get("items") or []:
        title = " ".join(str(item.get("title") or "").split())
        if "questionItem" in item:
            q = (item["questionItem"] or {}).get("question") or {}
            if q.get("questionId"):
                found.append(
                    (
                        str(q["questionId"]),
                        title or f"Question {q['questionId']}",
                        "fileUploadQuestion" in q,
                    )
                )
        elif "questionGroupItem" in item:
            for q in (item["questionGroupItem"] or {}).get("questions") or []:
                row = " ".join(str((q.get("rowQuestion") or {}).get("title") or "").split())
                if q.get("questionId"):
                    found.append((str(q["questionId"]), f"{title or 'Grid'} [{row}]", False))
    return found


@dataclass
class Layout:
    """The question columns: grow with the form, never shrink (kept in the state)."""

    questions: dict[str, str] = field(default_factory=dict)  # question id → title, in order
    email: bool = False
    quiz: bool = False
    current: set[str] = field(default_factory=set)  # ids still in the form
    files: list[str] = field(default_factory=list)  # titles of file-upload questions

    @classmethod
    def from_state(cls, data: Any) -> Layout:
        data = data if isinstance(data, dict) else {}
        pairs = [p for p in data.get("questions") or [] if isinstance(p, list) and len(p) == 2]
        return cls(
            {str(q): str(t) for q, t in pairs}, bool(data.get("email")), bool(data.get("quiz"))
        )

    def learn(self, form: dict[str, Any], responses: list[dict[str, Any]]) -> None:
        settings = form.get("settings") or {}
        collect = settings.get("emailCollectionType")
        self.email = (
            self.email
            or collect in ("VERIFIED", "RESPONDER_INPUT")
            or any(r.get("respondentEmail") for r in responses)
        )
        self.quiz = self.quiz or bool((settings.get("quizSettings") or {}).get("isQuiz"))
        asked = form_questions(form)
        self.current = {qid for qid, _, _ in asked}
        self.files = [title for _, title, is_file in asked if is_file]
        gone = {q: t for q, t in self.questions.items() if q not in self.current}
        self.questions = {qid: title for qid, title, _ in asked} | gone
        for r in responses:
            for qid in r.get("answers") or {}:
                self.questions.setdefault(str(qid), f"Question {qid}")

    def state(self) -> dict[str, Any]:
        return {
            "questions": [[q, t] for q, t in self.questions.items()],
            "email": self.email,
            "quiz": self.quiz,
        }

    def columns(self) -> list[tuple[str, str]]:
        """(title, HXL hashtag or "" for the header matcher) of every column, in order."""
        cols = [
            (ID_COLUMN, "#meta+id"),
            ("Submitted", "#date+activity"),
            ("Activity", "#activity+name"),
            ("First submitted", ""),
        ]
        if self.email:
            cols.append(("Respondent email", "#contact+email"))
        if self.quiz:
            cols.append(("Total score", ""))
        return cols + [(title, "") for title in self.questions.values()]

    def notes(self, responses: list[dict[str, Any]]) -> list[str]:
        answered = {str(q) for r in responses for q in r.get("answers") or {}}
        gone = [
            repr(t) for q, t in self.questions.items() if q not in self.current and q in answered
        ]
        notes = []
        if gone:
            notes.append(
                f"Answers to {len(gone)} question(s) no longer in the form are kept in "
                f"their own columns: {', '.join(gone)}."
            )
        for title in self.files:
            notes.append(
                f"{title!r} is a file-upload question: the files stay in Google Drive; "
                "their names and links are kept in the column."
            )
        return notes


def response_row(number: int, r: dict[str, Any], activity: str, layout: Layout) -> Row:
    answers = r.get("answers")
    if not isinstance(answers, dict):
        answers = {}
    values = [
        str(r.get("responseId") or ""),
        uk_time(r.get("lastSubmittedTime")),
        activity,
        uk_time(r.get("createTime")),
    ]
    if layout.email:
        values.append(str(r.get("respondentEmail") or ""))
    if layout.quiz:
        score = r.get("totalScore")
        values.append("" if score is None else format(score, "g"))
    values += [answer_text(answers.get(qid)) for qid in layout.questions]
    return Row(number, values, json.dumps(r, ensure_ascii=False))


def unique(responses: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One copy of each response: its latest submission."""
    best: dict[str, dict[str, Any]] = {}
    for r in responses:
        key = str(r.get("responseId") or json.dumps(r, sort_keys=True))
        old = best.get(key)
        if old is None or str(r.get("lastSubmittedTime")) > str(old.get("lastSubmittedTime")):
            best[key] = r
    return list(best.values())


def form_table(
    form: dict[str, Any], responses: list[dict[str, Any]], activity: str, layout: Layout
) -> Table:
    cols = layout.columns()
    headers, notes = tidy_headers([c[0] for c in cols])
    return Table(
        location=f"form '{form_title(form)}'",
        key=f"google_forms:{form.get('formId')}",
        headers=headers,
        hxl=[c[1] for c in cols],
        rows=[response_row(i, r, activity, layout) for i, r in enumerate(responses, 1)],
        notes=notes + layout.notes(responses),
        id_column=ID_COLUMN,
        complete=False,
    )


def form_title(form: dict[str, Any]) -> str:
    info = form.get("info") or {}
    title = " ".join(str(info.get("title") or info.get("documentTitle") or "").split())
    return title or f"Google Form {form.get('formId')}"


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --- the connector ------------------------------------------------------------------------


class GoogleFormsConnector(GoogleConnector):
    """Reads one Google Form's responses."""

    type = "google_forms"
    Options = FormsOptions
    options: FormsOptions

    def fetch(
        self, state: dict[str, Any], full: bool = False
    ) -> Iterator[Table | Problem | Activity]:
        state, form_id = state or {}, self.options.form
        google = self.google()
        service = google.service("forms", "v1")
        form = google.execute(
            service.forms().get(formId=form_id),
            missing=(
                f"Google has no form {form_id} that harvest may read. Check 'form' in harvest.yaml "
                "(the address of the form's edit page) and that the form belongs to, or is shared "
                "with, the Google account harvest was authorised as."
            ),
        )
        same = state.get("form_id") == form_id
        latest = parse_time(state.get("latest_submitted")) if same else None
        activity = self.options.activity or form_title(form)
        yield Activity(activity, form_id)
        since = (
            None
            if full or latest is None
            else latest - timedelta(minutes=self.options.overlap_minutes)
        )
        found = unique(list(self._responses(google, service, form_id, since)))
        layout = Layout.from_state(state if same else {})
        layout.learn(form, found)
        if found:
            yield form_table(form, found, activity, layout)
        elif since is None:
            yield Problem(
                f"form '{form_title(form)}'", "The form has no responses yet.", fatal=False
            )
        times = [t for t in (parse_time(r.get("lastSubmittedTime")) for r in found) if t]
        latest = max([*times, *([latest] if latest else [])], default=None)
        self.state = {
            "form_id": form_id,
            **layout.state(),
            "latest_submitted": rfc3339(latest) if latest else None,
        }

    def _responses(
        self, google: Google, service: Any, form_id: str, since: datetime | None
    ) -> Iterator[dict[str, Any]]:
        query = {"formId": form_id}
        if since is not None:
            query["filter"] = f"timestamp >= {rfc3339(since)}"  # identical on every page

        def page(token: str | None) -> tuple[list[dict[str, Any]], str | None]:
            request = (
                service.forms().responses().list(**query, **({"pageToken": token} if token else {}))
            )
            answer = google.execute(request) or {}
            items = answer.get("responses") if isinstance(answer, dict) else None
            return (
                [r for r in items or [] if isinstance(r, dict)],
                answer.get("nextPageToken") or None,
            )

        return paginate(page, f"Google Forms responses of {form_id}")
