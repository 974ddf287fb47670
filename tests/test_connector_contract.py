"""The connector contract (harvest.testing.contract) run over every registered connector,
each against its own local fake API: the harnesses are in tests/connector_contract.py.
The example outside connector (tests/example_connector) is installed with pip for this
module and passes the same suite."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from connector_contract import EXAMPLE, HARNESSES, install

from harvest.connectors import registry
from harvest.testing.contract import ConnectorContract


@pytest.fixture(scope="module", autouse=True)
def example_installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The example outside connector, pip-installed into a folder on sys.path (and on
    PYTHONPATH for the processes the tests start) for this module only."""
    target = install(EXAMPLE, tmp_path_factory.mktemp("outside") / "site")
    sys.path.insert(0, str(target))
    with pytest.MonkeyPatch.context() as mp:
        paths = [str(target), os.environ.get("PYTHONPATH")]
        mp.setenv("PYTHONPATH", os.pathsep.join(p for p in paths if p))
        yield target
    sys.path.remove(str(target))
    registry._LOADED.pop("example_signins", None)


class TestEveryConnector(ConnectorContract):
    harnesses = HARNESSES


def test_every_registered_connector_has_a_harness():
    assert set(registry.connector_names()) == set(HARNESSES)
    assert registry.connector_entries()["example_signins"].package == "harvest-example-connector"
