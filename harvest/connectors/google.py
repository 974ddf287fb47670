"""The Google connectors, registered: ``type: google_forms`` and ``type: google_sheets``.

Both share :mod:`harvest.connectors.google_auth` (options, credentials, retries);
:mod:`harvest.connectors.google_oauth` is the ``harvest auth google`` flow; see
docs/connectors/google.md.
"""

from __future__ import annotations

from harvest.connectors.google_forms import GoogleFormsConnector
from harvest.connectors.google_sheets import GoogleSheetsConnector

__all__ = ["GoogleFormsConnector", "GoogleSheetsConnector"]
