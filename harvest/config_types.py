"""The types of harvest.yaml's settings blocks that library modules read, kept at the bottom
of the import graph: this module imports nothing of harvest, so ``config.py`` can use them
without importing the modules that act on them (tests/test_architecture.py checks it)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class RetentionConfig(BaseModel):
    """The ``retention:`` settings of harvest.yaml."""

    model_config = ConfigDict(extra="forbid")
    raw_rows_years: float | None = Field(default=None, gt=0)
    records_years: float | None = Field(default=None, gt=0)
    people_unseen_years: float | None = Field(default=None, gt=0)

    @property
    def active(self) -> bool:
        return any(v is not None for v in self.model_dump().values())


class LoginsConfig(BaseModel):
    """The ``logins:`` block of harvest.yaml (docs/configuration.md)."""

    model_config = ConfigDict(extra="forbid")

    idle_minutes: float = Field(default=30, gt=0)
    absolute_hours: float = Field(default=12, gt=0)
    max_failures: int = Field(default=5, ge=1)
    lockout_minutes: float = Field(default=1, gt=0)

    @model_validator(mode="after")
    def _idle_within_absolute(self) -> LoginsConfig:
        if self.idle_minutes > self.absolute_hours * 60:
            raise ValueError(
                f"idle_minutes ({self.idle_minutes}) must not be longer than absolute_hours "
                f"({self.absolute_hours}) in minutes"
            )
        return self
