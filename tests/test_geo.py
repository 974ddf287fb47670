"""`harvest geo import`: the ONS Postcode Directory in the store, and in funders.db.

The directory is tests/fixtures/onspd-sample.csv: a few dozen rows in the ONSPD's real
52-column layout (fictional but well-formed codes), with terminated postcodes, a
Jersey postcode (pseudo codes, no deprivation rank) and two unreadable rows. The
store is built by the real pipeline and funders.db by the real `publish_funders`.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from conftest import write_config, write_csv
from test_funders import near, run
from typer.testing import CliRunner

from harvest.cli import app
from harvest.config import load_config
from harvest.errors import PublishError
from harvest.publish import onspd, onspd_places
from harvest.publish.funders import publish_funders
from harvest.publish.onspd import area_code, imd_decile, import_onspd, normalise_postcode
from harvest.sync import sync

SAMPLE = Path(__file__).parent / "fixtures" / "onspd-sample.csv"
GIVEN = [
    "Amara",
    "Bogdan",
    "Ciaran",
    "Delyth",
    "Eszter",
    "Folake",
    "Gwilym",
    "Hamish",
    "Ingrid",
    "Jovan",
    "Kemi",
    "Lorcan",
    "Maren",
    "Nkechi",
    "Oisin",
    "Priya",
    "Quentin",
    "Rhiannon",
    "Saoirse",
    "Tariq",
    "Ulrike",
    "Vikram",
    "Wendell",
]
FAMILY = [
    "Okafor",
    "Nowak",
    "Byrne",
    "Pritchard",
    "Horvath",
    "Adeyemi",
    "Rees",
    "Macleod",
    "Lindqvist",
    "Petrovic",
    "Bello",
    "Fitzgerald",
    "Halvorsen",
    "Eze",
    "Doyle",
    "Raman",
    "Fairweather",
    "Morgan",
    "Kavanagh",
    "Haddad",
    "Brandt",
    "Mehta",
    "Ashdown",
]
CAMDEN = [
    "NW1 0AB",
    "NW1 0AD",
    "NW1 1AE",
    "NW1 2AF",
    "NW1 3AG",
    "NW1 4AH",
    "NW1 5AJ",
    "NW1 6AL",
    "NW1 7AN",
    "NW1 8AP",
]
HACKNEY = ["E8 1AA", "E8 1AB", "E8 2AD", "E8 2AE", "E8 3AF", "E8 3AG", "E8 4AH", "E8 4AJ"]
# Wales x2, Scotland, a terminated postcode, a postcode the directory does not have.
OTHERS = ["CF10 1AA", "CF10 1AB", "EH1 1AB", "NW1 9ZZ", "E8 9XB"]
POSTCODES = CAMDEN + HACKNEY + OTHERS
NAMES = {  # ONSPD lookup files (Documents folder): file → (header, rows, encoding)
    "LA_UA names and codes UK as at 04_23.csv": (
        ["LAD23CD", "LAD23NM", "LAD23NMW"],
        [
            ["E09000007", "Camden", ""],
            ["E09000012", "Hackney", ""],
            ["E08000003", "Manchester", ""],
            ["W06000015", "Cardiff", "Caerdydd"],
            ["S12000036", "City of Edinburgh", ""],
            ["N09000003", "Belfast", ""],
        ],
        "utf-8",
    ),
    "Ward names and codes UK as at 05_23.csv": (
        ["WD23CD", "WD23NM"],
        [["E05013660", "Regent's Park"], ["W05001293", "Bôn-y-maen"]],
        "cp1252",
    ),
    "Region names and codes EN as at 12_20 (RGN).csv": (
        ["RGN20CD", "RGN20NM", "RGN20NMW"],
        [["E12000007", "London", "Llundain"]],
        "utf-8",
    ),
    "Postcode user type.csv": (["USERTYPE", "Description"], [["0", "Small user"]], "utf-8"),
}


def people_rows() -> list[list[str]]:
    rows = [
        [
            "First name",
            "Surname",
            "Email",
            "Phone",
            "Postcode",
            "Date of birth",
            "Gender",
            "Activity",
            "Date",
            "Attended?",
        ]
    ]
    for i, postcode in enumerate(POSTCODES):
        rows.append(
            [
                GIVEN[i],
                FAMILY[i],
                f"{GIVEN[i].lower()}.{FAMILY[i].lower()}@example.org",
                f"07700 9{i:02d}{(i * 37) % 1000:03d}",
                postcode,
                f"{i % 27 + 1:02d}/{i % 12 + 1:02d}/19{40 + i}",
                "Female" if i % 2 else "Male",
                "Lunch club",
                "09/01/2024",
                "yes",
            ]
        )
    return rows


def make_project(folder: Path) -> Path:
    """A synced store of 23 people in known postcodes; returns harvest.yaml."""
    write_csv(folder / "club.csv", people_rows())
    source = {"name": "club", "type": "file", "options": {"path": "club.csv"}}
    write_config(folder, [source], publish={"min_population": 10})
    assert sync(load_config(folder / "harvest.yaml")).exit_code == 0
    return folder / "harvest.yaml"


def write_names(folder: Path) -> Path:
    for name, (header, rows, encoding) in NAMES.items():
        write_csv(folder / name, [header, *rows], encoding=encoding)
    return folder


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("geo")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HARVEST_SECRETS_FILE", str(folder / "secrets.json"))
        make_project(folder)
        yield folder


def imported_db(tmp_path: Path, *files: Path, names: Path | None = None) -> sqlite3.Connection:
    import_onspd(tmp_path / "store.db", list(files) or [SAMPLE], names)
    return sqlite3.connect(tmp_path / "store.db")


# --- the pieces ------------------------------------------------------------------------


def test_deciles_use_each_countrys_number_of_areas() -> None:
    england, wales, scotland, ni = (onspd.ENGLAND, onspd.WALES, onspd.SCOTLAND, onspd.NI)
    assert [imd_decile(r, england) for r in (1, 3284, 3285, 16422, 16423, 32844)] == [
        1,
        1,
        2,
        5,
        6,
        10,
    ]
    assert [imd_decile(r, wales) for r in (1, 190, 191, 1909)] == [1, 1, 2, 10]
    assert [imd_decile(r, scotland) for r in (697, 698, 6976)] == [1, 2, 10]
    assert [imd_decile(r, ni) for r in (89, 90, 890)] == [1, 2, 10]
    assert imd_decile(0, england) is None  # no rank
    assert imd_decile(32845, england) is None  # above the number of LSOAs: a newer index?
    assert imd_decile(5, "L93000001") is None  # the Channel Islands have no index


def test_postcodes_and_codes_are_normalised() -> None:
    assert normalise_postcode("nw12ab") == normalise_postcode(" NW1  2AB") == "NW1 2AB"
    assert normalise_postcode("CF101AA") == "CF10 1AA"
    assert normalise_postcode("??") is None and normalise_postcode("NW1") is None
    assert area_code(" e09000007 ") == "E09000007"
    assert area_code("E99999999") is None and area_code("") is None and area_code("ZC010") is None


# --- importing the directory -----------------------------------------------------------


def test_import_keeps_live_postcodes_and_counts_what_it_skipped(tmp_path: Path) -> None:
    seen: list[int] = []
    summary = import_onspd(tmp_path / "store.db", [SAMPLE], progress=seen.append)
    assert (summary.rows, summary.postcodes, summary.terminated, summary.malformed) == (
        32,
        28,
        2,
        2,
    )
    assert summary.malformed_examples == [
        "onspd-sample.csv line 15 (4 columns, not 52)",
        "onspd-sample.csv line 16 (no postcode in pcds)",
    ]
    assert "28 live postcodes" in summary.summary() and "codes only" in summary.summary()
    conn = sqlite3.connect(tmp_path / "store.db")
    row = conn.execute("SELECT * FROM geo_postcodes WHERE postcode = 'NW1 0AB'").fetchone()
    assert row == ("NW1 0AB", "E09000007", "E05013660", "E12000007", "E92000001", 1)
    assert conn.execute("SELECT * FROM geo_postcodes WHERE postcode = 'JE2 3AB'").fetchone() == (
        "JE2 3AB",
        None,
        None,
        None,
        "L93000001",
        None,
    )  # pseudo codes and rank 0: nothing
    terminated = conn.execute(
        "SELECT count(*) FROM geo_postcodes WHERE postcode IN ('NW1 9ZZ', 'E8 9XA')"
    ).fetchone()[0]
    assert terminated == 0
    deciles = dict(
        conn.execute(
            "SELECT postcode, imd_decile FROM geo_postcodes WHERE postcode "
            "IN ('CF10 1AB', 'EH1 1AB', 'BT1 1AA', 'M1 1AE')"
        )
    )
    assert deciles == {"CF10 1AB": 10, "EH1 1AB": 2, "BT1 1AA": 1, "M1 1AE": 10}
    assert onspd_places.imported(conn)["postcodes"] == 28
    assert seen == []  # progress every 100,000 rows


def test_progress_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(onspd, "PROGRESS_EVERY", 10)
    seen: list[int] = []
    import_onspd(tmp_path / "store.db", [SAMPLE], progress=seen.append)
    assert seen == [10, 20, 30]


def test_the_november_2025_column_names_are_understood(tmp_path: Path) -> None:
    lines = SAMPLE.read_text("utf-8").splitlines(keepends=True)
    renamed = {
        "pcd": "pcd7",
        "pcd2": "pcd8",
        "oslaua": "lad25cd",
        "osward": "wd25cd",
        "ctry": "ctry25cd",
        "rgn": "rgn25cd",
        "imd": "imd20ind",
        "oscty": "cty25cd",
    }
    header = ",".join(renamed.get(c, c) for c in lines[0].strip().split(",")) + "\n"
    (tmp_path / "new.csv").write_text(header + "".join(lines[1:]), "utf-8")
    conn = imported_db(tmp_path, tmp_path / "new.csv")
    assert conn.execute("SELECT count(*), count(imd_decile) FROM geo_postcodes").fetchone() == (
        28,
        27,
    )


def test_odd_deprivation_ranks(tmp_path: Path) -> None:
    lines = SAMPLE.read_text("utf-8").splitlines(keepends=True)
    odd = [
        ln.replace(",100,", ",40000,")
        if ln.startswith('"NW1 0AB"')
        else ln.replace(",100,", ",high,")
        if ln.startswith('"NW1 0AD"')
        else ln
        for ln in lines
    ]
    (tmp_path / "odd.csv").write_text("".join(odd), "utf-8")
    summary = import_onspd(tmp_path / "store.db", [tmp_path / "odd.csv"])
    assert summary.imd_out_of_range == 1 and "a newer index?" in summary.summary()
    assert summary.malformed == 3 and "(IMD rank 'high')" in summary.malformed_examples[0]
    conn = sqlite3.connect(tmp_path / "store.db")
    assert conn.execute(
        "SELECT imd_decile, local_authority_code FROM geo_postcodes WHERE postcode = 'NW1 0AB'"
    ).fetchone() == (None, "E09000007")


def test_names_come_from_the_lookup_files(tmp_path: Path) -> None:
    conn = imported_db(tmp_path, names=write_names(tmp_path / "Documents"))
    place = onspd_places.places(conn)("nw10ab")
    assert (place.local_authority, place.ward, place.region, place.country) == (
        "Camden",
        "Regent's Park",
        "London",
        "England",
    )
    assert onspd_places.places(conn)("CF10 2AD").ward == "Bôn-y-maen"  # a Windows-1252 lookup file
    wales = onspd_places.places(conn)("CF10 1AA")
    assert (wales.region, wales.local_authority, wales.ward) == ("Wales", "Cardiff", "W05001292")


def test_a_file_that_is_not_the_directory_is_refused_by_name(tmp_path: Path) -> None:
    wrong = write_csv(tmp_path / "wrong.csv", [["postcode", "ward", "imd"], ["NW1 0AB", "x", "1"]])
    with pytest.raises(PublishError) as caught:
        import_onspd(tmp_path / "store.db", [wrong])
    message = str(caught.value)
    assert "wrong.csv is not an ONS Postcode Directory CSV" in message
    for column in (
        "pcds",
        "doterm",
        "oslaua or ladNNcd",
        "osward or wdNNcd",
        "rgn or rgnNNcd",
        "ctry or ctryNNcd",
    ):
        assert column in message
    assert "imd or" not in message  # it has that one
    (tmp_path / "ONSPD.zip").write_bytes(b"PK\x03\x04rest")
    with pytest.raises(PublishError, match="is a zip file: unzip it"):
        import_onspd(tmp_path / "store.db", [tmp_path / "ONSPD.zip"])
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(PublishError, match="empty"):
        import_onspd(tmp_path / "store.db", [tmp_path / "empty.csv"])


def test_a_failed_import_keeps_the_previous_one(tmp_path: Path) -> None:
    imported_db(tmp_path)
    only_terminated = tmp_path / "terminated.csv"
    lines = SAMPLE.read_text("utf-8").splitlines(keepends=True)
    only_terminated.write_text(lines[0] + "".join(ln for ln in lines if '"201906"' in ln))
    with pytest.raises(PublishError, match="No live postcodes.*previous import"):
        import_onspd(tmp_path / "store.db", [only_terminated])
    conn = sqlite3.connect(tmp_path / "store.db")
    assert conn.execute("SELECT count(*) FROM geo_postcodes").fetchone()[0] == 28


def test_geo_import_cli(tmp_path: Path) -> None:
    config = make_project(tmp_path)
    runner = CliRunner()
    result = runner.invoke(app, ["geo", "import", str(SAMPLE), "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "Imported 28 live postcodes" in result.output and "harvest publish" in result.output
    wrong = write_csv(tmp_path / "people.csv", [["name", "pcds"], ["x", "NW1 0AB"]])
    result = runner.invoke(app, ["geo", "import", str(wrong), "--config", str(config)])
    assert result.exit_code == 1 and "not an ONS Postcode Directory CSV" in result.output
    assert "doterm" in result.output
    result = runner.invoke(
        app,
        ["geo", "import", str(SAMPLE), "--names", str(tmp_path / "nope"), "--config", str(config)],
    )
    assert result.exit_code == 1 and "not a folder" in result.output


# --- funders.db with and without it ----------------------------------------------------


def test_without_an_import_everything_works_as_before(project: Path) -> None:
    config = load_config(project / "harvest.yaml")
    publish_funders(config, today=date(2024, 6, 1))
    db = project / "funders.db"
    conn = sqlite3.connect(db)
    assert "area_data" not in dict(conn.execute("SELECT key, value FROM about"))
    areas = dict(conn.execute("SELECT value, detail FROM choices WHERE kind = 'area'"))
    conn.close()
    assert areas == {
        "All areas": None,
        "England": "Country",
        "Greater London": "County or area",
        "NW1": "Postcode district",
    }
    deprivation = run(db, "deprivation")
    assert [r["decile"] for r in deprivation] == [str(d) for d in range(1, 11)] + ["Not known"]
    assert near(deprivation[-1]["people"], 23) and deprivation[-1]["percent"] == 100.0
    assert [r["people"] for r in deprivation[:-1]] == ["<8"] * 10
    assert not [r for r in run(db, "areas") if r["area_type"] == "Region"]
    countries = [
        (r["area_name"], r["people"]) for r in run(db, "areas") if r["area_type"] == "Country"
    ]
    assert [c for c, _ in countries] == ["England"] and near(countries[0][1], 20)


@pytest.fixture(scope="module")
def geo_funders_db(project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project with the directory imported (with names) and published."""
    names = write_names(tmp_path_factory.mktemp("Documents"))
    folder = tmp_path_factory.mktemp("geo-imported") / "project"
    shutil.copytree(project, folder)
    config = folder / "harvest.yaml"
    result = CliRunner().invoke(
        app, ["geo", "import", str(SAMPLE), "--names", str(names), "--config", str(config)]
    )
    assert result.exit_code == 0, result.output
    assert CliRunner().invoke(app, ["publish", "--config", str(config)]).exit_code == 0
    return folder / "funders.db"


def test_areas_gain_local_authority_and_region(geo_funders_db: Path) -> None:
    conn = sqlite3.connect(geo_funders_db)
    areas = dict(conn.execute("SELECT value, detail FROM choices WHERE kind = 'area'"))
    about = dict(conn.execute("SELECT key, value FROM about"))
    conn.close()
    assert areas["London"] == "Region" and areas["Camden"] == "Local authority"  # 18 and 10
    assert "Hackney" not in areas and "Wales" not in areas  # 8 and 2 people: too few
    assert (
        "onspd-sample.csv" in about["area_data"] and "Open Government Licence" in about["area_data"]
    )


def test_funder_queries_group_by_region_local_authority_and_decile(geo_funders_db: Path) -> None:
    areas = {(r["area_type"], r["area_name"]): r["people"] for r in run(geo_funders_db, "areas")}
    assert near(areas[("Region", "London")], 18)
    assert near(areas[("Local authority", "Camden")], 10)
    assert near(areas[("Country", "England")], 20)
    deprivation = {r["decile"]: r["people"] for r in run(geo_funders_db, "deprivation")}
    assert list(deprivation) == [str(d) for d in range(1, 11)] + ["Not known"]
    assert deprivation["3"] == deprivation["5"] == "<8"  # nobody: shown like a small count


def test_the_area_box_takes_offered_names_only(geo_funders_db: Path) -> None:
    def people(area: str) -> object:
        rows = run(geo_funders_db, "reach", area=area)
        return rows[0]["people"] if rows else None

    assert near(people("Camden"), 10) and near(people("London"), 18)
    assert people("camden") is None and people("E09000007") is None  # exact names only
    assert people("Regent's Park") is None and people("E05013660") is None  # never wards


def test_no_funder_query_shows_a_ward(geo_funders_db: Path) -> None:
    from harvest.publish.site import load_funder_queries

    for name in load_funder_queries():
        assert "ward" not in load_funder_queries()[name]["sql"].replace("forward", ""), name
        for row in run(geo_funders_db, name):
            assert not {"E05013660", "Regent's Park"} & {str(v) for v in row.values()}, name


def test_the_postcode_table_stays_in_the_store(geo_funders_db: Path) -> None:
    conn = sqlite3.connect(geo_funders_db)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    conn.close()
    assert not {"geo_postcodes", "geo_areas"} & tables
    data = geo_funders_db.read_bytes()
    assert not [p for p in POSTCODES if p.encode() in data]  # no full postcode in the file
