"""A row's identity and its bookkeeping as it lands: keys, content hashes, versions, counts.

Row identity (``source_key``): the source's own record id when a column maps to
``source_record_id``, else a key from the table and the row's content (a repeat of an
identical row in the same table gets ``~2``, ``~3``…). Both hashes are stored, so they
must never change: a store synced by an older harvest must find its rows again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from hashlib import blake2b
from itertools import islice
from json.encoder import encode_basestring_ascii as json_str

from harvest.connectors.base import Row
from harvest.normalise.record import Normalised


@dataclass(slots=True)
class Existing:
    """A version of a row already in the store (or landed earlier in this run)."""

    id: int
    content_hash: str
    version: int
    run_id: int
    is_current: int
    person_id: int | None


@dataclass(slots=True)
class Pending:
    """A row that needs a new raw_rows/records entry."""

    row: Row
    key: str
    content_hash: str
    version: int
    norm: Normalised
    person_id: int | None = None
    raw_id: int = 0
    data: str | None = None  # the row's JSON, when made already (by the cleaning process)
    keys: list[str] | None = None  # its person keys, likewise


@dataclass
class Counts:
    read: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    problems: int = 0
    forgotten: int = 0  # rows skipped because they were forgotten (tombstones)
    problem_kinds: Counter = field(default_factory=Counter)


def content_hash(text: str) -> str:
    return blake2b(text.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


def batches(rows: Iterable[Row], size: int) -> Iterator[list[Row]]:
    it = iter(rows)
    while batch := list(islice(it, size)):
        yield batch


class RowIdentity:
    """Keys and content hashes for the rows of one table."""

    def __init__(self, table_key: str, headers: list[str], id_idx: int | None) -> None:
        self.id_idx = id_idx
        self.key_prefix = table_key + "\x1e"
        self.hash_prefix = "\x1d".join(headers) + "\x1e"

    def __call__(self, values: list[str]) -> tuple[str, str]:
        """(source_key, content_hash) of one row's values."""
        joined = "\x1f".join(values)
        if self.id_idx is not None:
            sid = values[self.id_idx].strip()
            if sid:
                return "id:" + sid.removesuffix(".0"), content_hash(self.hash_prefix + joined)
        return "row:" + content_hash(self.key_prefix + joined), content_hash(
            self.hash_prefix + joined
        )


class RowJson:
    """A row as the JSON object of header → text kept verbatim in ``raw_rows.data``.

    The same text ``json.dumps(dict(zip(headers, values)), separators=(",", ":"))`` gives,
    built from a template with the headers encoded once per table.
    """

    def __init__(self, headers: list[str]) -> None:
        self.width = len(headers)
        self.keys = [json_str(h) + ":" for h in headers]
        self.template = "{" + ",".join(k.replace("%", "%%") + "%s" for k in self.keys) + "}"

    def __call__(self, row: Row) -> str:
        return row.raw or self.values(row.values)

    def values(self, values: list[str]) -> str:
        if len(values) != self.width:  # readers fit rows to the header; this is a fallback
            return (
                "{"
                + ",".join([k + json_str(v) for k, v in zip(self.keys, values, strict=False)])
                + "}"
            )
        return self.template % tuple(map(json_str, values))


def erased_note(n: int) -> str:
    """Plain words for rows skipped because the person was erased (``harvest forget``)."""
    rows = "1 row" if n == 1 else f"{n:,} rows"
    return (
        f"{rows} of an erased person skipped: they asked to be forgotten (`harvest forget`), "
        "so their rows are never stored again. Delete them from the source too."
    )
