"""Connectors from other packages: installed with pip, found through the entry-point group
``harvest.connectors``, and synced exactly like harvest's own. A package that is broken,
or that claims a built-in's name, is reported by name and stops nothing else."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import query, write_config, write_csv
from connector_contract import EXAMPLE, install
from fakes.signins import TOKEN, FakeSignins

from harvest.connectors import registry
from harvest.connectors.eventbrite import EventbriteConnector
from harvest.errors import ConfigError
from harvest.testing.contract import harvest_command

ROOT = Path(__file__).resolve().parents[1]
BROKEN_PYPROJECT = """
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "harvest-broken-tool"
version = "2.3.0"

[project.entry-points."harvest.connectors"]
broken_tool = "harvest_broken_tool:ToolConnector"
not_a_connector = "harvest_broken_helpers:read_everything"
eventbrite = "harvest_broken_helpers:read_everything"
"Bad Name" = "harvest_broken_helpers:read_everything"
crashing_tool = "harvest_broken_helpers:CrashingConnector"

[tool.setuptools]
packages = ["harvest_broken_tool"]
py-modules = ["harvest_broken_helpers"]
"""

CRASHING = """
from harvest.connectors.base import Connector


def read_everything():
    return []


class CrashingConnector(Connector):
    type = "crashing_tool"

    def fetch(self, state, full=False):
        yield from []
        raise KeyError("attendees")
"""


def harvest(config: Path, *env_paths: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, env_paths))}
    return subprocess.run(
        [*harvest_command(), "sync", "--config", str(config), "--no-progress"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """An installed package whose connector cannot be imported (a dependency is missing),
    with entry points that are not connectors, take a built-in's name, or a bad name."""
    source = tmp_path_factory.mktemp("broken") / "harvest-broken-tool"
    (source / "harvest_broken_tool").mkdir(parents=True)
    (source / "pyproject.toml").write_text(BROKEN_PYPROJECT, encoding="utf-8")
    (source / "harvest_broken_tool" / "__init__.py").write_text(
        "import lunch_club_sdk  # not installed\n", encoding="utf-8"
    )
    (source / "harvest_broken_helpers.py").write_text(CRASHING, encoding="utf-8")
    target = install(source, source.parent / "site")
    sys.path.insert(0, str(target))
    yield target
    sys.path.remove(str(target))
    registry._WARNED.clear()


def test_an_installed_outside_connector_registers_and_syncs_like_a_builtin(
    tmp_path, signup_rows, monkeypatch
):
    site = install(EXAMPLE, tmp_path / "site")
    write_csv(tmp_path / "lunch.csv", signup_rows)
    monkeypatch.setenv("SIGNINS_TOKEN", TOKEN)
    with FakeSignins() as api:
        api.add("Ann", "Lee", "NW1 2AB")
        api.add("Bob", "Smith", "SW1A 1AA")
        api.add("Cat", "Khan", "E1 6AN")
        signins = {
            "name": "signins",
            "type": "example_signins",
            "options": {"api_url": api.url, "token": {"env": "SIGNINS_TOKEN"}},
        }
        lunch = {"name": "lunch", "type": "file", "options": {"path": "lunch.csv"}}
        config = write_config(tmp_path, [lunch, signins])
        done = harvest(config, site)
        assert done.returncode == 0, done.stdout + done.stderr
        assert query(
            tmp_path / "harvest.db",
            "SELECT given_name, postcode, activity FROM records WHERE source = 'signins'"
            " ORDER BY 1",
        ) == [
            ("Ann", "NW1 2AB", "Lunch club"),
            ("Bob", "SW1A 1AA", "Lunch club"),
            ("Cat", "E1 6AN", "Lunch club"),
        ]
        # Its options are checked with harvest.yaml, as a built-in's are.
        signins["options"]["api_url"] = "http://example.org/api"
        wrong = harvest(write_config(tmp_path, [lunch, signins]), site)
    assert wrong.returncode == 2
    assert "sources[1].options.api_url: must start with https://" in " ".join(wrong.stderr.split())
    # Without the package installed, the type is unknown and the message lists the known.
    gone = harvest(config)
    assert gone.returncode == 2 and "unknown source type 'example_signins'" in gone.stderr


def test_a_broken_outside_connector_names_its_package_and_the_others_still_sync(
    tmp_path, broken, signup_rows
):
    write_csv(tmp_path / "lunch.csv", signup_rows)
    lunch = {"name": "lunch", "type": "file", "options": {"path": "lunch.csv"}}
    tool = {"name": "tool", "type": "broken_tool", "options": {"anything": 1}}
    crash = {"name": "crash", "type": "crashing_tool"}
    done = harvest(write_config(tmp_path, [lunch, tool, crash]), broken)
    said = " ".join((done.stdout + done.stderr).split())
    assert done.returncode == 1, said  # a source failed; the others synced
    assert (
        "The connector 'broken_tool' from the package 'harvest-broken-tool' 2.3.0: it could "
        "not be loaded (ModuleNotFoundError: No module named 'lunch_club_sdk')" in said
    )
    assert "pip uninstall harvest-broken-tool" in said and "Traceback" not in said
    assert (
        "unexpected error (KeyError: 'attendees'). Nothing from this source was changed; the "
        "connector 'crashing_tool' comes from the package 'harvest-broken-tool' 2.3.0: please "
        "report this to its authors with the output of `harvest --verbose sync --source crash`"
    ) in said
    assert query(tmp_path / "harvest.db", "SELECT count(*) FROM records WHERE source = 'lunch'")
    assert query(
        tmp_path / "harvest.db", "SELECT status FROM source_runs WHERE source = 'tool'"
    ) == [("failed",)]
    assert query(
        tmp_path / "harvest.db", "SELECT status FROM source_runs WHERE source = 'crash'"
    ) == [("failed",)]


def test_entry_points_that_are_not_connectors_or_take_a_builtins_name(broken, caplog):
    caplog.set_level(logging.WARNING, logger="harvest.connectors.registry")
    registry._WARNED.clear()
    names = registry.connector_names()
    assert {"broken_tool", "not_a_connector"} <= set(names) and "Bad Name" not in names
    assert registry.connector_class("eventbrite") is EventbriteConnector  # not taken over
    warned = " ".join(r.getMessage() for r in caplog.records)
    assert (
        "the package 'harvest-broken-tool' 2.3.0 offers a connector called 'eventbrite', the "
        "name of one of harvest's own, so it was ignored" in warned
    )
    assert "offers a connector called 'Bad Name', which is not a name" in warned
    with pytest.raises(ConfigError, match="'harvest_broken_helpers:read_everything' is not"):
        registry.connector_class("not_a_connector")


def test_harvests_own_connectors_are_declared_as_entry_points_too():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    declared = pyproject["project"]["entry-points"][registry.GROUP]
    assert declared == registry.BUILTIN
    entries = registry.connector_entries()
    assert all(registry.load(entries[name]).type == name for name in registry.BUILTIN)
