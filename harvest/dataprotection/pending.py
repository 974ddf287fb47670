"""Erasures that are not finished yet: left unfinished by a crash, or queued behind a sync.

An erasure is complete only when the store *and* every published file are clean. So
``forget`` records the erasure as unfinished (table ``erasures``, and an audit entry with
``complete: false``) in the same transaction as the deletion; then vacuums the store,
rebuilds and vacuums funders.db; and only then marks it complete (audit ``forget.complete``).
A crash anywhere leaves it unfinished, and ``finish`` — run first by the next ``sync``,
``publish`` or ``forget`` — does the rest.

An erasure asked for while a sync holds the lock is queued: a small file (0600, in a 0700
folder ``<store>.erasure-queue`` beside the store) holding what the person was found by.
The running sync does it before it ends (``drain``); the file is removed once the
deletion has committed. Any process that takes the lock drains the queue first and last,
and looks again after letting go of it, so a request made at the last moment is not left
waiting for the next scheduled run.

``HARVEST_TEST_CRASH_AT`` (tests only) kills the process at a named step, as a power cut
would: ``before_commit``, ``after_commit``, ``publish`` (the funders rebuild) or
``published`` (funders.db rebuilt, not yet vacuumed or marked complete).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import sqlite_utils

from harvest import audit, store
from harvest.errors import HarvestError, LockedError
from harvest.private_files import private_dir, private_opener

CRASH_ENV = "HARVEST_TEST_CRASH_AT"


def crash_point(step: str) -> None:
    """Test-only: die here, with no clean-up at all, when HARVEST_TEST_CRASH_AT names this step."""
    if os.environ.get(CRASH_ENV) == step:
        os.kill(os.getpid(), signal.SIGKILL)


def begin(db: sqlite_utils.Database, counts: dict[str, Any], command: str) -> int:
    """Record an erasure as unfinished, in the caller's transaction (with the deletion)."""
    cur = db.execute("INSERT INTO erasures (started_at) VALUES (?)", [store.now()])
    assert cur.lastrowid is not None  # always set after an INSERT
    audit.record(db, "forget", {**counts, "erasure": cur.lastrowid, "complete": False}, command)
    return int(cur.lastrowid)


def unfinished(db_path: Path) -> list[int]:
    if not db_path.is_file():
        return []
    db = store.connect(db_path)
    try:
        rows = db.execute("SELECT id FROM erasures WHERE status = 'unfinished' ORDER BY id")
        return [r[0] for r in rows.fetchall()]
    finally:
        db.conn.close()


def finish(config: Any, tokens: Any = None) -> list[int]:
    """Finish every unfinished erasure: vacuum the store, rebuild and vacuum funders.db, then
    mark them complete. The caller holds the sync lock. Returns the erasures finished."""
    from harvest.dataprotection.erasure import vacuum
    from harvest.publish.funders import funders_path
    from harvest.publish.pseudonym_key import publish

    ids = unfinished(config.database_path)
    if not ids:
        return []
    vacuum(config.database_path)
    target = funders_path(config)
    rebuilt = target.is_file()
    if rebuilt:
        crash_point("publish")
        try:
            publish(config, tokens)
        except HarvestError as exc:
            raise type(exc)(
                f"An erasure is unfinished: funders.db may still hold the person, and it could "
                f"not be rebuilt. {exc} Then run `harvest publish` (or delete {target}) to "
                "finish the erasure."
            ) from None
        crash_point("published")
        vacuum(target)
    db = store.connect(config.database_path)
    try:
        with store.transaction(db):
            marks = ",".join("?" * len(ids))
            db.execute(
                f"UPDATE erasures SET status = 'complete', finished_at = ? WHERE id IN ({marks})",
                [store.now(), *ids],
            )
            audit.record(db, "forget.complete", {"erasures": len(ids), "funders_rebuilt": rebuilt})
    finally:
        db.conn.close()
    return ids


# --- erasures asked for while a sync was running ----------------------------------------


def queue_dir(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".erasure-queue")


def enqueue(db_path: Path, who: Any, raw_ids: list[int]) -> Path:
    """Queue an erasure for the sync holding the lock; returns the request's file."""
    folder = private_dir(queue_dir(db_path))
    path = folder / f"{time.time_ns()}-{os.getpid()}.json"
    with open(path, "x", encoding="utf-8", opener=private_opener) as fh:
        json.dump({"who": asdict(who) if who is not None else None, "raw_ids": raw_ids}, fh)
    return path


def queued(db_path: Path) -> list[Path]:
    folder = queue_dir(db_path)
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def run_queue(config: Any, tokens: Any = None) -> int:
    """Erase every queued request (the caller holds the lock); returns how many were done."""
    from harvest.dataprotection.erasure import Who, erase_now, find_person
    from harvest.errors import NotFoundError

    done = 0
    for path in queued(config.database_path):
        try:
            request = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            raise HarvestError(
                f"The queued erasure {path} cannot be read (it may have been edited). Run "
                "`harvest forget` again for that person, then delete the file."
            ) from None
        raw_ids = set(request.get("raw_ids") or [])
        if request.get("who"):  # found again: rows of theirs this very sync may have added
            db = store.connect(config.database_path)
            try:
                raw_ids |= set(find_person(db, Who(**request["who"])).raw_ids)
            except NotFoundError:
                pass
            finally:
                db.conn.close()
        erase_now(config, sorted(raw_ids), tokens, command="forget (queued)")
        path.unlink()
        done += 1
    if done and not queued(config.database_path):
        with contextlib.suppress(OSError):  # a request queued just now keeps it
            queue_dir(config.database_path).rmdir()
    return done


def drain(config: Any, tokens: Any = None) -> int:
    """With the lock held: do queued erasures, then finish unfinished ones."""
    done = run_queue(config, tokens)
    finish(config, tokens)
    return done


def finish_locked(config: Any, tokens: Any = None) -> list[int]:
    """For `harvest publish`: finish unfinished erasures under the lock (only when there are
    any, so publishing while a sync runs still works)."""
    from harvest.lock import sync_lock

    if not unfinished(config.database_path):
        return []
    with sync_lock(config.database_path):
        return finish(config, tokens)


def catch_up(config: Any, tokens: Any = None) -> int:
    """After letting go of the lock: a request queued at the last moment is done now."""
    from harvest.lock import sync_lock

    if not queued(config.database_path):
        return 0
    try:
        with sync_lock(config.database_path):
            return drain(config, tokens)
    except LockedError:  # whoever holds it now drains the queue before letting go
        return 0
