"""Tombstones: keyed hashes of rows that were forgotten, so that a sync never lands them again.

A forgotten row may still be in the spreadsheet or API it came from. For each of its
versions two digests are kept: an HMAC of (source, source key) — an API's own id, or a
file row's content key — and an HMAC of (source, content hash). The key lives in the
token store (``tombstone_hmac_key``), like the pseudonym key, so the table holds no value
that can be read back or guessed without it. Landing skips a row matching either digest.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable

import sqlite_utils

from harvest.errors import HarvestError
from harvest.secrets import TokenStore
from harvest.store import now

KEY_NAME = "tombstone_hmac_key"


class TombstoneKeyError(HarvestError):
    """Forgotten rows are recorded but the key to recognise them is missing."""


def tombstone_key(tokens: TokenStore | None = None, create: bool = False) -> bytes | None:
    """The tombstone key from the token store; made once when ``create`` and there is none."""
    tokens = tokens or TokenStore()
    secret = tokens.get(KEY_NAME)
    if secret is None and create:
        tokens.set(KEY_NAME, secrets.token_hex(32))
        secret = tokens.get(KEY_NAME)
    return secret.get_secret_value().encode() if secret else None


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


class Tombstones:
    """The digests for one source, checked as its rows land."""

    def __init__(self, key: bytes, source: str, digests: set[str]) -> None:
        self.key, self.source, self.digests = key, source, digests

    @classmethod
    def for_source(
        cls, db: sqlite_utils.Database, source: str, tokens: TokenStore | None = None
    ) -> Tombstones | None:
        """None when nothing from this source was ever forgotten (no key needed, no cost)."""
        digests = {
            r[0]
            for r in db.execute(
                "SELECT digest FROM tombstones WHERE source = ?", [source]
            ).fetchall()
        }
        if not digests:
            return None
        key = tombstone_key(tokens)
        if key is None:
            raise TombstoneKeyError(
                f"Rows from {source!r} were forgotten, but the key that recognises them "
                f"({KEY_NAME!r}) is not in the token store, so harvest cannot tell whether "
                "they are being read again. Restore the token store from its backup; nothing "
                "from this source was synced."
            )
        return cls(key, source, digests)

    def forgotten(self, source_key: str, content_hash: str) -> bool:
        return (
            digest(self.key, "key", self.source, source_key) in self.digests
            or digest(self.key, "content", self.source, content_hash) in self.digests
        )
