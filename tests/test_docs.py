"""The docs ship with the code: the data dictionary is generated, links resolve."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from harvest.cli import app

ROOT = Path(__file__).resolve().parents[1]


def test_data_dictionary_is_up_to_date() -> None:
    generated = CliRunner().invoke(app, ["standard", "--format", "markdown"]).output
    doc = (ROOT / "docs" / "data-dictionary.md").read_text(encoding="utf-8")
    assert generated.strip() in doc, "run `make docs` to regenerate docs/data-dictionary.md"


def test_links_between_docs_resolve() -> None:
    for page in [ROOT / "README.md", *(ROOT / "docs").rglob("*.md")]:
        for target in re.findall(r"\]\(([^)#:]+?)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"


def test_readme_starts_with_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first_block = readme.split("```")[1]
    assert "make demo" in first_block and "make test" in first_block
