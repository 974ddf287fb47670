"""Build ``funders.db``: figures for funders, protected, with no row about any one person.

``harvest publish`` reads the store (``source.py``), works out every figure a funder
may open, for every choice of period, activity and area (``tables.py``,
``breakdowns.py``), protects each count with the cell key method (``protect.py``) and
writes only those aggregate tables here, with the vocabulary of choices, ``coverage``,
``districts`` and ``about``. No person-level row, pseudonym or record key is written:
staff who need person-level data have the store.
"""

from __future__ import annotations

import logging
import os
import secrets
import sqlite3
from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from harvest.errors import PublishError
from harvest.normalise.standard import load_standard
from harvest.publish import onspd, onspd_places
from harvest.publish.assemble import build_tables
from harvest.publish.geo import ATTRIBUTION, districts
from harvest.publish.privacy import PublishConfig, Rule
from harvest.publish.protect import NOISE
from harvest.publish.source import neutralise, open_store, read_store
from harvest.secrets import TokenStore

log = logging.getLogger(__name__)

KEY_NAME = "funders_hmac_key"
__all__ = ["funders_path", "hmac_key", "neutralise", "publish_config", "publish_funders"]

SCHEMA = """
CREATE TABLE choices (kind TEXT NOT NULL, value TEXT NOT NULL, label TEXT NOT NULL,
    detail TEXT, position INTEGER NOT NULL, PRIMARY KEY (kind, value));
CREATE TABLE people_reached (period TEXT NOT NULL, period_type TEXT NOT NULL,
    activity TEXT NOT NULL, area TEXT NOT NULL, people, new_people, returning_people,
    attendances, shown INTEGER NOT NULL, PRIMARY KEY (period, activity, area));
CREATE TABLE who_took_part (period TEXT NOT NULL, activity TEXT NOT NULL, area TEXT NOT NULL,
    position INTEGER NOT NULL, characteristic TEXT NOT NULL, value TEXT NOT NULL, people,
    percent, PRIMARY KEY (period, activity, area, position));
CREATE TABLE sessions_attended (period TEXT NOT NULL, activity TEXT NOT NULL,
    area TEXT NOT NULL, position INTEGER NOT NULL, sessions TEXT NOT NULL, people, percent,
    PRIMARY KEY (period, activity, area, position));
CREATE TABLE deprivation_deciles (period TEXT NOT NULL, activity TEXT NOT NULL,
    area TEXT NOT NULL, position INTEGER NOT NULL, decile TEXT NOT NULL, people, percent,
    attendances, PRIMARY KEY (period, activity, area, position));
CREATE TABLE outcomes_achieved (period TEXT NOT NULL, area TEXT NOT NULL,
    position INTEGER NOT NULL, outcome TEXT NOT NULL, people,
    PRIMARY KEY (period, area, position));
CREATE TABLE score_changes (period TEXT NOT NULL, area TEXT NOT NULL,
    position INTEGER NOT NULL, measure TEXT NOT NULL, people, average_first_score,
    average_last_score, average_change, people_improved, PRIMARY KEY (period, area, position));
CREATE TABLE people_circumstances (period TEXT NOT NULL, activity TEXT NOT NULL,
    area TEXT NOT NULL, position INTEGER NOT NULL, characteristic TEXT NOT NULL,
    value TEXT NOT NULL, people, percent, PRIMARY KEY (period, activity, area, position));
CREATE TABLE volunteering (period TEXT NOT NULL, period_type TEXT NOT NULL,
    activity TEXT NOT NULL, area TEXT NOT NULL, volunteers, hours_volunteered,
    PRIMARY KEY (period, activity, area));
CREATE TABLE districts (
    postcode_district TEXT PRIMARY KEY, place TEXT, county TEXT, local_authority TEXT,
    country TEXT, latitude REAL, longitude REAL
);
CREATE TABLE coverage (
    source TEXT PRIMARY KEY, records, with_postcode_pct, with_age_pct, with_ethnicity_pct,
    last_successful_sync TEXT
);
CREATE TABLE about (key TEXT PRIMARY KEY, value TEXT);
CREATE INDEX people_reached_by_area ON people_reached(activity, area, period_type);
"""
FIGURE_TABLES = (
    "people_reached",
    "who_took_part",
    "sessions_attended",
    "deprivation_deciles",
    "outcomes_achieved",
    "score_changes",
    "people_circumstances",
    "volunteering",
)


@dataclass
class PublishSummary:
    """What ``publish_funders`` wrote."""

    path: Path
    people: int
    contacts: int
    choices: int
    shown: int
    published_at: str

    def summary(self) -> str:
        return (
            f"Published {self.path.name}: figures about {self.people:,} people for "
            f"{self.shown:,} of {self.choices:,} choices of period, activity and area "
            "(the rest have too few people to show), protected by the cell key method. "
            "No row about any one person is in it."
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


def read_coverage(conn: sqlite3.Connection, rule: Rule) -> list[tuple]:
    """Per source: current records, and the share with a postcode, an age and an ethnicity."""
    counted = {
        source: row
        for source, *row in conn.execute(
            """SELECT source, count(*), count(postcode), count(coalesce(age, date_of_birth)),
                      count(ethnicity) FROM records WHERE is_current = 1 GROUP BY source"""
        )
    }
    last = dict(conn.execute("SELECT source, last_success_at FROM source_state"))
    rows = [
        (source, *counted.get(source, (0, 0, 0, 0)), last.get(source))
        for source in sorted(set(counted) | set(last))
    ]
    return [
        (
            neutralise(source),
            rule.count(n),
            rule.percent(postcode, n),
            rule.percent(age, n),
            rule.percent(ethnicity, n),
            last,
        )
        for source, n, postcode, age, ethnicity, last in rows
    ]


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


def _write(target: Path, tables: dict[str, list[tuple]]) -> None:
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
            for table, rows in tables.items():
                _insert(conn, table, rows)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("VACUUM")  # no trace of what an older publish held
    os.chmod(target, 0o600)


def publish_funders(
    config: Any, tokens: TokenStore | None = None, today: date | None = None
) -> PublishSummary:
    """Build (or rebuild, in one transaction) funders.db from the store; return a summary."""
    settings = publish_config(config)
    today = today or datetime.now(UTC).date()
    with closing(open_store(config.database_path)) as store:
        data = read_store(store, hmac_key(tokens or TokenStore()), today)
        coverage = read_coverage(store, settings.rule())
        area_data = onspd_places.imported(store)
    tables = build_tables(data, settings)
    published_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    tables["districts"] = [tuple(d.values()) for d in districts().values()]
    tables["coverage"] = coverage
    tables["about"] = about_rows(settings, published_at, area_data, config.organisation)
    _write(funders_path(config), tables)
    reach = tables["people_reached"]
    return PublishSummary(
        funders_path(config),
        len(data.people[data.people["person"].isin(set(data.contacts["person"]))]),
        len(data.contacts),
        len(reach),
        sum(1 for r in reach if r[-1]),
        published_at,
    )


def about_rows(
    settings: PublishConfig,
    published_at: str,
    area_data: dict[str, Any] | None = None,
    organisation: str | None = None,
) -> list[tuple[str, str]]:
    rows = [
        ("organisation", organisation or ""),
        ("published_at", published_at),
        ("method", "cell key method (record keys 0-255, noise from a fixed table)"),
        ("noise_bound", str(NOISE)),
        ("suppress_below", str(settings.suppress_below)),
        ("round_to", str(settings.round_to)),
        ("special_suppress_below", str(settings.special_suppress_below)),
        ("min_population", str(settings.min_population)),
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
