"""Build ``funders.db``: the funder-safe copy of the store, with nobody identifiable.

It holds no names, emails, phones, addresses, full postcodes, dates of birth or free
text. Each person is a keyed pseudonym (an HMAC of their ``person_id`` with a secret
kept in the token store: stable from one publish to the next, not reversible
without the key), with an age band instead of an age, a postcode district instead
of a postcode (and, once the ONS Postcode Directory is imported, the postcode's local
authority, ward, region and deprivation decile), and a month instead of a day.
Funders never read these person-level tables: the funder Datasette hides them and
answers only through the canned queries in ``funder_queries.yaml``, which suppress
small numbers when they run. The tables funders may browse (``coverage``,
``districts``, ``about``) hold no counts of people smaller than the rule allows.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from harvest.errors import PublishError
from harvest.normalise.standard import load_standard
from harvest.publish import onspd
from harvest.publish.geo import ATTRIBUTION, district_of, districts
from harvest.publish.privacy import PublishConfig, Rule
from harvest.secrets import TokenStore

log = logging.getLogger(__name__)

KEY_NAME = "funders_hmac_key"
NOT_KNOWN = "Not known"
NOT_REACHED = ("no_show", "cancelled")
AGE_BANDS = [
    (0, "0-15"),
    (16, "16-24"),
    (25, "25-34"),
    (35, "35-44"),
    (45, "45-54"),
    (55, "55-64"),
    (65, "65-74"),
    (75, "75+"),
]
ETHNIC_GROUPS = {
    "white": "White",
    "mixed": "Mixed or Multiple",
    "asian": "Asian or Asian British",
    "black": "Black, Black British, Caribbean or African",
    "other": "Other ethnic group",
    "not_stated": "Prefer not to say",
}
LABELS = {"yes": "Yes", "no": "No", "prefer_not_to_say": "Prefer not to say"}
MERGE_COLUMNS = [
    ("merged_person_id", "person_id"),
    ("from_person_id", "to_person_id"),
    ("old_person_id", "new_person_id"),
    ("merged_id", "person_id"),
]

SCHEMA = """
CREATE TABLE people (
    pseudonym TEXT PRIMARY KEY, age_band TEXT NOT NULL, gender TEXT NOT NULL,
    ethnicity_group TEXT NOT NULL, disability TEXT NOT NULL, role TEXT NOT NULL,
    postcode_district TEXT, first_month TEXT, country TEXT, region TEXT,
    local_authority_code TEXT, local_authority TEXT, ward_code TEXT, ward TEXT,
    imd_decile INTEGER
);
CREATE TABLE contacts (
    pseudonym TEXT NOT NULL, activity TEXT NOT NULL, month TEXT NOT NULL, quarter TEXT NOT NULL,
    attendances INTEGER NOT NULL, PRIMARY KEY (pseudonym, activity, month)
);
CREATE TABLE outcomes (
    pseudonym TEXT NOT NULL, outcome TEXT NOT NULL, month TEXT, PRIMARY KEY (pseudonym, outcome)
);
CREATE TABLE scores (
    pseudonym TEXT NOT NULL, measure TEXT NOT NULL, sequence INTEGER NOT NULL, month TEXT,
    score REAL NOT NULL, PRIMARY KEY (pseudonym, measure, sequence)
);
CREATE TABLE districts (
    postcode_district TEXT PRIMARY KEY, place TEXT, county TEXT, local_authority TEXT,
    country TEXT, latitude REAL, longitude REAL
);
CREATE TABLE coverage (
    source TEXT PRIMARY KEY, records, with_postcode_pct, with_age_pct, with_ethnicity_pct,
    last_successful_sync TEXT
);
CREATE TABLE about (key TEXT PRIMARY KEY, value TEXT);
CREATE INDEX contacts_month ON contacts(month);
CREATE INDEX people_district ON people(postcode_district);
"""
PERSON_TABLES = ("people", "contacts", "outcomes", "scores")


@dataclass
class PublishSummary:
    """What ``publish_funders`` wrote."""

    path: Path
    people: int
    contacts: int
    outcomes: int
    scores: int
    published_at: str

    def summary(self) -> str:
        return (
            f"Published {self.path.name}: {self.people:,} people (as pseudonyms), "
            f"{self.contacts:,} person-months of activity, {self.outcomes:,} outcomes and "
            f"{self.scores:,} scores, with small numbers suppressed."
        )


def publish_config(config: Any) -> PublishConfig:
    """The ``publish:`` settings of a HarvestConfig."""
    return config.publish


def funders_path(config: Any) -> Path:
    """Where funders.db goes: ``publish.funders_database``, relative to harvest.yaml's folder."""
    path = Path(os.path.expanduser(publish_config(config).funders_database))
    return path if path.is_absolute() else config.base_dir / path


def hmac_key(tokens: TokenStore) -> bytes:
    """The pseudonym key from the token store, made (once) if there is none yet."""
    secret = tokens.get(KEY_NAME)
    if secret is None:
        tokens.set(KEY_NAME, secrets.token_hex(32))
        secret = tokens.get(KEY_NAME)
        log.info("Made a new pseudonym key %r in %s", KEY_NAME, tokens.where)
    assert secret is not None
    return secret.get_secret_value().encode("utf-8")


def pseudonym(key: bytes, person_id: int) -> str:
    """A keyed pseudonym: the same person and key always give the same 16 hex digits."""
    return hmac.new(key, f"harvest-person:{person_id}".encode(), hashlib.sha256).hexdigest()[:16]


def age_band(date_of_birth: str | None, age: int | None, today: date) -> str:
    years = age
    if date_of_birth and len(date_of_birth) >= 10:
        try:
            born = date.fromisoformat(date_of_birth[:10])
        except ValueError:
            born = None
        if born:
            years = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    if years is None or years < 0 or years > 120:
        return NOT_KNOWN
    return [label for low, label in AGE_BANDS if years >= low][-1]


def quarter(month: str) -> str:
    return f"{month[:4]}-Q{(int(month[5:7]) - 1) // 3 + 1}"


def neutralise(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


# --- reading the store -------------------------------------------------------------------


def open_store(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise PublishError(f"There is no harvest database at {path}: run `harvest sync` first.")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    conn.row_factory = sqlite3.Row
    return conn


def merges(conn: sqlite3.Connection) -> dict[int, int]:
    """person_id → the person it was merged into, if the store records merges."""
    columns = {r[1] for r in conn.execute("PRAGMA table_info(person_merges)")}
    for old, new in MERGE_COLUMNS:
        if {old, new} <= columns:
            return {r[0]: r[1] for r in conn.execute(f"SELECT {old}, {new} FROM person_merges")}
    return {}


class Identity:
    """Turns a store person_id (following merges) into its pseudonym."""

    def __init__(self, key: bytes, merged: dict[int, int]) -> None:
        self.key, self.merged = key, merged

    def __call__(self, person_id: int) -> str:
        seen = set()
        while person_id in self.merged and person_id not in seen:
            seen.add(person_id)
            person_id = self.merged[person_id]
        return pseudonym(self.key, person_id)


def read_contacts(conn: sqlite3.Connection, ident: Identity) -> dict[tuple[str, str, str], int]:
    """(pseudonym, activity, month) → attendances that reached someone, from current rows."""
    counts: dict[tuple[str, str, str], int] = {}
    rows = conn.execute(
        """SELECT coalesce(a.person_id, r.person_id), act.name, substr(a.activity_date, 1, 7)
           FROM attendances a JOIN records r ON r.id = a.record_id
           LEFT JOIN activities act ON act.id = a.activity_id
           WHERE r.is_current = 1 AND a.activity_date IS NOT NULL
             AND coalesce(a.person_id, r.person_id) IS NOT NULL
             AND coalesce(a.attendance_status, '') NOT IN (?, ?)""",
        NOT_REACHED,
    )
    for person_id, activity, month in rows:
        key = (ident(person_id), neutralise(activity or "(activity not given)"), month)
        counts[key] = counts.get(key, 0) + 1
    return counts


def read_people(
    conn: sqlite3.Connection, ident: Identity, first: dict[str, str], today: date
) -> Iterator[dict[str, Any]]:
    """One row per person (merged people once), with areas from the ONSPD when imported."""
    place_of = onspd.places(conn)
    groups = {v.value: v.group for v in load_standard().values_of("ethnicity")}
    known = districts()
    seen: set[str] = set()
    rows = conn.execute(
        "SELECT person_id, date_of_birth, age, gender, ethnicity, disability, "
        "postcode, role FROM people ORDER BY person_id"
    )
    for r in rows:
        if r["person_id"] in ident.merged:  # merged into another person: counted as them
            continue
        name = ident(r["person_id"])
        if name in seen:
            continue
        seen.add(name)
        district = district_of(r["postcode"])
        place = place_of(r["postcode"])
        yield {
            "pseudonym": name,
            "age_band": age_band(r["date_of_birth"], r["age"], today),
            "gender": r["gender"] or NOT_KNOWN,
            "ethnicity_group": ETHNIC_GROUPS.get(groups.get(r["ethnicity"] or "") or "", NOT_KNOWN),
            "disability": LABELS.get(r["disability"] or "", NOT_KNOWN),
            "role": r["role"] or NOT_KNOWN,
            "postcode_district": district if district in known else None,
            "first_month": first.get(name),
            "country": place.country,
            "region": place.region,
            "local_authority_code": place.local_authority_code,
            "local_authority": neutralise(place.local_authority),
            "ward_code": place.ward_code,
            "ward": neutralise(place.ward),
            "imd_decile": place.imd_decile,
        }


def read_outcomes(conn: sqlite3.Connection, ident: Identity) -> tuple[list[tuple], list[tuple]]:
    """Outcomes (first month achieved per person) and scores in date order per measure."""
    rows = conn.execute(
        """SELECT coalesce(o.person_id, r.person_id), o.outcome, o.outcome_date, o.measure,
                  o.score FROM outcomes o JOIN records r ON r.id = o.record_id
           WHERE r.is_current = 1 AND coalesce(o.person_id, r.person_id) IS NOT NULL
           ORDER BY coalesce(o.outcome_date, ''), o.id"""
    )
    achieved: dict[tuple[str, str], str | None] = {}
    scores: dict[tuple[str, str], list[tuple[str | None, float]]] = {}
    for person_id, outcome, when, measure, score in rows:
        name, month = ident(person_id), (when or "")[:7] or None
        if outcome:
            achieved.setdefault((name, neutralise(outcome)), month)
        if measure and score is not None:
            scores.setdefault((name, measure), []).append((month, score))
    outcome_rows = [(p, o, m) for (p, o), m in achieved.items()]
    score_rows = [
        (p, meas, i, month, score)
        for (p, meas), taken in scores.items()
        for i, (month, score) in enumerate(taken, start=1)
    ]
    return outcome_rows, score_rows


def read_coverage(conn: sqlite3.Connection, rule: Rule) -> Iterator[tuple]:
    """Per source: current records, and the share with a postcode, an age and an ethnicity."""
    rows = conn.execute(
        """SELECT s.source, count(r.id), count(r.postcode),
                  count(coalesce(r.age, r.date_of_birth)), count(r.ethnicity), st.last_success_at
           FROM (SELECT source FROM source_state UNION SELECT source FROM records) s
           LEFT JOIN records r ON r.source = s.source AND r.is_current = 1
           LEFT JOIN source_state st ON st.source = s.source
           GROUP BY s.source ORDER BY s.source"""
    )
    for source, n, postcode, age, ethnicity, last in rows:
        yield (
            neutralise(source),
            rule.count(n),
            rule.percent(postcode, n),
            rule.percent(age, n),
            rule.percent(ethnicity, n),
            last,
        )


# --- writing funders.db ------------------------------------------------------------------


def _insert(conn: sqlite3.Connection, table: str, rows: Iterable[tuple]) -> int:
    rows = list(rows)
    if rows:
        marks = ",".join("?" * len(rows[0]))
        conn.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
    return len(rows)


def _reset(conn: sqlite3.Connection) -> None:
    """Drop every table, index and view (inside the caller's transaction)."""
    for kind, name in conn.execute(
        "SELECT type, name FROM sqlite_master WHERE type IN ('table', 'view') "
        "AND name NOT LIKE 'sqlite_%'"
    ).fetchall():
        conn.execute(f"DROP {kind.upper()} IF EXISTS [{name}]")
    for statement in SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)


def publish_funders(
    config: Any, tokens: TokenStore | None = None, today: date | None = None
) -> PublishSummary:
    """Build (or rebuild, in one transaction) funders.db from the store; return a summary."""
    settings = publish_config(config)
    target = funders_path(config)
    today = today or datetime.now(UTC).date()
    with closing(open_store(config.database_path)) as store:
        ident = Identity(hmac_key(tokens or TokenStore()), merges(store))
        contacts = read_contacts(store, ident)
        first: dict[str, str] = {}
        for name, _activity, month in sorted(contacts, key=lambda k: k[2]):
            first.setdefault(name, month)
        people = list(read_people(store, ident, first, today))
        outcomes, scores = read_outcomes(store, ident)
        coverage = list(read_coverage(store, settings.rule()))
        area_data = onspd.imported(store)
    published_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(target, isolation_level=None, timeout=30)
    except sqlite3.Error as exc:
        raise PublishError(f"Could not open {target} to publish ({exc}).") from None
    with closing(conn):
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA secure_delete=ON")  # no old rows left in free pages
        conn.execute("BEGIN IMMEDIATE")
        try:
            _reset(conn)
            _insert(conn, "people", (tuple(p.values()) for p in people))
            _insert(
                conn,
                "contacts",
                ((p, a, m, quarter(m), n) for (p, a, m), n in sorted(contacts.items())),
            )
            _insert(conn, "outcomes", outcomes)
            _insert(conn, "scores", scores)
            _insert(conn, "districts", (tuple(d.values()) for d in districts().values()))
            _insert(conn, "coverage", coverage)
            _insert(conn, "about", about_rows(settings, published_at, area_data))
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    os.chmod(target, 0o600)
    return PublishSummary(
        target, len(people), len(contacts), len(outcomes), len(scores), published_at
    )


def about_rows(
    settings: PublishConfig, published_at: str, area_data: dict[str, Any] | None = None
) -> list[tuple[str, str]]:
    rows = [
        ("published_at", published_at),
        ("suppress_below", str(settings.suppress_below)),
        ("round_to", str(settings.round_to)),
        ("special_suppress_below", str(settings.special_suppress_below)),
        ("standard_version", str(load_standard().version)),
        ("postcode_data", ATTRIBUTION),
    ]
    if area_data:
        rows.append(
            (
                "area_data",
                f"ONS Postcode Directory ({', '.join(area_data['files'])}, "
                f"imported {area_data['imported_at']}). {onspd.ATTRIBUTION}",
            )
        )
    return rows
