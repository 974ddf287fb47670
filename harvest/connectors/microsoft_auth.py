"""Signing in to Microsoft 365 once (MSAL's device-code flow) and a fresh token each sync.

``harvest auth microsoft`` asks MSAL for a device code and shows the message MSAL
gives (the address to visit and the code to type); once a person has signed in, the
MSAL token cache, which holds the refresh token, is serialised into the token store
under ``microsoft``. Each sync loads that cache, asks MSAL for a token silently (MSAL
uses the refresh token when the access token is near its end) and saves the cache
back when MSAL changed it, so a rotated refresh token is never lost.

MSAL's own HTTP goes through harvest's :class:`~harvest.connectors.http.HttpClient`:
timeouts, retries of 429/5xx honouring ``Retry-After``. OAuth errors (HTTP 400 and
friends) are handed back to MSAL, which returns them as dictionaries rather than
raising; :func:`_failed` turns those into harvest's errors.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msal
import requests
from pydantic import SecretStr

from harvest.connectors.http import HttpClient, RetryPolicy
from harvest.errors import AuthError, ConfigError
from harvest.secrets import TokenStore

log = logging.getLogger(__name__)

TOKEN_NAME = "microsoft"
AUTH_COMMAND = "harvest auth microsoft"
DEFAULT_AUTHORITY_URL = "https://login.microsoftonline.com"
# Delegated and read-only. MSAL adds openid, profile and offline_access (the refresh
# token) itself, and refuses them if they are asked for.
SCOPES = ["Files.Read.All", "Sites.Read.All"]
REQUESTED = "Files.Read.All, Sites.Read.All and offline_access"
# OAuth errors are answers for MSAL to read, not failures to retry (429 still is).
OAUTH_ANSWERS = tuple(s for s in range(400, 500) if s != 429)

# Entra ID error codes a person can do something about.
HINTS = {
    "AADSTS7000218": "in Entra ID, open the app registration's Authentication page and set "
    "'Allow public client flows' to Yes",
    "AADSTS700016": "check client_id (the app's Application (client) ID) and tenant_id",
    "AADSTS90002": "check tenant_id (the Directory (tenant) ID on the app's Overview page)",
    "AADSTS65001": "an administrator must grant consent for the app's permissions "
    "(API permissions → Grant admin consent)",
    "AADSTS50194": "the app is single-tenant: set tenant_id to your Directory (tenant) ID",
    "AADSTS70043": "the sign-in has expired (your organisation limits how long it lasts)",
    "AADSTS700082": "the sign-in has expired after 90 days without a sync",
    "AADSTS50173": "the sign-in was revoked (a password change or an administrator)",
}


@dataclass(frozen=True)
class MicrosoftApp:
    """The app registration to sign in with, from a source's options in harvest.yaml."""

    tenant_id: str
    client_id: str
    authority_url: str = DEFAULT_AUTHORITY_URL
    account: str | None = None  # the username to use when several have signed in
    timeout: float = 60.0
    max_attempts: int = 5
    max_wait: float = 60.0

    @property
    def authority(self) -> str:
        return f"{self.authority_url.rstrip('/')}/{self.tenant_id}"


class MsalHttp:
    """MSAL's ``http_client``: its GETs and POSTs sent through harvest's HttpClient."""

    def __init__(self, http: HttpClient) -> None:
        self.http = http

    def get(
        self, url: str, params: Any = None, headers: Any = None, **kwargs: Any
    ) -> requests.Response:
        return self.http.request("GET", url, params=params, headers=headers, allow=OAUTH_ANSWERS)

    def post(
        self, url: str, params: Any = None, data: Any = None, headers: Any = None, **kwargs: Any
    ) -> requests.Response:
        return self.http.request(
            "POST", url, params=params, data=data, headers=headers, allow=OAUTH_ANSWERS
        )

    def close(self) -> None:
        self.http.session.close()


class MicrosoftAuth:
    """Device-code sign-in and silent tokens for one app, with the cache in the token store."""

    def __init__(
        self, app: MicrosoftApp, store: TokenStore | None = None, http: HttpClient | None = None
    ) -> None:
        self.app = app
        self.store = store or TokenStore()
        again = f"run `{AUTH_COMMAND}`"
        policy = RetryPolicy(max_attempts=app.max_attempts, max_wait=app.max_wait)
        self.http = http or HttpClient("Microsoft sign-in", again, policy, timeout=app.timeout)
        self.cache = msal.SerializableTokenCache()

    def _client(self) -> msal.PublicClientApplication:
        """The MSAL app (which fetches the tenant's OpenID configuration as it is built)."""
        try:
            return msal.PublicClientApplication(
                self.app.client_id,
                authority=self.app.authority,
                token_cache=self.cache,
                http_client=MsalHttp(self.http),
                instance_discovery=False,
            )
        except ValueError as exc:  # a malformed authority, or an unknown tenant (HTTP 400)
            raise ConfigError(
                f"Microsoft sign-in could not use the tenant {self.app.tenant_id!r} at "
                f"{self.app.authority_url} ({_first_line(str(exc))}). Check tenant_id (the "
                "Directory (tenant) ID on the app registration's Overview page) and "
                "authority_url in harvest.yaml."
            ) from None

    def _load(self) -> None:
        saved = self.store.get(TOKEN_NAME)
        if saved is None:
            raise AuthError(f"harvest has no Microsoft sign-in yet: run `{AUTH_COMMAND}`.")
        try:
            self.cache.deserialize(saved.get_secret_value())
        except ValueError:
            raise AuthError(
                f"The saved Microsoft sign-in in {self.store.where} is damaged: "
                f"run `{AUTH_COMMAND}` again."
            ) from None

    def _save(self) -> None:
        if self.cache.has_state_changed:
            self.store.set(TOKEN_NAME, SecretStr(self.cache.serialize()))
            self.cache.has_state_changed = False

    def token(self) -> SecretStr:
        """An access token for Graph, refreshed silently if need be; the cache is saved."""
        self._load()
        client = self._client()
        account = self._account(client)
        result = client.acquire_token_silent_with_error(SCOPES, account=account)
        self._save()
        if not result or "access_token" not in result:
            raise _failed(result or {}, "The Microsoft sign-in could not be renewed")
        return SecretStr(result["access_token"])

    def _account(self, client: msal.PublicClientApplication) -> dict[str, Any]:
        wanted = self.app.account
        accounts = client.get_accounts(username=wanted) if wanted else client.get_accounts()
        if len(accounts) == 1:
            return accounts[0]
        if not accounts:
            who = f" as {wanted}" if wanted else ""
            raise AuthError(
                f"harvest has no Microsoft sign-in{who} for this app (tenant "
                f"{self.app.tenant_id}): run `{AUTH_COMMAND}`."
            )
        names = ", ".join(sorted(a.get("username", "?") for a in accounts))
        raise ConfigError(
            f"Several Microsoft accounts have signed in ({names}): say which "
            "one to use with account: in the source's options in harvest.yaml."
        )

    def sign_in(self, show: Callable[[str], None]) -> str:
        """Run the device-code flow, showing MSAL's message; store the cache; the username."""
        saved = self.store.get(TOKEN_NAME)
        if saved is not None:
            try:  # keep other apps' and accounts' sign-ins
                self.cache.deserialize(saved.get_secret_value())
            except ValueError:
                log.warning("The saved Microsoft sign-in was damaged; starting afresh")
        client = self._client()
        flow = client.initiate_device_flow(scopes=SCOPES)
        if "user_code" not in flow:
            raise _failed(flow, "Microsoft did not start the sign-in")
        show(flow["message"])
        result = client.acquire_token_by_device_flow(flow)
        if "access_token" not in result:
            raise _failed(result, "The Microsoft sign-in did not finish")
        self._save()
        claims = result.get("id_token_claims") or {}
        return str(claims.get("preferred_username") or claims.get("name") or "unknown user")


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0].strip()[:300]


def _failed(result: dict[str, Any], what: str) -> AuthError:
    """An MSAL error dictionary as an AuthError saying what to do next."""
    error = str(result.get("error") or "no token")
    said = _first_line(str(result.get("error_description") or ""))
    code = said.split(":", 1)[0] if said.startswith("AADSTS") else ""
    hint = HINTS.get(code)
    if error in ("authorization_declined", "expired_token", "bad_verification_code"):
        hint = hint or "the code was not used in time or sign-in was declined"
    detail = f" ({error}: {said})" if said else f" ({error})"
    todo = f"{hint}; then run `{AUTH_COMMAND}`" if hint else f"run `{AUTH_COMMAND}`"
    return AuthError(f"{what}{detail}: {todo}.")
