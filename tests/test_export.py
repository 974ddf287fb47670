"""`harvest export`: funder tables and queries as HXL-tagged CSV and XLSX, nothing more.

funders.db is built by the real pipeline and `publish_funders` from the people of
test_geo, with the ONS Postcode Directory sample imported; the files written are
read back with the csv module and openpyxl.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import re
import sqlite3
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from conftest import write_config, write_csv
from openpyxl import load_workbook
from test_geo import SAMPLE, people_rows
from typer.testing import CliRunner

from harvest.cli import app
from harvest.config import load_config
from harvest.errors import PublishError
from harvest.publish.export import cells, export_funders, hashtag, published_names, read
from harvest.publish.funders import publish_funders
from harvest.publish.onspd import import_onspd
from harvest.publish.privacy import PublishConfig
from harvest.secrets import TokenStore
from harvest.sync import sync


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("export")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HARVEST_SECRETS_FILE", str(folder / "secrets.json"))
        rows = people_rows()
        rows.append([*rows[1][:7], '=HYPERLINK("http://x")', "10/01/2024", "yes"])
        write_csv(folder / "club.csv", rows)
        write_config(folder, [{"name": "club", "type": "file", "options": {"path": "club.csv"}}])
        config = load_config(folder / "harvest.yaml")
        assert sync(config).exit_code == 0
        import_onspd(config.database_path, [SAMPLE])
        publish_funders(config, today=date(2024, 6, 1))
        with sqlite3.connect(folder / "funders.db") as conn:  # as if an older publish let it by
            conn.execute("INSERT INTO about VALUES ('note', '@SUM(A1)'), ('-x', '+1')")
        yield folder


def config_path(project: Path) -> str:
    return str(project / "harvest.yaml")


def read_csv(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), f"{path.name} has no byte-order mark"
    return list(csv.reader(raw.decode("utf-8-sig").splitlines()))


def pseudonyms(project: Path) -> set[str]:
    """The pseudonyms an older funders.db held, made with this project's key."""
    secret = TokenStore(project / "secrets.json").get("funders_hmac_key")
    assert secret is not None
    key = secret.get_secret_value().encode()
    with sqlite3.connect(project / "harvest.db") as conn:
        ids = [r[0] for r in conn.execute("SELECT person_id FROM people")]
    return {
        hmac.new(key, f"harvest-person:{i}".encode(), hashlib.sha256).hexdigest()[:16] for i in ids
    }


def test_every_funder_column_has_a_hashtag(project: Path) -> None:
    db = sqlite3.connect(project / "funders.db")
    for name in published_names():
        columns, _ = read(db, name, PublishConfig())
        for column in columns:
            tag = hashtag(column, name)
            assert re.fullmatch(r"#[a-z0-9_]+(\+[a-z0-9_]+)*", tag), (name, column, tag)
    db.close()
    assert hashtag("gender") == "#person+gender"  # from the standard
    assert hashtag("postcode_district") == "#adm+postcode+district"
    assert hashtag("people") == "#reached+ind"


def test_export_hxl_csv_of_every_funder_table_and_query(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "export"
    result = CliRunner().invoke(
        app, ["export", "--hxl", "--output", str(out), "--config", config_path(project)]
    )
    assert result.exit_code == 0, result.output
    assert {p.stem for p in out.iterdir()} == set(published_names())
    assert not {p.stem for p in out.iterdir()} & {"people", "contacts", "scores"}
    names = pseudonyms(project)
    for path in out.iterdir():
        header, tags, *rows = read_csv(path)
        assert len(tags) == len(header) and all(t.startswith("#") for t in tags), path.name
        text = path.read_text("utf-8-sig")
        assert not [p for p in names if p in text], f"a pseudonym leaked into {path.name}"
        assert "HYPERLINK" not in text  # an activity of one person is never named
    header, tags, *rows = read_csv(out / "reach.csv")
    assert header[:3] == ["period", "period_name", "people"]
    assert tags[:3] == ["#date+period", "#date+period+name", "#reached+ind"]
    assert rows[0][:2] == ["2024-01", "January 2024"] and rows[0][2] in ("20", "25")
    about = read_csv(out / "about.csv")
    assert ["note", "'@SUM(A1)"] in about and ["'-x", "'+1"] in about
    assert about[1] == ["#meta+key", "#meta+value"]


def test_export_one_table_as_plain_csv(project: Path, tmp_path: Path) -> None:
    target = tmp_path / "areas.csv"
    written = export_funders(load_config(project / "harvest.yaml"), ["areas"], output=target)
    assert [(w.name, w.path) for w in written] == [("areas", target)]
    header, first, *_ = read_csv(target)
    assert header == ["area_type", "area_name", "people"] and first[0] == "Country"


def test_export_xlsx_one_sheet_each(project: Path, tmp_path: Path) -> None:
    target = tmp_path / "funders.xlsx"
    result = CliRunner().invoke(
        app,
        [
            "export",
            "--hxl",
            "--format",
            "xlsx",
            "-o",
            str(target),
            "--config",
            config_path(project),
        ],
    )
    assert result.exit_code == 0, result.output
    book = load_workbook(target)
    assert book.sheetnames == published_names()
    rows = list(book["activities"].values)
    assert rows[0][:3] == ("activity", "attendances", "people")
    assert rows[1][:3] == ("#activity+name", "#indicator+attendances+num", "#reached+ind")
    assert rows[2][0] == "All activities" and rows[2][1] in (20, 25, 30)  # a number
    assert ("note", "'@SUM(A1)") in list(book["about"].values)


def test_there_are_no_person_level_tables_to_export(project: Path, tmp_path: Path) -> None:
    config = load_config(project / "harvest.yaml")
    for table in ("people", "contacts", "scores", "geo_postcodes"):
        with pytest.raises(PublishError, match=f"no funder table or query called '{table}'"):
            export_funders(config, [table])
    [written] = export_funders(config, ["outcomes"], output=tmp_path / "outcomes.csv")
    assert read_csv(written.path)[0] == ["outcome", "people"]
    result = CliRunner().invoke(
        app, ["export", "--table", "people", "--config", config_path(project)]
    )
    assert result.exit_code == 1 and "no funder table or query" in result.output


def test_formula_cells_are_neutralised_but_numbers_are_not() -> None:
    rows = [("=1+1", "+44 20", "-x", "@SUM(A1)", "\tcmd", -2.0, 5, "<8", None)]
    _, data = cells(["a"] * 9, rows, False, "t")
    assert data == ["'=1+1", "'+44 20", "'-x", "'@SUM(A1)", "'\tcmd", -2.0, 5, "<8", None]


def test_export_needs_a_published_database(tmp_path: Path) -> None:
    write_config(tmp_path, [])
    with pytest.raises(PublishError, match="run `harvest publish`"):
        export_funders(load_config(tmp_path / "harvest.yaml"))
    with pytest.raises(PublishError, match="csv or xlsx"):
        export_funders(load_config(tmp_path / "harvest.yaml"), fmt="ods")
