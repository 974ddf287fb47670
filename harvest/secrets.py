"""The token store: secrets kept out of harvest.yaml, the database, logs and output.

Secrets live in the OS keyring where one is usable, else in a JSON file in the
user's config directory (``~/.config/harvest/secrets.json``) with mode 0600. For
servers and CI a source may instead name an environment variable in harvest.yaml::

    options:
      token: {env: EVENTBRITE_TOKEN}

Values come back as pydantic ``SecretStr`` so that printing, logging or a
traceback shows ``**********``, never the secret.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr

from harvest.errors import AuthError, ConfigError

log = logging.getLogger(__name__)
SERVICE = "harvest"


class SecretRef(BaseModel):
    """Where a secret comes from when it is not in the token store: ``{env: NAME}``."""

    model_config = ConfigDict(extra="forbid")
    env: str


def default_path() -> Path:
    override = os.environ.get("HARVEST_SECRETS_FILE")
    if override:
        return Path(override)
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "harvest" / "secrets.json"


def _usable_keyring() -> Any | None:
    """The OS keyring backend, or None on a server without one (or when told not to)."""
    if os.environ.get("HARVEST_SECRETS_FILE") or os.environ.get("HARVEST_NO_KEYRING"):
        return None
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:
        return None
    backend = keyring.get_keyring()
    if isinstance(backend, fail.Keyring) or getattr(backend, "priority", 0) <= 0:
        return None
    if "chainer" in type(backend).__module__ and not getattr(backend, "backends", None):
        return None
    return backend


class TokenStore:
    """Get and set named secrets (``eventbrite``, ``google``, ``funders_hmac_key``…)."""

    def __init__(self, path: Path | None = None, use_keyring: bool | None = None) -> None:
        self.path = path or default_path()
        self.keyring = _usable_keyring() if use_keyring in (None, True) and path is None else None

    @property
    def where(self) -> str:
        """A description of where secrets are kept (never the secrets themselves)."""
        if self.keyring is not None:
            return f"the system keyring ({type(self.keyring).__name__})"
        return str(self.path)

    def _read_file(self) -> dict[str, str]:
        if not self.path.exists():
            return {}
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"The token store {self.path} could not be read ({type(exc).__name__}). "
                "Move it aside and authorise the sources again with `harvest auth …`."
            ) from None

    def _write_file(self, data: dict[str, str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1, sort_keys=True)
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)

    def get(self, name: str) -> SecretStr | None:
        if self.keyring is not None:
            value = self.keyring.get_password(SERVICE, name)
        else:
            value = self._read_file().get(name)
        return SecretStr(value) if value else None

    def set(self, name: str, value: str | SecretStr) -> None:
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if self.keyring is not None:
            self.keyring.set_password(SERVICE, name, text)
            return
        data = self._read_file()
        data[name] = text
        self._write_file(data)
        log.info("Stored secret %r in %s", name, self.path)

    def delete(self, name: str) -> bool:
        if self.keyring is not None:
            try:
                self.keyring.delete_password(SERVICE, name)
                return True
            except Exception:  # keyring raises its own PasswordDeleteError
                return False
        data = self._read_file()
        if name not in data:
            return False
        del data[name]
        self._write_file(data)
        return True


def resolve_secret(
    ref: SecretRef | None, store: TokenStore, name: str, auth_command: str
) -> SecretStr:
    """The secret for a source: from the environment variable it names, else the token store."""
    if ref is not None:
        value = os.environ.get(ref.env)
        if not value:
            raise AuthError(
                f"harvest.yaml says the secret for {name!r} is in the environment variable "
                f"{ref.env}, but it is not set. Set it, or remove the setting and run "
                f"`{auth_command}`."
            )
        return SecretStr(value)
    secret = store.get(name)
    if secret is None:
        raise AuthError(f"harvest has no {name} authorisation yet: run `{auth_command}`.")
    return secret
