"""Erasure (UK GDPR article 17): find a person's rows, show them, and remove them for good.

``find_person`` turns what the person told you (a person id, an email, a phone, or a name
with a date of birth) into a ``Plan``: every version of every row that is theirs. Found
by a detail rather than an id, only their own records go: another record that matching
joined to them by mistake (a different name, no shared email or phone) stays, and the
cluster is split. ``forget`` then, in one transaction, deletes the raw rows, records,
attendances, outcomes, data problems, match pairs and review decisions, removes or
refreshes the people, keeps tombstones of the rows and of the person's identity (see
``tombstones.py`` and ``identity.py``) and records the erasure as unfinished; afterwards
it vacuums the store and rebuilds funders.db, so the bytes are gone from disk, and only
then marks the erasure complete (``pending.py``, which also finishes one a crash
interrupted, and queues one asked for while a sync runs). ``erase`` is the deletion
itself, shared with retention.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlite_utils

from harvest.errors import NotFoundError
from harvest.landing import person_keys
from harvest.normalise.clean import clean_email, clean_phone, clean_value
from harvest.normalise.standard import load_standard
from harvest.people.features import family_key, given_key

SHOWN = ("given_name", "family_name", "date_of_birth", "email", "phone", "postcode")
IDENTITY = ("given_name", "family_name", "date_of_birth", "email", "phone")


@dataclass
class Who:
    """What the person told us about themselves."""

    person_id: int | None = None
    email: str | None = None
    phone: str | None = None
    name: str | None = None
    date_of_birth: str | None = None

    def describe(self) -> str:  # for messages to the operator only, never the audit log
        parts = [
            f"person {self.person_id}" if self.person_id else "",
            self.email or "",
            self.phone or "",
            f"{self.name} born {self.date_of_birth}" if self.name else "",
        ]
        return ", ".join(p for p in parts if p)


@dataclass
class Erased:
    raw_rows: int = 0
    records: int = 0
    attendances: int = 0
    outcomes: int = 0
    issues: int = 0
    match_pairs: int = 0
    decisions: int = 0
    people_removed: int = 0
    people_split: int = 0
    tombstones: int = 0
    sources: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Plan:
    raw_ids: list[int]
    records: list[dict[str, Any]]  # one per raw row version, for showing
    person_ids: list[int]
    preview: Erased = field(default_factory=Erased)


def resolve(db: sqlite_utils.Database, person_id: int) -> int:
    """Follow merges: the person an old id now belongs to."""
    seen = set()
    while person_id not in seen:
        seen.add(person_id)
        row = db.execute(
            "SELECT person_id FROM person_merges WHERE merged_id = ?", [person_id]
        ).fetchone()
        if not row:
            break
        person_id = row[0]
    return person_id


def _clean(field_name: str, text: str) -> Any:
    value, problem = clean_value(load_standard().field(field_name), text)
    if problem or value is None:
        raise NotFoundError(f"{text!r} is not a {field_name.replace('_', ' ')} harvest can read.")
    return value


def _seed(db: sqlite_utils.Database, who: Who) -> set[int]:
    """Record ids (any version) matching any of the details given."""
    ids: set[int] = set()
    q = "SELECT id FROM records WHERE "
    if who.person_id is not None:
        pid = resolve(db, who.person_id)
        ids |= {r[0] for r in db.execute(q + "person_id = ?", [pid]).fetchall()}
    if who.email:
        email = clean_email(who.email.strip())[0] or who.email.strip().lower()
        ids |= {r[0] for r in db.execute(q + "lower(email) = ?", [email]).fetchall()}
    if who.phone:
        phone = clean_phone(who.phone.strip())[0] or who.phone.strip()
        ids |= {r[0] for r in db.execute(q + "phone = ?", [phone]).fetchall()}
    if who.name or who.date_of_birth:
        if not (who.name and who.date_of_birth):
            raise NotFoundError("Give a name together with a date of birth (--name and --dob).")
        ids |= _by_name_dob(db, who.name, _clean("date_of_birth", who.date_of_birth))
    return ids


def _by_name_dob(db: sqlite_utils.Database, name: str, dob: str) -> set[int]:
    words = name.split()
    want = (given_key(words[0]), family_key(words[-1])) if len(words) > 1 else (None, None)
    if None in want:
        raise NotFoundError("Give a given name and a family name, e.g. --name 'Ann Lee'.")
    rows = db.execute(
        "SELECT id, given_name, family_name FROM records WHERE date_of_birth = ?", [dob]
    ).fetchall()
    return {i for i, g, f in rows if g and f and (given_key(g), family_key(f)) == want}


def _same_identity(a: dict, b: dict) -> bool:
    """Two records plainly about the same individual: same names, or same email or phone."""

    def names(r: dict) -> tuple:
        return (given_key(r["given_name"] or "") or None, family_key(r["family_name"] or ""))

    if names(a)[0] and names(a) == names(b):
        return True
    return any(a[k] and a[k] == b[k] for k in ("email", "phone"))


def _rows(db: sqlite_utils.Database, where: str, params: list) -> list[dict[str, Any]]:
    cols = ", ".join(f"c.[{f}]" for f in SHOWN)
    cur = db.execute(
        f"""SELECT r.id, r.source, r.source_key, r.version, r.location, r.row_number,
                   r.first_seen, r.last_seen, c.person_id, c.is_current, {cols}
            FROM raw_rows r LEFT JOIN records c ON c.id = r.id WHERE {where} ORDER BY r.id""",
        params,
    )
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def find_person(db: sqlite_utils.Database, who: Who) -> Plan:
    """Every version of every row about this person; NotFoundError when there is none."""
    seed = _seed(db, who)
    if not seed:
        raise NotFoundError(
            f"Nobody in the store matches {who.describe() or 'nothing given'}: "
            "nothing was changed. Check the spelling, or try another detail."
        )
    marks = ",".join("?" * len(seed))
    mine = _rows(db, f"r.id IN ({marks})", list(seed))
    people = sorted({r["person_id"] for r in mine if r["person_id"] is not None})
    if who.person_id is None and people:  # their other records, unless joined by mistake
        others = _rows(db, f"c.person_id IN ({','.join('?' * len(people))})", people)
        mine += [
            o for o in others if o["id"] not in seed and any(_same_identity(o, m) for m in mine)
        ]
    keys = sorted({(r["source"], r["source_key"]) for r in mine})
    every = [r for k in keys for r in _rows(db, "r.source = ? AND r.source_key = ?", list(k))]
    return Plan([r["id"] for r in every], every, people)


# --- the deletion ---------------------------------------------------------------------


def _gone(db: sqlite_utils.Database, raw_ids: list[int]) -> None:
    db.execute("CREATE TEMP TABLE IF NOT EXISTS gone (id INTEGER PRIMARY KEY)")
    db.execute("DELETE FROM temp.gone")
    db.conn.executemany("INSERT OR IGNORE INTO temp.gone VALUES (?)", [(i,) for i in raw_ids])


def _delete(db: sqlite_utils.Database, table: str, where: str) -> int:
    return db.execute(f"DELETE FROM {table} WHERE {where}").rowcount


def erase(db: sqlite_utils.Database, raw_ids: list[int], key: bytes | None = None) -> Erased:
    """Delete these raw rows and everything derived from them; the caller holds the
    transaction. With ``key``, each row is remembered as a tombstone."""
    from harvest.dataprotection.tombstones import bury, bury_identities
    from harvest.people.write import refresh

    out = Erased()
    _gone(db, raw_ids)
    in_gone = "IN (SELECT id FROM temp.gone)"
    rows = db.execute(
        f"SELECT source, source_key, content_hash FROM raw_rows WHERE id {in_gone}"
    ).fetchall()
    out.sources = sorted({r[0] for r in rows})
    cols = ", ".join(f"[{f}]" for f in IDENTITY)
    recs = db.execute(f"SELECT person_id, {cols} FROM records WHERE id {in_gone}").fetchall()
    people = {r[0] for r in recs if r[0] is not None}
    identities = [dict(zip(IDENTITY, r[1:], strict=True)) for r in recs]
    keys = {k for rec in identities for k in person_keys(rec)}
    out.attendances = _delete(db, "attendances", f"record_id {in_gone}")
    out.outcomes = _delete(db, "outcomes", f"record_id {in_gone}")
    out.issues = _delete(db, "issues", f"record_id {in_gone}")
    out.match_pairs = _delete(db, "match_pairs", f"record_a {in_gone} OR record_b {in_gone}")
    out.decisions = _delete(db, "match_decisions", f"record_a {in_gone} OR record_b {in_gone}")
    out.records = _delete(db, "records", f"id {in_gone}")
    out.raw_rows = _delete(db, "raw_rows", f"id {in_gone}")
    db.conn.executemany("DELETE FROM person_keys WHERE key = ?", [(k,) for k in keys])
    split = _tidy_people(db, people, out)
    refresh(db, split, None)
    if key is not None:  # erasure, not retention: remember the rows and the person
        out.tombstones = bury(db, key, rows) + bury_identities(db, key, identities)
    db.execute("DELETE FROM temp.gone")
    return out


def _tidy_people(db: sqlite_utils.Database, people: set[int], out: Erased) -> list[int]:
    """Remove people with no records left; return those who keep some (to refresh)."""
    split = []
    for pid in sorted(people):
        db.execute("DELETE FROM people WHERE person_id = ?", [pid])
        if db.execute("SELECT 1 FROM records WHERE person_id = ? LIMIT 1", [pid]).fetchone():
            split.append(pid)
            continue
        out.people_removed += 1
        merged = [
            r[0]
            for r in db.execute(
                "SELECT merged_id FROM person_merges WHERE person_id = ?", [pid]
            ).fetchall()
        ]
        for old in [pid, *merged]:
            db.execute("DELETE FROM person_keys WHERE person_id = ?", [old])
        db.execute("DELETE FROM person_merges WHERE person_id = ? OR merged_id = ?", [pid, pid])
    out.people_split = len(split)
    return split


def vacuum(path: Path) -> None:
    """Rebuild a SQLite file so deleted rows are gone from its pages, its WAL emptied."""
    if not path.is_file():
        return
    with closing(sqlite3.connect(path, isolation_level=None, timeout=30)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("VACUUM")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


# --- the whole operation ----------------------------------------------------------------


@dataclass
class ForgetResult:
    erased: Erased
    published: bool
    files: list[Path]
    queued: Path | None = None  # the request's file, when a sync was running

    def summary(self) -> str:
        if self.queued is not None and not self.queued.exists():
            return "The sync that was running finished meanwhile, and the erasure was done."
        if self.queued is not None:
            return (
                "A sync is running now, so this erasure was queued: that sync does it before it "
                "finishes (or the next `harvest sync`, `publish` or `forget`, if it stops first). "
                "`harvest audit --action forget` shows when it is complete."
            )
        e = self.erased
        lines = [
            f"Forgotten: {e.records} record(s) ({e.raw_rows} raw row version(s)), "
            f"{e.attendances} attendance(s), {e.outcomes} outcome(s), {e.decisions} review "
            f"decision(s), {e.issues} data problem(s); {e.people_removed} person(s) removed"
            + (
                f", {e.people_split} kept with their other records (cluster split)"
                if e.people_split
                else ""
            )
            + ".",
            "The store was vacuumed"
            + (" and funders.db rebuilt" if self.published else "")
            + ": the values are gone from the files.",
        ]
        lines.append(
            "Review sheets and subject-access files exported earlier are not changed: delete "
            "any copy that holds this person."
        )
        if e.sources:
            lines.append(
                "These sources may still hold the data; delete it there too (harvest will not "
                f"bring it back): {', '.join(e.sources)}."
            )
        return "\n".join(lines)


def erase_now(
    config: Any, raw_ids: list[int], tokens: Any = None, command: str = "forget"
) -> Erased:
    """Delete the rows and record the erasure as unfinished, in one transaction; the caller
    holds the sync lock and finishes it (``pending.finish``)."""
    from harvest import store
    from harvest.dataprotection.pending import begin, crash_point
    from harvest.dataprotection.tombstones import tombstone_key

    db = store.connect(config.database_path)
    try:
        key = tombstone_key(tokens, create=True, db=db)
        db.execute("PRAGMA secure_delete=ON")
        with store.transaction(db):
            erased = erase(db, raw_ids, key)
            begin(db, erased.counts(), command)
            crash_point("before_commit")
    finally:
        db.conn.close()
    crash_point("after_commit")
    return erased


def forget(config: Any, plan: Plan, tokens: Any = None, who: Who | None = None) -> ForgetResult:
    """Erase a plan's rows in one transaction (all or nothing), then vacuum and republish.
    Erasures left unfinished before are finished first. While a sync is running the request
    is queued for it (``who`` lets it find rows of theirs that sync adds)."""
    from harvest.dataprotection import pending
    from harvest.errors import LockedError
    from harvest.lock import sync_lock
    from harvest.publish.funders import funders_path

    try:
        with sync_lock(config.database_path):
            pending.drain(config, tokens)
            erased = erase_now(config, plan.raw_ids, tokens)
            pending.finish(config, tokens)
    except LockedError:
        queued = pending.enqueue(config.database_path, who, plan.raw_ids)
        pending.catch_up(config, tokens)
        return ForgetResult(Erased(), False, [], queued=queued)
    target = funders_path(config)
    published = target.is_file()
    return ForgetResult(erased, published, [config.database_path] + ([target] if published else []))
