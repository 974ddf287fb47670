"""``harvest auth google``: Google's installed-app OAuth flow, run once by a person.

With the organisation's OAuth client file, :func:`authorise` gets a refresh token (through
a browser on this machine, or by pasting the address the browser ended on), checks it
with Drive and keeps it in the token store, where
:func:`harvest.connectors.google_auth.load_credentials` finds it at every sync.
"""

from __future__ import annotations

import json
import logging
import webbrowser
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from google_auth_oauthlib.flow import InstalledAppFlow, WSGITimeoutError
from oauthlib.oauth2 import OAuth2Error

from harvest.connectors.google_auth import AUTH_COMMAND, SCOPES, TOKEN_NAME, GoogleSession
from harvest.connectors.http import HttpClient, RetryPolicy
from harvest.errors import AuthError, ConfigError
from harvest.secrets import TokenStore

PASTE_REDIRECT = "http://localhost:1/"  # nothing listens there: the browser shows the address
SUCCESS_PAGE = (
    "harvest is now authorised to read your Google Forms and Sheets. You can close this window."
)


@dataclass
class Authorisation:
    account: str
    stored_in: str


class _Flow(InstalledAppFlow):
    """The library's flow, telling ``on_url`` the consent address as soon as it is known."""

    on_url: Callable[[str], None] = staticmethod(lambda url: None)

    def authorization_url(self, **kwargs: Any) -> tuple[str, str]:
        url, state = super().authorization_url(**kwargs)
        self.on_url(url)
        return url, state


def authorise(
    client_file: Path,
    *,
    browser: bool,
    show: Callable[[str], None],
    ask: Callable[[str], str],
    open_url: Callable[[str], object] = webbrowser.open,
    api_url: str | None = None,
    store: TokenStore | None = None,
    timeout: float = 300,
) -> Authorisation:
    """Run Google's installed-app flow with the organisation's OAuth client file, check the
    result with Drive, and keep the refresh token in the token store.

    With ``browser`` a local server on a free port receives Google's redirect (the consent
    page is opened with ``open_url`` and ``show``n); without, ``show`` gives the address to
    open on any computer and ``ask`` reads back the address the browser ended on.
    """
    flow = _load_flow(client_file)
    with _quiet_oauth_logs():
        try:
            if browser:

                def on_url(url: str) -> None:
                    show(url)
                    open_url(url)

                flow.on_url = on_url
                flow.run_local_server(
                    host="localhost",
                    port=0,
                    open_browser=False,
                    authorization_prompt_message="",
                    success_message=SUCCESS_PAGE,
                    timeout_seconds=timeout,
                    prompt="consent",
                )
            else:
                flow.redirect_uri = PASTE_REDIRECT
                url, state = flow.authorization_url(prompt="consent")
                show(url)
                flow.fetch_token(code=_code(ask(url), state))
        except WSGITimeoutError:
            raise AuthError(
                f"No answer came from Google within {timeout:.0f} s. Run "
                f"`{AUTH_COMMAND}` again (add --no-browser on a server)."
            ) from None
        except (OAuth2Error, Warning) as exc:
            raise AuthError(
                f"Google did not authorise harvest ({_oauth_reason(exc)}). Run "
                f"`{AUTH_COMMAND}` again and allow every permission asked for "
                "(they are all read-only)."
            ) from None
    creds = flow.credentials
    if not creds.refresh_token:
        raise AuthError(
            "Google gave no refresh token, so harvest could not keep the "
            f"authorisation. Run `{AUTH_COMMAND}` again."
        )
    account = _account(creds, api_url)
    store = store or TokenStore()
    store.set(
        TOKEN_NAME,
        json.dumps(
            {
                "type": "authorized_user",
                "client_id": creds.client_id,
                "client_secret": creds.client_secret,
                "refresh_token": creds.refresh_token,
                "token_uri": creds.token_uri,
                "account": account,
            }
        ),
    )
    return Authorisation(account, store.where)


def _load_flow(client_file: Path) -> _Flow:
    try:
        config = json.loads(client_file.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise ConfigError(
            f"--client-file: {client_file} could not be read ({exc.strerror or exc})."
        ) from None
    except ValueError:
        raise ConfigError(
            f"--client-file: {client_file} is not JSON. Download the OAuth "
            "client's JSON file again (the download button on its row)."
        ) from None
    if isinstance(config, dict) and "web" in config:
        raise ConfigError(
            f'--client-file: {client_file} is for a "Web application" client. '
            'Create an OAuth client of type "Desktop app" and use its file.'
        )
    if not isinstance(config, dict) or "installed" not in config:
        raise ConfigError(
            f"--client-file: {client_file} is not an OAuth client file. Download "
            "it from Google Cloud → APIs & Services → Credentials."
        )
    try:
        return _Flow.from_client_config(config, scopes=SCOPES)
    except ValueError as exc:
        raise ConfigError(f"--client-file: {client_file}: {exc}") from None


def _code(pasted: str, state: str) -> str:
    """The authorisation code from the address the browser ended on (or the bare code)."""
    text = pasted.strip()
    if not text:
        raise AuthError(
            "Nothing was pasted, so harvest was not authorised. Run "
            f"`{AUTH_COMMAND} --no-browser` again."
        )
    if "=" not in text:
        return text
    query = parse_qs(urlsplit(text).query or text)
    if "error" in query:
        raise AuthError(
            f"Google said {query['error'][0]!r}: harvest was not allowed access. "
            f"Run `{AUTH_COMMAND}` again and choose Allow."
        )
    if query.get("state", [state])[0] != state:
        raise AuthError(
            "That address belongs to another attempt (its state does not match). "
            f"Run `{AUTH_COMMAND} --no-browser` again and paste the newest address."
        )
    if "code" not in query:
        raise AuthError(
            "That address has no code= in it. Copy the whole address from the "
            "browser's address bar once Google has sent you to localhost."
        )
    return query["code"][0]


def _oauth_reason(exc: Exception) -> str:
    return getattr(exc, "description", None) or getattr(exc, "error", None) or str(exc)


def _account(creds: Any, api_url: str | None) -> str:
    """The email address harvest was authorised as (Drive's about.get)."""
    http = HttpClient(
        "Google",
        f"run `{AUTH_COMMAND}` again",
        RetryPolicy(max_attempts=3, max_wait=10),
        timeout=30,
        session=GoogleSession(creds, api_url),
    )
    answer = http.request(
        "GET", "https://www.googleapis.com/drive/v3/about", params={"fields": "user"}
    )
    user = http.json(answer).get("user") or {}
    return str(user.get("emailAddress") or user.get("displayName") or "an unnamed account")


@contextmanager
def _quiet_oauth_logs() -> Iterator[None]:
    """requests-oauthlib logs token responses at DEBUG: never let a secret reach a log."""
    loggers = [logging.getLogger(n) for n in ("requests_oauthlib", "oauthlib")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)
