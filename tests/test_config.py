"""harvest.yaml loading: every problem reported at once, naming the file and key path."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harvest.config import load_config
from harvest.errors import ConfigError


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "harvest.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data), encoding="utf-8")
    return path


def test_valid_config_resolves_paths_relative_to_the_file(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        {
            "organisation": "Riverside",
            "database": "data/h.db",
            "sources": [
                {
                    "name": "lunch",
                    "type": "file",
                    "options": {"path": "x.csv"},
                    "constants": {"activity": "Lunch", "attendance_status": "attended"},
                    "mapping": {"Tel": "phone", "Notes": None},
                }
            ],
        },
    )
    cfg = load_config(path)
    assert cfg.database_path == tmp_path / "data" / "h.db"
    assert cfg.source("lunch").mapping == {"Tel": "phone", "Notes": None}
    assert cfg.connector(cfg.source("lunch")).options.path == "x.csv"


def test_every_problem_is_listed_with_its_key_path(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        {
            "organisation": "Riverside",
            "sources": [
                {"name": "lunch club", "type": "file", "options": {"path": "x.csv"}},
                {"name": "b", "type": "fil", "options": {}},
                {"name": "c", "type": "file", "options": {"pth": "x.csv"}},
                {"name": "d", "type": "file", "options": {"path": "x"}, "mapping": {"Tel": "fone"}},
                {
                    "name": "d",
                    "type": "file",
                    "options": {"path": "y"},
                    "constants": {"colour": "red"},
                },
            ],
            "databse": "x.db",
        },
    )
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    msg = str(exc.value)
    assert str(path) in msg and "nothing was synced" in msg
    assert "sources[0].name" in msg and "no spaces" in msg
    assert "sources[1].type: unknown source type 'fil'" in msg and "file" in msg
    assert "sources[2].options.pth" in msg and "sources[2].options.path: is required" in msg
    assert "sources[3].mapping" in msg and "'fone'" in msg
    assert "sources[4].name: 'd' is used by two sources" in msg
    assert "sources[4].constants" in msg and "colour" in msg
    assert "databse: is not a setting harvest knows" in msg
    assert exc.value.exit_code == 2


@pytest.mark.parametrize(
    "text, expected",
    [
        ("organisation: [unclosed", "not valid YAML at line 1"),
        ("- just\n- a list\n", "expected settings"),
        ("sources: []\n", "organisation: is required"),
    ],
)
def test_broken_files_get_plain_messages(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        load_config(_write(tmp_path, text))


def test_a_list_where_a_source_name_should_be_is_reported_not_a_crash(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        {
            "organisation": "x",
            "sources": [
                {"name": ["lunch", "club"], "type": "file", "options": {"path": "x.csv"}},
                {"name": {"lunch": 1}, "type": "file", "options": {"path": "y.csv"}},
            ],
        },
    )
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert "sources[0].name" in str(exc.value) and "sources[1].name" in str(exc.value)


def test_missing_file_says_how_to_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="harvest init"):
        load_config(tmp_path / "nope.yaml")


def test_unknown_source_name(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, {"organisation": "x", "sources": []}))
    with pytest.raises(ConfigError, match="no source called 'lunch'"):
        cfg.source("lunch")
