"""What the last match run left behind, readable without loading the matcher (numpy etc.).

`harvest sync` asks this first: when no record has landed since the last match with the
same settings, matching is skipped, so an hourly sync of unchanged sources stays cheap.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import sqlite_utils

from harvest.config import MatchingConfig


@dataclass
class MatchSummary:
    mode: str = "none"  # full | incremental | decisions | off | unchanged | empty
    records: int = 0
    profiles: int = 0
    new_profiles: int = 0
    candidate_pairs: int = 0
    links: int = 0
    review: int = 0
    people: int = 0
    merged_people: int = 0
    seconds: float = 0.0
    merge_above: float = 0.0
    review_above: float = 0.0
    notes: list[str] = field(default_factory=list)
    error: str = ""

    def summary(self) -> str:
        if self.error:
            return f"matching: FAILED — {self.error}"
        if self.mode == "off":
            return "matching: off (matching.enabled is false)"
        if self.mode == "unchanged":
            return "matching: no new records, people unchanged"
        if self.mode == "empty":
            return "matching: no records yet, so nobody to match"
        line = (
            f"matching ({self.mode}): {self.records:,} records are {self.people:,} people; "
            f"{self.merged_people:,} merged this time; {self.review:,} pair(s) to review"
        )
        if self.review:
            line += " with `harvest review`"
        return line


def settings_hash(settings: MatchingConfig) -> str:
    keys = ("fields", "exact_keys", "block_size_cap", "shared_value_limit", "learn")
    text = json.dumps({k: getattr(settings, k) for k in keys}, sort_keys=True)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def last_run(db: sqlite_utils.Database) -> dict | None:
    row = db.execute(
        "SELECT watermark, settings_hash, model, merge_above, review_above, profiles FROM match_runs"
        " WHERE mode != 'off' AND model IS NOT NULL ORDER BY id DESC LIMIT 1"
    ).fetchone()
    if not row:
        return None
    return dict(
        zip(
            ("watermark", "settings_hash", "model", "merge_above", "review_above", "profiles"),
            row,
            strict=False,
        )
    )


def no_records(db: sqlite_utils.Database) -> bool:
    """Nothing has ever landed (a first sync of an empty sheet, a form with no responses
    yet, a source that failed): there is nobody to match, and nothing to learn from."""
    return db.execute("SELECT 1 FROM records LIMIT 1").fetchone() is None


def nothing_new(db: sqlite_utils.Database, settings: MatchingConfig) -> bool:
    """No record landed since the last match with these settings: nothing to do (cheap)."""
    state = last_run(db)
    if state is None or state["settings_hash"] != settings_hash(settings):
        return False
    newest = db.execute("SELECT max(id) FROM records").fetchone()[0] or 0
    return newest <= int(state["watermark"] or 0)


EXACT_KEY = 0.999999  # the probability of a link on an exact key, whatever its score

QUEUE_SQL = """
WITH pending AS (
  SELECT m.profile_a, m.profile_b, m.record_a, m.record_b, m.probability, m.status,
         m.comparisons, min(ra.person_id, rb.person_id) AS p1, max(ra.person_id, rb.person_id) AS p2
  FROM match_pairs m
  JOIN records ra ON ra.id = m.record_a
  JOIN records rb ON rb.id = m.record_b
  WHERE m.status IN ('held', 'review')
), refused AS (
  SELECT min(ra.person_id, rb.person_id) AS p1, max(ra.person_id, rb.person_id) AS p2
  FROM match_decisions d
  JOIN records ra ON ra.id = d.record_a
  JOIN records rb ON rb.id = d.record_b
  WHERE d.decision = 'different' AND d.undone_at IS NULL
), ranked AS (
  SELECT *, row_number() OVER (
    PARTITION BY p1, p2 ORDER BY probability DESC, profile_a, profile_b) AS rank
  FROM pending WHERE (p1, p2) NOT IN (SELECT p1, p2 FROM refused)
)"""


def pending_questions(db: sqlite_utils.Database) -> int:
    """How many questions the review queue holds: pairs of people with at least one
    uncertain pair of records between them and no "different" decision."""
    return int(db.execute(QUEUE_SQL + " SELECT count(*) FROM ranked WHERE rank = 1").fetchone()[0])
