"""A sync started from the browser: run in a background thread, under the usual lock,
with its progress kept where a page can read it.

One job at a time per store. The job's thread runs ``harvest.sync.sync`` exactly as
`harvest sync` does (same lock, same audit entry), inside ``audit.acting_as`` so the
trail names the member of staff who pressed "Sync now". When another sync holds the
lock (cron, a terminal), the job ends at once with the lock's message.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from harvest import audit
from harvest.config import load_config
from harvest.errors import HarvestError
from harvest.sync import SourceResult, sync

log = logging.getLogger(__name__)


@dataclass
class JobState:
    """What a page shows: running or not, each source's rows so far, and the outcome."""

    running: bool = False
    started_by: str = ""
    started_at: float = 0.0
    only: str | None = None
    current: str | None = None
    rows: dict[str, int] = field(default_factory=dict)
    finished: list[str] = field(default_factory=list)  # one summary line per source
    error: str | None = None
    done_at: float | None = None


class ProgressReporter:
    """The sync's Reporter: writes into the job's state (read by the page)."""

    def __init__(self, state: JobState) -> None:
        self.state = state

    def source_started(self, name: str) -> None:
        self.state.current = name
        self.state.rows[name] = 0

    def rows_done(self, name: str, n: int) -> None:
        self.state.rows[name] = self.state.rows.get(name, 0) + n

    def source_finished(self, result: SourceResult) -> None:
        self.state.finished.append(result.summary())
        self.state.current = None


_jobs: dict[Path, JobState] = {}
_guard = threading.Lock()


def state(config_path: Path) -> JobState:
    """The latest job for this harvest.yaml (an empty state if none has run)."""
    return _jobs.get(Path(config_path), JobState())


def start(config_path: Path, user: str, only: str | None = None) -> bool:
    """Start a sync in the background; False if one started here is still running."""
    key = Path(config_path)
    with _guard:
        if _jobs.get(key, JobState()).running:
            return False
        job = _jobs[key] = JobState(True, user, time.time(), only)
    context = contextvars.copy_context()
    thread = threading.Thread(
        target=context.run, args=(_run, key, job), name="harvest-sync", daemon=True
    )
    thread.start()
    return True


def _run(config_path: Path, job: JobState) -> None:
    try:
        with audit.acting_as(job.started_by):
            config = load_config(config_path)
            result = sync(config, only=job.only, reporter=ProgressReporter(job), command="sync")
        if result.matching and result.matching.error:
            job.error = result.matching.error
        elif result.publish_error:
            job.error = result.publish_error
    except HarvestError as exc:  # the lock is held by another sync, or harvest.yaml is wrong
        job.error = str(exc)
    except Exception as exc:  # a bug: say so on the page rather than die silently
        log.exception("The sync started from the browser failed")
        job.error = f"unexpected error ({type(exc).__name__}: {exc}); see the server's log."
    finally:
        job.running, job.current, job.done_at = False, None, time.time()
