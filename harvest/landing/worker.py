"""Cleaning on a second process while the first lands what is already clean.

A table whose rows can none of them be in the store yet (see ``Lander._is_new``) has
every row cleaned, so the work needs no answer from the store: a child process keys,
hashes, cleans and encodes each batch (and finds its person keys) while the lander
looks up, assigns and writes the batch before it. One child, fed in order, so the
cleaner's memory of values (and so its once-a-table notes) is what it would be in one
process. The child only computes: it never touches the store (it is forked after the
writer thread has finished, and its inherited connection is never used or closed), so
a child that fails or is killed fails the source's sync, whose transaction rolls back.
Only a sync on a process's main thread forks one (not one the staff console started).
"""

from __future__ import annotations

import multiprocessing
import signal
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from harvest.landing.people import person_keys
from harvest.landing.rows import RowIdentity, RowJson
from harvest.normalise.record import Normalised, RowNormaliser

# one row, cleaned: key, content hash, raw JSON, the Normalised's parts, person keys
Cleaned = tuple[str, str, str, dict[str, Any], dict[str, str], list, list, str | None, list[str]]

_job: tuple[RowIdentity, RowJson, RowNormaliser] | None = None  # the child's, per table


def _start(identity: RowIdentity, as_json: RowJson, normaliser: RowNormaliser) -> None:
    """The child's tools, as the lander's were when it was forked (the cleaner's memory of
    values included: a note already given for the table's first batch is not given again)."""
    global _job
    _job = (identity, as_json, normaliser)
    # Ctrl-C reaches the whole process group: the lander stops the sync (rolling back) and
    # then this child; the child itself stays quiet rather than print a traceback
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _clean(batch: list[list[str]]) -> list[Cleaned]:
    assert _job is not None  # set by _start in this process
    identity, as_json, normaliser = _job
    out = []
    for values in batch:
        n = normaliser(values)
        out.append(
            (*identity(values), as_json.values(values), n.fields, n.extra, n.problems,
             n.notes, n.postcode_text, person_keys(n.fields))
        )  # fmt: skip
    return out


def normalised(c: Cleaned) -> Normalised:
    return Normalised(c[3], c[4], c[5], c[6], c[7])


class Cleaner:
    """One child process that cleans one table's batches, in order (a context manager)."""

    def __init__(self, *job: Any) -> None:
        self.pool = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("fork"),
            initializer=_start,
            initargs=job,
        )

    def submit(self, batch: list[list[str]]) -> Future[list[Cleaned]]:
        return self.pool.submit(_clean, batch)

    def __enter__(self) -> Cleaner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
