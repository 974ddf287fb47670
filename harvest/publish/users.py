"""Who may log in to the published Datasette: `harvest users add|list|remove`.

Users live in a JSON file beside the store (``harvest.users.json`` for
``harvest.db``), readable only by its owner (mode 0600), outside the repository
and outside funders.db. It holds each user's role (``funder`` or ``staff``) and a
salted PBKDF2-SHA256 hash of their password in datasette-auth-passwords' format,
never the password. The published Datasette reads this file itself on every request
(logins.py, sessions.py), so a change here ends the user's sessions at once; the hashes
are never written into Datasette's metadata or environment.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from datasette_auth_passwords.utils import hash_password, verify_password

from harvest.errors import ConfigError, PublishError

ROLES = ("funder", "staff")
NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
MIN_PASSWORD = 10


@dataclass(frozen=True)
class User:
    name: str
    role: str
    password_hash: str


def users_path(db_path: Path) -> Path:
    """harvest.db → harvest.users.json, beside it."""
    return Path(db_path).with_name(f"{Path(db_path).stem}.users.json")


class Users:
    """The users file: read, add, remove. Every write keeps mode 0600."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def all(self) -> list[User]:
        if not self.path.exists():
            return []
        try:
            data = json.loads(self.path.read_text("utf-8"))
            return [User(name, v["role"], v["password_hash"]) for name, v in sorted(data.items())]
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(
                f"The users file {self.path} could not be read ({type(exc).__name__}). "
                "Move it aside and add the users again with `harvest users add`."
            ) from None

    def get(self, name: str) -> User | None:
        return next((u for u in self.all() if u.name == name), None)

    def add(self, name: str, role: str, password: str, replace: bool = False) -> User:
        check_user(name, role, password)
        users = {u.name: u for u in self.all()}
        if name in users and not replace:
            raise ConfigError(
                f"There is already a user called {name!r}: pass --replace to "
                "change their role or password, or remove them first."
            )
        users[name] = User(name, role, hash_password(password))
        self._write(users.values())
        return users[name]

    def remove(self, name: str) -> bool:
        users = {u.name: u for u in self.all()}
        if users.pop(name, None) is None:
            return False
        self._write(users.values())
        return True

    def verify(self, name: str, password: str) -> bool:
        user = self.get(name)
        return bool(user and verify_password(password, user.password_hash))

    def _write(self, users: object) -> None:
        data = {u.name: {"role": u.role, "password_hash": u.password_hash} for u in users}  # type: ignore[attr-defined]
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, indent=1, sort_keys=True)
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except OSError as exc:
            raise PublishError(f"Could not write the users file {self.path}: {exc}.") from None


def check_user(name: str, role: str, password: str) -> None:
    """Raise ConfigError naming every problem with a new user's details."""
    problems = []
    if not NAME.match(name):
        problems.append(
            f"the name {name!r} must be lower-case letters, digits, '.', '_' or "
            "'-' (up to 64), starting with a letter or digit"
        )
    if role not in ROLES:
        problems.append(f"the role {role!r} must be one of: {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        problems.append(f"the password must be at least {MIN_PASSWORD} characters long")
    if problems:
        raise ConfigError("Could not add the user: " + "; ".join(problems) + ".")


def demo_logins(users: Users) -> list[tuple[str, str, str]]:
    """For `harvest demo`: a funder and a staff login with fresh random passwords.

    Returns (name, role, password) for each, so the demo can print them once.
    """
    made = []
    for name, role in (("demo-funder", "funder"), ("demo-staff", "staff")):
        password = secrets.token_urlsafe(12)
        users.add(name, role, password, replace=True)
        made.append((name, role, password))
    return made
