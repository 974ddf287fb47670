"""The lock that lets one sync (or erasure, or ONSPD import) at a time write to a store.

Its own module, below sync.py, so that erasure and the pending-erasure queue can take
the lock without importing the whole pipeline."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from harvest.errors import LockedError
from harvest.private_files import private_dir


@contextmanager
def sync_lock(db_path: Path) -> Iterator[None]:
    """An exclusive lock beside the database; a second sync gives up at once."""
    lock_path = db_path.with_name(db_path.name + ".lock")
    private_dir(lock_path.parent)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
            raise LockedError(
                f"Another harvest sync is already running on {db_path} (process {holder}). "
                "This run stopped without changing anything; the next scheduled run will catch up."
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)
