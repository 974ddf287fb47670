"""The store's schema: every table and index (``schema_sql``), the tables matching keeps
between runs (``ensure_match_cache``) and the columns a person has. store.py applies it."""

from __future__ import annotations

import sqlite_utils

from harvest.normalise.standard import load_standard

SCHEMA_VERSION = 6  # 3: audit_runs and tombstones; 4: erased_identities and erasures;
# 5: the columns of the standard's version 2 (added to an older store by ``upgrade_standard``);
# 6: records.postcode_text
PERSON_FIELDS_V1 = [
    "given_name",
    "family_name",
    "full_name",
    "date_of_birth",
    "age",
    "gender",
    "ethnicity",
    "postcode",
    "address",
    "email",
    "phone",
    "preferred_language",
    "disability",
    "consent_to_share",
    "role",
]
# every person field added since version 1 of the standard (religion, food_needs, …)
PERSON_FIELDS = PERSON_FIELDS_V1 + [
    f.name for f in load_standard().fields if f.entity == "person" and f.since > 1
]
SQL_TYPES = {"integer": "INTEGER", "number": "REAL"}


def _record_columns() -> str:
    std = load_standard()
    return ",\n    ".join(f"[{f.name}] {SQL_TYPES.get(f.type, 'TEXT')}" for f in std.fields)


def schema_sql() -> str:
    person_cols = ",\n    ".join(
        f"[{n}] {SQL_TYPES.get(load_standard().field(n).type, 'TEXT')}" for n in PERSON_FIELDS
    )
    return f"""
CREATE TABLE IF NOT EXISTS raw_rows (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    source_key TEXT NOT NULL,
    version INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    table_key TEXT NOT NULL,
    location TEXT NOT NULL,
    row_number INTEGER,
    data TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    sync_run_id INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS raw_rows_key ON raw_rows(source, source_key);
CREATE TABLE IF NOT EXISTS records (
    id INTEGER PRIMARY KEY REFERENCES raw_rows(id),
    source TEXT NOT NULL,
    source_key TEXT NOT NULL,
    is_current INTEGER NOT NULL DEFAULT 1,
    person_id INTEGER,
    location TEXT,
    row_number INTEGER,
    {_record_columns()},
    postcode_text TEXT,
    extra TEXT,
    synced_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_person ON records(person_id);
CREATE TABLE IF NOT EXISTS people (
    person_id INTEGER PRIMARY KEY,
    {person_cols},
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    record_count INTEGER NOT NULL DEFAULT 0,
    sources TEXT NOT NULL DEFAULT '[]',
    last_sync_run_id INTEGER
);
CREATE TABLE IF NOT EXISTS person_keys (
    key TEXT PRIMARY KEY,
    person_id INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS activities (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    first_source TEXT
);
CREATE TABLE IF NOT EXISTS attendances (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    source_key TEXT NOT NULL,
    record_id INTEGER NOT NULL,
    person_id INTEGER,
    activity_id INTEGER REFERENCES activities(id),
    activity_date TEXT,
    attendance_status TEXT,
    ticket_type TEXT,
    referral_source TEXT,
    UNIQUE (source, source_key)
);
CREATE INDEX IF NOT EXISTS attendances_person ON attendances(person_id);
CREATE TABLE IF NOT EXISTS outcomes (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    source_key TEXT NOT NULL,
    record_id INTEGER NOT NULL,
    person_id INTEGER,
    outcome TEXT,
    outcome_date TEXT,
    measure TEXT,
    score REAL,
    UNIQUE (source, source_key)
);
CREATE TABLE IF NOT EXISTS issues (
    id INTEGER PRIMARY KEY,
    sync_run_id INTEGER,
    source TEXT NOT NULL,
    source_key TEXT,
    record_id INTEGER,
    location TEXT,
    row_number INTEGER,
    field TEXT,
    value TEXT,
    problem TEXT NOT NULL,
    severity TEXT NOT NULL DEFAULT 'warning',
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS issues_source ON issues(source);
CREATE INDEX IF NOT EXISTS raw_rows_table ON raw_rows(source, table_key);
CREATE TABLE IF NOT EXISTS sync_runs (
    id INTEGER PRIMARY KEY,
    command TEXT,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL DEFAULT 'running'
);
CREATE TABLE IF NOT EXISTS source_runs (
    id INTEGER PRIMARY KEY,
    sync_run_id INTEGER NOT NULL,
    source TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL,
    rows_read INTEGER DEFAULT 0,
    rows_new INTEGER DEFAULT 0,
    rows_changed INTEGER DEFAULT 0,
    rows_unchanged INTEGER DEFAULT 0,
    problems INTEGER DEFAULT 0,
    message TEXT
);
CREATE TABLE IF NOT EXISTS source_state (
    source TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    last_success_at TEXT
);
CREATE TABLE IF NOT EXISTS standard (
    name TEXT PRIMARY KEY,
    entity TEXT, hashtag TEXT, type TEXT, description TEXT, allowed_values TEXT,
    synonyms TEXT, identifying INTEGER, special_category INTEGER, multiple INTEGER,
    since INTEGER
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS match_pairs (
    profile_a INTEGER NOT NULL,
    profile_b INTEGER NOT NULL,
    record_a INTEGER NOT NULL,
    record_b INTEGER NOT NULL,
    probability REAL NOT NULL,
    weight REAL NOT NULL,
    status TEXT NOT NULL,
    comparisons TEXT,
    sync_run_id INTEGER,
    PRIMARY KEY (profile_a, profile_b)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS match_pairs_status ON match_pairs(status);
CREATE TABLE IF NOT EXISTS match_decisions (
    id INTEGER PRIMARY KEY,
    profile_a INTEGER NOT NULL,
    profile_b INTEGER NOT NULL,
    record_a INTEGER,
    record_b INTEGER,
    decision TEXT NOT NULL,
    probability REAL,
    decided_by TEXT,
    decided_at TEXT NOT NULL,
    via TEXT,
    undone_at TEXT
);
CREATE INDEX IF NOT EXISTS match_decisions_pair ON match_decisions(profile_a, profile_b);
CREATE TABLE IF NOT EXISTS person_merges (
    merged_id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL,
    merged_at TEXT NOT NULL,
    sync_run_id INTEGER
);
CREATE INDEX IF NOT EXISTS person_merges_person ON person_merges(person_id);
CREATE TABLE IF NOT EXISTS match_runs (
    id INTEGER PRIMARY KEY,
    sync_run_id INTEGER,
    started_at TEXT NOT NULL,
    mode TEXT NOT NULL,
    records INTEGER,
    profiles INTEGER,
    new_profiles INTEGER,
    candidate_pairs INTEGER,
    links INTEGER,
    review INTEGER,
    people INTEGER,
    merged_people INTEGER,
    seconds REAL,
    merge_above REAL,
    review_above REAL,
    watermark INTEGER,
    settings_hash TEXT,
    model TEXT,
    notes TEXT
);
-- data protection (harvest/audit.py, harvest/dataprotection/): an append-only audit
-- trail, and keyed hashes of rows that were forgotten so that a sync never lands them again
CREATE TABLE IF NOT EXISTS audit_runs (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    action TEXT NOT NULL,
    command TEXT,
    user TEXT,
    counts TEXT NOT NULL DEFAULT '{{}}'
);
CREATE TRIGGER IF NOT EXISTS audit_runs_no_update BEFORE UPDATE ON audit_runs
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_runs_no_delete BEFORE DELETE ON audit_runs
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TABLE IF NOT EXISTS tombstones (
    digest TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    kind TEXT NOT NULL,
    forgotten_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tombstones_source ON tombstones(source);
CREATE TABLE IF NOT EXISTS erased_identities (
    digest TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    erased_at TEXT NOT NULL
) WITHOUT ROWID;
-- an erasure is complete only once the store and funders.db are clean (dataprotection/pending.py)
CREATE TABLE IF NOT EXISTS erasures (
    id INTEGER PRIMARY KEY,
    started_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'unfinished',
    finished_at TEXT
);
"""


MATCH_CACHE_SQL = """
CREATE TABLE IF NOT EXISTS match_cache (name TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS match_flips (record_id INTEGER PRIMARY KEY);
CREATE TRIGGER IF NOT EXISTS match_cache_delete AFTER DELETE ON records
BEGIN DELETE FROM match_cache; END;
CREATE TRIGGER IF NOT EXISTS match_cache_edit AFTER UPDATE OF
    given_name, family_name, date_of_birth, postcode, postcode_text, email, phone, address
    ON records
BEGIN DELETE FROM match_cache; END;
CREATE TRIGGER IF NOT EXISTS match_flips_log AFTER UPDATE OF is_current ON records
WHEN old.is_current IS NOT new.is_current
BEGIN INSERT OR IGNORE INTO match_flips VALUES (new.id); END;
CREATE INDEX IF NOT EXISTS match_pairs_b ON match_pairs(profile_b);
"""


def ensure_match_cache(db: sqlite_utils.Database) -> None:
    """The tables matching keeps between runs (harvest/people/match_cache.py), made the
    first time they are needed. Triggers empty the cache whenever a record is deleted
    (`harvest forget`, retention) or its identifying values change, so it never outlives
    the personal data it was made from; records that stop or start being current are
    listed (by id only) in ``match_flips``."""
    for statement in MATCH_CACHE_SQL.split(";\n"):
        if statement.strip():
            db.execute(statement)
