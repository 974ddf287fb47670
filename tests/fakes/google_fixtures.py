"""Fixtures for the tests that talk to the fake Google (a plugin that conftest.py loads)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fakes.google import FakeGoogle
from harvest.secrets import TokenStore


@pytest.fixture
def google() -> Iterator[FakeGoogle]:
    with FakeGoogle(page_size=2) as fake:  # small pages, so that paging is exercised
        yield fake


@pytest.fixture
def google_authorised(token_store: TokenStore, google: FakeGoogle) -> TokenStore:
    """The test's own token store, with Google authorised."""
    token_store.set("google", google.authorized_user())
    return token_store
