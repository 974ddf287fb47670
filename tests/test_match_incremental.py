"""A re-sync's match from the kept profiles gives exactly what reading every record gives."""

from __future__ import annotations

import dataclasses
import os
import sqlite3
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import query, scalar, write_config, write_csv

from harvest import store
from harvest.config import load_config
from harvest.dataprotection.erasure import Who, find_person, forget
from harvest.people import match, match_cache, match_load
from harvest.people.features import IDENTITY, build_features
from harvest.people.review import apply, decide, find_pair
from harvest.sync import sync

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from gen_people import generate  # noqa: E402

MAPPING = {"ID": "source_record_id", "Person": None}
ROWS = generate(660, seed=3)
ROWS[599] = dict(ROWS[0], ID="again-0")  # the first profile has a later record too
HEADER = list(ROWS[0])


def _write(path: Path, rows: list[dict]) -> None:
    write_csv(path, [HEADER] + [list(r.values()) for r in rows])
    stamp = time.time_ns() + 2 * 10**9
    os.utime(path, ns=(stamp, stamp))


def _project(folder: Path, **matching) -> Path:
    folder.mkdir()
    _write(folder / "a.csv", ROWS[:600])
    _write(folder / "b.csv", [])
    sources = [
        {"name": n, "type": "file", "options": {"path": f"{n}.csv"}, "mapping": MAPPING}
        for n in ("a", "b")
    ]
    return write_config(folder, sources, matching=matching or {"enabled": True})


def _forget_cache(folder: Path) -> None:
    """What the store would be without a cache: the next match reads every record."""
    conn = sqlite3.connect(folder / "harvest.db")
    with conn:
        conn.execute("DELETE FROM match_cache")
    conn.close()


def _state(folder: Path) -> dict:
    db = folder / "harvest.db"
    return {
        "records": query(db, "SELECT id, person_id, is_current FROM records ORDER BY id"),
        "pairs": query(
            db,
            "SELECT profile_a, profile_b, record_a, record_b, round(probability, 9), status,"
            " comparisons FROM match_pairs ORDER BY 1, 2",
        ),
        "people": query(
            db,
            "SELECT person_id, given_name, family_name, email, record_count, sources"
            " FROM people ORDER BY 1",
        ),
        "merges": query(db, "SELECT merged_id, person_id FROM person_merges ORDER BY 1"),
        "runs": query(db, "SELECT mode, links, review, people, merged_people FROM match_runs"),
    }


def _with(cfg, **matching):
    return cfg.model_copy(update={"matching": cfg.matching.model_copy(update=matching)})


def _resync(folder: Path, edit) -> None:
    edit(folder)
    result = sync(load_config(folder / "harvest.yaml"))
    assert result.matching and not result.matching.error, result.matching


@pytest.fixture
def no_full_reads(monkeypatch):
    """Call it to make a match fail if it reads every record or re-clusters everyone."""

    def refuse(*args, **kwargs):
        raise AssertionError("the whole store was read or re-clustered")

    def guard():
        monkeypatch.setattr(match, "load", refuse)  # where match_people looks it up
        monkeypatch.setattr(match_load, "load", refuse)  # and _load_any, without a cache
        monkeypatch.setattr(match, "recluster", refuse)

    return guard


def _both(tmp_path: Path, edits: list, no_full_reads=None, **matching) -> tuple[dict, dict]:
    """The same syncs twice: with the kept profiles, and reading every record each time."""
    fast, slow = tmp_path / "fast", tmp_path / "slow"
    for folder in (fast, slow):
        sync(load_config(_project(folder, **matching)))
    for edit in edits:
        _forget_cache(slow)
        _resync(slow, edit)
    if no_full_reads:
        no_full_reads()
    for edit in edits:
        _resync(fast, edit)
    return _state(fast), _state(slow)


def _add_new(folder: Path) -> None:
    _write(folder / "b.csv", ROWS[600:])


def _change_and_drop(folder: Path) -> None:
    rows = [dict(r) for r in ROWS[:600]]
    rows[0]["Email"] = "a.new.address@example.org"  # the first profile's first record goes
    rows[10]["Email"] = "someone.else@example.org"  # a new version of the row
    rows[20]["First name"] = rows[20]["First name"] + "a"
    del rows[30]  # gone from the file: no longer current
    _write(folder / "a.csv", rows)
    _write(folder / "b.csv", ROWS[600:630])


def _bring_back(folder: Path) -> None:
    _write(folder / "a.csv", ROWS[:600])  # the dropped row is back, the old versions too
    _write(folder / "b.csv", ROWS[600:])


# --- the features ------------------------------------------------------------------------


def _assert_same_features(one, other) -> None:
    for f in dataclasses.fields(one):
        a, b = getattr(one, f.name), getattr(other, f.name)
        if isinstance(a, np.ndarray):
            assert a.dtype == b.dtype and np.array_equal(a, b), f.name
        elif isinstance(a, dict):
            assert a.keys() == b.keys(), f.name
            for k in a:
                assert np.array_equal(a[k], b[k]), (f.name, k)
        else:
            assert a == b, f.name


def _columns(rows: list[tuple]) -> dict[str, list]:
    return {f: [r[i] for r in rows] for i, f in enumerate(IDENTITY)}


def test_kept_profiles_make_the_features_every_record_makes(tmp_path: Path) -> None:
    people = [
        ("Ann", "Lee", "1950-02-01", "M1 1AE", "office@example.org", None, "1 High St"),
        ("Bob", "Lee", "1900-01-01", "M1 1AE", "office@example.org", "07700900001", None),
        ("Cy", "Ng", "not a date", "LS1 4AP", "office@example.org", "07700900001", ""),
        ("", "Roe", None, "", "none@none.com", "07777777777", None),
        ("Ann", "Lee", "1950-02-01", "M1 1AE", "office@example.org", None, "1 High St"),
        ("Di", "Poe", "1960-05-06", "B1 1AA", "office@example.org", None, None),
        ("Ed", "Hart", "1970-07-08", "B1 1AB", "office@example.org", None, None),
        ("Di", "Poe", "1960-05-06", "B1 1AA", "", None, None),
        ("Flo", None, None, None, None, None, None),
    ]
    feats = build_features(_columns(people), shared_limit=3)
    ids = np.arange(1, len(people) + 1, dtype=np.int64)
    hashes = np.array([match.profile_hash(p) for p in feats.profiles], np.int64)
    kept = match_cache.from_load(feats, ids, hashes)
    db = store.connect(tmp_path / "harvest.db")
    assert match_cache.write(db, kept)
    again = match_cache.features(match_cache.read(db), shared_limit=3)
    feats.profiles = []
    _assert_same_features(again, feats)
    db.conn.close()


def test_kept_profiles_brought_up_to_date_make_the_same_features(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    sync(load_config(_project(folder)))
    _change_and_drop(folder)
    cfg = _with(load_config(folder / "harvest.yaml"), enabled=False)
    sync(cfg)
    db = store.connect(folder / "harvest.db")
    cached = match.load_cached(db, cfg.matching, match_cache.read(db))
    full = match.load(db, cfg.matching)
    _assert_same_features(cached.feats, full.feats)
    assert np.array_equal(cached.ids, full.ids) and np.array_equal(cached.hashes, full.hashes)
    assert len(cached.changes.gone) == 4 and len(cached.changes.vanished) >= 1
    db.conn.close()
    _bring_back(folder)
    sync(cfg)
    db = store.connect(folder / "harvest.db")
    cached = match.load_cached(db, cfg.matching, match_cache.read(db))
    _assert_same_features(cached.feats, match.load(db, cfg.matching).feats)
    assert len(cached.changes.back) >= 4
    with store.transaction(db):  # the same values, but '' where there was no postcode
        db.execute(
            """INSERT INTO records (id, source, source_key, person_id, given_name, family_name,
                 date_of_birth, postcode, email, phone, address, synced_at)
               SELECT (SELECT max(id) + 1 FROM records), source, 'blank', person_id, given_name,
                 family_name, date_of_birth, '', email, phone, address, synced_at
               FROM records WHERE postcode IS NULL AND is_current = 1 LIMIT 1"""
        )
    cached = match.load_cached(db, cfg.matching, match_cache.read(db))
    full = match.load(db, cfg.matching)
    _assert_same_features(cached.feats, full.feats)
    assert cached.feats.n == full.feats.n == len(set(full.hashes.tolist())) + 1
    db.conn.close()


def test_kept_profiles_grow_in_parts_and_are_written_whole_again(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setattr(match_cache, "SEGMENTS", 3)
    folder = tmp_path / "p"
    cfg = load_config(_project(folder))
    sync(cfg)
    names = []
    for more in (10, 20, 30, 40):
        _write(folder / "b.csv", ROWS[600 : 600 + more])
        sync(cfg)
        db = store.connect(folder / "harvest.db")
        rows = db.execute("SELECT name FROM match_cache").fetchall()
        names.append(sorted({r[0].split(":")[0] for r in rows}))
        kept = match_cache.read(db)
        _assert_same_features(match_cache.features(kept, 5), match.load(db, cfg.matching).feats)
        db.conn.close()
    assert names == [
        ["p000", "p001", "stamp"],
        ["p000", "p001", "p002", "stamp"],
        ["p000", "stamp"],
        ["p000", "p001", "stamp"],
    ]


# --- whole re-syncs ----------------------------------------------------------------------


def test_a_resync_gives_what_reading_every_record_gives(tmp_path: Path, no_full_reads) -> None:
    fast, slow = _both(tmp_path, [_add_new], no_full_reads)
    assert fast == slow
    assert [r[0] for r in fast["runs"]] == ["full", "incremental"]


def test_changed_dropped_and_returning_rows_give_the_same_people(
    tmp_path: Path, no_full_reads
) -> None:
    fast, slow = _both(tmp_path, [_change_and_drop, _bring_back], no_full_reads)
    assert fast == slow
    assert scalar(tmp_path / "fast" / "harvest.db", "SELECT count(*) FROM match_flips") == 0


def test_a_new_record_joins_its_person_and_nobody_else_is_renumbered(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    sync(load_config(_project(folder)))
    db = folder / "harvest.db"
    before = dict(query(db, "SELECT id, person_id FROM records"))
    at = next(i for i, r in enumerate(ROWS) if r["Email"] and r["Date of birth"])
    again = dict(ROWS[at], ID="new-1", Phone="07700 900321")  # one more sign-up, a new phone
    _resync(folder, lambda f: _write(f / "b.csv", [again]))
    after = dict(query(db, "SELECT id, person_id FROM records"))
    assert {k: after[k] for k in before} == before
    [new_id] = set(after) - set(before)
    assert after[new_id] == before[sorted(before)[at]]
    assert query(db, "SELECT mode FROM match_runs ORDER BY id")[-1] == ("incremental",)


def _office(names: list[tuple[str, str]]) -> list[dict]:
    blank = {"Date of birth": "", "Postcode": "", "Phone": "", "Address": ""}
    return [
        dict(ROWS[0], ID=f"office-{given}-{family}", **blank, Email="office@charity.example.org")
        | {"First name": given, "Surname": family}
        for given, family in names
    ]


def test_an_email_turning_shared_and_ids_given_by_exact_key(tmp_path: Path, no_full_reads) -> None:
    """Bo Khan's two records are one person by their email until five names share it;
    then each record is on its own. 'Ann Marie' Lee lands with Ann Lee's person id (the
    same first name, surname and email), but the email no longer joins them."""
    first = _office([("Bo", "Khan"), ("Bo James", "Khan"), ("Ann", "Lee"), ("Cy", "Ng")])

    def setup(folder: Path) -> None:
        _write(folder / "a.csv", ROWS[:600] + first)

    def shared(folder: Path) -> None:
        _write(folder / "b.csv", ROWS[600:] + _office([("Di", "Roe"), ("Ed", "Poe")]))

    def ann(folder: Path) -> None:
        later = _office([("Di", "Roe"), ("Ed", "Poe"), ("Ann Marie", "Lee")])
        _write(folder / "b.csv", ROWS[600:] + later)

    fast, slow = _both(tmp_path, [setup, shared, ann], no_full_reads)
    assert fast == slow
    db = tmp_path / "fast" / "harvest.db"
    office = "email = 'office@charity.example.org'"
    assert scalar(db, f"SELECT count(DISTINCT person_id) FROM records WHERE {office}") == 7


def _person(given: str, family: str, dob: str, postcode: str = "", email: str = "") -> dict:
    values = {"First name": given, "Surname": family, "Date of birth": dob}
    values |= {"Postcode": postcode, "Email": email, "Phone": "", "Address": ""}
    return dict(ROWS[0], ID=f"{given}-{family}-{postcode}{email}", **values)


def test_people_judged_anew_when_new_records_make_a_name_less_rare(
    tmp_path: Path, no_full_reads
) -> None:
    """Zebedee and Zebedie Quist are one person while 'Zebedie' looks like a rare mistyping
    of 'Zebedee'. Two strangers with those first names make both names less rare: the
    household guard may then judge the Quists differently, though no new record is
    theirs, and the re-sync must do what re-clustering everyone does."""
    quists = [
        _person(given, "Quist", "01/01/1980", postcode=pc, email=email)
        for given in ("Zebedee", "Zebedie")
        for pc, email in (("M1 1AE", ""), ("", "zq@example.org"))
    ]

    def setup(folder: Path) -> None:
        _write(folder / "a.csv", ROWS[:600] + quists)

    def strangers(folder: Path) -> None:
        others = [
            _person("Zebedee", "Jones", "02/02/1990", postcode="LS1 4AP"),
            _person("Zebedie", "Brown", "03/03/1970", postcode="B1 1AA"),
        ]
        _write(folder / "b.csv", others)

    fast, slow = _both(tmp_path, [setup, strangers], no_full_reads)
    assert fast == slow


def test_thresholds_changed_in_the_settings_re_cluster_everyone(tmp_path: Path) -> None:
    fast, slow = tmp_path / "fast", tmp_path / "slow"
    for folder in (fast, slow):
        sync(load_config(_project(folder)))
        _add_new(folder)
    _forget_cache(slow)
    for folder in (fast, slow):
        result = sync(_with(load_config(folder / "harvest.yaml"), merge_above=0.99999))
        assert result.matching.mode == "incremental"
    assert _state(fast) == _state(slow)


def test_review_decisions_between_syncs_are_kept(tmp_path: Path) -> None:
    fast, slow = tmp_path / "fast", tmp_path / "slow"
    for folder in (fast, slow):
        sync(load_config(_project(folder)))
        db = store.connect(folder / "harvest.db")
        a, b = db.execute(
            "SELECT profile_a, profile_b FROM match_pairs WHERE status = 'link'"
            " ORDER BY probability, profile_a LIMIT 1"
        ).fetchone()
        decide(db, find_pair(db, f"{a}:{b}"), "different", "tester", "test")
        apply(db, load_config(folder / "harvest.yaml").matching)
        db.conn.close()
    _forget_cache(slow)
    for folder in (fast, slow):
        _resync(folder, _add_new)
    assert _state(fast) == _state(slow)
    assert "decided" in {p[5] for p in _state(fast)["pairs"]}


def test_forget_after_an_incremental_match_leaves_no_trace(tmp_path: Path) -> None:
    fast, slow = _both(tmp_path, [_add_new])
    target = next(r for r in ROWS[600:] if r["Email"])
    secrets = [target["Email"]]
    for folder in (tmp_path / "fast", tmp_path / "slow"):
        cfg = load_config(folder / "harvest.yaml")
        db = store.connect(cfg.database_path)
        plan = find_person(db, Who(email=target["Email"]))
        db.conn.close()
        forget(cfg, plan)
        assert scalar(cfg.database_path, "SELECT count(*) FROM match_cache") == 0
        data = b"".join(p.read_bytes() for p in folder.glob("harvest.db*"))
        assert not any(s.encode() in data for s in secrets)
    _resync(tmp_path / "fast", lambda f: _write(f / "b.csv", ROWS[600:] + ROWS[:5]))
    _resync(tmp_path / "slow", lambda f: _write(f / "b.csv", ROWS[600:] + ROWS[:5]))
    assert _state(tmp_path / "fast") == _state(tmp_path / "slow")


def _edit_and_add_at_a_known_postcode(folder: Path) -> None:
    """One ordinary edit (its old version stops being current) and one new row whose
    postcode is already known: no new postcode, sector or district to code."""
    rows = [dict(r) for r in ROWS[:600]]
    rows[5]["Email"] = "changed@example.org"
    _write(folder / "a.csv", rows)
    known = next(r["Postcode"] for r in ROWS[:600] if r["Postcode"])
    _write(folder / "b.csv", [dict(ROWS[600], ID="new-1", Postcode=known)])


def test_an_edit_and_a_row_at_a_known_postcode_match_as_reading_everything_does(
    tmp_path: Path, no_full_reads
) -> None:
    fast, slow = _both(tmp_path, [_edit_and_add_at_a_known_postcode], no_full_reads)
    assert fast == slow
    assert [r[0] for r in fast["runs"]] == ["full", "incremental"]


def test_the_demo_edited_and_synced_again_keeps_matching(tmp_path: Path) -> None:
    """The issue's example: a fresh demo, one food-bank row changed and one new row at a
    postcode already known; every later sync used to fail until `harvest match --full`."""
    from typer.testing import CliRunner

    from harvest.cli import app

    runner = CliRunner()
    folder = tmp_path / "demo"
    assert runner.invoke(app, ["demo", "--dir", str(folder), "--no-serve"]).exit_code == 0
    path = folder / "food-bank-referrals.csv"
    text = path.read_text(encoding="utf-8")
    text = text.replace("Jobcentre Plus,", "Jobcentre Plus Camden,", 1)
    text += "Zara,Newman,NW1 7QT,1990-01-01,07700900999,Self-referral,Irish,2026-04-01\n"
    path.write_text(text, encoding="utf-8")
    cfg = str(folder / "harvest.yaml")
    outputs = []
    for _ in range(2):
        result = runner.invoke(app, ["sync", "-c", cfg, "--no-progress"])
        assert result.exit_code == 0, result.output
        outputs.append(result.output)
    assert "matching (incremental)" in outputs[0] and "people unchanged" in outputs[1]
    db = folder / "harvest.db"
    people = query(db, "SELECT id, person_id FROM records WHERE is_current = 1 ORDER BY id")
    assert runner.invoke(app, ["match", "--full", "-c", cfg]).exit_code == 0
    assert query(db, "SELECT id, person_id FROM records WHERE is_current = 1 ORDER BY id") == people


def test_a_row_landing_after_the_newest_rows_were_forgotten_is_matched(tmp_path: Path) -> None:
    """Found by the invariant tests: erasure freed the highest ids, the next row landed
    with one of them, and matching, which goes by ids, took it as matched already."""
    header = ["First name", "Surname", "Postcode", "Date of birth", "Email"]
    sam = ["Sam", "Patel", "B1 1AA", "2001-04-04", ""]
    ann = ["Ann", "Lee", "M1 1AE", "1950-02-01", "ann@example.org"]
    write_csv(tmp_path / "list.csv", [header, sam, ann])
    cfg = load_config(
        write_config(tmp_path, [{"name": "list", "type": "file", "options": {"path": "list.csv"}}])
    )
    sync(cfg)
    db = store.connect(cfg.database_path)
    plan = find_person(db, Who(email="ann@example.org"))
    db.conn.close()
    forget(cfg, plan)
    _write_later(tmp_path / "list.csv", [header, sam, ann, ["Sam", "Patel", "B1 1AA", "", ""]])
    assert not sync(cfg).matching.error
    ids = query(cfg.database_path, "SELECT id, person_id FROM records ORDER BY id")
    assert [i for i, _ in ids] == [1, 3]  # id 2 was Ann's: never given again
    assert len({p for _, p in ids}) == 1  # the new Sam row joined Sam


def _write_later(path: Path, rows: list[list[str]]) -> None:
    write_csv(path, rows)
    stamp = time.time_ns() + 5 * 10**9
    os.utime(path, ns=(stamp, stamp))
