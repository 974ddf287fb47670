"""``python -m harvest``: the same command as ``harvest``, with the same private umask."""

from __future__ import annotations

from harvest.cli import run

if __name__ == "__main__":  # pragma: no cover
    run()
