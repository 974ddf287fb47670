"""Tombstones: keyed hashes of what was forgotten, so that a sync never lands it again.

A forgotten row may still be in the spreadsheet or API it came from. For each of its
versions two digests are kept: an HMAC of (source, source key) — an API's own id, or a
file row's content key — and an HMAC of (source, content hash). An edit to the row (a
column added, one cell retyped) changes both, so the person is remembered too: keyed
hashes of their identity (``erased_identities``, see ``identity.py``) that any row from
any source is checked against after cleaning. The key lives in the token store
(``tombstone_hmac_key``), like the pseudonym key, so neither table holds a value that can
be read back or guessed without it. Landing skips a row matching any digest.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable

import sqlite_utils

from harvest.dataprotection.identity import identity_marks, is_erased
from harvest.errors import TombstoneKeyError
from harvest.secrets import TokenStore
from harvest.store import now

KEY_NAME = "tombstone_hmac_key"


def _missing_key(consequence: str) -> TombstoneKeyError:
    return TombstoneKeyError(
        f"People were erased from this store, but the key that recognises their rows "
        f"({KEY_NAME!r}) is not in the token store, so harvest cannot tell whether they are "
        f"being read again. {consequence} Restore the token store from its backup "
        "(see docs/privacy.md)."
    )


def tombstone_key(
    tokens: TokenStore | None = None, create: bool = False, db: sqlite_utils.Database | None = None
) -> bytes | None:
    """The tombstone key from the token store; made once when ``create`` and there is none.
    With ``db``, a new key is refused while the store holds digests made with a lost one."""
    tokens = tokens or TokenStore()
    secret = tokens.get(KEY_NAME)
    if secret is None and create:
        if db is not None and _has_digests(db):
            raise _missing_key("Nothing was erased this time.")
        tokens.set(KEY_NAME, secrets.token_hex(32))
        secret = tokens.get(KEY_NAME)
    return secret.get_secret_value().encode() if secret else None


def _has_digests(db: sqlite_utils.Database) -> bool:
    return any(
        db.execute(f"SELECT 1 FROM {t} LIMIT 1").fetchone()
        for t in ("tombstones", "erased_identities")
    )


def digest(key: bytes, kind: str, source: str, value: str) -> str:
    text = f"{kind}\x1f{source}\x1f{value}".encode("utf-8", "surrogatepass")
    return hmac.new(key, text, hashlib.sha256).hexdigest()[:32]


def bury(db: sqlite_utils.Database, key: bytes, rows: Iterable[tuple[str, str, str]]) -> int:
    """Record (source, source_key, content_hash) rows as forgotten; returns digests added."""
    stamp, out = now(), []
    for source, source_key, content_hash in rows:
        out.append((digest(key, "key", source, source_key), source, "key", stamp))
        out.append((digest(key, "content", source, content_hash), source, "content", stamp))
    before = db.execute("SELECT count(*) FROM tombstones").fetchone()[0]
    db.conn.executemany("INSERT OR IGNORE INTO tombstones VALUES (?, ?, ?, ?)", out)
    return int(db.execute("SELECT count(*) FROM tombstones").fetchone()[0] - before)


def bury_identities(
    db: sqlite_utils.Database, key: bytes, records: Iterable[dict[str, str | None]]
) -> int:
    """Remember the identities in these (cleaned) records as erased; returns digests added."""
    stamp = now()
    out = {
        (digest(key, kind, "", value), kind, stamp)
        for rec in records
        for kind, value in identity_marks(rec, erased=True)
    }
    before = db.execute("SELECT count(*) FROM erased_identities").fetchone()[0]
    db.conn.executemany("INSERT OR IGNORE INTO erased_identities VALUES (?, ?, ?)", sorted(out))
    return int(db.execute("SELECT count(*) FROM erased_identities").fetchone()[0] - before)


class Tombstones:
    """The digests for one source (its rows) and for everyone erased, checked as rows land."""

    def __init__(
        self, key: bytes, source: str, digests: set[str], identities: set[str] | None = None
    ) -> None:
        self.key, self.source, self.digests = key, source, digests
        self.identities = identities or set()

    @classmethod
    def for_source(
        cls, db: sqlite_utils.Database, source: str, tokens: TokenStore | None = None
    ) -> Tombstones | None:
        """None when nobody was ever erased (no key needed, no cost)."""
        digests = {
            r[0]
            for r in db.execute(
                "SELECT digest FROM tombstones WHERE source = ?", [source]
            ).fetchall()
        }
        identities = {r[0] for r in db.execute("SELECT digest FROM erased_identities").fetchall()}
        if not (digests or identities):
            return None
        key = tombstone_key(tokens)
        if key is None:
            raise _missing_key(f"Nothing from {source!r} was synced.")
        return cls(key, source, digests, identities)

    def forgotten(self, source_key: str, content_hash: str) -> bool:
        return (
            digest(self.key, "key", self.source, source_key) in self.digests
            or digest(self.key, "content", self.source, content_hash) in self.digests
        )

    def erased_person(self, fields: dict[str, object]) -> bool:
        """True when a cleaned row is about somebody who was erased (see ``identity.py``)."""
        if not self.identities:
            return False
        return is_erased(
            fields, lambda kind, value: digest(self.key, kind, "", value) in self.identities
        )
