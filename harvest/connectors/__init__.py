"""Connectors read sources. Each built-in registers itself when first used (see base.BUILTIN)."""

from __future__ import annotations
