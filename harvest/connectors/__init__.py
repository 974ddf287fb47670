"""Connectors read sources. Each is found through the registry (see registry.py)."""

from __future__ import annotations
