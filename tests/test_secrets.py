"""The token store: a 0600 file (or the OS keyring), SecretStr values, environment references."""

from __future__ import annotations

import json
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend
from pydantic import SecretStr

from harvest.errors import AuthError, ConfigError
from harvest.secrets import SecretRef, TokenStore, default_path, resolve_secret

SECRET = "tok-0123456789abcdef"


@pytest.fixture
def secrets_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Not conftest's store: this one's folder does not exist yet, so harvest must make it."""
    path = tmp_path / "config" / "harvest" / "secrets.json"
    monkeypatch.setenv("HARVEST_SECRETS_FILE", str(path))
    return path


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_secrets_go_to_a_file_only_its_owner_can_read(secrets_file):
    store = TokenStore()
    assert store.keyring is None and store.where == str(secrets_file)
    store.set("eventbrite", SECRET)
    assert mode(secrets_file) == 0o600
    assert mode(secrets_file.parent) == 0o700
    assert json.loads(secrets_file.read_text()) == {"eventbrite": SECRET}
    assert TokenStore().get("eventbrite").get_secret_value() == SECRET


def test_a_file_that_was_readable_by_others_becomes_0600_when_written(secrets_file):
    secrets_file.parent.mkdir(parents=True)
    secrets_file.write_text("{}")
    secrets_file.chmod(0o644)
    TokenStore().set("google", SecretStr(SECRET))
    assert mode(secrets_file) == 0o600
    assert not secrets_file.with_suffix(".tmp").exists()


def test_values_are_secret_strings_that_never_print(secrets_file, caplog):
    store = TokenStore()
    with caplog.at_level(logging.DEBUG):
        store.set("eventbrite", SECRET)
        value = store.get("eventbrite")
    assert isinstance(value, SecretStr)
    assert SECRET not in str(value) and SECRET not in repr(value) and SECRET not in f"{value}"
    assert SECRET not in caplog.text and "eventbrite" in caplog.text


def test_several_secrets_and_deleting_one(secrets_file):
    store = TokenStore()
    store.set("eventbrite", "a")
    store.set("google", "b")
    assert store.delete("eventbrite") is True
    assert store.delete("eventbrite") is False
    assert store.get("eventbrite") is None and store.get("google").get_secret_value() == "b"


def test_an_unreadable_store_says_what_to_do_without_showing_its_contents(secrets_file):
    secrets_file.parent.mkdir(parents=True)
    secrets_file.write_text('{"eventbrite": "' + SECRET)  # cut short
    with pytest.raises(ConfigError) as caught:
        TokenStore().get("eventbrite")
    assert "harvest auth" in str(caught.value) and SECRET not in str(caught.value)


def test_default_path_is_in_the_users_config_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("HARVEST_SECRETS_FILE", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert default_path() == tmp_path / "harvest" / "secrets.json"


def test_an_environment_reference_beats_the_store(secrets_file, monkeypatch):
    store = TokenStore()
    store.set("eventbrite", "from-the-store")
    monkeypatch.setenv("EB_TOKEN", SECRET)
    ref = SecretRef(env="EB_TOKEN")
    assert (
        resolve_secret(ref, store, "eventbrite", "harvest auth eventbrite").get_secret_value()
        == SECRET
    )
    assert (
        resolve_secret(None, store, "eventbrite", "harvest auth eventbrite").get_secret_value()
        == "from-the-store"
    )


def test_missing_secrets_say_where_harvest_looked(secrets_file, monkeypatch):
    monkeypatch.delenv("EB_TOKEN", raising=False)
    with pytest.raises(AuthError, match="environment variable EB_TOKEN, but it is not set"):
        resolve_secret(
            SecretRef(env="EB_TOKEN"), TokenStore(), "eventbrite", "harvest auth eventbrite"
        )
    with pytest.raises(AuthError, match=r"no eventbrite authorisation yet: run `harvest auth"):
        resolve_secret(None, TokenStore(), "eventbrite", "harvest auth eventbrite")


def test_a_secret_reference_allows_only_env():
    with pytest.raises(ValueError):
        SecretRef.model_validate({"env": "X", "value": SECRET})


class MemoryKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.saved: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.saved.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.saved[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        del self.saved[(service, username)]


@pytest.fixture
def os_keyring(monkeypatch: pytest.MonkeyPatch) -> Iterator[MemoryKeyring]:
    monkeypatch.delenv("HARVEST_SECRETS_FILE", raising=False)
    monkeypatch.delenv("HARVEST_NO_KEYRING", raising=False)
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


def test_a_usable_os_keyring_is_preferred_to_the_file(os_keyring, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    store = TokenStore()
    assert store.where == "the system keyring (MemoryKeyring)"
    store.set("eventbrite", SECRET)
    assert os_keyring.saved == {("harvest", "eventbrite"): SECRET}
    assert store.get("eventbrite").get_secret_value() == SECRET
    assert not (tmp_path / "harvest" / "secrets.json").exists()
    assert store.delete("eventbrite") is True and store.delete("eventbrite") is False


def test_harvest_no_keyring_forces_the_file(os_keyring, tmp_path, monkeypatch):
    monkeypatch.setenv("HARVEST_NO_KEYRING", "1")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    store = TokenStore()
    store.set("eventbrite", SECRET)
    assert os_keyring.saved == {}
    assert mode(tmp_path / "harvest" / "secrets.json") == 0o600
