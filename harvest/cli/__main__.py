"""``python -m harvest.cli``: kept for scripts written before ``python -m harvest``."""

from __future__ import annotations

from harvest.cli import run

if __name__ == "__main__":  # pragma: no cover
    run()
