"""The pseudonym key is never replaced silently: every publish goes through ``publish``.

funders.db names people by keyed pseudonyms (``funders.hmac_key``). The key lives in the
token store; if the token store is lost (a container without a volume for it, a new
server) a new key would quietly give every person a new pseudonym, and a funder's figures
would no longer join up with last quarter's. So the store remembers a fingerprint of the
key (an HMAC of a fixed text, which cannot be turned back into the key), and ``publish``
stops with a plain message when funders.db or the store says a key was used and the token
store no longer holds it. Starting afresh is a deliberate act:
``harvest publish --new-pseudonym-key``.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import Any

from harvest import audit, store
from harvest.errors import PublishError
from harvest.private_files import private_file
from harvest.publish.funders import KEY_NAME, PublishSummary, funders_path, publish_funders
from harvest.secrets import TokenStore

FINGERPRINT = "pseudonym_key_fingerprint"


def fingerprint(tokens: TokenStore) -> str | None:
    secret = tokens.get(KEY_NAME)
    if secret is None:
        return None
    key = secret.get_secret_value().encode("utf-8")
    return hmac.new(key, b"harvest-pseudonym-key-check", hashlib.sha256).hexdigest()[:16]


def _remembered(db_path: Path) -> str | None:
    if not db_path.is_file():
        return None
    db = store.connect(db_path)
    try:
        row = db.execute("SELECT value FROM meta WHERE key = ?", [FINGERPRINT]).fetchone()
    finally:
        db.conn.close()
    return row[0] if row else None


def _remember(db_path: Path, value: str) -> None:
    db = store.connect(db_path)
    try:
        db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [FINGERPRINT, value])
    finally:
        db.conn.close()


def check_key(config: Any, tokens: TokenStore) -> None:
    """PublishError when publishing now would replace the pseudonym key without saying so."""
    target, have = funders_path(config), fingerprint(tokens)
    used = _remembered(config.database_path)
    if have is None and (used or (target.is_file() and target.stat().st_size > 0)):
        problem = (
            f"The pseudonym key that funders.db was published with ({KEY_NAME!r}) is not in "
            f"the token store ({tokens.where})"
        )
    elif have is not None and used is not None and have != used:
        problem = (
            f"The pseudonym key ({KEY_NAME!r}) in the token store ({tokens.where}) is not the "
            "one funders.db was published with"
        )
    else:
        return
    raise PublishError(
        f"{problem}, so funders.db was left as it is. A new key would give every person a new "
        "pseudonym, and funders' figures would no longer join up with earlier ones. Restore "
        "the token store from its backup (docs/docker.md says where it is kept), or, to "
        "start afresh on purpose, run `harvest publish --new-pseudonym-key`."
    )


def publish(config: Any, tokens: TokenStore | None = None, new_key: bool = False) -> PublishSummary:
    """Rebuild funders.db (files 0600), refusing a silently replaced pseudonym key."""
    tokens = tokens or TokenStore()
    if new_key:
        tokens.delete(KEY_NAME)
    else:
        check_key(config, tokens)
    target = funders_path(config)
    made = not target.exists()
    for suffix in ("", "-wal", "-shm"):  # SQLite gives -wal and -shm the main file's mode
        private_file(target.with_name(target.name + suffix), create=not suffix)
    try:
        summary = publish_funders(config, tokens)
    except BaseException:
        if made and target.stat().st_size == 0:  # leave no empty funders.db behind
            target.unlink()
        raise
    value = fingerprint(tokens)
    if value is not None and config.database_path.is_file():
        _remember(config.database_path, value)
        if new_key:
            audit.record_at(config.database_path, "publish.new_key", {}, command="publish")
    return summary
