"""Every public exception harvest raises, grouped by what happens next.

The CLI catches :class:`HarvestError` in one place and turns it into a message
and an exit code. Messages say what was tried, where (file, sheet, row or
source) and what to do about it.
"""

from __future__ import annotations


class HarvestError(Exception):
    """Root of every error harvest reports to a person."""

    exit_code = 1


class ConfigError(HarvestError):
    """harvest.yaml (or a value it refers to) is missing or invalid. Nothing is synced."""

    exit_code = 2


class AuthError(HarvestError):
    """A source refused our credentials: re-authorise it."""


class SourceError(HarvestError):
    """A source could not be read. ``retriable`` says whether trying later may help."""

    def __init__(self, message: str, *, retriable: bool = False) -> None:
        super().__init__(message)
        self.retriable = retriable


class RecordError(HarvestError):
    """One value or row could not be used. It is kept, counted and reported."""


class PublishError(HarvestError):
    """Publishing (Datasette, exports) failed."""


class StoreError(HarvestError):
    """The store (harvest's SQLite database) cannot be opened or is not a database."""


class LockedError(HarvestError):
    """Another harvest sync is already running on this database."""

    exit_code = 3


class NotFoundError(HarvestError):
    """Nobody in the store matches what was asked for."""


class TombstoneKeyError(HarvestError):
    """Forgotten rows are recorded but the key to recognise them is missing."""


class ReviewError(HarvestError):
    """A review spreadsheet or decision could not be used."""


class UnknownPerson(HarvestError):
    """There is no person with that id."""
