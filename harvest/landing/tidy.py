"""What landing keeps tidy besides rows: problems with whole tables, snapshot rows that
have gone, contacts of records no longer current, and the people touched."""

from __future__ import annotations

import sqlite_utils

from harvest.landing.rows import Counts
from harvest.landing.writes import Background


class Tidy:
    """The lander's statements about a source as a whole (mixed into ``Lander``)."""

    db: sqlite_utils.Database
    source: str
    run_id: int
    now: str
    counts: Counts
    background: Background

    def add_table_issue(self, location: str, problem: str, severity: str = "warning") -> None:
        """A problem with a table or file as a whole (no row). It replaces those an earlier
        sync recorded at the same place, which was read again, so they never pile up."""
        self.background.wait()
        self.db.execute(
            "DELETE FROM issues WHERE source = ? AND location = ? AND record_id IS NULL"
            " AND sync_run_id IS NOT ?",
            [self.source, location, self.run_id],
        )
        self.db.execute(
            "INSERT INTO issues (sync_run_id, source, location, problem, severity, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [self.run_id, self.source, location, problem, severity, self.now],
        )
        if severity != "info":
            self.counts.problems += 1

    def clear_table_issues(self, location: str) -> None:
        self.background.wait()
        self.db.execute(
            "DELETE FROM issues WHERE source = ? AND location = ? AND record_id IS NULL",
            [self.source, location],
        )

    def _drop_mended_errors(self) -> None:
        """An error with a file or table (a sheet that is not there, a path that matches
        nothing) stops it being marked as read, so every sync reads it again and reports
        the error again while it lasts. One this sync did not report has been mended."""
        self.db.execute(
            "DELETE FROM issues WHERE source = ? AND record_id IS NULL AND severity = 'error'"
            " AND sync_run_id IS NOT ?",
            [self.source, self.run_id],
        )

    def _retire_missing(self, table_key: str) -> None:
        """Rows of a snapshot table not read this time are no longer current (still kept)."""
        self.background.wait()
        self.db.execute(
            """UPDATE records SET is_current = 0 WHERE is_current = 1 AND id IN (
                 SELECT id FROM raw_rows WHERE source = ? AND table_key = ? AND sync_run_id != ?)""",
            [self.source, table_key, self.run_id],
        )

    def _tidy_people(self) -> None:
        """Contacts of records that are no longer current go; people touched are counted."""
        for table in ("attendances", "outcomes"):
            self.db.execute(
                f"""DELETE FROM {table} WHERE source = ? AND record_id IN (
                      SELECT id FROM records WHERE source = ? AND is_current = 0)""",
                [self.source, self.source],
            )
        self.db.execute(
            """UPDATE people SET
                 record_count = (SELECT count(*) FROM records r
                                 WHERE r.person_id = people.person_id AND r.is_current = 1),
                 sources = (SELECT json_group_array(source) FROM (
                              SELECT DISTINCT source FROM records r
                              WHERE r.person_id = people.person_id AND r.is_current = 1
                              ORDER BY source))
               WHERE last_sync_run_id = ?""",
            [self.run_id],
        )
