"""Matching people: scoring, EM, clustering and stable ids, on generated data and real syncs."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import query, scalar, write_config, write_csv

from harvest.config import MatchingConfig, load_config
from harvest.normalise.mapping import map_columns
from harvest.normalise.record import RowNormaliser
from harvest.people.clusters import assign_ids, cluster
from harvest.people.compare import compare
from harvest.people.explain import explain_person
from harvest.people.features import IDENTITY, build_features
from harvest.people.match import match_frame
from harvest.store import connect
from harvest.sync import sync

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from gen_people import generate  # noqa: E402

HEADER = ["First name", "Surname", "Date of birth", "Postcode", "Email", "Phone", "Address"]


def _clean(rows: list[dict[str, str]]) -> dict[str, list]:
    headers = list(rows[0])
    norm = RowNormaliser(
        headers, map_columns(headers, None, {"ID": "source_record_id", "Person": None})
    )
    out: dict[str, list] = {f: [] for f in IDENTITY}
    for row in rows:
        rec = norm([row[h] for h in headers]).fields
        for f in IDENTITY:
            out[f].append(rec.get(f))
    return out


def _pairs(labels: np.ndarray) -> int:
    _, counts = np.unique(labels, return_counts=True)
    return int((counts * (counts - 1) // 2).sum())


def pairwise_f1(truth: np.ndarray, labels: np.ndarray) -> tuple[float, float, float]:
    tp = _pairs(truth * (labels.max() + 1) + labels)
    precision, recall = tp / max(_pairs(labels), 1), tp / max(_pairs(truth), 1)
    return precision, recall, 2 * precision * recall / (precision + recall)


@pytest.fixture(scope="module")
def generated() -> tuple[dict[str, list], np.ndarray]:
    rows = generate(2000, seed=11)
    return _clean(rows), np.array([int(r["Person"]) for r in rows])


def test_generated_people_are_matched_with_high_precision_and_recall(generated) -> None:
    columns, truth = generated
    labels, facts = match_frame(columns)
    precision, recall, f1 = pairwise_f1(truth, labels)
    assert precision >= 0.97 and recall >= 0.9 and f1 >= 0.95, (precision, recall, f1)
    assert facts["review"] < 0.03 * len(truth)
    assert facts["candidate_pairs"] < 10 * len(truth)  # blocking, never all pairs


def test_em_learns_sensible_weights_from_the_data(generated) -> None:
    columns, _ = generated
    model = match_frame(columns)[1]["model"]
    assert model.iterations > 0 and model.pairs > 500
    bits = {c: model.weights(c) for c in model.m}
    assert bits["email"][1] > 5 and bits["phone"][1] > 5  # agreeing is strong evidence
    assert bits["dob"][4] > bits["dob"][3] > 0 > bits["dob"][1]  # exact > swapped > year only
    assert bits["given"][4] > 0 > bits["given"][0]
    assert bits["location"][0] < 0 < bits["location"][3]


def _features(people: list[tuple]) -> tuple:
    columns = {f: [p[i] if i < len(p) else None for p in people] for i, f in enumerate(IDENTITY)}
    return build_features(columns), columns


def test_comparisons_know_nicknames_initials_swaps_and_date_typos() -> None:
    feats, _ = _features(
        [
            ("Bob", "Smith", "1961-03-02", "NW1 2AB"),
            ("Robert", "Smyth", "1961-02-03", "NW1 2AB"),
            ("Smith", "Robert", "1961-03-02", "NW1 2AD"),
            ("R", "Smith", "1962-03-02", "NW1 7ZZ"),
            ("Liz", "Jones", "1950-01-01", "M1 1AE"),
            ("Elizabeth", "Jones", "1950-01-01", "M2 1AE"),
        ]
    )
    levels = compare(feats, np.array([[0, 1], [1, 2], [0, 3], [4, 5]])).levels
    assert levels[0, :4].tolist() == [3, 2, 3, 3]  # nickname, similar surname, d/m swapped
    assert levels[1, :2].tolist() == [4, 2] and levels[1, 3] == 2  # swapped names, same sector
    assert levels[2, :4].tolist() == [1, 3, 2, 1]  # initial, one-digit year typo, district
    assert levels[3, 0] == 3


def test_placeholders_and_shared_values_are_not_evidence() -> None:
    office = [
        (g, f, None, None, "office@charity.example.org", "+442079460000")
        for g, f in [
            ("Ann", "Lee"),
            ("Bo", "Khan"),
            ("Cy", "Ng"),
            ("Di", "Roe"),
            ("Ed", "Poe"),
            ("Flo", "Hart"),
        ]
    ]
    feats, _ = _features(
        [
            *office,
            ("Test", "Test", None, None, "test@test.com", "+447777777777"),
            ("Unknown", "Person", None, None, "none@none.com", None),
        ]
    )
    assert feats.shared == {"email": 1, "phone": 1}
    assert (feats.email[:6] == -1).all() and (feats.phone[:6] == -1).all()
    assert feats.given[6] == -1 and feats.family[6] == -1 and feats.email[7] == -1
    assert feats.phone[6] == -1
    assert not feats.matchable.any()  # names alone (or nothing) never link anyone


def test_clustering_refuses_chains_that_disagree_and_respects_decisions() -> None:
    feats, _ = _features(
        [
            ("Sam", "Cole", "1980-01-05", "E1 6AN"),
            ("Sam", "Cole", None, "E1 6AN"),
            ("Sam", "Cole", "1992-07-19", "E1 6AN"),
            ("Ann", "Cole", None, "E1 6AN"),
        ]
    )
    links = np.array([[0, 1], [1, 2], [1, 3]])
    result = cluster(feats, links, np.array([0.99, 0.98, 0.97]))
    labels = result.labels
    assert labels[0] == labels[1] != labels[2]  # 1980 and 1992 are never one person
    assert labels[3] not in (labels[0], labels[2]) and result.held == {1, 2}
    forced = cluster(feats, links[:1], np.array([0.99]), same=[(2, 3)], different=[(0, 1)])
    assert forced.labels[0] != forced.labels[1] and forced.labels[2] == forced.labels[3]


def test_ids_go_to_the_oldest_person_and_merged_ids_are_kept() -> None:
    groups = np.array([7, 7, 7, 9, 9])
    current = np.array([5, 3, 0, 3, 8])
    result = assign_ids(groups, current, next_id=20)
    assert result.person.tolist() == [3, 3, 3, 8, 8]  # 3 went to the group with most of it
    assert result.merged == {5: 3} and result.created == []


# --- end to end: real files, a real store ------------------------------------------------


def _source(name: str, path: str) -> dict:
    return {"name": name, "type": "file", "options": {"path": path}}


def _touch(path: Path, seconds: int = 1) -> None:
    os.utime(path, ns=(time.time_ns(), time.time_ns() + seconds * 10**9))


def _people_of(db: Path, sql_where: str) -> set[int]:
    return {r[0] for r in query(db, f"SELECT person_id FROM records WHERE {sql_where}")}


def test_the_issue_example_is_one_person_across_three_lists(project) -> None:
    write_csv(project / "signup.csv", [["Name", "Postcode"], ["Bob Smith", "NW1 2AB"]])
    write_csv(
        project / "eventbrite.csv",
        [["Name", "Postcode", "Mobile"], ["Robert Smyth", "nw12ab", "07700 900123"]],
    )
    write_csv(
        project / "council.csv",
        [["Name", "DOB", "Postcode"], ["SMITH Robert", "02/03/1961", "NW1 2AB"]],
    )
    cfg = write_config(
        project,
        [
            _source("signup", "signup.csv"),
            _source("eventbrite", "eventbrite.csv"),
            _source("council", "council.csv"),
        ],
    )
    result = sync(load_config(cfg))
    assert result.matching and not result.matching.error
    db = project / "harvest.db"
    [person] = _people_of(db, "1")
    assert json.loads(scalar(db, "SELECT sources FROM people")) == [
        "council",
        "eventbrite",
        "signup",
    ]
    best = query(db, "SELECT given_name, family_name, phone, date_of_birth FROM people")[0]
    assert (
        best[2:] == ("+447700900123", "1961-03-02")
        and scalar(db, "SELECT count(*) FROM people") == 1
    )


def test_households_and_twins_are_never_joined(project) -> None:
    rows = [
        HEADER,
        [
            "Mary",
            "Okafor",
            "12/04/1970",
            "E8 3RL",
            "okafor.family@example.org",
            "020 7946 0123",
            "4 Mare Street",
        ],
        [
            "John",
            "Okafor",
            "03/09/1968",
            "E8 3RL",
            "okafor.family@example.org",
            "020 7946 0123",
            "4 Mare Street",
        ],
        [
            "Grace",
            "Okafor",
            "21/06/2001",
            "E8 3RL",
            "okafor.family@example.org",
            "020 7946 0123",
            "4 Mare Street",
        ],
        ["Joy", "Okafor", "21/06/2001", "E8 3RL", "", "020 7946 0123", "4 Mare Street"],
        ["Mary", "Okafor", "12/04/1970", "e83rl", "", "07700 900555", ""],
    ]
    write_csv(project / "list.csv", rows)
    cfg = write_config(project, [_source("list", "list.csv")])
    sync(load_config(cfg))
    db = project / "harvest.db"
    assert scalar(db, "SELECT count(*) FROM people") == 4  # only Mary's two rows are one
    assert len(_people_of(db, "given_name = 'Mary'")) == 1


def test_shared_office_contact_placeholders_and_blanks_do_not_join_people(project) -> None:
    rows = [HEADER + ["Activity"]]
    for given, family in [
        ("Ann", "Lee"),
        ("Bo", "Khan"),
        ("Cy", "Ng"),
        ("Di", "Roe"),
        ("Ed", "Poe"),
        ("Flo", "Hart"),
    ]:
        rows.append([given, family, "", "", "office@charity.example.org", "020 7946 0000", "", "x"])
    rows += [
        ["Pat", "Quinn", "01/01/1900", "AA1 1AA", "none@none.com", "07777 777777", "", "x"],
        ["Lou", "Ray", "01/01/1900", "AA1 1AA", "none@none.com", "07777 777777", "", "x"],
        ["Test", "Test", "", "", "test@test.com", "", "", "x"],
        ["Test", "Test", "", "", "test@test.com", "", "", "x"],
        ["N/A", "none", "", "", "", "", "", "x"],
        ["", "", "", "", "", "", "", "x"],
        ["", "", "", "", "", "", "", "x"],
    ]
    write_csv(project / "list.csv", rows)
    cfg = write_config(project, [_source("list", "list.csv")])
    sync(load_config(cfg))
    db = project / "harvest.db"
    assert scalar(db, "SELECT count(*) FROM records") == 13
    assert scalar(db, "SELECT count(DISTINCT person_id) FROM records") == 13
    assert scalar(db, "SELECT count(*) FROM people") == 13


def test_a_new_sync_adds_records_to_existing_people_and_never_renumbers(project) -> None:
    first = [
        HEADER,
        *[
            [g, f, d, p, "", "", ""]
            for g, f, d, p in [
                ("Ann", "Lee", "01/02/1950", "M1 1AE"),
                ("Raj", "Patel", "05/06/1977", "B1 1AA"),
                ("Cy", "Ng", "09/09/1999", "LS1 4AP"),
            ]
        ],
    ]
    write_csv(project / "a.csv", first)
    cfg = write_config(project, [_source("a", "a.csv"), _source("b", "b.csv")])
    write_csv(project / "b.csv", [HEADER])
    sync(load_config(cfg))
    db = project / "harvest.db"
    before = dict(query(db, "SELECT given_name, person_id FROM records"))
    write_csv(
        project / "b.csv",
        [
            HEADER,
            ["Annie", "Lee", "01/02/1950", "M1 1AE", "", "", ""],
            ["Zoe", "Hill", "", "N1 9GU", "zoe@example.org", "", ""],
        ],
    )
    _touch(project / "b.csv")
    again = sync(load_config(cfg))
    assert again.matching.mode == "incremental" and again.matching.new_profiles == 2
    after = dict(query(db, "SELECT given_name, person_id FROM records"))
    assert {k: after[k] for k in before} == before
    assert after["Annie"] == before["Ann"] and after["Zoe"] not in before.values()
    assert scalar(db, "SELECT record_count FROM people WHERE person_id = ?", (before["Ann"],)) == 2


def _background(project: Path, n: int = 300) -> dict:
    """A source of generated people, so that the model has a population to learn from."""
    rows = generate(n, seed=5)
    write_csv(
        project / "background.csv", [list(rows[0])[1:-1]] + [list(r.values())[1:-1] for r in rows]
    )
    return _source("background", "background.csv")


def test_people_joined_later_keep_the_oldest_id_and_old_ids_resolve(project) -> None:
    write_csv(
        project / "a.csv", [HEADER, ["Tom", "Bakewell", "", "M1 1AE", "tom.b@example.org", "", ""]]
    )
    write_csv(
        project / "b.csv", [HEADER, ["Tom", "Bakewell", "", "LS6 2AB", "", "07700 900777", ""]]
    )
    cfg = write_config(
        project,
        [_background(project), _source("a", "a.csv"), _source("b", "b.csv"), _source("c", "c.csv")],
    )
    write_csv(project / "c.csv", [HEADER])
    sync(load_config(cfg))
    db = project / "harvest.db"
    old = sorted(_people_of(db, "source IN ('a', 'b')"))
    assert len(old) == 2
    write_csv(
        project / "c.csv",
        [HEADER, ["Thomas", "Bakewell", "", "", "tom.b@example.org", "07700 900777", ""]],
    )
    _touch(project / "c.csv")
    sync(load_config(cfg))
    assert _people_of(db, "source IN ('a', 'b', 'c')") == {old[0]}
    assert query(db, "SELECT person_id FROM person_merges WHERE merged_id = ?", (old[1],)) == [
        (old[0],)
    ]
    assert scalar(db, "SELECT count(*) FROM people WHERE person_id = ?", (old[1],)) == 0
    store = connect(db)
    explained = explain_person(store, old[1])
    assert explained.person_id == old[0] and len(explained.records) == 3
    reasons = [p for j in explained.joins for p in j.comparisons]
    assert any(p[0] == "exact key" for p in reasons)
    store.close()


def test_matching_can_be_switched_off(project) -> None:
    write_csv(project / "a.csv", [HEADER, ["Tom", "Baker", "", "", "tom.b@example.org", "", ""]])
    cfg = write_config(project, [_source("a", "a.csv")], matching={"enabled": False})
    result = sync(load_config(cfg))
    assert result.matching.mode == "off" and result.exit_code == 0
    assert scalar(project / "harvest.db", "SELECT count(*) FROM match_runs") == 0


def test_thresholds_out_of_order_are_a_config_error() -> None:
    with pytest.raises(ValueError, match="review_above"):
        MatchingConfig(merge_above=0.5, review_above=0.9)
