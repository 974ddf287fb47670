"""Connectors read sources. Importing this package registers the built-in ones."""

from __future__ import annotations

from harvest.connectors import eventbrite, files, google, microsoft  # noqa: F401
