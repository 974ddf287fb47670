"""Play the attacker: a funder with a login, a real Datasette, and every question they may ask.

The store is built by the real pipeline from rows generated in ``attack.py`` (known
truth: 150 people, one of them alone in M13, one alone at "Sarah's group", one alone
in July); funders.db by the real ``harvest publish``; every figure is read over HTTP
with a funder login, exactly as a funder's browser or script would.

(a) differencing: every figure the vocabulary allows, combined by interval reasoning
    (the noise bound and rounding are public), must pin no small count exactly;
    (the breakdowns of the standard's version-2 fields and the number of volunteers
    included);
(b) singling out: no breakdown (and no attribute of version 2, no volunteers or hours)
    is ever returned for a population below the minimum;
(c) the file holds no identifier and no pseudonym.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import sqlite3
import statistics
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from attack import (
    LONE_MONTH,
    MULTIPLE,
    SARAH,
    SPECIAL_CIRCUMSTANCES,
    Person,
    Solver,
    club_rows,
    interval,
    people,
    periods_of,
    size,
    truth,
    wellbeing_rows,
)
from conftest import free_port, login, serving, write_config, write_csv
from test_funders import run

from harvest.config import load_config
from harvest.publish.datasette import funders_command
from harvest.publish.funders import publish_funders
from harvest.publish.protect import NOISE
from harvest.publish.site import load_funder_queries
from harvest.publish.users import Users, users_path
from harvest.secrets import TokenStore
from harvest.sync import sync

FUNDER = ("fiona", "funder-pass-456")
TODAY = date(2024, 9, 1)
BELOW, SPECIAL, MIN_POP, HALF = 8, 10, 20, 2
TOO_FEW = "Too few people to show for this choice"


def quarter(month: str) -> str:
    return periods_of(month)[1]


BREAKDOWNS = {
    "who": "who",
    "sessions_per_person": "sess",
    "deprivation": "dep",
    "circumstances": "circ",
}
OVER_TIME = ("reach", "volunteers")  # queries by period type, like "People reached"


@pytest.fixture(scope="module")
def everyone() -> list[Person]:
    return people()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, everyone: list[Person]) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("attack")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HARVEST_SECRETS_FILE", str(folder / "secrets.json"))
        write_csv(folder / "club.csv", club_rows(everyone))
        write_csv(folder / "wellbeing.csv", wellbeing_rows(everyone))
        sources = [
            {"name": "club", "type": "file", "options": {"path": "club.csv"}},
            {"name": "wellbeing", "type": "file", "options": {"path": "wellbeing.csv"}},
        ]
        write_config(folder, sources, publish={"after_sync": False})
        config = load_config(folder / "harvest.yaml")
        assert sync(config).exit_code == 0
        publish_funders(config, today=TODAY)
        Users(users_path(config.database_path)).add(FUNDER[0], "funder", FUNDER[1])
        yield folder


@pytest.fixture(scope="module")
def funder(project: Path) -> Iterator[httpx.Client]:
    port = free_port()
    tokens = TokenStore(project / "secrets.json")
    config = load_config(project / "harvest.yaml")
    args, env = funders_command(config, port=port, tokens=tokens)
    with serving(args, port, env) as base:
        client = login(base, *FUNDER)
        yield client
        client.close()


def ask(client: httpx.Client, query: str, **params: str) -> list[dict]:
    response = client.get(f"/funders/{query}.json?" + urlencode({**params, "_shape": "array"}))
    assert response.status_code == 200, (query, params, response.text[:200])
    return response.json()


@pytest.fixture(scope="module")
def choices(funder: httpx.Client) -> dict[str, list[dict]]:
    rows = funder.get("/funders/choices.json?_shape=array&_size=max").json()
    out: dict[str, list[dict]] = {}
    for row in rows:
        out.setdefault(row["kind"], []).append(row)
    return out


@pytest.fixture(scope="module")
def published(funder: httpx.Client, choices: dict[str, list[dict]]) -> dict[tuple, list[dict]]:
    """Every answer to every question the vocabulary allows."""
    periods = [c["value"] for c in choices["period"]]
    activities = [c["value"] for c in choices["activity"]]
    areas = [c["value"] for c in choices["area"]]
    answers: dict[tuple, list[dict]] = {}
    for kind in choices["period_type"]:
        for a in activities:
            for r in areas:
                for query in OVER_TIME:
                    answers[(query, kind["value"], a, r)] = ask(
                        funder, query, period_type=kind["value"], activity=a, area=r
                    )
    for p in periods:
        for r in areas:
            for query in ("outcomes", "score_change"):
                answers[(query, p, r)] = ask(funder, query, period=p, area=r)
            for a in activities:
                for query in BREAKDOWNS:
                    answers[(query, p, a, r)] = ask(funder, query, period=p, activity=a, area=r)
    return answers


# --- (a) differencing ------------------------------------------------------------------


def observe(published: dict[tuple, list[dict]]) -> Solver:
    """Each published figure as an interval for the true count of its cell."""
    s = Solver()
    for key, rows in published.items():
        query, *choice = key
        if query == "reach":
            _, a, r = choice
            for row in rows:
                cell = (row["period"], a, r)
                floor = MIN_POP if isinstance(row["people"], int) else 0
                s.know(("people", *cell), interval(row["people"], BELOW, NOISE, HALF, floor))
                for column, name in (("new_people", "new"), ("returning_people", "ret")):
                    s.know((name, *cell), interval(row[column], BELOW, NOISE, HALF))
                s.know(("att", *cell), interval(row["attendances"], BELOW, NOISE, HALF))
        elif query == "volunteers":
            _, a, r = choice
            for row in rows:
                cell = ("vol", row["period"], a, r)
                s.know(cell, interval(row["volunteers"], BELOW, NOISE, HALF))
        elif rows and rows[0].get("characteristic", rows[0].get("sessions")) != TOO_FEW:
            observe_breakdown(s, query, tuple(choice), rows)
    return s


def observe_breakdown(s: Solver, query: str, choice: tuple, rows: list[dict]) -> None:
    if query == "who":
        for row in rows[1:]:
            below = SPECIAL if row["characteristic"] in ("Ethnic group", "Disability") else BELOW
            cell = ("who", *choice, row["characteristic"], row["value"])
            s.know(cell, interval(row["people"], below, NOISE, HALF))
    elif query == "circumstances":
        for row in rows[1:]:
            below = SPECIAL if row["characteristic"] in SPECIAL_CIRCUMSTANCES else BELOW
            cell = ("circ", *choice, row["characteristic"], row["value"])
            s.know(cell, interval(row["people"], below, NOISE, HALF))
    elif query in ("sessions_per_person", "deprivation"):
        name = BREAKDOWNS[query]
        label = "sessions" if query == "sessions_per_person" else "decile"
        for row in rows:
            s.know((name, *choice, row[label]), interval(row["people"], BELOW, NOISE, HALF))
    elif query == "outcomes" and rows[0]["outcome"] != TOO_FEW:
        for row in rows:
            s.know(("out", *choice, row["outcome"]), interval(row["people"], BELOW, NOISE, HALF))
    elif query == "score_change" and rows[0]["measure"] != TOO_FEW:
        for row in rows:
            s.know(
                ("score_n", *choice, row["measure"]), interval(row["people"], SPECIAL, NOISE, HALF)
            )


def structure(choices: dict[str, list[dict]]) -> tuple[dict, dict]:
    """What the attacker knows of how choices nest: areas and activities, and periods."""
    periods = [c["value"] for c in choices["period"]]
    activities = [c["value"] for c in choices["activity"]]
    children = {
        "All areas": ["England"],
        "England": ["Greater London", "Greater Manchester"],
        "Greater London": ["NW1", "N7", "E8", "SE15"],
        "All activities": [a for a in activities if a != "All activities"],
    }
    kind_of = {c["value"]: c["detail"] for c in choices["period"]}
    months = [p for p in periods if kind_of[p] == "month"]
    quarters = [p for p in periods if kind_of[p] == "quarter"]
    inside = {  # period → the periods it is made of
        **{q: [m for m in months if quarter(m) == q] for q in quarters},
        **{y: [q for q in quarters if q[:4] == y] for y in periods if kind_of[y] == "year"},
        **{
            p: [m for m in months if periods_of(m)[3] == p]
            for p in periods
            if kind_of[p] == "financial_year"
        },
        "All time": [p for p in periods if kind_of[p] == "year"],
    }
    return children, inside


def add(s: Solver, facts: dict, parent: tuple, kids: list[tuple], along: str = "") -> None:
    """The sum of ``kids`` against ``parent``: exact where the truth makes it exact (an
    attacker who knows the structure of the data), else the inequality that holds.
    ``along``: "time", "activity" or "several" (needs) when one person can be in several
    kids."""
    kind = parent[0]
    if size(facts.get(parent, 0)) == sum(size(facts.get(k, 0)) for k in kids):
        s.relate("eq", parent, kids)
    elif along and kind != "att":
        # someone new to the charity in a quarter who came to this activity only later
        # in it is new in neither month: that sum holds for all activities only
        if not (kind == "new" and parent[2] != "All activities"):
            s.relate("ge", parent, kids)
    else:
        s.relate("le", parent, kids)
    if not (along == "time" and kind == "ret"):  # returning in a month, new in its quarter
        for k in kids:
            s.relate("le", parent, [k])


def relate(s: Solver, facts: dict, choices: dict[str, list[dict]]) -> None:
    """Every sum the attacker could set up between the published cells."""
    children, inside = structure(choices)
    parts: dict[tuple, list[tuple]] = {}
    for cell in s.bounds:
        if cell[0] in ("who", "sess", "dep", "circ"):
            trait = cell[4] if cell[0] in ("who", "circ") else ""
            parts.setdefault(("people", *cell[1:4], cell[0], trait), []).append(cell)
    for cell in list(s.bounds):
        kind, dims = cell[0], cell[1:]
        if kind in ("out", "score_n") and dims[1] in children:
            add(s, facts, cell, [(kind, dims[0], x, *dims[2:]) for x in children[dims[1]]])
        if kind not in ("people", "new", "ret", "att", "who", "sess", "dep", "circ", "vol"):
            continue
        p, a, r, *rest = dims
        if r in children:
            add(s, facts, cell, [(kind, p, a, x, *rest) for x in children[r]])
        if kind == "sess":  # how often someone came changes with the period and activity
            continue
        if a in children:
            add(s, facts, cell, [(kind, p, x, r, *rest) for x in children[a]], "activity")
        if p in inside:
            add(s, facts, cell, [(kind, x, a, r, *rest) for x in inside[p]], "time")
    for key, group in parts.items():
        # a person counts once in each of their needs: the parts add up to more
        add(s, facts, key[:4], group, "several" if key[-1] in MULTIPLE else "")
    for cell in [c for c in s.bounds if c[0] == "people"]:
        add(s, facts, cell, [("new", *cell[1:]), ("ret", *cell[1:])])
        if ("vol", *cell[1:]) in s.bounds:  # volunteers are some of the people
            s.relate("le", cell, [("vol", *cell[1:])])


def test_differencing_recovers_no_small_count(published, choices, everyone) -> None:
    facts = truth(everyone, TODAY)
    solver = observe(published)
    outside = [c for c, (lo, hi) in solver.bounds.items() if not lo <= size(facts.get(c, 0)) <= hi]
    assert outside == [], outside[:5]  # each published figure is honest about its cell
    solver.truth = facts  # and so is every step of the reasoning
    relate(solver, facts, choices)
    solver.solve()
    small = {c for c in solver.bounds if 1 <= size(facts.get(c, 0)) < BELOW}
    recovered = {c: v for c, v in solver.pinned().items() if c in small}
    assert len(small) > 50  # there were small cells to find
    assert {"circ", "vol"} <= {c[0] for c in small}  # among them needs, religion, volunteers
    print(f"cell key method: {len(recovered)} of {len(small)} small cells recovered exactly")
    assert recovered == {}, (
        f"{len(recovered)} small cells recovered exactly, e.g. {list(recovered)[:3]}"
    )


def old_rule(n: int) -> tuple[int, int]:
    """What harvest's old rule said about a count: 0 as 0, 1-7 as <8, the rest rounded to 5."""
    if n == 0:
        return (0, 0)
    if n < BELOW:
        return (1, BELOW - 1)
    r = (n + 2) // 5 * 5
    return (max(BELOW, r - 2), r + 2)


def test_the_same_attacker_recovers_small_counts_from_rounding_alone(
    published, choices, everyone
) -> None:
    """The attacker is strong enough to matter: given the same cells published with the old
    rule (suppress 1-7, round to 5, no noise), the same reasoning pins small counts."""
    facts = truth(everyone, TODAY)
    solver = observe(published)
    for cell in solver.bounds:
        solver.bounds[cell] = old_rule(size(facts.get(cell, 0)))
    relate(solver, facts, choices)
    solver.solve()
    small = {c for c in solver.bounds if 1 <= size(facts.get(c, 0)) < BELOW}
    recovered = [c for c in solver.pinned() if c in small]
    print(f"old rule: {len(recovered)} of {len(small)} small cells recovered exactly")
    assert recovered
    print("old rule, by kind:", {k: sum(c[0] == k for c in recovered) for k in ("circ", "vol")})


# --- (b) singling out -------------------------------------------------------------------


def test_no_breakdown_of_a_population_below_the_minimum(published, everyone) -> None:
    facts = truth(everyone, TODAY)
    shown = 0
    for key, rows in published.items():
        query, *choice = key
        if query in OVER_TIME:
            _, a, r = choice
            for row in rows:
                n = size(facts.get(("people", row["period"], a, r), 0))
                first = row["people" if query == "reach" else "volunteers"]
                assert (first == f"<{MIN_POP}") == (n < MIN_POP), (key, row, n)
                if query == "volunteers" and n < MIN_POP:
                    assert row["hours_volunteered"] is None, (key, row)
            continue
        if query in ("outcomes", "score_change"):
            population = "out" if query == "outcomes" else "scored"
            p, r = choice
            n = len(
                set().union(
                    *[v for c, v in facts.items() if c[0] == population and c[1:3] == (p, r)]
                )
            )
        else:
            n = size(facts.get(("people", *choice), 0))
        first = next(iter(rows[0].values()))
        if n < MIN_POP:
            assert len(rows) == 1 and first == TOO_FEW, (key, n, rows[:2])
        else:
            assert first != TOO_FEW, (key, n)
            shown += 1
    assert shown > 100


def test_the_edges_are_never_named_or_shown(published, choices, project) -> None:
    values = {c["value"] for rows in choices.values() for c in rows}
    assert SARAH not in values and "M13" not in values and "Greater Manchester" not in values
    assert LONE_MONTH in values  # listed like any month, but too few to show
    assert (
        published[("who", LONE_MONTH, "All activities", "All areas")][0]["characteristic"]
        == TOO_FEW
    )
    data = (project / "funders.db").read_bytes()
    assert SARAH.encode() not in data and b"Sarah" not in data


def circumstance_rows(published: dict[tuple, list[dict]]) -> Iterator[tuple[tuple, dict]]:
    for key, rows in published.items():
        if key[0] == "circumstances" and rows[0]["characteristic"] != TOO_FEW:
            for row in rows[1:]:
                yield ("circ", *key[1:], row["characteristic"], row["value"]), row


def test_special_circumstances_are_hidden_below_the_special_threshold(published, everyone) -> None:
    """Religion, care, health, vulnerability, needs, formats and food needs use the special
    threshold (10): a true 8 or 9 there is hidden, where age or income would show it."""
    facts = truth(everyone, TODAY)
    hidden_at_8_or_9 = 0
    for cell, row in circumstance_rows(published):
        n = size(facts.get(cell, 0))
        below = SPECIAL if cell[4] in SPECIAL_CIRCUMSTANCES else BELOW
        if n < below:
            assert row["people"] == f"<{below}", (cell, n, row)
            assert row["percent"] == "suppressed", (cell, row)
            hidden_at_8_or_9 += below == SPECIAL and n >= BELOW
    assert hidden_at_8_or_9 > 0  # there were cells only the special threshold hides


def test_circumstances_list_every_category_and_count_several_needs_once_each(
    published, everyone
) -> None:
    facts = truth(everyone, TODAY)
    everything = ("All time", "All activities", "All areas")
    rows = published[("circumstances", *everything)]
    total = size(facts[("people", *everything)])
    listed: dict[str, list[str]] = {}
    noisy = 0
    for row in rows[1:]:
        listed.setdefault(row["characteristic"], []).append(row["value"])
        n = size(facts.get(("circ", *everything, row["characteristic"], row["value"]), 0))
        if isinstance(row["people"], int):
            assert abs(row["people"] - n) <= NOISE + HALF, (row, n)
            noisy += row["people"] != (n + 2) // 5 * 5
    assert noisy > 0  # the counts carry noise, not only rounding
    assert listed["Religion"][-1] == "Not known" and "Buddhist" in listed["Religion"]
    assert len(listed["Support needs"]) == 16 and len(listed["Household size"]) == 7
    for name in MULTIPLE:
        parts = sum(size(facts.get(("circ", *everything, name, v), 0)) for v in listed[name])
        assert parts > total, name  # someone with two needs counts in both


def test_volunteers_and_hours_are_protected(published, everyone) -> None:
    facts = truth(everyone, TODAY)
    most = max(sum(p.hours) for p in everyone)  # no volunteer gave more hours than this
    hidden = shown = moved = 0
    for key, rows in published.items():
        if key[0] != "volunteers":
            continue
        for row in rows:
            cell = (row["period"], key[2], key[3])
            if isinstance(row["volunteers"], str) and row["volunteers"] == f"<{MIN_POP}":
                continue
            n = size(facts.get(("vol", *cell), 0))
            hours = facts.get(("hours", *cell), 0.0)
            if n < BELOW:
                assert row["volunteers"] == f"<{BELOW}", (key, row, n)
                assert row["hours_volunteered"] == "suppressed", (key, row, n)
                hidden += n > 0
            elif isinstance(row["volunteers"], int):
                shown += 1
                assert abs(row["volunteers"] - n) <= NOISE + HALF, (key, row, n)
                assert abs(row["hours_volunteered"] - hours) <= most / 2 + 2.5, (row, hours)
                moved += row["hours_volunteered"] != math.floor(hours / 5 + 0.5) * 5
    assert hidden > 0 and shown > 10 and moved > 0, (hidden, shown, moved)


# --- (c) the file ---------------------------------------------------------------------


def test_the_file_holds_no_identifier_and_no_pseudonym(project, everyone) -> None:
    values = set()
    for p in everyone:
        values |= {p.given, p.family, p.email, p.phone, p.phone.replace(" ", ""), p.postcode}
        values |= {p.postcode.replace(" ", ""), p.dob}
    key = TokenStore(project / "secrets.json").get("funders_hmac_key")
    assert key is not None
    store = sqlite3.connect(project / "harvest.db")
    for (person_id,) in store.execute("SELECT person_id FROM people"):
        digest = hmac.new(
            key.get_secret_value().encode(), f"harvest-person:{person_id}".encode(), hashlib.sha256
        )
        values.add(digest.hexdigest()[:16])
    store.close()
    data = (project / "funders.db").read_bytes().lower()
    assert [v for v in values if v.lower().encode() in data] == []


# --- the rest of the promise ------------------------------------------------------------


def test_same_question_same_answer_on_every_page(funder, published) -> None:
    choice = {"period": "2024-Q1", "activity": "Lunch club"}
    who = ask(funder, "who", **choice, area="NW1")
    assert who == ask(funder, "who", **choice, area="NW1")
    reach = {r["period"]: r for r in published[("reach", "quarter", "Lunch club", "NW1")]}
    where = {r["postcode_district"]: r for r in ask(funder, "where_people_live", **choice)}
    activities = {r["activity"]: r for r in ask(funder, "activities", period="2024-Q1", area="NW1")}
    assert who[0]["people"] == reach["2024-Q1"]["people"] == where["NW1"]["people"]
    assert activities["Lunch club"]["people"] == who[0]["people"]
    areas = {r["area_name"]: r["people"] for r in ask(funder, "areas", **choice)}
    assert (
        areas["Greater London"] == ask(funder, "who", **choice, area="Greater London")[0]["people"]
    )
    csv_text = funder.get("/funders/who.csv?" + urlencode({**choice, "area": "NW1"})).text
    assert csv_text.splitlines()[1] == f"Everyone,All people,{who[0]['people']},100.0"


@pytest.mark.parametrize(
    "params",
    [
        {"period": "2024-13"},
        {"activity": SARAH},
        {"activity": "Lunch"},  # a substring, as the old free-text box took
        {"area": "M13"},
        {"area": "NW1' OR '1'='1"},
        {"period_type": "week"},
        {"area": "x" * 5000},
    ],
)
def test_a_value_not_in_the_vocabulary_is_a_plain_400(funder, params) -> None:
    paths = ("/funders/who.json", "/funders/reach", "/funders/who.csv")
    for path in (*paths, "/funders/circumstances.json", "/funders/volunteers"):
        response = funder.get(path + "?" + urlencode(params))
        assert response.status_code == 400, (path, params)
        text = response.text
        assert ("not one of the choices" in text) or ("too long" in text)
        assert "Traceback" not in text and SARAH.replace("'", "&#x27;") not in text[:0]


def test_anonymous_visitors_learn_nothing_about_the_vocabulary(funder) -> None:
    anon = httpx.Client(base_url=str(funder.base_url), timeout=10)
    for value in ("NW1", "M13"):
        assert anon.get(f"/funders/who.json?area={value}").status_code == 302


def test_utility_for_cells_of_twenty_or_more(published, everyone) -> None:
    """How far published counts are from the truth where there are 20 people or more."""
    facts = truth(everyone, TODAY)
    errors = []
    for key, rows in published.items():
        if key[0] != "reach":
            continue
        for row in rows:
            n = size(facts.get(("people", row["period"], key[2], key[3]), 0))
            if n >= MIN_POP:
                errors.append(abs(row["people"] - n))
    assert errors and max(errors) <= NOISE + HALF
    print(
        f"utility: {len(errors)} cells, mean error {statistics.mean(errors):.2f}, worst {max(errors)}"
    )


# --- edges --------------------------------------------------------------------------------


def publish_rows(folder: Path, rows: list[list[str]]) -> Path:
    write_csv(folder / "club.csv", rows)
    source = {"name": "club", "type": "file", "options": {"path": "club.csv"}}
    # an empty store without matching: matching an empty store fails (a separate bug)
    extra = {} if len(rows) > 1 else {"matching": {"enabled": False}}
    write_config(folder, [source] if len(rows) > 1 else [], publish={"after_sync": False}, **extra)
    config = load_config(folder / "harvest.yaml")
    assert sync(config).exit_code == 0
    publish_funders(config, today=TODAY)
    return folder / "funders.db"


@pytest.mark.parametrize("count", [0, 1])
def test_an_empty_store_and_a_store_of_one_person(tmp_path: Path, everyone, count) -> None:
    rows = club_rows(everyone[:count])[: 2 if count else 1]
    db = publish_rows(tmp_path, rows)
    for name, query in load_funder_queries().items():
        answer = run(db, name)
        if name in OVER_TIME:
            assert all(next(iter(r.values())) for r in answer), answer
            assert all(f"<{MIN_POP}" in r.values() for r in answer), answer
        elif query["params"]:
            assert [next(iter(r.values())) for r in answer] == [TOO_FEW], (name, answer)
    data = db.read_bytes()
    assert not [
        p for p in everyone[:count] if p.email.encode() in data or p.family.encode() in data
    ]
