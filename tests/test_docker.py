"""The Docker image keeps its secrets on the data volume (docs/docker.md).

Without Docker: the image's entrypoint (`harvest`, the installed console script) runs as
a subprocess with the ENV lines and WORKDIR of the Dockerfile, ``/data`` mapped to a test
folder, and a fresh empty HOME each time, as ``docker run --rm`` gives a fresh container
filesystem. Only the data folder is shared between runs.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from conftest import (
    EVERY_FIGURE,
    free_port,
    fresh_figures,
    funders_figures,
    login,
    stop,
    wait_until_up,
    write_config,
    write_csv,
)
from test_forget import EVENTS, LUNCH

ROOT = Path(__file__).resolve().parent.parent


def dockerfile() -> tuple[dict[str, str], str, list[str], list[str]]:
    """The Dockerfile's ENV variables, last WORKDIR, ENTRYPOINT and CMD."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    env: dict[str, str] = {}
    workdir, entrypoint, cmd = "/", [], []
    for line in text.splitlines():
        word, _, rest = line.strip().partition(" ")
        if word == "ENV":
            env.update(item.split("=", 1) for item in shlex.split(rest))
        elif word == "WORKDIR":
            workdir = rest.strip()
        elif word == "ENTRYPOINT":
            entrypoint = json.loads(rest)
        elif word == "CMD":
            cmd = json.loads(rest)
    return env, workdir, entrypoint, cmd


class Container:
    """`docker run --rm -v DATA:/data harvest …`, one fresh container per call."""

    def __init__(self, data: Path, homes: Path) -> None:
        self.data, self.homes, self.runs = data, homes, 0
        env, self.workdir, entrypoint, self.cmd = dockerfile()
        assert entrypoint == ["harvest"] and self.workdir == "/data" and self.cmd == ["sync"]
        self.env = {k: v.replace("/data", str(data)) for k, v in env.items()}
        self.entrypoint = [str(Path(sys.executable).parent / "harvest")]

    def environment(self) -> dict[str, str]:
        self.runs += 1
        home = self.homes / f"home{self.runs}"  # a fresh, empty container filesystem
        home.mkdir()
        return {
            "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin",
            "HOME": str(home),
            "LANG": "C.UTF-8",
            **self.env,
        }

    def run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [*self.entrypoint, *(args or self.cmd)],
            cwd=self.data,
            env=self.environment(),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, (args, done.stdout + done.stderr)
        return done

    @contextmanager
    def serving(self) -> Iterator[str]:
        """`docker run … harvest serve --funders`: its address, until the block ends."""
        port = free_port()
        command = [*self.entrypoint, "serve", "--funders", "--port", str(port)]
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        proc = subprocess.Popen(command, cwd=self.data, env=self.environment(), **quiet)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(proc, f"{base}/-/login")
            yield base
        finally:
            stop(proc)


def figures(data: Path) -> dict[str, list[tuple]]:
    return funders_figures(data / "funders.db")


@pytest.fixture
def container(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Container:
    data = tmp_path / "data"
    write_csv(data / "lunch.csv", LUNCH)
    write_csv(data / "events.csv", EVENTS)
    write_config(
        data,
        [
            {"name": "lunch", "type": "file", "options": {"path": "lunch.csv"}},
            {"name": "events", "type": "file", "options": {"path": "events.csv"}},
        ],
        publish=EVERY_FIGURE,
    )
    (tmp_path / "homes").mkdir()
    return Container(data, tmp_path / "homes")


def test_two_containers_share_the_keys_and_logins_kept_on_the_data_volume(
    container: Container, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    container.run()  # the image's CMD: sync (and publish funders.db)
    first = figures(container.data)
    assert first["people_reached"]
    container.run(
        "users", "add", "fund1", "--role", "funder", "--password-stdin", stdin="funder-password-1\n"
    )
    with container.serving() as base:
        cookie = login(base, "fund1", "funder-password-1").cookies

    container.run("publish")  # a fresh container: the same key, so the same figures
    assert figures(container.data) == first
    with container.serving() as base:  # the same cookie-signing key and users
        kept = httpx.Client(base_url=base, cookies=cookie, timeout=10)
        assert kept.get("/funders/reach.json").status_code == 200
        assert (
            login(base, "fund1", "funder-password-1").get("/funders/reach.json").status_code == 200
        )

    container.run("forget", "--email", "bart@example.org", "--yes")
    for name in ("lunch.csv", "events.csv"):  # read again: his rows are still at the source
        os.utime(container.data / name, ns=(time.time_ns(), time.time_ns() + 10**9))
    synced = container.run("sync")  # the tombstone key is still there: no TombstoneKeyError
    assert "row of an erased person skipped" in synced.stdout
    assert "Published funders.db" in synced.stdout
    monkeypatch.setenv("HARVEST_SECRETS_FILE", str(container.data / ".harvest" / "secrets.json"))
    assert figures(container.data) != first  # he is out of funders.db, with the same key:
    assert figures(container.data) == fresh_figures(container.data / "harvest.yaml", tmp_path)
    secrets = container.data / ".harvest" / "secrets.json"
    assert oct(secrets.stat().st_mode & 0o777) == "0o600"
    assert oct(secrets.parent.stat().st_mode & 0o777) == "0o700"
    assert not any(container.homes.rglob("secrets.json"))  # nothing kept in a container


def instructions() -> list[tuple[str, str]]:
    """Every instruction of the Dockerfile as (word, the rest), continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (word.upper(), rest.strip())
        for word, _, rest in (line.partition(" ") for line in lines if line and line[0] != "#")
    ]


def only(word: str) -> str:
    [rest] = [rest for w, rest in instructions() if w == word]
    return rest


def test_the_image_ships_the_licence_and_installs_the_pinned_versions() -> None:
    copied = " ".join(rest for word, rest in instructions() if word == "COPY")
    assert {"LICENSE", "constraints.txt", "pyproject.toml", "harvest"} <= set(copied.split())
    [install] = [rest for word, rest in instructions() if word == "RUN" and "pip install" in rest]
    assert "PIP_CONSTRAINT=/app/constraints.txt pip install" in install


def test_the_image_runs_as_a_numeric_user_who_owns_the_documented_data_volume() -> None:
    user = only("USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and gid.isdigit() and int(uid) >= 10000, user
    install = [rest for word, rest in instructions() if word == "RUN"][0]
    assert f"--uid {uid}" in install and f"chown {uid}:{gid} /data" in install
    assert json.loads(only("VOLUME")) == ["/data"]
    env, workdir, _, _ = dockerfile()
    assert workdir == "/data" and env["HARVEST_CONFIG"].startswith("/data/")
    assert env["HARVEST_SECRETS_FILE"].startswith("/data/")
    docs = (ROOT / "docs" / "docker.md").read_text(encoding="utf-8")
    assert f"user {uid}" in docs and "/data" in docs


def healthcheck(url: str) -> subprocess.CompletedProcess:
    """The image's HEALTHCHECK command, run as Docker would run it in a `serve` container."""
    options, _, command = only("HEALTHCHECK").partition("CMD ")
    assert "--interval=" in options and "--timeout=" in options
    program, *args = json.loads(command)
    assert program == "python"
    env = {"PATH": "/usr/bin:/bin", "HARVEST_HEALTH_URL": url}
    return subprocess.run([sys.executable, *args], env=env, capture_output=True, timeout=60)


def test_the_healthcheck_passes_while_serve_answers_and_fails_once_it_stops(
    container: Container,
) -> None:
    container.run()
    container.run(
        "users", "add", "staff1", "--role", "staff", "--password-stdin", stdin="staff-password-1\n"
    )
    with container.serving() as base:
        url = f"{base}/-/versions.json"
        assert httpx.get(url).status_code in (302, 403)  # logins are on: no anonymous access
        assert healthcheck(url).returncode == 0
    failed = healthcheck(url)
    assert failed.returncode == 1 and url.encode() in failed.stderr
