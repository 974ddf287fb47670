"""The rules that decide which pairs are compared and which may be one person.

Blocking keys that survive swapped names and changed names, given-name typos told
apart from sisters and brothers with alike names, and the household test that turns
the guard on for data about families and off for lists of unrelated people.
"""

from __future__ import annotations

import numpy as np
from test_match import _features as _features_and_columns

from harvest.people.blocking import candidate_pairs
from harvest.people.clusters import cluster, compatible
from harvest.people.compare import Compared, compare, households_in
from harvest.people.features import IDENTITY


def _features(people: list[tuple]):
    return _features_and_columns(people)[0]


def _pair_set(feats) -> set[tuple[int, int]]:
    return {tuple(p) for p in candidate_pairs(feats, cap=50).tolist()}


def _crowd(n: int, given: str, family: str, seed: int = 0) -> list[tuple]:
    """n people of one name, with different dates of birth and postcodes."""
    rng = np.random.default_rng(seed)
    return [
        (
            given,
            family,
            f"{1940 + int(rng.integers(60))}-{1 + int(rng.integers(12)):02d}-{1 + int(rng.integers(28)):02d}",
            f"M{1 + i % 9} {1 + i % 9}A{'BDEFGHJ'[i % 7]}",
        )
        for i in range(n)
    ]


def test_swapped_names_with_the_same_birthday_are_candidates() -> None:
    feats = _features(
        [
            ("Donald", "Thomas", "1977-05-20", None, None, "+447700900111"),
            ("Thomas", "Donald", "1977-05-20", None, None, "+447700900222"),
            *_crowd(60, "Donald", "Thomas"),  # a block over the cap for the names
        ]
    )
    assert (0, 1) in _pair_set(feats)


def test_a_common_name_over_the_cap_still_pairs_people_born_the_same_year() -> None:
    crowd = _crowd(80, "Zainab", "Jones")
    feats = _features(
        [
            ("Zainab", "Jones", "1951-01-22", None, None, "+447700900111"),
            ("Jones", "Zainab", "1951-01-22", "SW1A 1AA"),
            *crowd,
        ]
    )
    assert (0, 1) in _pair_set(feats)


def test_both_names_changed_still_meet_on_address_or_birthday_nearby() -> None:
    feats = _features(
        [
            ("Madison", "Oh", None, None, None, None, "4 Kent Road"),
            ("Lily", "Ho", None, None, None, None, "4 Kent Road"),
            ("Emily", "Nicely", "1991-01-26", "LS6 2AB"),
            ("Brydee", "Westermann", "1991-01-26", "LS6 9ZZ"),
        ]
    )
    assert {(0, 1), (2, 3)} <= _pair_set(feats)


def test_a_rare_misspelling_of_a_common_name_is_similar_but_two_common_names_are_not() -> None:
    common = [("Donald", f"Family{i}", None, "E1 6AN") for i in range(30)]
    common += [("Ronald", f"Other{i}", None, "E1 6AN") for i in range(30)]
    feats = _features(
        [
            ("Donald", "Holwell", "1950-09-04", "N1 1AA"),
            ("Ronald", "Holwell", "1950-09-04", "N1 1AA"),
            ("Donald", "Fox", "1950-09-04", "N2 1AA"),
            ("Doanld", "Fox", "1950-09-04", "N2 1AA"),
            ("Mia", "Rushshaw", "1960-07-04", "N3 1AA"),
            ("Mai", "Rushshaw", "1960-07-04", "N3 1AA"),
            *common,
        ]
    )
    levels = compare(feats, np.array([[0, 1], [2, 3], [4, 5]])).levels
    assert levels[:, 0].tolist() == [0, 2, 2]  # brothers; a typo; letters swapped
    assert not compatible(feats, 0, 1)
    assert compatible(feats, 2, 3) and compatible(feats, 4, 5)


def test_a_name_typed_in_the_wrong_box_is_recognised() -> None:
    feats = _features(
        [
            ("Gemma", "Lowe", "1970-05-24", "CF10 1AA"),
            ("Lowe", "Chelsea", "1970-05-24", "CF10 1AA"),
        ]
    )
    cmp = compare(feats, np.array([[0, 1]]))
    assert cmp.swapped[0] and cmp.levels[0, 1] == 3  # the family names agree, crosswise


def _compared(levels: list[list[int]]) -> Compared:
    lv = np.array(levels, dtype=np.int8)
    n = len(lv)
    zeros = np.zeros(n, np.int64)
    return Compared(zeros, zeros, lv, np.full(lv.shape, -1), np.zeros(n, bool))


def test_households_are_recognised_from_the_pairs_themselves() -> None:
    same = [[4, 3, 4, 3, -1, -1]] * 100  # one person listed twice
    siblings = [[0, 3, 0, 3, -1, -1]] * 60  # same family and home, other name and birthday
    assert households_in(_compared(same + siblings))
    assert not households_in(_compared(same + siblings[:5]))  # a list of unrelated people
    assert households_in(_compared(same[:10]))  # too little to tell: assume households


def test_without_households_a_changed_given_name_is_weighed_not_refused() -> None:
    cmp = _compared([[0, 3, 4, 3, -1, -1], [0, 0, 0, 0, -1, -1]])
    assert not cmp.guard[0]
    cmp.households = False
    assert cmp.guard.tolist() == [True, False]  # still needs one field that agrees exactly
    feats = _features(
        [
            ("Amy", "Hunting", "1943-08-18", "B1 1AA"),
            ("Tristan", "Hunting", "1943-08-18", "B1 1AA"),
            ("Amy", "Hunting", None, "B1 1AA"),
        ]
    )
    links = np.array([[0, 2], [1, 2]])
    strength = np.array([0.99, 0.98])
    assert cluster(feats, links, strength).held == {1}
    assert cluster(feats, links, strength, households=False).held == set()


def test_the_household_decision_is_made_once_and_kept_with_the_model() -> None:
    from harvest.config import MatchingConfig
    from harvest.people.match import match_frame

    people = [
        ("Amy", "Hunting", "1943-08-18", "B1 1AA"),
        ("Tristan", "Hunting", "1943-08-18", "B1 1AA"),
    ]
    columns = {f: [p[i] if i < len(p) else None for p in people] for i, f in enumerate(IDENTITY)}
    guarded, facts = match_frame(columns)
    assert facts["model"].households  # too few pairs to tell: the guard stays on
    assert guarded[0] != guarded[1]
    loose, facts = match_frame(columns, MatchingConfig(households=False))
    assert not facts["model"].households
    assert loose[0] == loose[1]  # surname, birthday and home agree: one person, renamed


def test_a_short_form_the_nicknames_list_lacks_is_a_nickname() -> None:
    feats = _features(
        [
            ("Mo", "Ali", "1969-04-22", "M13 0FE"),
            ("Mohammed", "Ali", "1969-04-22", "M13 0FE"),
            ("M", "Ali", "1969-04-22", "M13 0FE"),
        ]
    )
    levels = compare(feats, np.array([[0, 1], [1, 2]])).levels
    assert levels[:, 0].tolist() == [3, 1]  # a short form; an initial (one letter) is not one
    assert compatible(feats, 0, 1)


def test_the_same_address_says_more_than_the_same_postcode() -> None:
    feats = _features(
        [
            ("Ann", "Lee", None, "LS6 1AA", None, None, "12 Cliff Road"),
            ("Ann", "Lee", None, "LS6 1AA", None, None, "12 CLIFF ROAD"),  # same home
            ("Ann", "Lee", None, "LS6 1AA", None, None, "40 Cliff Road"),  # same street
            ("Ann", "Lee", None, None, None, None, "12 Cliff Road"),  # no postcode to compare
            ("Ann", "Lee", None, "LS6 1AB", None, None, "12 Cliff Road"),  # postcode mistyped
            ("Ann", "Lee", None, None, None, None, "3 Elm Row"),
        ]
    )
    levels = compare(feats, np.array([[0, 1], [0, 2], [0, 3], [0, 4], [3, 5]])).levels
    assert levels[:, 3].tolist() == [4, 3, 4, 3, 0]


def test_a_short_list_of_regulars_does_not_make_a_shared_birthday_look_common() -> None:
    """u is learnt from random pairs; where each person is listed many times some of those
    pairs are one person, and counted as strangers they would make a shared date of birth
    look ordinary. The first model's view of each sampled pair takes them out."""
    from harvest.people.model import estimate_u, random_pairs, train

    rng = np.random.default_rng(3)
    people = []
    for i in range(60):
        dob = f"{1940 + i}-{1 + i % 12:02d}-{1 + i % 28:02d}"
        postcode = f"M{1 + i % 9} {1 + i % 7}A{'BDEFGHJ'[i % 7]}"
        given, family = f"Given{i:02d}", f"Family{i:02d}"
        for k in range(8):  # eight sign-ups each, with a different phone every time
            phone = f"07700 9{i:02d}{k}{rng.integers(10)}0"
            people.append((given, family, dob, postcode, None, phone))
    feats = _features(people)
    sample = random_pairs(feats)
    naive = estimate_u(sample)["dob"][4]
    cmp = compare(feats, candidate_pairs(feats, cap=50))
    cmp.households = False
    model = train(feats, cmp)
    assert naive > 0.01  # one random pair in 60 is a person and their own sign-up
    assert model.u["dob"][4] < naive / 10


def test_a_model_saved_before_the_address_level_scores_it_as_the_same_postcode() -> None:
    from harvest.people.model import Model

    saved = Model().to_json()
    saved["m"]["location"], saved["u"]["location"] = (
        [0.1, 0.01, 0.01, 0.88],
        [0.99, 0.005, 0.004, 0.001],
    )
    bits = Model.from_json(saved).weights("location")
    assert len(bits) == 6 and bits[4] == bits[3] > 0  # five levels, then blank


def test_a_re_sync_pairs_new_profiles_as_a_full_match_would() -> None:
    from harvest.people.blocking import block_pairs

    rng = np.random.default_rng(5)
    keys = rng.integers(-1, 300, 4000)  # −1: no key
    owners = rng.integers(0, 1500, 4000)
    new = np.zeros(1500, bool)
    new[rng.choice(1500, 40, replace=False)] = True
    full = block_pairs(keys, owners, cap=20)
    expected = {tuple(p) for p in full.tolist() if new[p[0]] or new[p[1]]}
    assert expected and {tuple(p) for p in block_pairs(keys, owners, 20, new).tolist()} == expected


def test_a_name_list_typed_family_name_first_still_finds_nicknames_and_initials() -> None:
    """The issue's own example: "Bob Smith" and "SMITH Robert" are one person. Which record
    was typed family name first is told by how the data uses each name elsewhere."""
    feats = _features(
        [
            ("Bob", "Smith", "1961-03-02", "NW1 2AB"),
            ("Smith", "Robert", "1961-03-02", "NW1 2AB"),  # family name first, formal name
            ("Baker", "Anjali", None, "B1 1AA"),  # family name first…
            ("Anjali", "Bell", None, "B1 1AA"),  # …and a new family name since
            ("Raj", "Thomas", None, "B2 1AA"),
            ("Thomas", "R", None, "B2 1AA"),  # family name first, and an initial
            ("Tom", "Baker", None, "E1 6AN"),  # how the names are used elsewhere
            ("Ann", "Bell", None, "E1 6AN"),
            ("Anjali", "Shah", None, "E2 7AA"),
        ]
    )
    cmp = compare(feats, np.array([[0, 1], [2, 3], [4, 5]]))
    assert cmp.swapped.all()
    assert cmp.levels[:, 0].tolist() == [3, 4, 1]  # nickname, same, initial
    assert cmp.levels[:, 1].tolist() == [3, 0, 3]  # Baker and Bell differ
    cmp.households = True
    assert cmp.guard.all()  # the given names agree: the household guard lets them be weighed


def test_a_nickname_of_another_spelling_of_the_name_is_a_nickname() -> None:
    """The nicknames list knows Kate as Katherine's; Catherine is the same name spelt with
    a C. Jane and June sound alike but are not one name."""
    feats = _features(
        [
            ("Kate", "Padton", "1998-02-19", "LS2 7EW"),
            ("Catherine", "Padton", "1998-02-19", "LS2 7EW"),
            ("Jane", "Hall", "1975-07-19", "M1 1AE"),
            ("June", "Hall", "1975-07-19", "M1 1AE"),
        ]
    )
    levels = compare(feats, np.array([[0, 1], [2, 3]])).levels
    assert levels[0, 0] == 3 and levels[1, 0] != 3
