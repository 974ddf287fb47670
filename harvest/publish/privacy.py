"""The ``publish:`` settings, and the small-number rule for tables that are not about people.

Figures about people (every table a funder opens) are protected by the cell key method
in ``protect.py``. This module holds the settings that method reads (thresholds,
rounding, the minimum population of a table, named grant periods) and ``Rule``: NHS
Digital's rule for sub-national statistics (a count from 1 to 7 shown as ``<8``, the
rest rounded to the nearest 5), used for the few counts that are not of people, such
as the number of rows each source holds in ``coverage``.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SUPPRESSED_PCT = "suppressed"
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
# Names the built-in periods take: 2024-01, 2024-Q1, 2024, 2024/25, All time.
BUILT_IN_PERIOD = re.compile(r"^(\d{4}(-\d{2}|-Q[1-4]|/\d{2})?|All time)$", re.IGNORECASE)


class GrantPeriod(BaseModel):
    """A named period, such as a grant's term: ``{name, from, to}``, whole months."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(min_length=1, max_length=80, description="The period's name.")
    start: str = Field(alias="from", description="The first month, YYYY-MM.")
    end: str = Field(alias="to", description="The last month, YYYY-MM.")

    @field_validator("start", "end")
    @classmethod
    def _month(cls, value: str) -> str:
        value = str(value).strip()
        if not MONTH.match(value):
            raise ValueError(f"{value!r} is not a month: write it as YYYY-MM, such as 2024-04")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> GrantPeriod:
        self.name = self.name.strip()
        if BUILT_IN_PERIOD.match(self.name):
            raise ValueError(f"the period name {self.name!r} looks like a month, quarter or year")
        if self.start > self.end:
            raise ValueError(f"period {self.name!r} ends ({self.end}) before it starts")
        return self


class PublishConfig(BaseModel):
    """The ``publish:`` settings of harvest.yaml (all optional)."""

    model_config = ConfigDict(extra="forbid")

    funders_database: str = Field(
        default="funders.db",
        description="The funder-safe database, relative to harvest.yaml's folder.",
    )
    after_sync: bool = Field(
        default=True,
        description="Rebuild funders.db at the end of every sync that read anything new.",
    )
    suppress_below: int = Field(
        default=8, ge=1, description="Counts from 0 to this minus 1 are hidden."
    )
    round_to: int = Field(
        default=5, ge=1, description="Other counts are rounded to a multiple of this."
    )
    special_suppress_below: int = Field(
        default=10,
        ge=1,
        description="The threshold for counts broken down by special category data.",
    )
    min_population: int = Field(
        default=20,
        ge=1,
        description="A choice of period, activity and area with fewer people than this "
        "is not published at all.",
    )
    periods: list[GrantPeriod] = Field(
        default_factory=list,
        description="Named periods (such as a grant's term) to publish figures for.",
    )

    @model_validator(mode="after")
    def _thresholds_in_order(self) -> PublishConfig:
        if self.special_suppress_below < self.suppress_below:
            raise ValueError("special_suppress_below must not be lower than suppress_below")
        if self.min_population < self.special_suppress_below:
            raise ValueError("min_population must not be lower than special_suppress_below")
        names = [p.name.lower() for p in self.periods]
        if len(names) != len(set(names)):
            raise ValueError("two periods have the same name")
        return self

    def rule(self, special: bool = False) -> Rule:
        below = self.special_suppress_below if special else self.suppress_below
        return Rule(below, self.round_to)


class Rule:
    """One threshold and rounding base, for counts that are not of people."""

    def __init__(self, suppress_below: int = 8, round_to: int = 5) -> None:
        self.below = suppress_below
        self.base = round_to

    @property
    def marker(self) -> str:
        return f"<{self.below}"

    def rounded(self, n: int) -> int:
        return (n + self.base // 2) // self.base * self.base

    def count(self, n: int | None) -> int | str | None:
        """A count as published: None and 0 unchanged, 1..below-1 → '<below', else rounded."""
        if n is None or n == 0:
            return n
        return self.marker if n < self.below else self.rounded(n)

    def percent(self, part: int, whole: int) -> float | str | None:
        """``part`` as a share of ``whole``, worked out from the true counts, to the nearest 1%.

        Suppressed when the part, or the rest of the whole, is a small number (from 1 to
        ``below`` - 1), or when the whole is: a share of 100% or 0% then says nothing
        about a few people that the rounded count does not.
        """
        if not whole:
            return None
        rest = whole - part
        if whole < self.below or 0 < part < self.below or 0 < rest < self.below:
            return SUPPRESSED_PCT
        return float(round(100.0 * part / whole))
