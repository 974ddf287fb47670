"""Small-number suppression: NHS Digital's rule for sub-national statistics.

By default a count from 1 to 7 is shown as ``<8``, every other count is rounded to
the nearest 5 (halves up: 12 → 10, 13 → 15), and a percentage is worked out from
the rounded counts (suppressed when either count is). Zero stays 0. Counts broken
down by special category data (ethnicity, disability, health scores) use a higher
threshold, ``special_suppress_below``.

The same rule is applied twice: in Python (``Rule.count``) for tables worked out
when ``funders.db`` is built, and in SQL for the canned queries, whose parameters
are only known when a funder runs them. ``expand_sql`` turns the macros in
``funder_queries.yaml`` into plain SQL ``CASE`` expressions, so the suppression is
in the query itself and needs no plugin:

``{{n:X}}`` / ``{{s:X}}``
    the count X, suppressed and rounded (``s``: with the special threshold)
``{{pct:X,Y}}`` / ``{{spct:X,Y}}``
    X as a percentage of Y, from the rounded counts
``{{avg:X,N}}``
    the average X, to one decimal place, shown only when N (people) reaches the
    special threshold
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, model_validator

SUPPRESSED_PCT = "suppressed"
MACRO = re.compile(r"\{\{\s*(n|s|pct|spct|avg)\s*:\s*([^}]+?)\s*\}\}")


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
        default=8, ge=1, description="Counts from 1 to this minus 1 are hidden."
    )
    round_to: int = Field(
        default=5, ge=1, description="Other counts are rounded to a multiple of this."
    )
    special_suppress_below: int = Field(
        default=10,
        ge=1,
        description="The threshold for counts broken down by special category data.",
    )

    @model_validator(mode="after")
    def _special_is_stricter(self) -> PublishConfig:
        if self.special_suppress_below < self.suppress_below:
            raise ValueError("special_suppress_below must not be lower than suppress_below")
        return self

    def rule(self, special: bool = False) -> Rule:
        below = self.special_suppress_below if special else self.suppress_below
        return Rule(below, self.round_to)


class Rule:
    """One threshold and rounding base."""

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
        """``part`` as a percentage of ``whole``, from the rounded counts, to 1 decimal place."""
        if part == 0:
            return 0.0 if whole else None
        if part < self.below or whole < self.below:
            return SUPPRESSED_PCT
        return round(100.0 * self.rounded(part) / self.rounded(whole), 1)

    # --- the same in SQL -------------------------------------------------------------

    def count_sql(self, expr: str) -> str:
        x = f"cast(({expr}) as integer)"
        return (
            f"(case when {x} is null or {x} = 0 then {x} when {x} < {self.below} "
            f"then '{self.marker}' else ({x} + {self.base // 2}) / {self.base} * {self.base} "
            "end)"
        )

    def percent_sql(self, part: str, whole: str) -> str:
        p, w = f"cast(({part}) as integer)", f"cast(({whole}) as integer)"
        rp = f"(({p} + {self.base // 2}) / {self.base} * {self.base})"
        rw = f"(({w} + {self.base // 2}) / {self.base} * {self.base})"
        return (
            f"(case when coalesce({p}, 0) = 0 then (case when {w} > 0 then 0.0 end) "
            f"when {p} < {self.below} or {w} < {self.below} then '{SUPPRESSED_PCT}' "
            f"else round(100.0 * {rp} / {rw}, 1) end)"
        )

    def average_sql(self, expr: str, people: str) -> str:
        return (
            f"(case when coalesce(({people}), 0) < {self.below} then '{SUPPRESSED_PCT}' "
            f"else round(({expr}), 1) end)"
        )


def expand_sql(sql: str, config: PublishConfig) -> str:
    """Replace the suppression macros in a canned query's SQL with CASE expressions."""
    normal, special = config.rule(), config.rule(special=True)

    def one(match: re.Match[str]) -> str:
        kind, args = match.group(1), [a.strip() for a in match.group(2).split(",")]
        if kind in ("n", "s"):
            return (special if kind == "s" else normal).count_sql(args[0])
        if kind in ("pct", "spct"):
            return (special if kind == "spct" else normal).percent_sql(args[0], args[1])
        return special.average_sql(args[0], args[1])

    return MACRO.sub(one, sql)
