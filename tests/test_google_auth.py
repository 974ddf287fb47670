"""`harvest auth google`: google-auth-oauthlib's installed-app flow, unmodified, against a local
fake of Google's consent page and token endpoint; the refresh token lands in the token store."""

from __future__ import annotations

import json
import logging
import os
import stat
import threading
import webbrowser
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from conftest import scalar, write_config
from fakes.google import CLIENT_ID, REFRESH_TOKEN, FakeGoogle, question
from typer.testing import CliRunner

from harvest.cli import app
from harvest.config import load_config
from harvest.connectors.google_auth import SCOPES
from harvest.connectors.google_oauth import authorise
from harvest.errors import AuthError, ConfigError
from harvest.sync import sync


@pytest.fixture(autouse=True)
def insecure_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the fake token endpoint is http


@pytest.fixture
def client_file(tmp_path: Path, google: FakeGoogle) -> Path:
    path = tmp_path / "client_secret_1234.apps.googleusercontent.com.json"
    path.write_text(json.dumps(google.client_file()))
    return path


def browse(url: str) -> threading.Thread:
    """A browser: open the consent page and follow Google's redirect back to harvest."""
    thread = threading.Thread(target=requests.get, args=(url,), kwargs={"timeout": 10})
    thread.start()
    return thread


def pasted_address(url: str) -> str:
    """What a person on another computer pastes: where Google's redirect sent the browser."""
    return requests.get(url, allow_redirects=False, timeout=10).headers["Location"]


def test_the_browser_flow_stores_the_refresh_token(google, client_file, token_store):
    shown: list[str] = []
    result = authorise(
        client_file,
        browser=True,
        show=shown.append,
        ask=input,
        open_url=browse,
        api_url=google.api_url,
        timeout=10,
    )
    assert result.account == "sam@stmarys.example.org"
    assert result.stored_in == str(token_store.path)
    stored = json.loads(token_store.get("google").get_secret_value())
    assert stored["refresh_token"] == REFRESH_TOKEN and stored["client_id"] == CLIENT_ID
    assert stored["token_uri"] == google.url + "/token"
    assert "token" not in stored  # the short-lived access token is not kept
    # The consent page asked, read-only, for exactly harvest's scopes, offline, with PKCE.
    [consent] = google.calls("/o/oauth2/auth")
    assert consent.query["scope"].split() == SCOPES
    assert consent.query["access_type"] == "offline" and consent.query["prompt"] == "consent"
    assert consent.query["code_challenge_method"] == "S256"
    assert urlsplit(consent.query["redirect_uri"]).hostname == "localhost"
    assert len(shown) == 1 and REFRESH_TOKEN not in shown[0]
    [exchange] = [r for r in google.requests if r.path == "/token"]
    assert b"grant_type=authorization_code" in exchange.body and b"code_verifier=" in exchange.body


def test_the_copy_paste_flow_for_a_server_without_a_browser(google, client_file, token_store):
    shown: list[str] = []
    result = authorise(
        client_file, browser=False, show=shown.append, ask=pasted_address, api_url=google.api_url
    )
    assert result.account == "sam@stmarys.example.org"
    assert (
        json.loads(token_store.get("google").get_secret_value())["refresh_token"] == REFRESH_TOKEN
    )
    assert parse_qs(urlsplit(shown[0]).query)["redirect_uri"] == ["http://localhost:1/"]


def test_the_stored_authorisation_syncs_a_form(google, client_file, project):
    authorise(client_file, browser=False, show=print, ask=pasted_address, api_url=google.api_url)
    form = google.add_form("Feedback", [question("q1", "Name")])
    google.respond(form, {"q1": "Ann Lee"})
    cfg = write_config(
        project,
        [
            {
                "name": "feedback",
                "type": "google_forms",
                "options": {"form": form, "api_url": google.api_url},
            }
        ],
    )
    [result] = sync(load_config(cfg)).sources
    assert result.status == "ok", result.messages
    assert scalar(project / "harvest.db", "SELECT full_name FROM records") == "Ann Lee"


@pytest.mark.parametrize(
    "answer, message",
    [
        (
            lambda url: pasted_address(url).replace("state=", "state=x"),
            "belongs to another attempt",
        ),
        (lambda url: "", "Nothing was pasted"),
        (lambda url: "http://localhost:1/?scope=x", "has no code= in it"),
    ],
)
def test_a_wrong_paste_stores_nothing(google, client_file, token_store, answer, message):
    with pytest.raises(AuthError, match=message):
        authorise(client_file, browser=False, show=print, ask=answer, api_url=google.api_url)
    assert token_store.get("google") is None


def test_refusing_consent_stores_nothing(google, client_file, token_store):
    google.deny = True
    with pytest.raises(AuthError, match="'access_denied': harvest was not allowed access"):
        authorise(client_file, browser=False, show=print, ask=pasted_address)
    assert token_store.get("google") is None


def test_a_code_google_will_not_exchange_is_a_clear_error(google, client_file, token_store):
    with pytest.raises(AuthError, match="Google did not authorise harvest"):
        authorise(client_file, browser=False, show=print, ask=lambda url: "4/not-a-code")
    assert token_store.get("google") is None


def test_a_web_application_client_file_is_refused_with_what_to_create(tmp_path, google):
    path = tmp_path / "web.json"
    path.write_text(json.dumps({"web": google.client_file()["installed"]}))
    with pytest.raises(ConfigError, match='"Desktop app"'):
        authorise(path, browser=False, show=print, ask=input)
    with pytest.raises(ConfigError, match="could not be read"):
        authorise(tmp_path / "missing.json", browser=False, show=print, ask=input)


# --- the command -------------------------------------------------------------------------------


class _TestBrowser(webbrowser.BaseBrowser):
    def open(self, url: str, new: int = 0, autoraise: bool = True) -> bool:
        browse(url)
        return True


@pytest.fixture
def a_browser() -> Iterator[None]:
    """This computer has a web browser (the stdlib's registry, as $BROWSER would set it)."""
    webbrowser.register("harvest-test", None, _TestBrowser("harvest-test"), preferred=True)
    try:
        yield
    finally:
        webbrowser._browsers.pop("harvest-test", None)  # type: ignore[attr-defined]
        webbrowser._tryorder.remove("harvest-test")  # type: ignore[attr-defined]


def test_harvest_auth_google_never_prints_or_logs_the_token(
    google, client_file, token_store, a_browser, caplog, monkeypatch
):
    monkeypatch.delenv("SSH_CONNECTION", raising=False)
    with caplog.at_level(logging.DEBUG):
        result = CliRunner().invoke(
            app, ["auth", "google", "--client-file", str(client_file), "--api-url", google.api_url]
        )
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert "Google authorised harvest as sam@stmarys.example.org" in output
    assert str(token_store.path) in result.output.replace("\n", "")
    for secret in (REFRESH_TOKEN, "fake-client-secret", "ya29."):
        assert secret not in result.output and secret not in caplog.text
    assert stat.S_IMODE(os.stat(token_store.path).st_mode) == 0o600


def test_harvest_auth_google_no_browser_with_a_bad_paste(google, client_file, token_store):
    result = CliRunner().invoke(
        app,
        [
            "auth",
            "google",
            "--client-file",
            str(client_file),
            "--no-browser",
            "--api-url",
            google.api_url,
        ],
        input="http://localhost:1/?state=old&code=4/x\n",
    )
    assert result.exit_code == 1
    assert "belongs to another attempt" in " ".join(result.output.split())
    assert token_store.get("google") is None


def test_harvest_auth_google_needs_the_client_file():
    result = CliRunner().invoke(app, ["auth", "google", "--help"])
    assert result.exit_code == 0 and "--client-file" in result.output
    assert CliRunner().invoke(app, ["auth", "google"]).exit_code == 2
