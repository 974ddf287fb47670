"""harvest/connectors/http.py: retries, backoff, Retry-After, errors; over real HTTP."""

from __future__ import annotations

import random
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests

from harvest.connectors.http import (
    HttpClient,
    RetryPolicy,
    describe_error,
    paginate,
    require_https,
    retry_after_seconds,
)
from harvest.errors import AuthError, SourceError
from harvest.testing.fake_api import FakeServer, Reply

SECRET = "s3cret-token-value"


@pytest.fixture
def api() -> Iterator[FakeServer]:
    with FakeServer() as server:
        server.add_route("GET", r"/v3/things/", lambda req: Reply(200, {"things": [1, 2]}))
        server.add_route("GET", r"/v3/gone/", lambda req: Reply(404, {"error": "NOT_FOUND"}))
        server.add_route(
            "GET",
            r"/v3/bad/",
            lambda req: Reply(
                400, {"error": "ARGUMENTS_ERROR", "error_description": "status: bad value"}
            ),
        )
        yield server


@pytest.fixture
def sleeps() -> list[float]:
    return []


def client(sleeps: list[float], **policy: float) -> HttpClient:
    return HttpClient(
        "Acme",
        "run `harvest auth acme`",
        RetryPolicy(**policy),
        timeout=5,
        sleep=sleeps.append,
        rng=random.Random(1),
    )


def get(http: HttpClient, api: FakeServer, path: str = "/v3/things/", **kw) -> requests.Response:
    return http.request(
        "GET",
        api.url + path,
        params={"token": SECRET},
        headers={"Authorization": f"Bearer {SECRET}"},
        **kw,
    )


# --- Retry-After and the policy ---------------------------------------------------------------


@pytest.mark.parametrize(
    "value, seconds",
    [
        ("120", 120.0),
        ("0.25", 0.25),
        (" 2 ", 2.0),
        ("-3", 0.0),
        ("", None),
        (None, None),
        ("soon", None),
        ("nan", None),
        ("inf", None),
    ],
)
def test_retry_after_in_seconds(value, seconds):
    assert retry_after_seconds(value) == seconds


def test_retry_after_as_an_http_date():
    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=90), usegmt=True)
    earlier = format_datetime(now - timedelta(seconds=90), usegmt=True)
    assert retry_after_seconds(later, now) == 90.0
    assert retry_after_seconds(earlier, now) == 0.0


def test_backoff_doubles_with_jitter_and_is_capped():
    policy, rng = RetryPolicy(backoff=1.0, max_wait=5.0, jitter=0.25), random.Random(7)
    waits = [policy.wait(n, None, False, rng) for n in range(1, 6)]
    for n, wait in enumerate(waits[:3], start=1):
        assert 0.75 * 2 ** (n - 1) <= wait <= 1.25 * 2 ** (n - 1)
    assert waits[3:] == [5.0, 5.0]


def test_a_rate_limit_without_retry_after_waits_longer_and_a_long_retry_after_gives_up():
    policy, rng = RetryPolicy(rate_limit_wait=20.0, max_wait=60.0), random.Random(7)
    assert 15.0 <= policy.wait(1, None, True, rng) <= 25.0
    assert policy.wait(1, 30.0, True, rng) == 30.0
    assert policy.wait(1, 3600.0, True, rng) is None


# --- the client over HTTP ----------------------------------------------------------------------


def test_429_is_retried_honouring_a_fractional_retry_after(api, sleeps):
    api.fail("/v3/things/", "429", times=2, retry_after="0.25")
    response = get(client(sleeps), api)
    assert response.json() == {"things": [1, 2]}
    assert sleeps == [0.25, 0.25]
    assert len(api.calls("/v3/things/")) == 3


def test_429_without_retry_after_waits_the_rate_limit_wait(api, sleeps):
    api.fail("/v3/things/", "429", times=1)
    get(client(sleeps, rate_limit_wait=20.0, jitter=0.0), api)
    assert sleeps == [20.0]


def test_5xx_and_dropped_connections_are_retried_with_backoff(api, sleeps):
    api.fail("/v3/things/", "503", times=1)
    api.fail("/v3/things/", "drop", times=1)
    api.fail("/v3/things/", "cut", times=1)
    assert get(client(sleeps, jitter=0.0), api).status_code == 200
    assert sleeps == [1.0, 2.0, 4.0]


def test_a_server_that_keeps_failing_gives_a_retriable_error_naming_the_path(api, sleeps):
    api.fail("/v3/things/", "500", times=10)
    with pytest.raises(SourceError) as caught:
        get(client(sleeps, max_attempts=3), api)
    assert caught.value.retriable
    message = str(caught.value)
    assert "Acme answered HTTP 500 for /v3/things/, 3 times" in message
    assert SECRET not in message and "token=" not in message
    assert len(sleeps) == 2 and len(api.calls()) == 3


def test_a_timeout_is_retried(api, sleeps):
    api.fail("/v3/things/", "hang", times=1, delay=0.3)
    http = HttpClient("Acme", "run it", RetryPolicy(), timeout=0.1, sleep=sleeps.append)
    assert get(http, api).status_code == 200
    assert len(sleeps) == 1
    api.fail("/v3/things/", "hang", times=2, delay=0.3)
    http.policy = RetryPolicy(max_attempts=2)
    with pytest.raises(SourceError, match="did not answer within 0.1 s"):
        get(http, api)


def test_a_retry_after_longer_than_max_wait_stops_at_once(api, sleeps):
    api.fail("/v3/things/", "429", times=1, retry_after="3600")
    with pytest.raises(SourceError, match="asked harvest to wait 3,600 s") as caught:
        get(client(sleeps, max_wait=60.0), api)
    assert caught.value.retriable and sleeps == []


@pytest.mark.parametrize("kind", ["401", "403"])
def test_a_refused_token_is_an_auth_error_at_once(api, sleeps, kind):
    api.fail("/v3/things/", kind, times=1)
    with pytest.raises(AuthError, match=r"run `harvest auth acme`") as caught:
        get(client(sleeps), api)
    assert SECRET not in str(caught.value)
    assert len(api.calls()) == 1 and sleeps == []


def test_401_message(api, sleeps):
    api.fail("/v3/things/", "401")
    with pytest.raises(AuthError) as caught:
        get(client(sleeps), api)
    assert str(caught.value) == (
        "The Acme token was refused (Acme said: The OAuth token you provided was invalid.): "
        "run `harvest auth acme`."
    )


def test_other_4xx_are_fatal_with_the_apis_reason(api, sleeps):
    with pytest.raises(SourceError, match="HTTP 400 for /v3/bad/ .*status: bad value") as caught:
        get(client(sleeps), api, "/v3/bad/")
    assert not caught.value.retriable and sleeps == []


def test_allowed_statuses_are_returned(api, sleeps):
    assert get(client(sleeps), api, "/v3/gone/", allow=(404,)).status_code == 404


def test_a_body_that_is_not_json_is_a_clear_error(api, sleeps):
    api.fail("/v3/things/", "not_json")
    http = client(sleeps)
    response = get(http, api)
    with pytest.raises(SourceError) as caught:
        http.json(response)
    message = str(caught.value)
    assert "Acme answered /v3/things/ with something that is not JSON (text/html" in message
    assert "502 Bad Gateway" in message and SECRET not in message


def test_error_descriptions_in_common_shapes():
    def response(body: object) -> requests.Response:
        r = requests.Response()
        r._content = __import__("json").dumps(body).encode()
        return r

    assert describe_error(response({"error_description": "bad  token"})) == "bad token"
    assert (
        describe_error(response({"error": {"code": "x", "message": "Graph says no"}}))
        == "Graph says no"
    )
    assert describe_error(response({"message": "plain"})) == "plain"
    assert describe_error(response([1, 2])) == ""


def test_paginate_follows_tokens_and_refuses_to_loop():
    pages = {None: ([1, 2], "a"), "a": ([3], "b"), "b": ([4], None)}
    assert list(paginate(lambda t: pages[t], "things")) == [1, 2, 3, 4]
    looping = {None: ([1], "a"), "a": ([2], "a")}
    with pytest.raises(SourceError, match="same next-page marker twice"):
        list(paginate(lambda t: looping[t], "things"))


# --- tokens never in clear text ----------------------------------------------------------------


def _this_machines_address() -> str:
    """An address of this machine that is not loopback (so plain http to it is refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks a route
            address = probe.getsockname()[0]
        except OSError:
            address = ""
    if not address or address.startswith("127.") or address == "0.0.0.0":
        pytest.skip("this machine has no address other than loopback")
    return address


def test_a_token_is_never_sent_over_plain_http_to_another_machine(sleeps) -> None:
    with socket.socket() as listener:
        listener.bind(("0.0.0.0", 0))
        listener.listen()
        listener.settimeout(0.5)
        url = f"http://{_this_machines_address()}:{listener.getsockname()[1]}/v3/things/"
        with pytest.raises(SourceError, match="will not send the Acme token.*https://"):
            client(sleeps, max_attempts=1).request(
                "GET", url, headers={"Authorization": f"Bearer {SECRET}"}
            )
        with pytest.raises(TimeoutError):  # nothing ever connected
            listener.accept()


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://www.eventbriteapi.com/v3/", True),
        ("http://127.0.0.1:8080/v3/", True),
        ("http://localhost:8080/v3/", True),
        ("http://[::1]:8080/v3/", True),
        ("http://www.eventbriteapi.com/v3/", False),
        ("http://192.0.2.2/v3/", False),
        ("http://127.0.0.1.example.org/v3/", False),
        ("ftp://127.0.0.1/", False),
    ],
)
def test_plain_http_is_allowed_only_to_loopback(url: str, allowed: bool) -> None:
    if allowed:
        assert require_https(url) == url
    else:
        with pytest.raises(ValueError, match="must start with https://"):
            require_https(url)
