"""Load and validate harvest.yaml.

Every problem in the file is reported at once, each naming the file, the key
path (``sources[1].options.path``) and what is wrong, so that a person can fix
the file in one go. Relative paths are relative to the config file's folder.
"""

from __future__ import annotations

import os
import re
from collections.abc import Hashable
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from harvest.config_types import LoginsConfig, RetentionConfig
from harvest.connectors.base import Connector
from harvest.connectors.registry import connector_class, connector_names
from harvest.errors import ConfigError
from harvest.normalise.standard import load_standard
from harvest.publish.privacy import PublishConfig

DEFAULT_CONFIG = "harvest.yaml"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]*$"


class SourceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN)
    type: str
    options: dict[str, Any] = Field(default_factory=dict)
    mapping: dict[str, str | None] = Field(default_factory=dict)
    constants: dict[str, str] = Field(default_factory=dict)
    enabled: bool = True

    @field_validator("mapping")
    @classmethod
    def _known_fields(cls, mapping: dict[str, str | None]) -> dict[str, str | None]:
        known = load_standard().by_name
        for header, target in mapping.items():
            if target is not None and target not in known:
                raise ValueError(
                    f"column {header!r} is mapped to {target!r}, which is not a field of the "
                    f"standard (see `harvest standard`)"
                )
        return mapping

    @field_validator("constants", mode="before")
    @classmethod
    def _constant_fields(cls, constants: dict[str, Any]) -> dict[str, str]:
        if not isinstance(constants, dict):
            return constants
        known = load_standard().by_name
        for name in constants:
            if name not in known:
                raise ValueError(
                    f"{name!r} is not a field of the standard (see `harvest standard`)"
                )
        return {k: str(v) for k, v in constants.items()}


MatchField = Literal["name", "date_of_birth", "postcode", "address", "email", "phone"]
ExactKey = Literal["email", "phone", "name_dob"]


def _default_fields() -> list[MatchField]:
    return ["name", "date_of_birth", "postcode", "address", "email", "phone"]


def _default_exact_keys() -> list[ExactKey]:
    return ["email", "phone", "name_dob"]


class MatchingConfig(BaseModel):
    """How records are recognised as one person (docs/matching.md). The defaults suit most."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    fields: list[MatchField] = Field(default_factory=_default_fields)
    exact_keys: list[ExactKey] = Field(default_factory=_default_exact_keys)
    merge_above: float = Field(default=0.8, gt=0, lt=1)
    review_above: float = Field(default=0.5, gt=0, lt=1)
    learn: bool = True
    recalibrate: bool = True
    max_cluster_size: int = Field(default=30, ge=2)
    block_size_cap: int = Field(default=50, ge=2)
    shared_value_limit: int = Field(default=5, ge=2)
    households: bool | Literal["auto"] = "auto"

    @model_validator(mode="after")
    def _thresholds_in_order(self) -> MatchingConfig:
        if self.review_above >= self.merge_above:
            raise ValueError(
                f"review_above ({self.review_above}) must be below merge_above ({self.merge_above})"
            )
        return self


class HarvestConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    organisation: str = Field(min_length=1)
    database: str = "harvest.db"
    sources: list[SourceConfig] = Field(default_factory=list)
    matching: MatchingConfig = Field(default_factory=MatchingConfig)
    publish: PublishConfig = Field(default_factory=PublishConfig)
    logins: LoginsConfig = Field(default_factory=LoginsConfig)
    retention: RetentionConfig = Field(default_factory=RetentionConfig)

    # Set after loading, not from the file.
    path: Path | None = None

    @property
    def base_dir(self) -> Path:
        return self.path.parent if self.path else Path.cwd()

    @property
    def database_path(self) -> Path:
        db = Path(os.path.expanduser(self.database))
        return db if db.is_absolute() else self.base_dir / db

    def source(self, name: str) -> SourceConfig:
        for s in self.sources:
            if s.name == name:
                return s
        known = ", ".join(s.name for s in self.sources) or "none"
        raise ConfigError(f"{self.path}: there is no source called {name!r} (sources: {known}).")

    def connector(self, source: SourceConfig) -> Connector:
        cls = connector_class(source.type)
        return cls(source.name, cls.Options.model_validate(source.options), self.base_dir)


def _loc(parts: tuple[Any, ...], raw: dict[str, Any]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"


def _pydantic_problems(exc: ValidationError, raw: dict[str, Any], prefix: tuple = ()) -> list[str]:
    problems = []
    for err in exc.errors():
        loc = _loc(prefix + tuple(err["loc"]), raw)
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "is not a setting harvest knows (check the spelling)"
        elif err["type"] == "missing":
            msg = "is required but missing"
        elif err["type"] == "string_pattern_mismatch":
            msg = "must be letters, digits, '-' or '_' (no spaces), e.g. lunch_club"
        problems.append(f"{loc}: {msg}")
    return problems


def _check_sources(raw_sources: list[Any]) -> list[str]:
    problems: list[str] = []
    types = connector_names()
    seen: set[Hashable] = set()
    for i, src in enumerate(raw_sources):
        if not isinstance(src, dict):
            continue
        name = src.get("name")
        # A list or mapping as the name is reported by the model; it cannot go in a set.
        if isinstance(name, Hashable):
            if name in seen:
                problems.append(
                    f"sources[{i}].name: {name!r} is used by two sources; names must differ"
                )
            seen.add(name)
        stype = src.get("type")
        if stype not in types:
            known = ", ".join(types)
            problems.append(f"sources[{i}].type: unknown source type {stype!r} (known: {known})")
            continue
        try:
            cls = connector_class(stype)
        except ConfigError:
            continue  # an outside connector that cannot be loaded fails its own sources only
        try:
            cls.Options.model_validate(src.get("options") or {})
        except ValidationError as exc:
            problems += _pydantic_problems(exc, src, ("sources", i, "options"))
    return problems


def parse_config(raw: Any, path: Path) -> HarvestConfig:
    """Validate already-parsed YAML; raise one ConfigError listing every problem."""
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{path}: expected settings such as 'organisation:' and 'sources:', found "
            f"{type(raw).__name__}. Run `harvest init` for a commented starter file."
        )
    problems: list[str] = []
    config: HarvestConfig | None = None
    try:
        config = HarvestConfig.model_validate(raw)
    except ValidationError as exc:
        problems += _pydantic_problems(exc, raw)
    if isinstance(raw.get("sources"), list):
        problems += _check_sources(raw["sources"])
    if problems or config is None:
        lines = "\n".join(f"  - {p}" for p in dict.fromkeys(problems))
        raise ConfigError(f"{path} has {len(problems)} problem(s); nothing was synced:\n{lines}")
    config.path = path.resolve()
    return config


def load_config(path: str | Path | None = None) -> HarvestConfig:
    """Read harvest.yaml (or ``$HARVEST_CONFIG``) and validate all of it."""
    path = Path(path or os.environ.get("HARVEST_CONFIG") or DEFAULT_CONFIG)
    if not path.exists():
        raise ConfigError(
            f"No config file at {path}. Run `harvest init` to write a starter harvest.yaml, "
            f"or pass --config PATH."
        )
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}: this is not valid YAML{where}: {problem}.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: could not be read ({exc}).") from None
    return parse_config(raw, path)


def slugify(text: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower()
    return slug or "source"
