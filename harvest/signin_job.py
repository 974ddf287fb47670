"""Signing in to Microsoft 365 from the browser: the device-code flow of
``harvest auth microsoft``, run in a background thread so that a page can show the
address and code to type, then who signed in.

The sign-in itself is ``MicrosoftAuth.sign_in``, unchanged: the tokens go to the token
store and are never kept here, so a page can only ever show Microsoft's message (the
address and the one-time code) and the account's name.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from harvest import audit, store
from harvest.config import HarvestConfig, load_config
from harvest.errors import ConfigError, HarvestError

if TYPE_CHECKING:
    from harvest.connectors.microsoft_auth import MicrosoftApp

log = logging.getLogger(__name__)


@dataclass
class SignIn:
    running: bool = False
    started_by: str = ""
    messages: list[str] = field(default_factory=list)  # Microsoft's: the address and code
    signed_in: list[str] = field(default_factory=list)  # the accounts, once signed in
    error: str | None = None


_signins: dict[Path, SignIn] = {}
_guard = threading.Lock()


def microsoft_apps(config: HarvestConfig, authority_url: str | None = None) -> list[MicrosoftApp]:
    """The app registrations of harvest.yaml's microsoft_excel sources, each once."""
    from harvest.connectors.microsoft import MicrosoftExcelOptions
    from harvest.connectors.microsoft_auth import MicrosoftApp

    found = []
    for src in config.sources:
        if src.type == "microsoft_excel":
            o = MicrosoftExcelOptions.model_validate(src.options)
            app = MicrosoftApp(o.tenant_id, o.client_id, authority_url or o.authority_url)
            if app not in found:
                found.append(app)
    if not found:
        raise ConfigError(
            f"{config.path} has no microsoft_excel source to sign in for. Add "
            "one (see docs/connectors/microsoft.md), or give --tenant-id and "
            "--client-id."
        )
    return found


def state(config_path: Path) -> SignIn:
    return _signins.get(Path(config_path), SignIn())


def start(config_path: Path, user: str) -> bool:
    """Start signing in for every Microsoft app of harvest.yaml; False if one is running."""
    key = Path(config_path)
    with _guard:
        if state(key).running:
            return False
        job = _signins[key] = SignIn(True, user)
    context = contextvars.copy_context()
    threading.Thread(
        target=context.run, args=(_run, key, job), name="harvest-signin", daemon=True
    ).start()
    return True


def _run(config_path: Path, job: SignIn) -> None:
    from harvest.connectors.microsoft_auth import MicrosoftAuth

    try:
        config = load_config(config_path)
        for app in microsoft_apps(config):
            job.signed_in.append(MicrosoftAuth(app).sign_in(job.messages.append))
        if config.database_path.is_file():
            db = store.connect(config.database_path)
            try:
                audit.record(
                    db, "auth.microsoft", {"accounts": len(job.signed_in)}, user=job.started_by
                )
            finally:
                db.conn.close()
    except HarvestError as exc:
        job.error = str(exc)
    except Exception as exc:  # a bug: say so on the page rather than die silently
        log.exception("The Microsoft sign-in started from the browser failed")
        job.error = f"unexpected error ({type(exc).__name__}: {exc}); see the server's log."
    finally:
        job.running = False
