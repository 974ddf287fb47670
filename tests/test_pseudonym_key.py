"""`publish` never replaces the pseudonym key silently (harvest/publish/pseudonym_key.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import EVERY_FIGURE, funders_figures, scalar, write_config, write_csv
from test_forget import LUNCH
from typer.testing import CliRunner

from harvest.cli import app
from harvest.config import load_config
from harvest.publish.pseudonym_key import FINGERPRINT
from harvest.sync import sync

runner = CliRunner()


def figures(project: Path) -> dict[str, list[tuple]]:
    return funders_figures(project / "funders.db")


def key_fingerprint(project: Path) -> str:
    return scalar(project / "harvest.db", "SELECT value FROM meta WHERE key = ?", (FINGERPRINT,))


@pytest.fixture
def published(project: Path) -> Path:
    write_csv(project / "lunch.csv", LUNCH)
    cfg = write_config(
        project,
        [{"name": "lunch", "type": "file", "options": {"path": "lunch.csv"}}],
        publish=EVERY_FIGURE,
    )
    assert sync(load_config(cfg)).published
    return cfg


def _lose_the_token_store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str) -> None:
    monkeypatch.setenv("HARVEST_SECRETS_FILE", str(tmp_path / name / "secrets.json"))


def test_publish_stops_when_the_key_funders_db_was_made_with_is_missing(
    published: Path, project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = figures(project)
    _lose_the_token_store(monkeypatch, tmp_path, "new-server")
    out = runner.invoke(app, ["publish", "-c", str(published)])
    assert out.exit_code == 1
    text = " ".join(out.output.split())
    assert "not in the token store" in text and "funders.db was left as it is" in text
    assert "Restore the token store from its backup" in text
    assert "harvest publish --new-pseudonym-key" in text and "Traceback" not in text
    assert figures(project) == before  # untouched
    # A sync says so too, and keeps the old funders.db.
    (project / "lunch.csv").touch()
    result = sync(load_config(published))
    assert result.publish_error and "not in the token store" in result.publish_error
    assert result.exit_code == 1 and figures(project) == before
    # Deleting funders.db does not get round it: the store remembers a key was used.
    (project / "funders.db").unlink()
    out = runner.invoke(app, ["publish", "-c", str(published)])
    assert out.exit_code == 1 and "--new-pseudonym-key" in out.output
    assert not (project / "funders.db").exists()


def test_a_different_key_is_refused_and_a_new_one_is_a_deliberate_choice(
    published: Path, project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before, key = figures(project), key_fingerprint(project)
    _lose_the_token_store(monkeypatch, tmp_path, "other")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "secrets.json").write_text('{"funders_hmac_key": "somebody-elses"}')
    out = runner.invoke(app, ["publish", "-c", str(published)])
    assert out.exit_code == 1
    assert "is not the one funders.db was published with" in " ".join(out.output.split())
    assert figures(project) == before
    fresh = runner.invoke(app, ["publish", "--new-pseudonym-key", "-c", str(published)])
    assert fresh.exit_code == 0, fresh.output
    after = figures(project)
    assert key_fingerprint(project) != key  # the new key is remembered
    db = project / "harvest.db"
    assert scalar(db, "SELECT count(*) FROM audit_runs WHERE action = 'publish.new_key'") == 1
    again = runner.invoke(app, ["publish", "-c", str(published)])  # the new key is the key now
    assert again.exit_code == 0, again.output
    assert figures(project) == after  # the same key gives the same figures


def test_the_first_publish_makes_a_key_without_asking(project: Path) -> None:
    write_csv(project / "lunch.csv", LUNCH)
    cfg = write_config(
        project,
        [{"name": "lunch", "type": "file", "options": {"path": "lunch.csv"}}],
        publish=EVERY_FIGURE,
    )
    sync(load_config(cfg))
    out = runner.invoke(app, ["publish", "-c", str(cfg)])
    assert out.exit_code == 0, out.output
    assert (project / "funders.db").exists() and key_fingerprint(project)
