"""Which connectors there are: harvest's own, and any installed package's, found alike.

A connector is named by an entry point in the group ``harvest.connectors``: the name is
the source ``type:`` in harvest.yaml and the value is ``module:Class``, a subclass of
:class:`~harvest.connectors.base.Connector`. An outside package declares its own in its
pyproject.toml (docs/connectors/writing.md)::

    [project.entry-points."harvest.connectors"]
    lunch_club_api = "harvest_lunch_club:LunchClubConnector"

harvest's own are listed in :data:`BUILTIN` the same way (and declared in harvest's
pyproject.toml too, so every connector installed shows in the one group). The code's
list is the one used: it works from a source checkout, and an outside package cannot
take a built-in's name. A connector's module is imported only when a source of its
type is used, so a sync of files never pays for loading Google's client libraries.

An outside package that cannot be loaded (its module fails to import, or its entry
point names something that is not a connector) fails only the sources that use it,
with a message naming the package and what to do; the other sources sync as usual.
"""

from __future__ import annotations

import importlib
import logging
import re
from dataclasses import dataclass
from importlib import metadata

from harvest.connectors.base import Connector
from harvest.errors import ConfigError

log = logging.getLogger(__name__)

GROUP = "harvest.connectors"
OWN = "harvest"  # the top-level package of harvest's own connectors
BUILTIN = {
    "eventbrite": "harvest.connectors.eventbrite:EventbriteConnector",
    "file": "harvest.connectors.files:FileConnector",
    "google_forms": "harvest.connectors.google_forms:GoogleFormsConnector",
    "google_sheets": "harvest.connectors.google_sheets:GoogleSheetsConnector",
    "microsoft_excel": "harvest.connectors.microsoft:MicrosoftExcelConnector",
}
TYPE_NAME = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class ConnectorEntry:
    """One registered connector: its source type, where its class is, and who provides it."""

    type: str
    target: str  # "module:Class"
    package: str = OWN  # the distribution that provides it
    version: str = ""

    @property
    def builtin(self) -> bool:
        return self.package == OWN

    @property
    def provider(self) -> str:
        """Who provides it, as a message names them."""
        if self.builtin:
            return "harvest itself"
        return f"the package '{self.package}'" + (f" {self.version}" if self.version else "")


_LOADED: dict[str, type[Connector]] = {}
_WARNED: set[str] = set()


def connector_entries() -> dict[str, ConnectorEntry]:
    """Every connector, by source type: harvest's own, then those of installed packages.

    Entry points are read afresh each time (a package installed since is found); none
    of the connectors is imported."""
    found = {name: ConnectorEntry(name, target) for name, target in BUILTIN.items()}
    points = sorted(
        metadata.entry_points(group=GROUP),
        key=lambda ep: (_package(ep), ep.name),
    )
    for ep in points:
        if ep.module.split(".")[0] == OWN:
            continue  # harvest's own, declared in its pyproject.toml: BUILTIN is used
        entry = ConnectorEntry(ep.name, ep.value, _package(ep), _version(ep))
        problem = _refused(entry, found)
        if problem:
            _warn_once(problem)
        else:
            found[ep.name] = entry
    return found


def _refused(entry: ConnectorEntry, found: dict[str, ConnectorEntry]) -> str | None:
    """Why an installed package's connector is not used, or None when it is."""
    taken = found.get(entry.type)
    if taken is not None and taken.builtin:
        return (
            f"{entry.provider} offers a connector called '{entry.type}', the name of one of "
            "harvest's own, so it was ignored. Ask its authors to give it a name of its own."
        )
    if taken is not None:
        return (
            f"{entry.provider} and {taken.provider} both offer a connector called "
            f"'{entry.type}'; the one from '{taken.package}' is used. Uninstall the one "
            "you do not want (pip uninstall)."
        )
    if not TYPE_NAME.fullmatch(entry.type):
        return (
            f"{entry.provider} offers a connector called {entry.type!r}, which is not a "
            "name harvest.yaml can use (small letters, digits and '_'), so it was ignored."
        )
    return None


def connector_names() -> list[str]:
    """Every source type harvest knows, without importing the connectors."""
    return sorted(connector_entries())


def connector_class(type_name: str) -> type[Connector]:
    """The connector class for a source type, importing its module the first time.

    Raises ConfigError, naming the package and what to do, when it cannot be loaded."""
    if type_name in _LOADED:
        return _LOADED[type_name]
    entries = connector_entries()
    if type_name not in entries:
        known = ", ".join(sorted(entries))
        raise ConfigError(f"Unknown source type {type_name!r} (known: {known}).")
    cls = load(entries[type_name])
    _LOADED[type_name] = cls
    return cls


def connector_types() -> dict[str, type[Connector]]:
    """Every connector class (imports them all; one that cannot be loaded raises)."""
    return {name: connector_class(name) for name in connector_names()}


def load(entry: ConnectorEntry) -> type[Connector]:
    """Import an entry's class and check it is a connector of that type."""
    module_name, _, attr = entry.target.partition(":")
    try:
        found: object = importlib.import_module(module_name)
        for part in attr.split(".") if attr else []:
            found = getattr(found, part)
    except Exception as exc:  # any failure of someone else's code: reported, never a traceback
        raise _broken(entry, f"it could not be loaded ({_said(exc)})") from None
    if not (isinstance(found, type) and issubclass(found, Connector)):
        raise _broken(
            entry,
            f"'{entry.target}' is not a connector (a subclass of "
            "harvest.connectors.base.Connector)",
        )
    if found.type != entry.type:
        raise _broken(
            entry,
            f"its class says its type is {found.type!r}, but it is registered as "
            f"'{entry.type}'; the two must be the same",
        )
    return found


def _broken(entry: ConnectorEntry, why: str) -> ConfigError:
    if entry.builtin:
        todo = "Reinstall harvest (pip install --force-reinstall) and try again."
    else:
        todo = (
            f"Reinstall it (pip install --force-reinstall {entry.package}) or tell its "
            f"authors; or uninstall it (pip uninstall {entry.package}) and remove the "
            f"sources of type '{entry.type}' from harvest.yaml. Sources of other types "
            "are not affected."
        )
    return ConfigError(f"The connector '{entry.type}' from {entry.provider}: {why}. {todo}")


def _said(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0][:300]}" if lines else type(exc).__name__


def _package(ep: metadata.EntryPoint) -> str:
    dist = ep.dist
    return dist.name if dist is not None else f"(the package of {ep.module})"


def _version(ep: metadata.EntryPoint) -> str:
    return ep.dist.version if ep.dist is not None else ""


def _warn_once(message: str) -> None:
    if message not in _WARNED:
        _WARNED.add(message)
        log.warning("%s", message)
