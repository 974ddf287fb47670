"""Shared fixtures: a project folder with a harvest.yaml, files written for real, and the store."""

from __future__ import annotations

import csv
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml


def write_csv(
    path: Path, rows: list[list[Any]], encoding: str = "utf-8", delimiter: str = ","
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding=encoding) as fh:
        csv.writer(fh, delimiter=delimiter).writerows(rows)
    return path


def write_config(folder: Path, sources: list[dict[str, Any]], **extra: Any) -> Path:
    data = {"organisation": "Test Trust", "database": "harvest.db", "sources": sources, **extra}
    path = folder / "harvest.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def query(db_path: Path, sql: str, params: tuple = ()) -> list[tuple]:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def scalar(db_path: Path, sql: str, params: tuple = ()) -> Any:
    return query(db_path, sql, params)[0][0]


@pytest.fixture(autouse=True)
def private_token_store(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test (and every subprocess it starts) gets its own token store, never ~/.config."""
    path = tmp_path_factory.mktemp("secrets") / "secrets.json"
    monkeypatch.setenv("HARVEST_SECRETS_FILE", str(path))
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def signup_rows() -> list[list[str]]:
    return [
        ["First name", "Surname", "Phone", "Postcode", "Date of birth", "Email"],
        ["Bob", "Smith", "07700 900123", "nw12ab", "02/03/1961", "bob@example.org"],
        ["Alice", "Jones", "07700900124", "M14 5TQ", "1970-05-06", "ALICE@example.org"],
        ["Carol", "Brown", "020 7946 0001", "SW1A1AA", "3/4/85", ""],
    ]


@pytest.fixture
def lunch_source() -> Callable[..., dict[str, Any]]:
    def make(path: str = "lunch.csv", **extra: Any) -> dict[str, Any]:
        return {
            "name": "lunch",
            "type": "file",
            "options": {"path": path},
            "constants": {"activity": "Lunch club"},
            **extra,
        }

    return make
