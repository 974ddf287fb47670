"""Reviewing uncertain pairs: in the terminal, through a spreadsheet, and decisions that win."""

from __future__ import annotations

import os
import time
from pathlib import Path

import openpyxl
import pytest
from conftest import query, scalar, write_config, write_csv
from typer.testing import CliRunner

from harvest.cli import app
from harvest.config import MatchingConfig, load_config
from harvest.errors import ReviewError
from harvest.people import review
from harvest.people.decisions import calibrate
from harvest.store import connect
from harvest.sync import sync

runner = CliRunner()
HEADER = ["First name", "Surname", "Date of birth", "Postcode", "Email"]
ROWS = [
    ["Ann", "Lee", "01/02/1950", "M1 1AE", ""],
    ["Anne", "Lee", "", "M1 1AE", ""],
    ["Raj", "Patel", "05/06/1977", "B1 1AA", ""],
    ["Raj", "Patel", "", "B1 1AA", "rp@example.org"],
    ["Cy", "Ng", "09/09/1999", "LS1 4AP", ""],
    ["Cy", "Ng", "09/09/1999", "LS6 2AB", ""],
]
# Everything is uncertain: every candidate pair goes to the review queue.
ALL_UNCERTAIN = {"merge_above": 0.99999999999, "review_above": 0.000001, "exact_keys": []}


def _synced(
    project: Path, matching: dict, rows: list[list[str]] = ROWS, header: list[str] = HEADER
) -> tuple[Path, int]:
    """ROWS (or these rows) as one list, synced with these matching settings: the
    config's path, and the questions the sync said wait for review."""
    write_csv(project / "list.csv", [header, *rows])
    cfg = write_config(
        project,
        [{"name": "list", "type": "file", "options": {"path": "list.csv"}}],
        matching=matching,
    )
    return cfg, sync(load_config(cfg)).matching.review


@pytest.fixture
def queued(project: Path) -> Path:
    cfg, questions = _synced(project, ALL_UNCERTAIN)
    assert questions == len(_queue(cfg)) == 3
    assert scalar(project / "harvest.db", "SELECT count(*) FROM people") == 6
    return cfg


def _queue(cfg: Path, which=review.queue) -> list[review.Pair]:
    """The review queue (or, with ``which=review.joins``, the joins to check) of a store."""
    db = connect(load_config(cfg).database_path)
    try:
        return which(db)
    finally:
        db.close()


def _person(db: Path, given: str) -> set[int]:
    return {r[0] for r in query(db, "SELECT person_id FROM records WHERE given_name = ?", (given,))}


def _same_person(db: Path, record_a: int, record_b: int) -> bool:
    ids = query(db, "SELECT person_id FROM records WHERE id IN (?, ?)", (record_a, record_b))
    return len({r[0] for r in ids}) == 1


def _invoke(cfg: Path, *args: str, input: str | None = None):
    return runner.invoke(app, ["review", "-c", str(cfg), "--by", "tester", *args], input=input)


def test_terminal_review_records_same_different_and_skip(queued: Path) -> None:
    pairs = _queue(queued)
    result = _invoke(queued, input="s\nd\nk\n")
    assert result.exit_code == 0, result.output
    assert "Pair 1 of 3" in result.output and "✓ same" in result.output
    assert "✗ differs" in result.output or "—" in result.output
    assert "≈ similar" in result.output or "≈ nickname" in result.output  # Ann and Anne
    db = queued.parent / "harvest.db"
    assert query(db, "SELECT decision, decided_by, via FROM match_decisions ORDER BY id") == [
        ("same", "tester", "terminal"),
        ("different", "tester", "terminal"),
    ]
    assert _same_person(db, pairs[0].a.record_id, pairs[0].b.record_id)
    assert not _same_person(db, pairs[1].a.record_id, pairs[1].b.record_id)
    assert [p.key for p in _queue(queued)] == [pairs[2].key]  # the skipped one waits
    assert scalar(db, "SELECT count(*) FROM people") == 5


def test_undo_in_the_terminal_and_from_the_command_line(queued: Path) -> None:
    pairs = _queue(queued)
    result = _invoke(queued, input="s\nu\nd\nq\n")
    assert result.exit_code == 0, result.output
    db = queued.parent / "harvest.db"
    rows = query(db, "SELECT decision, undone_at IS NOT NULL FROM match_decisions ORDER BY id")
    assert rows == [("same", 1), ("different", 0)]
    assert not _same_person(db, pairs[0].a.record_id, pairs[0].b.record_id)
    assert _invoke(queued, "--undo").exit_code == 0
    assert scalar(db, "SELECT count(*) FROM match_decisions WHERE undone_at IS NULL") == 0
    assert pairs[0].key in [p.key for p in _queue(queued)]  # back in the queue


def test_decisions_win_over_the_score_for_good(queued: Path) -> None:
    pairs = _queue(queued)
    _invoke(queued, input="d\ns\nq\n")
    db = queued.parent / "harvest.db"
    # Now make every pair a definite match: the "different" one must still stay apart.
    project = queued.parent
    write_config(
        project,
        [{"name": "list", "type": "file", "options": {"path": "list.csv"}}],
        matching={"merge_above": 0.000002, "review_above": 0.000001},
    )
    assert runner.invoke(app, ["match", "--full", "-c", str(queued)]).exit_code == 0
    assert not _same_person(db, pairs[0].a.record_id, pairs[0].b.record_id)
    assert _same_person(db, pairs[2].a.record_id, pairs[2].b.record_id)
    # And back to nothing definite: the "same" one stays joined.
    write_config(
        project,
        [{"name": "list", "type": "file", "options": {"path": "list.csv"}}],
        matching=ALL_UNCERTAIN,
    )
    assert runner.invoke(app, ["match", "--full", "-c", str(queued)]).exit_code == 0
    assert _same_person(db, pairs[1].a.record_id, pairs[1].b.record_id)
    assert not _same_person(db, pairs[0].a.record_id, pairs[0].b.record_id)
    person = query(db, "SELECT person_id FROM records WHERE id = ?", (pairs[1].a.record_id,))[0][0]
    shown = runner.invoke(app, ["person", str(person), "-c", str(queued)])
    assert shown.exit_code == 0 and "marked same by tester" in shown.output
    assert runner.invoke(app, ["person", "99999", "-c", str(queued)]).exit_code == 1


def test_spreadsheet_round_trip(queued: Path, tmp_path: Path) -> None:
    path = tmp_path / "review.xlsx"
    result = _invoke(queued, "--export", str(path))
    assert result.exit_code == 0 and "3 pair(s)" in result.output
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Instructions", "Pairs"]
    assert "same person" in wb["Instructions"]["A3"].value
    ws = wb["Pairs"]
    header = [c.value for c in ws[1]]
    assert header[:5] == ["Pair", "Decision", "Probability", "Differs", "Alike"]
    alike = [ws.cell(r, 5).value for r in range(2, 5)]
    assert any(a and a.startswith("given name (") for a in alike), alike  # Ann and Anne
    assert "Given name (A)" in header and "Given name (B)" in header
    [validation] = ws.data_validations.dataValidation
    assert validation.formula1 == '"same,different,skip"' and "B2" in str(validation.sqref)
    keys = [ws.cell(r, 1).value for r in range(2, 5)]
    ws["B2"], ws["B3"], ws["B4"] = "same", "Different ", "skip"
    wb.save(path)
    result = _invoke(queued, "--import", str(path))
    assert result.exit_code == 0, result.output
    assert "Recorded 1 same and 1 different; 1 left for later" in result.output
    db = queued.parent / "harvest.db"
    assert query(db, "SELECT decision, via FROM match_decisions ORDER BY id") == [
        ("same", "spreadsheet"),
        ("different", "spreadsheet"),
    ]
    pairs = {p.key: p for p in review.queue(connect(db))}
    assert list(pairs) == [keys[2]]
    assert scalar(db, "SELECT count(*) FROM people") == 5


def test_bad_spreadsheet_rows_are_reported_and_the_good_ones_kept(
    queued: Path, tmp_path: Path
) -> None:
    path = tmp_path / "review.xlsx"
    _invoke(queued, "--export", str(path))
    wb = openpyxl.load_workbook(path)
    ws = wb["Pairs"]
    ws["B2"] = "maybe"
    ws["A3"], ws["B3"] = "not-a-pair", "same"
    ws["B4"] = "same"
    wb.save(path)
    result = _invoke(queued, "--import", str(path))
    assert result.exit_code == 1
    assert "row 2: 'maybe' is not same, different or skip" in result.output
    assert "row 3: pair 'not-a-pair'" in result.output
    assert "Recorded 1 same" in result.output
    assert scalar(queued.parent / "harvest.db", "SELECT count(*) FROM match_decisions") == 1


def test_a_file_that_is_not_a_review_workbook_is_refused(queued: Path, tmp_path: Path) -> None:
    bogus = tmp_path / "review.xlsx"
    bogus.write_bytes(b"not a workbook")
    result = _invoke(queued, "--import", str(bogus))
    assert result.exit_code == 1 and "could not be read as an Excel workbook" in result.output
    other = tmp_path / "other.xlsx"
    openpyxl.Workbook().save(other)
    assert "has no sheet called 'Pairs'" in _invoke(queued, "--import", str(other)).output


def test_decisions_recalibrate_the_thresholds(tmp_path: Path) -> None:
    db = connect(tmp_path / "h.db")
    rows = [
        (i, i + 1000, "same" if p >= 0.345 else "different", p, "2026-01-01")
        for i, p in enumerate([0.11 + 0.02 * k for k in range(30)])
    ]
    db.conn.executemany(
        "INSERT INTO match_decisions (profile_a, profile_b, decision, probability,"
        " decided_at) VALUES (?, ?, ?, ?, ?)",
        rows,
    )
    merge, review_above, notes = calibrate(db, MatchingConfig(review_above=0.1))
    assert merge == pytest.approx(0.35) and review_above == pytest.approx(0.33)
    assert "30 review decision(s); the model agreed with" in notes[0]
    assert any("lowered the merge threshold" in n for n in notes)
    fixed = calibrate(db, MatchingConfig(recalibrate=False))
    assert fixed[:2] == (0.8, 0.5)
    db.close()


def test_one_question_per_pair_of_people_and_none_after_different(project: Path) -> None:
    rows = [
        ["Ann", "Lee", "01/02/1950", "M1 1AE", "ann@example.org"],
        ["Ann", "Lee", "01/02/1950", "M1 1AE", ""],
        ["Anne", "Lee", "", "M1 1AE", ""],
    ]
    cfg, _ = _synced(project, ALL_UNCERTAIN, rows)
    settings = load_config(cfg).matching
    db_path = project / "harvest.db"
    db = connect(db_path)
    try:
        pairs = review.queue(db)
        assert len(pairs) == review.queue_size(db) == 3
        both_ann = next(
            p for p in pairs if not {p.a.values["given_name"], p.b.values["given_name"]} - {"Ann"}
        )
        review.decide(db, both_ann, "same", "tester", "terminal")
        review.apply(db, settings)
        # Anne is now uncertain against one person through two pairs of records: one question
        assert scalar(db_path, "SELECT count(*) FROM match_pairs WHERE status = 'review'") == 2
        pairs = review.queue(db)
        assert len(pairs) == review.queue_size(db) == 1
        review.decide(db, pairs[0], "different", "tester", "terminal")
        review.apply(db, settings)
        assert review.queue(db) == [] and review.queue_size(db) == 0
    finally:
        db.close()
    assert scalar(db_path, "SELECT count(DISTINCT person_id) FROM records") == 2


@pytest.fixture
def joined(project: Path) -> Path:
    """The same list matched with a low merge threshold: three people, each joined by
    the score (no exact keys)."""
    cfg, questions = _synced(project, {"merge_above": 0.3, "review_above": 0.1, "exact_keys": []})
    assert questions == 0
    assert scalar(project / "harvest.db", "SELECT count(DISTINCT person_id) FROM records") == 3
    return cfg


def _joins(cfg: Path) -> list[review.Pair]:
    return _queue(cfg, review.joins)


def test_automatic_joins_can_be_checked_and_a_different_splits_the_person(joined: Path) -> None:
    assert "harvest review --joins" in _invoke(joined).output  # the queue is empty: a hint
    before = _joins(joined)
    assert len(before) == 3  # one per person, the weakest first
    assert [p.probability for p in before] == sorted(p.probability for p in before)
    first = before[0]
    result = _invoke(joined, "--joins", input="d\ns\nk\n")
    assert result.exit_code == 0, result.output
    assert "Pair 1 of 3" in result.output and "2 decision(s) recorded" in result.output
    db = joined.parent / "harvest.db"
    assert not _same_person(db, first.a.record_id, first.b.record_id)  # split
    assert _same_person(db, before[1].a.record_id, before[1].b.record_id)  # confirmed
    assert [p.key for p in _joins(joined)] == [before[2].key]  # only the skipped one is left
    again = _invoke(joined, "--joins", "--limit", "1", input="s\n")
    assert again.exit_code == 0 and "Pair 1 of 1" in again.output
    assert "No automatic joins left to check" in _invoke(joined, "--joins").output


def test_automatic_joins_through_a_spreadsheet(joined: Path, tmp_path: Path) -> None:
    path = tmp_path / "joins.xlsx"
    result = _invoke(joined, "--joins", "--export", str(path))
    assert result.exit_code == 0 and "Wrote 3 pair(s)" in result.output
    wb = openpyxl.load_workbook(path)
    assert wb["Instructions"]["A1"].value == "Automatic joins to check"
    ws = wb["Pairs"]
    weakest = ws.cell(row=2, column=1).value
    ws.cell(row=2, column=2).value = "different"
    wb.save(path)
    result = _invoke(joined, "--import", str(path))
    assert result.exit_code == 0 and "Recorded 0 same and 1 different" in result.output
    pair = next(p for p in _joins_all(joined) if p.key == weakest)
    assert not _same_person(joined.parent / "harvest.db", pair.a.record_id, pair.b.record_id)


def _joins_all(cfg: Path) -> list[review.Pair]:
    """Every stored pair, decided or not."""

    def every(db) -> list[review.Pair]:
        keys = [f"{a}:{b}" for a, b in db.execute("SELECT profile_a, profile_b FROM match_pairs")]
        return [p for p in (review.find_pair(db, k) for k in keys) if p]

    return _queue(cfg, every)


def test_wrong_automatic_joins_raise_the_merge_threshold(tmp_path: Path) -> None:
    db = connect(tmp_path / "h.db")
    joins = [0.80 + 0.005 * k for k in range(20)]  # the four weakest were two people
    rows = [
        (i, i + 1000, "different" if p < 0.8175 else "same", p, "2026-01-01")
        for i, p in enumerate(joins)
    ]
    rows += [(100 + i, 2000 + i, "different", 0.999999, "2026-01-01") for i in range(5)]
    db.conn.executemany(
        "INSERT INTO match_decisions (profile_a, profile_b, decision, probability,"
        " decided_at) VALUES (?, ?, ?, ?, ?)",
        rows,
    )
    merge, _, notes = calibrate(db, MatchingConfig())
    assert merge == pytest.approx(0.82)  # joins from 0.82 up were all right
    assert any("raised the merge threshold to 0.8200" in n for n in notes)
    db.execute("UPDATE match_decisions SET decision = 'same' WHERE probability < 0.9")
    assert calibrate(db, MatchingConfig())[0] == 0.8  # right often enough: unchanged
    db.close()


def test_same_in_review_keeps_together_a_person_harvest_had_joined(project: Path) -> None:
    """March's Margaret, then April's Maggie (joined to her) and Margret (held for review):
    "same" to Margaret and Margret must keep all three one person, not move Maggie out."""
    months = {
        "march": [
            ["Margaret", "Doyle", "17/11/1948", "NW1 7QT", "020 7946 0412"],
            ["Tom", "Baker", "01/01/1960", "E8 3PN", ""],
            ["Ann", "Lee", "02/02/1950", "M1 1AE", ""],
        ],
        "april": [
            ["Maggie", "Doyle", "17/11/1948", "NW1 7QT", ""],
            ["Margret", "Doyle", "", "NW1 7QT", ""],
            ["Tom", "Baker", "01/01/1960", "E8 3PN", ""],
        ],
    }
    sources = []
    # Matching joins Margret too (a missing date of birth is no disagreement); a stricter
    # merge_above holds her for review while Maggie (same date of birth) is still joined.
    strict = {"merge_above": 0.9999999}
    for month, rows in months.items():  # March's sheet synced, then April's added
        write_csv(project / f"{month}.csv", [HEADER[:4] + ["Phone"], *rows])
        sources.append({"name": month, "type": "file", "options": {"path": f"{month}.csv"}})
        cfg = write_config(project, sources, matching=strict)
        sync(load_config(cfg))
    db = project / "harvest.db"
    assert _person(db, "Margaret") == _person(db, "Maggie") != _person(db, "Margret")
    [pair] = _queue(cfg)
    assert {pair.a.values["given_name"], pair.b.values["given_name"]} == {"Margaret", "Margret"}
    result = _invoke(cfg, input="s\ns\n")
    assert result.exit_code == 0, result.output
    assert _person(db, "Margaret") == _person(db, "Maggie") == _person(db, "Margret")
    assert "People now: 3; 0 pair(s) still to review" in result.output
    assert scalar(db, "SELECT count(*) FROM people") == 3
    assert scalar(db, "SELECT count(*) FROM match_pairs WHERE status = 'held'") == 0
    assert _queue(cfg) == []


def test_review_after_every_row_went_from_the_sheet(queued: Path) -> None:
    """Found by the invariant tests: with no current record left, the stored pairs still
    named profiles, and re-clustering them crashed on the empty arrays."""
    project = queued.parent
    write_csv(project / "list.csv", [HEADER])
    os.utime(project / "list.csv", ns=(time.time_ns() + 10**10, time.time_ns() + 10**10))
    assert not sync(load_config(queued)).matching.error
    result = _invoke(queued, input="q\n")
    assert result.exit_code == 0, result.output
    assert "People now: 0; 0 pair(s) still to review" in result.output


def test_decisions_on_non_uk_postcodes_outlive_the_postcode_being_kept(project: Path) -> None:
    """A store made before non-UK postcodes were kept (postcode_text) named these records'
    profiles without the postcode; once a re-sync keeps it, the decisions still hold."""
    header = [*HEADER, "Notes"]
    rows = [
        ["Siobhan", "Murphy", "01/02/1950", "D02 X285", "", ""],  # Irish Eircodes
        ["Siobhan", "Murphy", "01/02/1950", "D02 X285", "sm@example.org", ""],
        ["Ciara", "Walsh", "05/06/1977", "T12 Y4R6", "", ""],
        ["Ciara", "Walsh", "05/06/1977", "T12 Y4R6", "cw@example.org", ""],
    ]
    write_csv(project / "list.csv", [header, *rows])
    source = {"name": "list", "type": "file", "options": {"path": "list.csv"}}
    cfg = write_config(project, [source], matching=ALL_UNCERTAIN)
    sync(load_config(cfg))
    db = project / "harvest.db"
    conn = connect(db)  # as such a store was: the postcodes dropped, the pairs named so
    conn.execute("UPDATE records SET postcode_text = NULL")
    conn.conn.close()
    assert runner.invoke(app, ["match", "--full", "-c", str(cfg)]).exit_code == 0
    first = [p.b.values["family_name"] for p in _queue(cfg)]
    assert sorted(first) == ["Murphy", "Walsh"]
    result = _invoke(cfg, input="s\nd\n" if first[0] == "Murphy" else "d\ns\n")
    assert result.exit_code == 0, result.output
    assert len(_person(db, "Siobhan")) == 1
    # The rows change (a note), so the re-sync lands them again with their postcodes kept.
    write_csv(project / "list.csv", [header, *[[*r[:-1], "called"] for r in rows]])
    sync(load_config(cfg))
    assert scalar(db, "SELECT count(*) FROM records WHERE is_current AND postcode_text > ''") == 4
    current = "SELECT DISTINCT person_id FROM records WHERE is_current AND given_name = ?"
    assert len(query(db, current, ("Siobhan",))) == 1
    assert len(query(db, current, ("Ciara",))) == 2
    assert _queue(cfg) == []


def test_a_join_said_the_same_through_other_answers_is_not_asked_again(project: Path) -> None:
    """Sam's three records are joined by the score. "Same" on two of the joins settles the
    third; asked anyway, a "different" on it could not hold (found by test_invariants)."""
    header = [*HEADER, "Phone"]
    margaret = ["Margaret", "Doyle", "1948-11-17", "NW1 7QT", "md@example.org", "020 7946 0412"]
    sam = [
        ["Sam", "Patel", "2001-04-04", "B1 1AA", "", ""],
        ["Sam", "Patel", "", "B1 1AA", "", ""],
        ["Sam", "Patel", "", "B1 1AA", "sam@example.org", ""],
    ]
    john = ["John", "Smith", "1970-01-01", "E1 6AN", "", ""]
    matching = {"merge_above": 0.9995, "review_above": 0.05, "exact_keys": ["email"]}
    cfg, _ = _synced(project, matching, [*[margaret] * 5, john, *sam], header)
    settings = load_config(cfg).matching
    db = connect(load_config(cfg).database_path)
    try:
        for _ in range(2):
            review.decide(db, review.joins(db)[0], "same", "tester", "terminal")
            review.apply(db, settings)
        sams = {r for (r,) in db.execute("SELECT id FROM records WHERE given_name = 'Sam'")}
        assert not [p for p in review.joins(db) if p.a.record_id in sams]  # settled: not asked
        decided = {
            f"{a}:{b}" for a, b in db.execute("SELECT profile_a, profile_b FROM match_decisions")
        }
        stored = db.execute("SELECT profile_a, profile_b FROM match_pairs").fetchall()
        pairs = [review.find_pair(db, f"{a}:{b}") for a, b in stored]
        third = next(p for p in pairs if p and p.key not in decided and p.a.record_id in sams)
        with pytest.raises(ReviewError, match="already say these are the same person"):
            review.decide(db, third, "different", "tester", "terminal")
        book = openpyxl.Workbook()
        book.active.title = "Pairs"
        book.active.append(["Pair", "Decision"])
        book.active.append([third.key, "different"])  # a sheet exported before the answers
        book.save(project / "old.xlsx")
        result = review.import_xlsx(db, project / "old.xlsx", "tester")
        assert result.recorded == 0
        assert result.problems == [f"old.xlsx row 2: {_said_same(third.key)}"]
        review.apply(db, settings)
        assert len(_people_called(db, "Sam")) == 1
        first = review.find_pair(db, decided.pop())
        assert first is not None  # a pair's own answer can be changed: the new one replaces it
        review.decide(db, first, "different", "tester", "terminal")
        review.apply(db, settings)
        assert not _same_person(project / "harvest.db", first.a.record_id, first.b.record_id)
    finally:
        db.conn.close()


def _people_called(db, given: str) -> set[int]:
    sql = "SELECT person_id FROM records WHERE given_name = ?"
    return {p for (p,) in db.execute(sql, [given])}


def _said_same(key: str) -> str:
    return (
        f"pair {key}: earlier answers already say these are the same person, so 'different'"
        " would contradict them; undo those first (harvest review --undo)"
    )


def test_the_terminal_refuses_an_answer_that_contradicts_earlier_ones(project: Path) -> None:
    """Three records, a question for each pair: "same", "same" settle the third."""
    rows = [
        ["Ann", "Lee", "01/02/1950", "M1 1AE", ""],
        ["Anne", "Lee", "", "M1 1AE", ""],
        ["Ann", "Lee", "", "M1 1AE", "ann@example.org"],
    ]
    cfg, _ = _synced(project, ALL_UNCERTAIN, rows)
    assert len(_queue(cfg)) == 3
    result = _invoke(cfg, input="s\ns\nd\n")
    assert result.exit_code == 0, result.output
    assert "earlier answers already say these" in result.output
    assert "2 decision(s) recorded" in result.output
    assert scalar(project / "harvest.db", "SELECT count(DISTINCT person_id) FROM records") == 1
