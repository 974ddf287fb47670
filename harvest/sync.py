"""The pipeline: lock → for each source: fetch → map → clean → land → commit with its state.

Each source is synced in its own transaction, so one that fails (a refused token,
an unreadable file, a crash) leaves the store exactly as it was for that source
and the others still sync. A lock file beside the database stops two syncs
overlapping, which matters when cron starts one every hour.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol

import sqlite_utils

from harvest import audit, store, upgrade
from harvest.config import HarvestConfig, SourceConfig
from harvest.connectors.base import Activity, Problem, Table
from harvest.connectors.registry import connector_entries
from harvest.dataprotection import pending
from harvest.dataprotection.retention import RetentionResult, run_retention
from harvest.errors import HarvestError
from harvest.landing import Counts, Lander
from harvest.lock import sync_lock as sync_lock  # re-exported
from harvest.normalise.mapping import ColumnMap, map_table
from harvest.people.match_state import MatchSummary, nothing_new

log = logging.getLogger(__name__)


class Reporter(Protocol):
    """How the pipeline tells the person (or cron's log) what is happening."""

    def source_started(self, name: str) -> None: ...
    def rows_done(self, name: str, n: int) -> None: ...
    def source_finished(self, result: SourceResult) -> None: ...


class QuietReporter:
    def source_started(self, name: str) -> None:
        pass

    def rows_done(self, name: str, n: int) -> None:
        pass

    def source_finished(self, result: SourceResult) -> None:
        pass


@dataclass
class SourceResult:
    name: str
    status: str = "ok"  # ok | problems | failed
    counts: Counts = field(default_factory=Counts)
    messages: list[str] = field(default_factory=list)
    tables: int = 0

    def summary(self) -> str:
        c = self.counts
        if self.status == "failed":
            return f"{self.name}: FAILED — {' '.join(self.messages)}"
        line = (
            f"{self.name}: {c.read:,} rows read in {self.tables} table(s) — {c.new:,} new, "
            f"{c.changed:,} changed, {c.unchanged:,} unchanged"
        )
        if c.problems:
            line += f"; {c.problems:,} data problem(s), see `harvest check {self.name}`"
        if c.forgotten:  # data protection: rows erased with `harvest forget`, still at source
            line += f"; {erased_rows(c.forgotten)} of an erased person skipped"
        return line


@dataclass
class SyncResult:
    run_id: int
    sources: list[SourceResult]
    matching: MatchSummary | None = None
    published: str | None = None  # a one-line summary of rebuilding funders.db, if it ran
    publish_error: str | None = None
    retention: RetentionResult | None = None  # what the retention policy removed, if any
    erasures: int = 0  # erasures queued by `harvest forget` while this sync ran, now done

    @property
    def exit_code(self) -> int:
        failed = any(s.status in ("failed", "problems") for s in self.sources)
        return 1 if failed or (self.matching and self.matching.error) or self.publish_error else 0


def sync(
    config: HarvestConfig,
    only: str | None = None,
    full: bool = False,
    reporter: Reporter | None = None,
    command: str = "sync",
) -> SyncResult:
    """Sync every enabled source (or only one); return what happened to each."""
    reporter = reporter or QuietReporter()
    sources = [config.source(only)] if only else [s for s in config.sources if s.enabled]
    with sync_lock(config.database_path):
        pending.drain(config)  # data protection: an unfinished or queued erasure first
        db = store.connect(config.database_path)  # upgrades an older store's schema
        upgrade.backfill(db, config)  # …and fills the new fields of the records it had
        store.end_interrupted_runs(db)  # we hold the lock: a run still "running" was killed
        run_id = store.start_run(db, command)
        try:
            results = [sync_source(db, config, src, run_id, full, reporter) for src in sources]
            matching = match_step(db, config, run_id)
            retention = run_retention(db, config, command=command)  # data protection
        except BaseException:  # Ctrl-C, or a bug: the run ends, marked as such
            store.finish_run(db, run_id, "interrupted")
            db.conn.close()
            raise
        failed = any(r.status == "failed" for r in results) or bool(matching.error)
        store.finish_run(db, run_id, "failed" if failed else "ok")
        _audit_sync(db, command, results, retention)
        db.conn.close()
        result = SyncResult(run_id, results, matching, retention=retention)
        publish_step(config, result)
        result.erasures = pending.drain(config)  # erasures asked for while this sync ran
    result.erasures += pending.catch_up(config)
    return result


def _audit_sync(
    db: sqlite_utils.Database, command: str, results: list[SourceResult], retention: RetentionResult
) -> None:
    """One audit entry per sync: counts only (data protection, see harvest/audit.py)."""

    def total(name: str) -> int:
        return sum(getattr(r.counts, name) for r in results)

    audit.record(
        db,
        "sync",
        {
            "sources": [r.name for r in results],
            "failed": sum(r.status == "failed" for r in results),
            **{f"rows_{n}": total(n) for n in ("read", "new", "changed", "unchanged", "forgotten")},
            "retention_records_deleted": retention.records_deleted,
            "retention_people_removed": retention.people_removed,
        },
        command=command,
    )


def publish_step(config: HarvestConfig, result: SyncResult) -> None:
    """Rebuild funders.db when this sync read anything (or it does not exist yet)."""
    from harvest.publish.funders import funders_path
    from harvest.publish.pseudonym_key import publish

    if not config.publish.after_sync:
        return
    read = any(s.counts.read for s in result.sources)
    rematched = bool(result.matching and result.matching.mode not in ("off", "unchanged"))
    retained = bool(result.retention and result.retention.records_deleted)
    if not (read or rematched or retained or not funders_path(config).exists()):
        return
    try:
        result.published = publish(config).summary()
    except HarvestError as exc:
        result.publish_error = f"funders.db was not rebuilt: {exc}"


def match_step(db: sqlite_utils.Database, config: HarvestConfig, run_id: int) -> MatchSummary:
    """Match people across every source, in its own transaction, after all have landed."""
    if not config.matching.enabled:
        return MatchSummary(mode="off")
    if nothing_new(db, config.matching):
        return MatchSummary(mode="unchanged")
    from harvest.people.match import match_people  # numpy and friends: only when needed

    try:
        with store.transaction(db):
            return match_people(db, config.matching, run_id)
    except Exception as exc:  # the synced rows are kept; the next sync matches again
        log.debug("Matching people failed", exc_info=True)  # the details, with --verbose
        return MatchSummary(
            error=f"{type(exc).__name__}: {exc}. The synced data is kept; the next sync "
            "tries again. If this keeps happening, please report it with the output of "
            "`harvest --verbose match`."
        )


def sync_source(
    db: sqlite_utils.Database,
    config: HarvestConfig,
    src: SourceConfig,
    run_id: int,
    full: bool,
    reporter: Reporter,
) -> SourceResult:
    """One source in one transaction: all of it lands with its new state, or none of it."""
    result = SourceResult(src.name)
    started = store.now()
    reporter.source_started(src.name)
    try:
        connector = config.connector(src)
        connector.check()
        with store.transaction(db):
            lander = Lander(db, src.name, run_id, src.constants)
            for item in connector.fetch(store.get_state(db, src.name), full=full):
                _handle(item, lander, src, result, reporter)
            lander.finish()
            store.set_state(db, src.name, connector.state, success=result.status == "ok")
    except HarvestError as exc:
        result.status, result.messages = "failed", [str(exc)]
    except Exception as exc:  # a bug or an unexpected library error: report it, sync the rest
        result.status = "failed"
        result.messages = [unexpected_error(src, exc)]
    if result.status == "failed":
        result.counts = Counts()
    store.record_source_run(
        db,
        run_id,
        src.name,
        started_at=started,
        finished_at=store.now(),
        status=result.status,
        rows_read=result.counts.read,
        rows_new=result.counts.new,
        rows_changed=result.counts.changed,
        rows_unchanged=result.counts.unchanged,
        problems=result.counts.problems,
        message="\n".join(result.messages + _erased_message(result)) or None,
    )
    reporter.source_finished(result)
    return result


def unexpected_error(src: SourceConfig, exc: Exception) -> str:
    """The message of a connector that failed in a way it should not have; the details go
    to the log (an outside package's only with --verbose: its authors are named instead)."""
    said = f"unexpected error ({type(exc).__name__}: {exc}). Nothing from this source was changed; "
    entry = connector_entries().get(src.type)
    if entry is None or entry.builtin:
        log.exception("Unexpected error while syncing source %s", src.name)
        return said + "please report this with the log."
    log.debug("The connector %r from %s failed", src.type, entry.provider, exc_info=True)
    return said + (
        f"the connector '{src.type}' comes from {entry.provider}: please report this to its "
        f"authors with the output of `harvest --verbose sync --source {src.name}`."
    )


def erased_rows(n: int) -> str:
    return "1 row" if n == 1 else f"{n:,} rows"


def _erased_message(result: SourceResult) -> list[str]:
    """For source_runs (and so `harvest check`): rows of erased people that were skipped."""
    n = result.counts.forgotten
    return [f"{erased_rows(n)} of an erased person skipped in {result.name}"] if n else []


def _handle(
    item: Table | Problem | Activity,
    lander: Lander,
    src: SourceConfig,
    result: SourceResult,
    reporter: Reporter,
) -> None:
    result.counts = lander.counts
    if isinstance(item, Activity):
        lander.activity_id(item.name)
        return
    if isinstance(item, Problem):
        lander.add_table_issue(item.location, item.message, item.severity)
        if not item.note:
            result.messages.append(f"{item.location}: {item.message}")
        if item.fatal and result.status == "ok":
            result.status = "problems"
        return
    result.tables += 1
    maps = map_table(item, src.mapping)
    lander.clear_table_issues(item.location)
    lander.land_table(item, maps, lambda n: reporter.rows_done(src.name, n))
    for note in [*item.notes, *mapping_notes(maps)]:  # after: reading the rows adds notes
        lander.add_table_issue(item.location, note, "info")


def mapping_notes(maps: list[ColumnMap]) -> list[str]:
    """Plain-English notes about columns that did not map cleanly."""
    notes = [
        f"column {m.header!r} also looks like {m.candidate}, but another column was used for "
        f"it; this one is kept as an extra, and gives {m.candidate} where the other is blank "
        "(set `mapping:` in harvest.yaml to choose)"
        for m in maps
        if m.method == "clash"
    ]
    notes += [
        f"column {m.header!r} looks like {m.candidate} by its heading, but its values "
        f"({', '.join(map(repr, m.examples))}) are not; it is kept as an extra (set "
        "`mapping:` in harvest.yaml to choose)"
        for m in maps
        if m.method == "values"
    ]
    extras = [repr(m.header) for m in maps if m.method == "unmapped"]
    if extras:
        notes.append(
            f"kept as extras, not part of the standard: {', '.join(extras)} "
            "(run `harvest map` to see suggestions)"
        )
    return notes
