"""The connector protocol.

A connector knows one kind of source. It reads, it never writes: it yields
:class:`Table` objects (a header and a stream of rows) and :class:`Problem`
objects (something a person should hear about, e.g. an unreadable file), and
leaves its new incremental state in ``self.state`` once ``fetch`` is exhausted.
Everything after that (mapping, cleaning, landing) is shared by all connectors.

A connector is registered by an entry point in the group ``harvest.connectors``,
harvest's own exactly as an outside package's (:mod:`harvest.connectors.registry`;
docs/connectors/writing.md)::

    class MyConnector(Connector):
        type = "my_tool"
        Options = MyOptions
"""

from __future__ import annotations

import builtins
import copy
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import chain, islice
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from harvest.errors import HarvestError


@dataclass
class Row:
    """One row as a person would point at it: its row number and its cells as text."""

    number: int
    values: list[str]
    raw: str | None = None  # the record exactly as the source gave it (e.g. API JSON), if not a row


@dataclass
class Table:
    """One block of tabular data: a CSV file, one sheet of a workbook, a form's responses.

    ``headers`` are unique and never blank (the reader names blank ones ``Column 7``
    and numbers repeats ``Name (2)``); each row has exactly ``len(headers)`` values.
    ``context`` holds values for standard fields that come from the table, not a row
    (for example ``activity_date`` found in a title row or in the file name).
    """

    location: str  # what a person calls it: "week1.xlsx, sheet 'Tuesday'"
    key: str  # stable identity used in content keys: "week1.xlsx#Tuesday"
    headers: list[str]
    rows: Iterable[Row]
    header_row: int = 1  # 1-based row number of the header row
    hxl: list[str] | None = None  # one hashtag (or "") per column when there is a HXL row
    context: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # warnings about the table itself
    id_column: str | None = (
        None  # header of the source's own record id, when the connector knows it
    )
    complete: bool = True  # a whole snapshot (rows not in it are gone), or only changes

    def peek(self, n: int) -> list[Row]:
        """The first ``n`` rows, left in ``rows`` to be read (or closed) as usual."""
        if isinstance(self.rows, list):
            return self.rows[:n]
        rest = iter(self.rows)
        head = list(islice(rest, n))
        self.rows = _Peeked(head, rest)
        return head


class _Peeked(Iterator[Row]):
    """Rows looked at, then the rest; ``close()`` closes the rest (a file's reader)."""

    def __init__(self, head: list[Row], rest: Iterator[Row]) -> None:
        self._rows = chain(head, rest)
        self._rest = rest

    def __next__(self) -> Row:
        return next(self._rows)

    def close(self) -> None:
        close = getattr(self._rest, "close", None)
        if close is not None:
            close()


@dataclass
class Problem:
    """Something that stopped part of a source being read. The rest carries on.

    ``fatal`` problems (an unreadable file) make the source count as failed for the
    exit code; others (an empty sheet) are only reported. A ``note`` (a hidden sheet
    skipped, as its owner meant) is not a problem at all, only worth knowing.
    """

    location: str
    message: str
    fatal: bool = True
    note: bool = False

    @property
    def severity(self) -> str:
        """How it is stored and shown: error, warning or info."""
        return "error" if self.fatal else "info" if self.note else "warning"


@dataclass
class Activity:
    """An activity (event, session, service) the source knows of, even with nobody booked."""

    name: str
    source_id: str | None = None
    start_date: str | None = None


class NoOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Connector:
    """Base class: subclasses set ``type`` and ``Options`` and implement ``fetch``."""

    type: ClassVar[str] = ""
    # builtins.type: inside the class body, plain ``type`` is the attribute above.
    Options: ClassVar[builtins.type[BaseModel]] = NoOptions

    def __init__(self, name: str, options: BaseModel, base_dir: Path) -> None:
        self.name = name
        self.options = options
        self.base_dir = base_dir
        self.state: dict[str, Any] = {}

    def check(self) -> None:
        """Fail fast (raise ConfigError / AuthError) when the source cannot possibly be read:
        a missing or refused credential, a source that is not there. Messages name the
        source (:meth:`naming_source`) and say what to do."""

    @contextmanager
    def naming_source(self) -> Iterator[None]:
        """A HarvestError raised inside says which source it is about: ``Source 'lunch': …``."""
        try:
            yield
        except HarvestError as exc:
            if f"Source '{self.name}'" in str(exc):
                raise
            named = copy.copy(exc)
            named.args = (f"Source '{self.name}': {exc}",)
            raise named from None

    def fetch(
        self, state: dict[str, Any], full: bool = False
    ) -> Iterator[Table | Problem | Activity]:
        """Yield tables and problems; set ``self.state`` to the state to store after landing."""
        raise NotImplementedError
