"""`harvest auth microsoft` and silent token renewal: unmodified MSAL over real HTTPS
against a local fake of the Microsoft identity platform."""

from __future__ import annotations

import json
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import write_config
from fakes.microsoft import CLIENT, TENANT, USER, FakeMicrosoft
from typer.testing import CliRunner

from harvest.cli import app
from harvest.connectors.microsoft_auth import MicrosoftApp, MicrosoftAuth
from harvest.errors import AuthError, ConfigError


@pytest.fixture
def ms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeMicrosoft]:
    with FakeMicrosoft(tmp_path) as fake:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(fake.ca_bundle))  # trust its throw-away CA
        yield fake


def the_app(ms: FakeMicrosoft, **kw: object) -> MicrosoftApp:
    return MicrosoftApp(TENANT, CLIENT, ms.url, max_wait=1.0, **kw)  # type: ignore[arg-type]


def config(project: Path, ms: FakeMicrosoft) -> Path:
    return write_config(
        project,
        [
            {
                "name": "forms",
                "type": "microsoft_excel",
                "options": {
                    "tenant_id": TENANT,
                    "client_id": CLIENT,
                    "path": "Forms/Lunch.xlsx",
                    "api_url": ms.url + "/v1.0",
                    "authority_url": ms.url,
                },
            }
        ],
    )


def grants(ms: FakeMicrosoft) -> list[str]:
    return [ms.form(r).get("grant_type", "") for r in ms.calls(f"/{TENANT}/oauth2/v2.0/token")]


def test_auth_prints_msals_message_and_stores_the_cache_0600(project, ms, token_store, caplog):
    with caplog.at_level(logging.DEBUG):
        result = CliRunner().invoke(
            app, ["auth", "microsoft", "--config", str(config(project, ms))]
        )
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "open the page https://microsoft.com/devicelogin and enter the code HRV-7K2Q" in out
    assert f"Signed in as {USER}." in out and str(token_store.path) in out.replace(" ", "")
    # MSAL polled once while sign-in was pending, then got tokens.
    assert grants(ms) == ["urn:ietf:params:oauth:grant-type:device_code"] * 2
    assert ms.form(ms.calls(f"/{TENANT}/oauth2/v2.0/devicecode")[0])["scope"].split() == [
        "Files.Read.All",
        "Sites.Read.All",
        "offline_access",
        "openid",
        "profile",
    ]
    assert stat.S_IMODE(os.stat(token_store.path).st_mode) == 0o600
    cache = json.loads(json.loads(token_store.path.read_text())["microsoft"])
    [refresh] = cache["RefreshToken"].values()
    assert refresh["secret"] in ms.refresh_tokens
    for text in (result.output, caplog.text):
        assert refresh["secret"] not in text
        assert not any(t in text for t in ms.access_tokens)


def test_auth_with_ids_on_the_command_line_needs_no_harvest_yaml(project, ms, token_store):
    result = CliRunner().invoke(
        app,
        [
            "auth",
            "microsoft",
            "--tenant-id",
            TENANT,
            "--client-id",
            CLIENT,
            "--authority-url",
            ms.url,
            "--config",
            str(project / "missing.yaml"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert token_store.get("microsoft") is not None


def test_auth_needs_both_ids_or_a_source(project, ms):
    one = CliRunner().invoke(app, ["auth", "microsoft", "--tenant-id", TENANT])
    assert one.exit_code == 2 and "Give both --tenant-id and --client-id" in one.output
    empty = write_config(project, [])
    none = CliRunner().invoke(app, ["auth", "microsoft", "--config", str(empty)])
    assert none.exit_code == 2 and "has no microsoft_excel source" in " ".join(none.output.split())


def test_a_declined_sign_in_stores_nothing(project, ms, token_store):
    ms.declined = True
    result = CliRunner().invoke(app, ["auth", "microsoft", "--config", str(config(project, ms))])
    assert result.exit_code == 1
    out = " ".join(result.output.split())
    assert "The Microsoft sign-in did not finish (authorization_declined: AADSTS70000" in out
    assert "run `harvest auth microsoft`" in out
    assert token_store.get("microsoft") is None


def test_an_unknown_tenant_is_a_configuration_error(ms):
    auth = MicrosoftAuth(MicrosoftApp("not-our-tenant", CLIENT, ms.url))
    with pytest.raises(ConfigError) as caught:
        auth.sign_in(print)
    assert "could not use the tenant 'not-our-tenant'" in str(caught.value)
    assert "Check tenant_id" in str(caught.value)


def test_an_unknown_app_says_what_to_check(ms):
    with pytest.raises(AuthError) as caught:
        MicrosoftAuth(MicrosoftApp(TENANT, "wrong-client", ms.url)).sign_in(print)
    message = str(caught.value)
    assert message.startswith(
        "Microsoft did not start the sign-in (unauthorized_client: "
        "AADSTS700016: Application with identifier 'wrong-client'"
    )
    assert "check client_id" in message and "Trace ID" not in message


def test_silent_renewal_uses_the_refresh_token_and_saves_the_rotated_one(ms, token_store):
    ms.access_ttl = 60  # under MSAL's five minutes: every call renews
    MicrosoftAuth(the_app(ms)).sign_in(lambda message: None)
    first = MicrosoftAuth(the_app(ms)).token().get_secret_value()
    second = MicrosoftAuth(the_app(ms)).token().get_secret_value()
    assert first != second and {first, second} <= ms.access_tokens
    # The first renewal's refresh token was replaced by the fake, so the second renewal
    # worked only because the rotated cache was saved to the token store.
    assert grants(ms).count("refresh_token") == 2


def test_a_fresh_access_token_is_used_without_asking(ms):
    MicrosoftAuth(the_app(ms)).sign_in(lambda message: None)
    before = len(ms.calls(f"/{TENANT}/oauth2/v2.0/token"))
    token = MicrosoftAuth(the_app(ms)).token()
    assert token.get_secret_value() in ms.access_tokens
    assert len(ms.calls(f"/{TENANT}/oauth2/v2.0/token")) == before


def test_a_revoked_sign_in_says_run_harvest_auth_microsoft(ms):
    ms.access_ttl = 60
    MicrosoftAuth(the_app(ms)).sign_in(lambda message: None)
    ms.revoked = True
    with pytest.raises(AuthError) as caught:
        MicrosoftAuth(the_app(ms)).token()
    assert str(caught.value) == (
        "The Microsoft sign-in could not be renewed (invalid_grant: AADSTS50173: The provided "
        "grant has expired due to it being revoked, a fresh auth token is needed.): the "
        "sign-in was revoked (a password change or an administrator); then run `harvest auth "
        "microsoft`."
    )


def test_no_sign_in_yet(ms):
    with pytest.raises(AuthError, match=r"no Microsoft sign-in yet: run `harvest auth microsoft`"):
        MicrosoftAuth(the_app(ms)).token()
    assert ms.requests == []


def test_a_damaged_cache_says_sign_in_again(ms, token_store):
    token_store.set("microsoft", "{not json")
    with pytest.raises(AuthError, match="damaged: run `harvest auth microsoft` again"):
        MicrosoftAuth(the_app(ms)).token()


def test_several_accounts_need_account(ms):
    MicrosoftAuth(the_app(ms)).sign_in(lambda message: None)
    ms.oid, ms.username = "another-oid", "alex@stmarys.example.org"
    MicrosoftAuth(the_app(ms)).sign_in(lambda message: None)
    with pytest.raises(ConfigError) as caught:
        MicrosoftAuth(the_app(ms)).token()
    assert f"(alex@stmarys.example.org, {USER})" in str(caught.value)
    assert MicrosoftAuth(the_app(ms, account=USER)).token().get_secret_value() in ms.access_tokens


def test_sign_in_server_errors_are_retried_honouring_retry_after(ms):
    ms.fail(f"/{TENANT}/oauth2/v2.0/devicecode", "503", times=1, retry_after="0.05")
    ms.fail(f"/{TENANT}/oauth2/v2.0/token", "429", times=1, retry_after="0.05")
    user = MicrosoftAuth(the_app(ms)).sign_in(lambda message: None)
    assert user == USER
    codes = ms.calls(f"/{TENANT}/oauth2/v2.0/devicecode")
    assert len(codes) == 2 and codes[1].at - codes[0].at >= 0.05
