"""The people pages: find a person, everything held about them and why their records were
joined, a subject-access download (XLSX or JSON), and "Erase this person"."""

from __future__ import annotations

import asyncio
import re
import tempfile
from pathlib import Path
from typing import Any

from datasette.utils.asgi import Response

from harvest.dataprotection.access import export_person, person_data
from harvest.dataprotection.erasure import Who, find_person, forget
from harvest.errors import NotFoundError
from harvest.people.explain import explain_person, reason
from harvest.publish.console.web import HOME, Staff, back, page, staff_only, where

SEARCH_FIELDS = ("person", "email", "phone", "name", "dob")


def _who(form: dict[str, str]) -> Who | None:
    """What was typed into the search form, as erasure's Who (None: nothing typed)."""
    text = {k: (form.get(k) or "").strip() for k in SEARCH_FIELDS}
    if not any(text.values()):
        return None
    number = text["person"]
    return Who(
        int(number) if number.isdigit() else None,
        text["email"] or None,
        text["phone"] or None,
        text["name"] or None,
        text["dob"] or None,
    )


@staff_only
async def find(request: Any, datasette: Any, staff: Staff) -> Response:
    form = {k: request.args.get(k) or "" for k in SEARCH_FIELDS}
    who, found, error = _who(form), [], None
    if who and who.name and not who.date_of_birth:
        error = "Enter their date of birth as well as their name"
    elif who:
        with staff.store() as db:
            try:
                found = people_found(db, find_person(db, who).records)
            except NotFoundError as exc:
                error = str(exc)
    context = {"form": form, "found": found, "error": error, "searched": who is not None}
    return await page(datasette, request, "console_people.html", context)


def people_found(db: Any, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The people these records belong to, with a name and where they were found."""
    out: dict[int, dict[str, Any]] = {}
    for r in records:
        if r["person_id"] is None:
            continue
        entry = out.setdefault(r["person_id"], {"id": r["person_id"], "name": "", "where": []})
        entry["name"] = entry["name"] or _name(r)
        entry["where"].append(f"{r['source']}: {where(r['location'], r['row_number'])}")
    return list(out.values())


def _name(r: dict[str, Any]) -> str:
    return " ".join(str(r[f]) for f in ("given_name", "family_name") if r.get(f))


def erasure_plan(db: Any, person_id: int) -> tuple[Any, list[dict[str, Any]]]:
    plan = find_person(db, Who(person_id=person_id))
    rows = [
        {**r, "where": where(r["location"], r["row_number"]), "name": _name(r)}
        for r in plan.records
    ]
    return plan, rows


async def _person_page(
    request: Any, datasette: Any, staff: Staff, person_id: int, error: str | None = None
) -> Response:
    with staff.store() as db:
        ex = explain_person(db, person_id)
        _, doomed = erasure_plan(db, ex.person_id)
        held = {k: len(v) for k, v in person_data(db, ex.person_id).items() if k != "person"}
    context = {
        "held": [(k.replace("_", " "), n) for k, n in held.items()],
        "ex": ex,
        "name": _name(ex.person) or f"Person {ex.person_id}",
        "records": [{**r, "where": where(r["location"], r["row_number"])} for r in ex.records],
        "joins": [(j.record_a, j.record_b, reason(j)) for j in ex.joins],
        "doomed": doomed,
        "confirm_with": _name(ex.person) or str(ex.person_id),
        "error": error,
    }
    status = 400 if error else 200
    return await page(datasette, request, "console_person.html", context, status)


@staff_only
async def person(request: Any, datasette: Any, staff: Staff) -> Response:
    return await _person_page(request, datasette, staff, int(request.url_vars["person_id"]))


def _export(staff: Staff, person_id: int, fmt: str) -> bytes:
    """The subject-access file's bytes, written by access.export_person (and audited)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"person-{person_id}.{fmt}"
        with staff.store() as db, staff.acting():
            export_person(db, person_id, path)
        return path.read_bytes()


@staff_only
async def access(request: Any, datasette: Any, staff: Staff) -> Response:
    """Everything held about the person, as a file (a subject access request)."""
    person_id, fmt = int(request.url_vars["person_id"]), request.url_vars["format"]
    body = await asyncio.to_thread(_export, staff, person_id, fmt)
    kind = (
        "application/json"
        if fmt == "json"
        else ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    )
    disposition = f'attachment; filename="person-{person_id}.{fmt}"'
    return Response(body, content_type=kind, headers={"content-disposition": disposition})


def _same_words(a: str, b: str) -> bool:
    def words(s: str) -> list[str]:
        return re.sub(r"\s+", " ", s).strip().casefold().split()

    return bool(words(a)) and words(a) == words(b)


def _forget(staff: Staff, plan: Any, person_id: int) -> Any:
    """`harvest forget` for the plan (in a worker thread: vacuum and republish take a while)."""
    with staff.acting():
        return forget(staff.config, plan, who=Who(person_id=person_id))


@staff_only
async def erase(request: Any, datasette: Any, staff: Staff) -> Response:
    """POST: erase the person, once their name (or number) has been typed to confirm."""
    person_id = int(request.url_vars["person_id"])
    if request.method != "POST":
        return Response.redirect(datasette.urls.path(f"{HOME}/people/{person_id}#erase"))
    form = await request.post_vars()
    with staff.store() as db:
        ex = explain_person(db, person_id)
        plan, _ = erasure_plan(db, ex.person_id)
    expected = _name(ex.person) or str(ex.person_id)
    if not _same_words(form.get("confirm") or "", expected):
        error = f"Type {expected} exactly as shown to confirm the erasure"
        return await _person_page(request, datasette, staff, person_id, error)
    result = await asyncio.to_thread(_forget, staff, plan, ex.person_id)
    return back(datasette, request, f"{HOME}/people", result.summary())
