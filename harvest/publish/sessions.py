"""Logins to the published Datasette: sessions kept on the server, and throttled failures.

A login starts a session: a random id, kept in the browser's cookie and, hashed, in the
session file beside the users file (``harvest.sessions.db`` for ``harvest.db``, mode
0600). The cookie carries nothing else. On every request the session is looked up, and
its user is looked up again in the users file (re-read whenever it changes), so:

* removing a user, changing their role or their password ends all their sessions at
  once (each session remembers a fingerprint of the role and password hash it began
  with), without restarting the server;
* a session ends after ``idle_minutes`` without a request (the time of the last one is
  written down at most once a minute, or a tenth of the limit, to spare the disk) and
  ``absolute_hours`` after the login, whatever happens (OWASP's Session Management
  cheat sheet);
* after ``max_failures`` failed logins for one name (four times as many from one
  address), the next attempt must wait ``lockout_minutes``, doubling with each further
  failure up to an hour.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from harvest.config_types import LoginsConfig as LoginsConfig  # re-exported
from harvest.errors import ConfigError
from harvest.publish.users import User, Users

PLUGIN = "harvest"  # the plugin's settings in Datasette's metadata: plugins: {harvest: …}
ADDRESS_FACTOR = 4  # an address may fail this many times as often as one name
MAX_WAIT = 3600.0  # the longest wait after failed logins, in seconds
FORGET_FAILURES = 24 * 3600.0  # failures this old no longer count
SEEN_EVERY = 60.0  # a session's last request is written down at most this often (seconds)
SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY, user TEXT NOT NULL, fingerprint TEXT NOT NULL,
    started REAL NOT NULL, seen REAL NOT NULL);
CREATE TABLE IF NOT EXISTS failures (
    key TEXT PRIMARY KEY, count INTEGER NOT NULL, last REAL NOT NULL,
    refused INTEGER NOT NULL DEFAULT 0);
"""


def sessions_path(users_file: Path) -> Path:
    """harvest.users.json → harvest.sessions.db, beside it."""
    name = Path(users_file).name.removesuffix(".users.json").removesuffix(".json")
    return Path(users_file).with_name(f"{name}.sessions.db")


def fingerprint(user: User) -> str:
    """Changes whenever the user's role or password changes (the hash is salted afresh)."""
    return hashlib.sha256(f"{user.role}\0{user.password_hash}".encode()).hexdigest()[:32]


def hashed(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class UsersCache:
    """The users file, read again only when it changes (its inode, size or mtime)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._key: tuple[int, int, int] | None = None
        self._users: dict[str, User] = {}

    def get(self, name: str) -> User | None:
        try:
            st = os.stat(self.path)
        except OSError:  # no users file: nobody may log in
            self._key, self._users = None, {}
            return None
        key = (st.st_ino, st.st_size, st.st_mtime_ns)
        if key != self._key:
            try:
                self._users = {u.name: u for u in Users(self.path).all()}
            except ConfigError:  # unreadable: nobody may log in until it is fixed
                self._users = {}
            self._key = key
        return self._users.get(name)


@dataclass(frozen=True)
class Failure:
    """What a failed login counted: failures in a row for the name and the address."""

    for_name: int
    from_address: int


class SessionStore:
    """The session file: sessions and failed logins, shared by every server of one store."""

    def __init__(self, path: Path, users: UsersCache, settings: LoginsConfig) -> None:
        self.path = Path(path)
        self.users = users
        self.settings = settings
        self.path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        os.chmod(self.path, 0o600)  # SQLite gives its journal the same mode
        with closing(self._connect()) as conn:
            conn.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")  # -wal and -shm take the file's mode
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    # --- sessions ---------------------------------------------------------------------

    def start(self, user: User) -> str:
        """A new session for ``user``; returns its id, for the cookie only."""
        session_id = secrets.token_urlsafe(32)
        now = time.time()
        with closing(self._connect()) as conn:
            conn.execute(
                "DELETE FROM sessions WHERE seen < ? OR started < ?",
                [now - self.idle, now - self.absolute],
            )
            conn.execute(
                "INSERT INTO sessions VALUES (?, ?, ?, ?, ?)",
                [hashed(session_id), user.name, fingerprint(user), now, now],
            )
        return session_id

    def user(self, session_id: str) -> User | None:
        """The session's user, looked up afresh; None (and the session ended) if it is over."""
        now = time.time()
        with closing(self._connect()) as conn:
            row = conn.execute(
                "SELECT user, fingerprint, started, seen FROM sessions WHERE id = ?",
                [hashed(session_id)],
            ).fetchone()
            if row is None:
                return None
            name, print_, started, seen = row
            user = self.users.get(name)
            if (
                user is None
                or fingerprint(user) != print_
                or now - seen > self.idle
                or now - started > self.absolute
            ):
                conn.execute("DELETE FROM sessions WHERE id = ?", [hashed(session_id)])
                return None
            if now - seen > min(self.idle / 10, SEEN_EVERY):  # a write, but not every request
                conn.execute("UPDATE sessions SET seen = ? WHERE id = ?", [now, hashed(session_id)])
        return user

    def end(self, session_id: str) -> None:
        with closing(self._connect()) as conn:
            conn.execute("DELETE FROM sessions WHERE id = ?", [hashed(session_id)])

    @property
    def idle(self) -> float:
        return self.settings.idle_minutes * 60

    @property
    def absolute(self) -> float:
        return self.settings.absolute_hours * 3600

    # --- failed logins ----------------------------------------------------------------

    def wait(self, name: str, address: str) -> float:
        """Seconds before ``name`` may try again from ``address`` (0: now)."""
        now = time.time()
        with closing(self._connect()) as conn:
            waits = [self._wait(conn, key, limit, now) for key, limit in self._keys(name, address)]
        return max(waits)

    def failed(self, name: str, address: str) -> Failure:
        """Count one failed login against the name and the address."""
        now = time.time()
        counts = []
        with closing(self._connect()) as conn:
            conn.execute("DELETE FROM failures WHERE last < ?", [now - FORGET_FAILURES])
            for key, _ in self._keys(name, address):
                conn.execute(
                    "INSERT INTO failures (key, count, last) VALUES (?, 1, ?) "
                    "ON CONFLICT(key) DO UPDATE SET count = count + 1, last = excluded.last",
                    [key, now],
                )
                counts.append(
                    conn.execute("SELECT count FROM failures WHERE key = ?", [key]).fetchone()[0]
                )
        return Failure(counts[0], counts[1])

    def refused(self, name: str) -> int:
        """Count an attempt refused while ``name`` must wait; how many there have been."""
        key = f"name:{name}"
        with closing(self._connect()) as conn:
            conn.execute(
                "INSERT INTO failures VALUES (?, 0, ?, 1) "
                "ON CONFLICT(key) DO UPDATE SET refused = refused + 1",
                [key, time.time()],
            )
            return int(
                conn.execute("SELECT refused FROM failures WHERE key = ?", [key]).fetchone()[0]
            )

    def succeeded(self, name: str) -> None:
        with closing(self._connect()) as conn:
            conn.execute("DELETE FROM failures WHERE key = ?", [f"name:{name}"])

    def _keys(self, name: str, address: str) -> list[tuple[str, int]]:
        limit = self.settings.max_failures
        return [(f"name:{name}", limit), (f"address:{address}", limit * ADDRESS_FACTOR)]

    def _wait(self, conn: sqlite3.Connection, key: str, limit: int, now: float) -> float:
        row = conn.execute("SELECT count, last FROM failures WHERE key = ?", [key]).fetchone()
        if row is None or row[0] < limit or now - row[1] > FORGET_FAILURES:
            return 0.0
        delay = min(self.settings.lockout_minutes * 60 * 2 ** (row[0] - limit), MAX_WAIT)
        return max(0.0, row[1] + delay - now)
