"""Files that hold personal data are readable by harvest's user only: 0600, in 0700 folders.

The ``harvest`` command sets its umask to 077 as it starts (``harvest.cli.main``), so
everything it writes — the store and SQLite's -wal and -shm files, funders.db, exports,
review sheets, subject-access files, a log that cron redirects — is private whatever the
umask of the shell or cron that started it. Library code does not rely on that: the
paths that write personal data call these helpers too, so harvest used as a library (or
a test) makes the same files. Folders harvest creates are 0700; folders that already
exist (a charity's shared project folder) are left as they are.
"""

from __future__ import annotations

import os
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700
UMASK = 0o077


def private_dir(path: Path) -> Path:
    """Make ``path`` and any missing parents, each new one 0700 (an existing one is kept)."""
    missing = []
    for folder in [path, *path.parents]:
        if folder.exists():
            break
        missing.append(folder)
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue
        os.chmod(folder, DIR_MODE)  # mkdir's mode is masked by the umask
    return path


def private_file(path: Path, create: bool = True) -> Path:
    """Make sure ``path`` is 0600: tighten it if it exists, else create it empty (``create``)."""
    private_dir(path.parent)
    if path.exists():
        os.chmod(path, FILE_MODE)
    elif create:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE))
        os.chmod(path, FILE_MODE)
    return path


def private_opener(path: str, flags: int) -> int:
    """For ``open(..., opener=private_opener)``: a new file is created 0600."""
    return os.open(path, flags, FILE_MODE)
