"""Matching round two: evidence cleaning used to throw away, and strangers kept apart.

Each test is one pattern, synced from CSV files into a real store as a user's lists are.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
from conftest import query, scalar, write_config, write_csv
from test_match import _features as _features_and_columns

from harvest.config import load_config
from harvest.people.compare import compare, dob_levels
from harvest.people.match import _one_person
from harvest.store import connect
from harvest.sync import sync


def _features(people: list[tuple]):
    return _features_and_columns(people)[0]


HEADER = ["First name", "Surname", "Date of birth", "Postcode", "Email", "Phone", "Address"]


def _sync(project: Path, rows: list[list[str]], **config: object) -> Path:
    write_csv(project / "list.csv", [HEADER, *rows])
    source = {"name": "list", "type": "file", "options": {"path": "list.csv"}}
    result = sync(load_config(write_config(project, [source], **config)))
    assert result.matching and not result.matching.error
    return project / "harvest.db"


def _person_count(db: Path) -> int:
    return scalar(db, "SELECT count(DISTINCT person_id) FROM records")


def test_a_postcode_that_is_not_a_uk_one_is_kept_as_evidence(project) -> None:
    db = _sync(
        project,
        [
            ["Siobhan", "Murphy", "", "D02 X285", "", "", ""],  # an Irish Eircode
            ["Siobhan", "Murphy", "", "d02x285", "", "", ""],
            ["Ciara", "Walsh", "", "T12 Y4R6", "", "", ""],
            ["Sean", "Walsh", "", "H91 E2K3", "", "", ""],
        ],
    )
    assert query(db, "SELECT DISTINCT postcode, postcode_text FROM records ORDER BY 2") == [
        (None, "D02X285"),
        (None, "H91E2K3"),
        (None, "T12Y4R6"),
    ]
    assert scalar(db, "SELECT count(*) FROM issues WHERE field = 'postcode'") == 4
    assert scalar(db, "SELECT count(DISTINCT value) FROM issues WHERE field = 'postcode'") == 4
    assert len({r[0] for r in query(db, "SELECT person_id FROM records WHERE rowid <= 2")}) == 1
    assert _person_count(db) == 3
    assert scalar(db, "SELECT count(*) FROM people WHERE given_name = 'Siobhan'") == 1


def test_a_mistyped_postcode_is_weaker_than_a_valid_one_and_no_town_is_kept(project) -> None:
    db = _sync(
        project,
        [
            ["Tom", "Baker", "", "NW1 2AB", "", "", ""],
            ["Tom", "Baker", "", "London", "", "", ""],
            ["Jo", "Ng", "", "2776", "", "", ""],  # an Australian postcode is kept
            ["Jo", "Ng", "", "07700 900123", "", "", ""],  # a phone number is not
            ["Ann", "Lee", "01/02/1950", "M1 1AEE", "", "", ""],  # mistyped alike twice
            ["Ann", "Lee", "01/02/1950", "M11AEE", "", "", ""],
        ],
    )
    assert query(db, "SELECT postcode_text FROM records WHERE given_name IN ('Tom', 'Jo')") == [
        (None,),
        (None,),
        ("2776",),
        (None,),
    ]
    assert (
        len({r[0] for r in query(db, "SELECT person_id FROM records WHERE given_name = 'Ann'")})
        == 1
    )


def test_a_store_made_before_postcode_text_gains_the_column(project) -> None:
    connect(project / "old.db").conn.close()
    conn = sqlite3.connect(project / "old.db")
    conn.execute("ALTER TABLE records DROP COLUMN postcode_text")
    conn.execute("PRAGMA user_version = 4")
    conn.close()
    assert "postcode_text" in connect(project / "old.db").table("records").columns_dict


def test_a_shared_inbox_does_not_join_people_whose_birthdays_disagree(project) -> None:
    rows = [  # an office inbox and phone, in a list of unrelated people (no households)
        ["Ann", "Lee", "01/02/1950", "", "office@example.org", "020 7946 0991", ""],
        ["Ann", "Lee", "09/07/1982", "", "office@example.org", "020 7946 0991", ""],
        # one person: the same inbox, the same date, a nickname
        ["Robert", "Hale", "03/04/1961", "", "hales@example.org", "", ""],
        ["Bob", "Hale", "03/04/1961", "", "hales@example.org", "", ""],
        # one person: the same given name and inbox, day and month swapped
        ["Priya", "Shah", "04/03/1988", "", "shahs@example.org", "", ""],
        ["Priya", "Shah", "03/04/1988", "", "shahs@example.org", "", ""],
    ]
    db = _sync(project, rows, matching={"households": False})
    assert _person_count(db) == 4
    assert len({r[0] for r in query(db, "SELECT person_id FROM records WHERE rowid <= 2")}) == 2


def test_an_exact_key_joins_only_pairs_whose_names_and_birthdays_do_not_disagree() -> None:
    # given, family, dob, location, email, phone levels (−1 blank)
    levels = np.array(
        [
            [4, 3, 4, -1, 1, -1],  # the same name and date: joined by the shared email
            [3, 3, -1, -1, 1, -1],  # a nickname, no date to compare
            [2, 3, 4, -1, 1, -1],  # a typo of the name, the same date
            [4, 3, 3, -1, 1, -1],  # day and month swapped
            [4, 3, 2, -1, 1, -1],  # the dates disagree in one part: left to the score
            [2, 3, 2, -1, 1, -1],  # alike names and a date a typo apart: Jon and Joan
            [2, 3, -1, -1, 1, -1],  # alike names, no date: left to the score
        ],
        np.int8,
    )
    assert _one_person(levels).tolist() == [True, True, True, True, False, False, False]


def test_people_who_share_only_a_name_are_never_joined_by_themselves(project) -> None:
    db = _sync(
        project,
        [
            ["Tom", "Baker", "", "", "tom.b@example.org", "07700 900111", ""],
            ["Tom", "Baker", "", "", "tbaker@example.com", "07700 900222", ""],
            ["Tom", "Baker", "", "", "", "", ""],
        ],
    )
    assert _person_count(db) == 3


def test_a_persons_name_is_the_best_supported_spelling_not_the_newest(project) -> None:
    db = _sync(
        project,
        [
            ["Robert", "Smith", "02/03/1961", "NW1 2AB", "", "", ""],
            ["Smith", "Robert", "02/03/1961", "NW1 2AB", "", "", ""],  # typed family name first
            ["Margaret", "O'Neil", "05/06/1948", "E8 3RL", "", "", "4 Mare Street"],
            ["Margaret", "O'Neil", "05/06/1948", "E8 3RL", "", "", ""],
            ["Margret", "ONeil", "05/06/1948", "E8 3RL", "", "", "4 Mare Street"],
            ["Robert", "Jones", "11/12/1970", "M1 1AE", "", "", ""],  # others in the store
            ["Robert", "Brown", "01/01/1980", "B1 1AA", "", "", ""],
            ["Ann", "Smith", "07/08/1990", "LS1 4AP", "", "", ""],
        ],
    )
    assert _person_count(db) == 5
    names = query(db, "SELECT given_name, family_name, full_name FROM people ORDER BY 1, 2")
    assert ("Robert", "Smith", "Robert Smith") in names
    assert ("Margaret", "O'Neil", "Margaret O'Neil") in names
    assert not any(n[0] in ("Smith", "Margret") for n in names)


# --- missed people: patterns of names and dates ------------------------------------------


def _given_level(a: str, b: str, crowd: list[tuple] = ()) -> int:  # type: ignore[assignment]
    feats = _features([(a, "Kerr", "1970-01-02", "M1 1AE"), (b, "Kerr", "1970-01-02", "M1 1AE")])
    if crowd:
        feats = _features(
            [(a, "Kerr", "1970-01-02", "M1 1AE"), (b, "Kerr", "1970-01-02", "M1 1AE"), *crowd]
        )
    return int(compare(feats, np.array([[0, 1]])).levels[0, 0])


def test_short_forms_and_variants_the_nicknames_list_lacks_are_nicknames() -> None:
    for a, b in [
        ("Sal", "Sarah"),
        ("Paula", "Pauline"),
        ("Louisa", "Louise"),
        ("Christina", "Christine"),
        ("Katie", "Katherine"),
        ("Mags", "Margaret"),
    ]:
        assert _given_level(a, b) == 3, (a, b)
    for a, b in [("Paul", "Paula"), ("George", "Georgia"), ("Jesse", "Jessie")]:
        assert _given_level(a, b) < 3, (a, b)  # a brother and a sister


def test_a_nickname_with_a_typo_and_two_typos_in_a_short_name_are_similar() -> None:
    assert _given_level("Bpb", "Robert") == 2  # Bob, mistyped
    assert _given_level("Jinmy", "James") == 2  # Jimmy, mistyped
    assert _given_level("Mggie", "Mags") == 2  # Maggie mistyped, and Mags: both Margaret
    assert _given_level("Aimr", "Amir") == 2  # two typos
    crowd = [(g, "Lee", f"19{50 + i}-01-01", "B1 1AA") for i in range(5) for g in ("Mark", "Mike")]
    assert _given_level("Mark", "Mike", crowd) == 0  # two common names: brothers


def test_date_of_birth_typos_that_move_day_and_month_are_one_part_different() -> None:
    def level(a: str, b: str) -> int:
        parts = np.array([[int(x) for x in d.split("-")] for d in (a, b)], np.int16)
        return int(dob_levels(parts[:1], parts[1:])[0])

    assert level("1960-05-12", "1960-06-13") == 2  # day and month each a key apart
    assert level("1960-05-12", "1961-12-05") == 2  # a year typo, day and month swapped
    assert level("1960-05-12", "1960-12-05") == 3  # day and month swapped
    assert level("1960-05-12", "1960-08-20") == 1  # the same year only


def test_the_patterns_join_through_a_sync(project) -> None:
    db = _sync(
        project,
        [
            ["Robert", "Hale", "03/04/1961", "NW1 2AB", "", "", ""],
            ["Bpb", "Hale", "03/04/1961", "NW1 2AB", "", "", ""],
            ["Pauline", "Kerr", "12/05/1970", "E8 3RL", "", "", ""],
            ["Paula", "Kerr", "13/06/1970", "E8 3RL", "", "", ""],
            ["Sarah", "Ogden", "01/02/1990", "", "sarah.o@example.org", "", ""],
            ["Sal", "Ogden", "01/02/1990", "", "", "07700 900333", ""],
        ],
    )
    assert _person_count(db) == 3


def test_a_new_surname_with_the_names_typed_the_other_way_round() -> None:
    def many(given: str, family: str, year: int) -> list[tuple]:
        return [
            (given or f"G{i}", family or f"F{i}", f"{year + i}-03-0{1 + i % 9}", "B1 1AA")
            for i in range(30)
        ]

    feats = _features(
        [
            ("Edwards", "Rachel", "1942-02-16", "E8 3RL"),  # both typed family name first
            ("Dalbrook", "Rachel", "1942-02-16", "E8 3RL"),  # and married since
            ("Harper", "Rachel", "1951-10-15", "N1 9GU"),  # typed family name first
            ("Rachael", "Taylor", "1951-10-15", "N1 9GU"),  # as typed on another list
            *many("", "Edwards", 1940),
            *many("", "Dalbrook", 1950),
            *many("", "Harper", 1960),
            *many("Rachel", "", 1970),
        ]
    )
    cmp = compare(feats, np.array([[0, 1], [2, 3]]))
    assert cmp.levels[0, 0] == 4 and cmp.levels[1, 0] >= 2
    assert cmp.swapped.tolist() == [True, True]
    assert cmp.guard.tolist() == [True, True]


def test_an_address_with_its_flat_line_dropped_and_abbreviated_is_the_same_home() -> None:
    home = ("Ann", "Lee", "1950-02-01", "NW1 2AB", None, None)
    feats = _features(
        [
            (*home, "Flat 3, 12 High Street"),
            (*home, "12 High St"),
            (*home, "Flat 4, 12 High Street"),  # another flat in the house
        ]
    )
    location = compare(feats, np.array([[0, 1], [0, 2]])).levels[:, 3]
    assert location.tolist() == [4, 3]  # the same home; only the same postcode
