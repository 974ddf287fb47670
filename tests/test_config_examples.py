"""The examples in config/ work as they stand (docs/deploying.md).

Each example harvest.yaml passes harvest's own loader; every built-in connector has one;
the crontab line, the systemd units and the compose file parse, and every `harvest`
command in them is a real command with options it accepts (parsed by the CLI itself).
"""

from __future__ import annotations

import configparser
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml

from harvest.cli import app
from harvest.config import load_config
from harvest.connectors.base import connector_class, connector_names

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "config"
EXAMPLES = sorted(CONFIG.glob("harvest.*.yaml"))


def parse_harvest(argv: list[str]) -> Any:
    """Parse a `harvest …` command line as the CLI would, without running it (its click context)."""
    assert Path(argv[0]).name == "harvest", argv
    command, args, path = typer.main.get_command(app), argv[1:], ["harvest"]
    while hasattr(command, "commands"):  # a group (typer carries its own click)
        names = [i for i, arg in enumerate(args) if arg in command.commands]
        assert names, f"no harvest command in {argv}"
        i = names[0]
        command.make_context(" ".join(path), args[: i + 1])  # the group's own options
        path.append(args[i])
        command, args = command.commands[args[i]], args[i + 1 :]
    return command.make_context(" ".join(path), args)


def harvest_commands(shell: str) -> list[list[str]]:
    """The `harvest` command lines in a line of shell, without their redirections."""
    found = []
    for part in re.split(r"&&|\|\||;|\|", shell):
        words = shlex.split(part)
        words = words[: next((i for i, w in enumerate(words) if w[0] in "<>2"), len(words))]
        if words and Path(words[0]).name == "harvest":
            found.append(words)
    return found


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_config_passes_harvests_own_loader(path: Path) -> None:
    config = load_config(path)
    assert config.sources and config.organisation


def test_every_built_in_connector_has_an_example() -> None:
    built_in = {
        name
        for name in connector_names()
        if connector_class(name).__module__.startswith("harvest.connectors.")
    }
    shown = {source.type for path in EXAMPLES for source in load_config(path).sources}
    assert built_in <= shown, f"no example in config/ for {built_in - shown}"


def test_the_example_configs_hold_no_secret_only_references() -> None:
    for path in EXAMPLES:
        for source in yaml.safe_load(path.read_text(encoding="utf-8"))["sources"]:
            token = (source.get("options") or {}).get("token")
            assert token is None or set(token) == {"env"}, (path.name, source["name"])


def test_the_crontab_line_runs_a_real_harvest_command() -> None:
    lines = (CONFIG / "crontab").read_text(encoding="utf-8").splitlines()
    [entry] = [line for line in lines if line.strip() and not line.startswith("#")]
    minute, hour, day, month, weekday, command = entry.split(maxsplit=5)
    assert minute.isdigit() and 0 <= int(minute) <= 59
    assert (hour, day, month, weekday) == ("*", "*", "*", "*")  # every hour
    [argv] = harvest_commands(command)
    context = parse_harvest(argv)
    assert context.info_name == "harvest sync" and context.params["progress"] is False


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys keep their case
    parser.read_string((CONFIG / name).read_text(encoding="utf-8"), source=name)
    return parser


def test_the_systemd_service_and_timer_parse_and_run_harvest_sync() -> None:
    service, timer = unit("harvest-sync.service"), unit("harvest-sync.timer")
    assert service["Service"]["Type"] == "oneshot" and service["Service"]["User"] != "root"
    argv = shlex.split(service["Service"]["ExecStart"])
    assert argv[0].startswith("/"), "systemd needs an absolute path"
    assert parse_harvest(argv).info_name == "harvest sync"
    assert service["Service"]["ReadWritePaths"] == service["Service"]["WorkingDirectory"]
    assert timer["Timer"]["Unit"] == "harvest-sync.service"
    assert timer["Timer"]["OnCalendar"] == "hourly"
    assert timer["Install"]["WantedBy"] == "timers.target"


def test_compose_syncs_on_a_schedule_and_serves_behind_caddy_with_https() -> None:
    compose = yaml.safe_load((CONFIG / "docker-compose.yml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert set(services) == {"sync", "serve", "caddy"}
    sync, serve, caddy = services["sync"], services["serve"], services["caddy"]
    for harvest in (sync, serve):
        assert harvest["image"].startswith("harvest") and ".:/data" in harvest["volumes"]
    [loop] = [word for word in sync["entrypoint"] if "harvest sync" in word]
    [argv] = harvest_commands(loop.split("do", 1)[1])
    assert parse_harvest(argv).info_name == "harvest sync" and "sleep" in loop
    assert sync["healthcheck"] == {"disable": True}
    served = parse_harvest(["harvest", *serve["command"]])
    assert served.info_name == "harvest serve" and served.params["host"] == "0.0.0.0"
    assert "ports" not in serve, "the store must be reachable only through the proxy"
    assert caddy["image"].startswith("caddy") and "443:443" in caddy["ports"]
    assert caddy["depends_on"]["serve"]["condition"] == "service_healthy"
    caddyfile = (CONFIG / "Caddyfile").read_text(encoding="utf-8")
    assert f"reverse_proxy serve:{served.params['port']}" in caddyfile
    assert "./Caddyfile:/etc/caddy/Caddyfile:ro" in caddy["volumes"]


def test_every_file_in_config_is_referenced_from_the_docs() -> None:
    docs = " ".join(p.read_text(encoding="utf-8") for p in (ROOT / "docs").rglob("*.md"))
    for path in CONFIG.iterdir():
        assert f"config/{path.name}" in docs, f"no page in docs/ mentions config/{path.name}"
