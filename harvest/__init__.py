"""harvest: gather a charity's lists into one standard, keep every row, publish with Datasette."""

from __future__ import annotations

__version__ = "0.1.0"
