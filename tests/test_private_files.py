"""Files holding personal data are 0600, in folders harvest makes 0700, whatever the umask.

Every command runs as a real subprocess started by a shell with ``umask 022``, the
usual default that makes new files readable by every local account.
"""

from __future__ import annotations

import os
import shlex
import stat
import subprocess
import sys
from pathlib import Path

from conftest import write_config, write_csv

from harvest import store
from harvest.config import load_config
from harvest.dataprotection.access import export_person
from harvest.sync import sync

HEADER = ["First name", "Surname", "Date of birth", "Postcode", "Email", "Phone"]
ROWS = [
    ["Ann", "Lee", "01/02/1950", "M1 1AE", "ann@example.org", "07700 900111"],
    ["Anne", "Lee", "", "M1 1AE", "", ""],
    ["Raj", "Patel", "05/06/1977", "B1 1AA", "", "07700 900222"],
    ["Raj", "Patel", "", "B1 1AA", "rp@example.org", ""],
]
EVERYTHING_UNCERTAIN = {"merge_above": 0.99999999999, "review_above": 0.000001, "exact_keys": []}


def harvest(
    project: Path, *args: str, crash_at: str | None = None, module: str = "harvest"
) -> subprocess.CompletedProcess:
    """Run ``python -m harvest`` (or ``module``) as a shell started with ``umask 022`` would."""
    command = shlex.join([sys.executable, "-m", module, *args])
    env = {**os.environ, "HARVEST_SECRETS_FILE": str(project / "keys" / "secrets.json")}
    if crash_at:
        env["HARVEST_TEST_CRASH_AT"] = crash_at
    return subprocess.run(
        ["sh", "-c", f"umask 022 && exec {command}"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _mode(path: Path) -> str:
    return oct(stat.S_IMODE(path.stat().st_mode))


def test_every_file_harvest_writes_is_private_under_umask_022(project: Path) -> None:
    write_csv(project / "list.csv", [HEADER, *ROWS])
    write_config(
        project,
        [{"name": "list", "type": "file", "options": {"path": "list.csv"}}],
        database="data/store/harvest.db",
        matching=EVERYTHING_UNCERTAIN,
        publish={"funders_database": "published/funders.db"},
    )
    os.chmod(project, 0o755)
    for folder in ("sheets", "access"):  # folders of the charity's own: left as they are
        (project / folder).mkdir(mode=0o755)
    steps = [
        ["sync"],
        ["publish"],
        ["export", "-o", "exports/all"],
        ["export", "-f", "xlsx", "-o", "exports/funders.xlsx"],
        ["review", "--export", "sheets/review.xlsx"],
        ["person", "1", "--export", "access/person1.json"],
        ["person", "1", "--export", "access/person1.xlsx"],
    ]
    for args in steps:
        done = harvest(project, *args)
        assert done.returncode == 0, (args, done.stdout + done.stderr)
    _all_private(
        project,
        "data/store/harvest.db",
        "published/funders.db",
        "exports/all/activities.csv",
        "exports/funders.xlsx",
        "sheets/review.xlsx",
        "access/person1.json",
        "access/person1.xlsx",
        "keys/secrets.json",
    )
    # Killed in the middle of an erasure, the store's -wal and -shm are left on disk.
    killed = harvest(
        project, "forget", "--email", "ann@example.org", "--yes", crash_at="before_commit"
    )
    assert killed.returncode == -9, killed.stdout + killed.stderr
    _all_private(project, "data/store/harvest.db-wal", "data/store/harvest.db-shm")


def test_python_dash_m_harvest_cli_is_private_too(project: Path) -> None:
    """``python -m harvest.cli``, the form older cron lines use, sets the same umask."""
    write_csv(project / "list.csv", [HEADER, *ROWS])
    write_config(project, [{"name": "list", "type": "file", "options": {"path": "list.csv"}}])
    done = harvest(project, "sync", module="harvest.cli")
    assert done.returncode == 0, done.stdout + done.stderr
    assert _mode(project / "harvest.db") == "0o600"


def _all_private(project: Path, *expected: str) -> None:
    """Every file harvest wrote is 0600; every folder it made 0700 (the charity's: 0755)."""
    written = {
        p.relative_to(project).as_posix(): _mode(p)
        for p in project.rglob("*")
        if p.name not in ("list.csv", "harvest.yaml")
    }
    assert set(expected) <= set(written), sorted(written)
    files = {n: m for n, m in written.items() if (project / n).is_file()}
    folders = {n: m for n, m in written.items() if (project / n).is_dir()}
    assert files == {n: "0o600" for n in files}
    made = {"data", "data/store", "published", "exports", "exports/all", "keys"}
    assert folders == {n: "0o700" if n in made else "0o755" for n in folders}


def test_harvest_used_as_a_library_makes_private_files_too(project: Path) -> None:
    write_csv(project / "list.csv", [HEADER, *ROWS])
    cfg = write_config(
        project,
        [{"name": "list", "type": "file", "options": {"path": "list.csv"}}],
        database="data/harvest.db",
    )
    old = os.umask(0o022)  # no `harvest` command here to set the umask
    try:
        config = load_config(cfg)
        sync(config)
        db = store.connect(config.database_path)
        try:
            export_person(db, 1, project / "person.json")
        finally:
            db.conn.close()
    finally:
        os.umask(old)
    for name in ("data/harvest.db", "funders.db", "person.json"):
        assert _mode(project / name) == "0o600", name
    assert _mode(project / "data") == "0o700"
