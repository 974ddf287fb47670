"""Retention: keep personal data no longer than the charity's policy says.

Set in harvest.yaml (every setting is optional; none set means keep everything)::

    retention:
      raw_rows_years: 2        # verbatim copies of rows not read for 2 years are blanked
      records_years: 6         # rows (raw and cleaned) not read for 6 years are deleted
      people_unseen_years: 3   # people with no row read and no contact for 3 years go

"Read" is the last time a sync saw the row in its source (``raw_rows.last_seen``); an
old version of a changed row stopped being read when it changed. Every sync applies it
after matching; ``harvest retention --dry-run`` says what would go and changes nothing.
Rows deleted by retention are not tombstoned: if a source still holds them and they are
read again, they are new data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlite_utils

from harvest.config_types import RetentionConfig as RetentionConfig  # re-exported

BLANKED = '{"(removed)": "kept no longer than the retention policy allows"}'


def retention_config(config: Any) -> RetentionConfig:
    """The settings of a HarvestConfig's `retention:` (or a RetentionConfig given directly)."""
    return config if isinstance(config, RetentionConfig) else config.retention


@dataclass
class RetentionResult:
    raw_rows_blanked: int = 0
    records_deleted: int = 0
    people_removed: int = 0
    dry_run: bool = False

    def summary(self) -> str:
        verb = "would" if self.dry_run else "did"
        if not (self.raw_rows_blanked or self.records_deleted or self.people_removed):
            return "retention: nothing is past its retention period."
        return (
            f"retention ({'dry run' if self.dry_run else 'applied'}): {verb} blank "
            f"{self.raw_rows_blanked:,} raw row(s), delete {self.records_deleted:,} "
            f"record version(s) and remove {self.people_removed:,} person(s)."
        )


def cutoff(years: float, today: datetime | None = None) -> str:
    when = (today or datetime.now(UTC)) - timedelta(days=365.25 * years)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _ids(db: sqlite_utils.Database, sql: str, params: list) -> list[int]:
    return [r[0] for r in db.execute(sql, params).fetchall()]


def _unseen_people(db: sqlite_utils.Database, before: str) -> list[int]:
    """Raw row ids of people with no row read and no attendance or outcome since ``before``."""
    return _ids(
        db,
        """
        WITH seen AS (
          SELECT c.person_id AS pid, max(max(r.last_seen), coalesce(max(a.activity_date), ''),
                                          coalesce(max(o.outcome_date), '')) AS last
          FROM records c JOIN raw_rows r ON r.id = c.id
          LEFT JOIN attendances a ON a.record_id = c.id
          LEFT JOIN outcomes o ON o.record_id = c.id
          WHERE c.person_id IS NOT NULL GROUP BY c.person_id)
        SELECT c.id FROM records c JOIN seen ON seen.pid = c.person_id WHERE seen.last < ?""",
        [before],
    )


def apply_retention(
    db: sqlite_utils.Database, settings: Any, dry_run: bool = False, today: datetime | None = None
) -> RetentionResult:
    """Apply the policy; the caller holds the transaction (a dry run is rolled back here)."""
    from harvest.dataprotection.erasure import erase  # light import for config.py

    rules = retention_config(settings)
    result = RetentionResult(dry_run=dry_run)
    if not rules.active:
        return result
    db.execute("SAVEPOINT retention")
    try:
        if rules.people_unseen_years:
            ids = _unseen_people(db, cutoff(rules.people_unseen_years, today))
            erased = erase(db, ids)
            result.people_removed, result.records_deleted = erased.people_removed, erased.records
        if rules.records_years:
            ids = _ids(
                db,
                "SELECT id FROM raw_rows WHERE last_seen < ?",
                [cutoff(rules.records_years, today)],
            )
            erased = erase(db, ids)
            result.records_deleted += erased.raw_rows
            result.people_removed += erased.people_removed
        if rules.raw_rows_years:
            result.raw_rows_blanked = db.execute(
                "UPDATE raw_rows SET data = ? WHERE last_seen < ? AND data != ?",
                [BLANKED, cutoff(rules.raw_rows_years, today), BLANKED],
            ).rowcount
    except BaseException:
        db.execute("ROLLBACK TO retention")
        db.execute("RELEASE retention")
        raise
    db.execute("ROLLBACK TO retention" if dry_run else "RELEASE retention")
    if dry_run:
        db.execute("RELEASE retention")
    return result


def run_retention(
    db: sqlite_utils.Database, settings: Any, dry_run: bool = False, command: str = "retention"
) -> RetentionResult:
    """Apply (or dry-run) the policy in its own transaction, with an audit entry."""
    from harvest import audit, store

    if not retention_config(settings).active:
        return RetentionResult(dry_run=dry_run)
    db.execute("PRAGMA secure_delete=ON")  # freed pages are zeroed, not left readable
    with store.transaction(db):
        result = apply_retention(db, settings, dry_run)
        if not dry_run:
            audit.record(
                db,
                "retention",
                {
                    "raw_rows_blanked": result.raw_rows_blanked,
                    "records_deleted": result.records_deleted,
                    "people_removed": result.people_removed,
                },
                command=command,
            )
    return result
