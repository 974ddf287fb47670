"""The ONS Postcode Directory (ONSPD): local authority, ward, region and deprivation per postcode.

harvest ships only postcode *districts* (geo.py, from GeoNames). A charity that
downloads the ONSPD (free, from the ONS Open Geography Portal) can load it with
``harvest geo import FILE``: each live postcode's local authority, electoral ward,
region, country and Index of Multiple Deprivation decile go into the private store
(``geo_postcodes``), and the names of those areas into ``geo_areas``. Then
``publish_funders`` adds them to each person in funders.db.

The real file is about 1.4 GB and 2.7 million rows, so it is read as a stream, one
row at a time, and written in one transaction (a failed import leaves the previous
one in place). Terminated postcodes (with a ``doterm``) are skipped.

The ONSPD gives each postcode the *rank* of its small area in its own country's
index (``imd``; rank 1 is the most deprived). A decile needs the number of areas
ranked, which differs by country (``IMD_AREAS``):

* England: English Indices of Deprivation 2019 (MHCLG), 32,844 LSOAs;
* Wales: Welsh Index of Multiple Deprivation 2019, 1,909 LSOAs;
* Scotland: Scottish Index of Multiple Deprivation 2020, 6,976 data zones;
* Northern Ireland: NI Multiple Deprivation Measure 2017 (NISRA), 890 SOAs.

Deciles from different countries' indices are not comparable with each other.
Both the long-standing column names (``pcds``, ``oslaua``, ``osward``, ``rgn``,
``ctry``, ``imd``) and those of the November 2025 layout (``lad25cd``, ``wd25cd``,
``rgn25cd``, ``ctry25cd``, ``imd20ind``) are understood.
"""

from __future__ import annotations

import csv
import json
import re
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harvest.errors import PublishError

ATTRIBUTION = (
    "Source: Office for National Statistics licensed under the Open Government "
    "Licence v.3.0. Contains OS data © Crown copyright and database right. Contains "
    "Royal Mail data © Royal Mail copyright and database right. Contains GeoPlace "
    "data © Local Government Information House Limited copyright and database right."
)
LICENSE_URL = "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/"
META_KEY = "geo_postcodes"
BATCH = 50_000
PROGRESS_EVERY = 100_000

# Each column we need: the names it has had in the ONSPD, oldest first (patterns, any case).
COLUMNS: dict[str, tuple[str, ...]] = {
    "postcode": ("pcds",),
    "terminated": ("doterm",),
    "local_authority_code": ("oslaua", r"lad\d\dcd"),
    "ward_code": ("osward", r"wd\d\dcd"),
    "region_code": ("rgn", r"rgn\d\dcd"),
    "country_code": ("ctry", r"ctry\d\dcd"),
    "imd_rank": ("imd", r"imd\d\dind"),
}
ENGLAND, WALES, SCOTLAND, NI = "E92000001", "W92000004", "S92000003", "N92000002"
IMD_AREAS = {ENGLAND: 32_844, WALES: 1_909, SCOTLAND: 6_976, NI: 890}
COUNTRIES = {
    ENGLAND: "England",
    WALES: "Wales",
    SCOTLAND: "Scotland",
    NI: "Northern Ireland",
    "L93000001": "Channel Islands",
    "M83000003": "Isle of Man",
}
REGIONS = {
    "E12000001": "North East",
    "E12000002": "North West",
    "E12000003": "Yorkshire and The Humber",
    "E12000004": "East Midlands",
    "E12000005": "West Midlands",
    "E12000006": "East of England",
    "E12000007": "London",
    "E12000008": "South East",
    "E12000009": "South West",
}
POSTCODE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9][A-Z]{2})$")
CODE = re.compile(r"^[A-Z][0-9]{8}$")
# Lookup files in the ONSPD's Documents folder: a code column and a name column per kind.
NAME_FILE_KINDS = {
    "lad": "local_authority",
    "lau": "local_authority",
    "wd": "ward",
    "rgn": "region",
    "gor": "region",
    "ctry": "country",
}
NAME_COLUMN = re.compile(r"^(lad|lau|wd|rgn|gor|ctry)[a-z]*\d*(cd|nm)$", re.IGNORECASE)

SCHEMA = """
CREATE TABLE IF NOT EXISTS geo_postcodes (
    postcode TEXT PRIMARY KEY, local_authority_code TEXT, ward_code TEXT, region_code TEXT,
    country_code TEXT, imd_decile INTEGER
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS geo_areas (code TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""


@dataclass
class ImportSummary:
    """What ``import_onspd`` read and kept."""

    files: list[Path]
    rows: int = 0
    postcodes: int = 0
    terminated: int = 0
    malformed: int = 0
    malformed_examples: list[str] = field(default_factory=list)
    imd_out_of_range: int = 0
    names: int = 0
    progress: Callable[[int], None] | None = field(default=None, repr=False)

    def summary(self) -> str:
        text = (
            f"Imported {self.postcodes:,} live postcodes from {self.rows:,} rows "
            f"({self.terminated:,} terminated postcodes skipped"
        )
        if self.malformed:
            examples = "; ".join(self.malformed_examples)
            text += f", {self.malformed:,} unreadable rows skipped: {examples}"
        text += ")."
        if self.imd_out_of_range:
            text += (
                f" {self.imd_out_of_range:,} deprivation ranks were above the number of areas "
                "harvest knows for their country and were left out (a newer index?)."
            )
        names = f"{self.names:,} area names" if self.names else "area codes only (no --names)"
        return text + f" Local authorities and wards: {names}."


def normalise_postcode(text: str) -> str | None:
    """'nw12ab', 'NW1  2AB' → 'NW1 2AB'; None if it is not shaped like a postcode."""
    compact = "".join(text.upper().split())
    m = POSTCODE.match(compact)
    return f"{m.group(1)} {m.group(2)}" if m else None


def area_code(text: str) -> str | None:
    """A GSS code, or None for a blank or a pseudo code (``E99999999``: no such area)."""
    text = text.strip().upper()
    return text if CODE.match(text) and not text.endswith("99999999") else None


def imd_decile(rank: int, country_code: str | None) -> int | None:
    """The decile (1 = the most deprived 10% of the country's areas) of an IMD rank.

    None for no rank (0: the Channel Islands, the Isle of Man), a country without an
    index, or a rank above the number of areas harvest knows for the country.
    """
    areas = IMD_AREAS.get(country_code or "")
    if not areas or not 0 < rank <= areas:
        return None
    return (rank * 10 - 1) // areas + 1


# --- reading the file ------------------------------------------------------------------


def resolve_columns(header: list[str], path: Path) -> dict[str, int]:
    """Where each column we need is in the header; a clear error naming what is missing."""
    names = [h.strip().lower() for h in header]
    found, missing = {}, []
    for key, patterns in COLUMNS.items():
        index = next((i for p in patterns for i, n in enumerate(names) if re.fullmatch(p, n)), None)
        if index is None:
            missing.append(" or ".join(p.replace(r"\d\d", "NN") for p in patterns))
        else:
            found[key] = index
    if missing:
        raise PublishError(
            f"{path} is not an ONS Postcode Directory CSV: it has no {', '.join(missing)} "
            f"column{'s' if len(missing) > 1 else ''}. Use the directory's main file, "
            "Data/ONSPD_MMM_YYYY_UK.csv in the download from the ONS Open Geography "
            "Portal (see docs/funders.md)."
        )
    return found


def _open(path: Path) -> Any:
    if not path.is_file():
        raise PublishError(f"There is no file at {path}.")
    with path.open("rb") as fh:
        if fh.read(4) == b"PK\x03\x04":
            raise PublishError(
                f"{path} is a zip file: unzip it and import the CSV inside it, "
                "Data/ONSPD_MMM_YYYY_UK.csv."
            )
    return path.open(newline="", encoding="utf-8-sig", errors="replace")


def read_onspd(path: Path, summary: ImportSummary) -> Iterator[tuple[Any, ...]]:
    """Yield (postcode, la, ward, region, country, imd_decile) for each live postcode."""
    with _open(path) as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if not header:
            raise PublishError(f"{path} is empty: it is not an ONS Postcode Directory CSV.")
        col = resolve_columns(header, path)
        for row in reader:
            summary.rows += 1
            if summary.rows % PROGRESS_EVERY == 0 and summary.progress:
                summary.progress(summary.rows)
            parsed = _parse(row, len(header), col, path, reader.line_num, summary)
            if parsed:
                yield parsed


def _parse(
    row: list[str], width: int, col: dict[str, int], path: Path, line: int, summary: ImportSummary
) -> tuple[Any, ...] | None:
    if len(row) != width:
        _malformed(summary, path, line, f"{len(row)} columns, not {width}")
        return None
    postcode = normalise_postcode(row[col["postcode"]])
    if postcode is None:
        _malformed(summary, path, line, "no postcode in pcds")
        return None
    if row[col["terminated"]].strip():
        summary.terminated += 1
        return None
    country = area_code(row[col["country_code"]])
    rank_text = row[col["imd_rank"]].strip()
    if rank_text and not rank_text.isdigit():
        _malformed(summary, path, line, f"IMD rank {rank_text!r}")
        return None
    rank = int(rank_text or 0)
    decile = imd_decile(rank, country)
    if decile is None and rank > IMD_AREAS.get(country or "", rank):
        summary.imd_out_of_range += 1
    return (
        postcode,
        area_code(row[col["local_authority_code"]]),
        area_code(row[col["ward_code"]]),
        area_code(row[col["region_code"]]),
        country,
        decile,
    )


def _malformed(summary: ImportSummary, path: Path, line: int, why: str) -> None:
    summary.malformed += 1
    if len(summary.malformed_examples) < 3:
        summary.malformed_examples.append(f"{path.name} line {line} ({why})")
    return None


def read_names(folder: Path) -> dict[str, tuple[str, str]]:
    """Area names from the ONSPD's lookup CSVs in ``folder``: code → (kind, name)."""
    if not folder.is_dir():
        raise PublishError(f"--names {folder} is not a folder: give the ONSPD's Documents folder.")
    names: dict[str, tuple[str, str]] = {}
    for path in sorted(folder.glob("*.csv")):
        for code, kind, name in _names_in(path):
            names[code] = (kind, name)
    if not names:
        raise PublishError(
            f"No area names found in {folder}: expected the ONSPD's lookup CSVs, such as "
            "'LA_UA names and codes UK as at 04_23.csv' (LAD23CD, LAD23NM) and 'Ward names "
            "and codes UK as at 05_23.csv' (WD23CD, WD23NM)."
        )
    return names


def _names_in(path: Path) -> Iterator[tuple[str, str, str]]:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")  # older lookups: Ynys Môn in Windows-1252
    rows = csv.reader(text.splitlines())
    header = [h.strip() for h in next(rows, [])]
    pairs = []
    for i, column in enumerate(header):
        m = NAME_COLUMN.match(column)
        if m and m.group(2).lower() == "cd":
            name_col = column[:-2] + ("NM" if column[-2:].isupper() else "nm")
            if name_col in header:
                pairs.append((i, header.index(name_col), NAME_FILE_KINDS[m.group(1).lower()]))
    for row in rows:
        for code_i, name_i, kind in pairs:
            if max(code_i, name_i) < len(row) and area_code(row[code_i]) and row[name_i].strip():
                yield row[code_i].strip().upper(), kind, row[name_i].strip()


# --- writing the store -----------------------------------------------------------------


def import_onspd(
    db_path: Path,
    files: list[Path],
    names_dir: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Replace the store's postcode table with the live postcodes of ``files``, in one go."""
    names = read_names(names_dir) if names_dir else {}
    summary = ImportSummary(files=list(files), progress=progress)
    conn = sqlite3.connect(db_path, isolation_level=None, timeout=60)
    try:
        conn.executescript(SCHEMA)
        conn.execute("BEGIN IMMEDIATE")
        try:
            _write(conn, files, names, summary)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    finally:
        conn.close()
    return summary


def _write(
    conn: sqlite3.Connection,
    files: list[Path],
    names: dict[str, tuple[str, str]],
    summary: ImportSummary,
) -> None:
    conn.execute("DELETE FROM geo_postcodes")
    conn.execute("DELETE FROM geo_areas")
    insert = "INSERT OR REPLACE INTO geo_postcodes VALUES (?, ?, ?, ?, ?, ?)"
    for path in files:
        batch: list[tuple[Any, ...]] = []
        for row in read_onspd(path, summary):
            batch.append(row)
            if len(batch) >= BATCH:
                conn.executemany(insert, batch)
                batch.clear()
        conn.executemany(insert, batch)
    summary.postcodes = conn.execute("SELECT count(*) FROM geo_postcodes").fetchone()[0]
    if not summary.postcodes:
        raise PublishError(
            f"No live postcodes found in {', '.join(map(str, files))}: nothing "
            "was imported and the previous import (if any) is kept."
        )
    builtin = {
        **{c: ("country", n) for c, n in COUNTRIES.items()},
        **{c: ("region", n) for c, n in REGIONS.items()},
    }
    conn.executemany(
        "INSERT OR REPLACE INTO geo_areas VALUES (?, ?, ?)",
        [(c, k, n) for c, (k, n) in {**builtin, **names}.items()],
    )
    summary.names = len(names)
    about = {
        "files": [p.name for p in files],
        "imported_at": _now(),
        "postcodes": summary.postcodes,
        "names": bool(names),
    }
    conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (META_KEY, json.dumps(about)))


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
