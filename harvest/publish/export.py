"""`harvest export`: the funder tables and canned queries as CSV (optionally HXL-tagged) or XLSX.

Only what a funder may see is exported: the published tables of funders.db (all of
them aggregates, protected when they were published) and the canned queries of
``funder_queries.yaml``, run for "everything" (every box blank), so every figure is
exactly the one the funder view shows.

With ``hxl`` a row of HXL hashtags (https://hxlstandard.org) follows the header row;
the hashtags come from the common data standard where a column derives from one of
its fields (``gender`` → ``#person+gender``), and from HXL's core hashtags otherwise
(``people`` → ``#reached+ind``).

Text cells that a spreadsheet would run as a formula (starting ``=``, ``+``, ``-``,
``@``, a tab or a carriage return) get a leading apostrophe. Numbers stay numbers: a
value SQLite holds as a number (``-2.0``) is written as one and cannot carry a formula.
CSV is written as UTF-8 with a byte-order mark, so Excel reads accents correctly.
"""

from __future__ import annotations

import csv
import re
import sqlite3
from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harvest.errors import PublishError
from harvest.normalise.standard import load_standard
from harvest.private_files import private_dir, private_file
from harvest.publish.funders import funders_path, neutralise, publish_config
from harvest.publish.site import FUNDER_TABLES, load_funder_queries

FORMATS = ("csv", "xlsx")
# Columns of the funder tables and queries that derive from a field of the standard:
# column → (field, extra attributes).
FROM_STANDARD: dict[str, tuple[str, str]] = {
    "activity": ("activity", ""),
    "gender": ("gender", ""),
    "age_band": ("age", "+band"),
    "ethnicity_group": ("ethnicity", "+group"),
    "disability": ("disability", ""),
    "postcode_district": ("postcode", "+district"),
    "outcome": ("outcome", ""),
    "measure": ("measure", ""),
    "average_first_score": ("score", "+avg+first"),
    "average_last_score": ("score", "+avg+last"),
    "average_change": ("score", "+avg+change"),
    "hours_volunteered": ("volunteer_hours", "+total"),
}
# Everything else: HXL core hashtags (#reached, #indicator, #date, #adm1, #geo…).
HXL_TAGS: dict[str, str] = {
    "period": "#date+period",
    "period_name": "#date+period+name",
    "period_type": "#date+period+type",
    "area": "#adm+name+chosen",
    "position": "#meta+order",
    "shown": "#meta+shown",
    "kind": "#meta+kind",
    "label": "#meta+label",
    "detail": "#meta+detail",
    "month": "#date+month",
    "first_month": "#date+month+start",
    "last_month": "#date+month+end",
    "people": "#reached+ind",
    "new_people": "#reached+ind+new",
    "returning_people": "#reached+ind+returning",
    "people_improved": "#reached+ind+improved",
    "volunteers": "#volunteer+ind",  # harvest's #volunteer, counted as HXL counts people
    "attendances": "#indicator+attendances+num",
    "percent": "#indicator+pct",
    "characteristic": "#indicator+characteristic",
    "value": "#indicator+category",
    "sessions": "#indicator+sessions",
    "decile": "#indicator+imd+decile",
    "area_type": "#adm+type",
    "area_name": "#adm+name",
    "place": "#loc+name",
    "country": "#country+name",
    "region": "#adm1+name",
    "county": "#adm2+name",
    "local_authority": "#adm3+name",
    "latitude": "#geo+lat",
    "longitude": "#geo+lon",
    "source": "#meta+source",
    "records": "#indicator+records+num",
    "with_postcode_pct": "#indicator+postcode+pct",
    "with_age_pct": "#indicator+age+pct",
    "with_ethnicity_pct": "#indicator+ethnicity+pct",
    "last_successful_sync": "#date+sync",
    "key": "#meta+key",
}


@dataclass(frozen=True)
class Exported:
    name: str
    path: Path
    rows: int


def hashtag(column: str, table: str = "") -> str:
    """The HXL hashtag of a funder column ('' if it has none)."""
    if table in ("about", "choices") and column == "value":
        return "#meta+value"
    if column in FROM_STANDARD:
        field, extra = FROM_STANDARD[column]
        return load_standard().field(field).hashtag + extra
    return HXL_TAGS.get(column, "")


def published_names() -> list[str]:
    """Every table and canned query a funder may see, in the order they are exported."""
    return list(FUNDER_TABLES) + list(load_funder_queries())


def read(db: sqlite3.Connection, name: str, settings: Any) -> tuple[list[str], list[tuple]]:
    """A published table, or a canned query run with every box blank: columns and rows."""
    queries = load_funder_queries(settings)
    if name in queries:
        query = queries[name]
        cursor = db.execute(query["sql"], dict.fromkeys(query["params"], ""))
    elif name in FUNDER_TABLES:
        cursor = db.execute(f"SELECT * FROM [{name}]")
    else:
        raise PublishError(
            f"There is no funder table or query called {name!r}; choose from "
            f"{', '.join(published_names())}."
        )
    return [c[0] for c in cursor.description], cursor.fetchall()


def cells(columns: list[str], rows: Iterable[tuple], hxl: bool, table: str) -> Iterable[list]:
    """The header row, the hashtag row (with ``hxl``) and the rows, neutralised."""
    yield [neutralise(c) for c in columns]
    if hxl:
        yield [hashtag(c, table) for c in columns]
    for row in rows:
        yield [neutralise(v) for v in row]


def write_csv(path: Path, rows: Iterable[list]) -> None:
    with private_file(path).open("w", newline="", encoding="utf-8-sig") as fh:
        csv.writer(fh).writerows(rows)


def write_xlsx(path: Path, sheets: dict[str, list[list]]) -> None:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(title=re.sub(r"[^A-Za-z0-9_ -]", "_", name)[:31])
        for row in rows:
            sheet.append(row)
    workbook.save(private_file(path))


def default_output(names: list[str], fmt: str) -> Path:
    if fmt == "xlsx":
        return Path(f"{names[0]}.xlsx" if len(names) == 1 else "funders.xlsx")
    return Path(f"{names[0]}.csv" if len(names) == 1 else "funders-export")


def export_funders(
    config: Any,
    tables: list[str] | None = None,
    hxl: bool = False,
    fmt: str = "csv",
    output: Path | None = None,
) -> list[Exported]:
    """Write the funder tables and queries (or only ``tables``); return what was written.

    CSV: one table goes to the file ``output`` (default ``NAME.csv``); several go to
    the folder ``output`` (default ``funders-export/``), one file each. XLSX: one
    workbook (default ``funders.xlsx``), one sheet each.
    """
    if fmt not in FORMATS:
        raise PublishError(f"Unknown export format {fmt!r}: use csv or xlsx.")
    db_path = funders_path(config)
    if not db_path.is_file():
        raise PublishError(f"There is no funders database at {db_path}: run `harvest publish`.")
    names = tables or published_names()
    settings = publish_config(config)
    with closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as db:
        data = {name: read(db, name, settings) for name in names}
    sheets = {name: list(cells(cols, rows, hxl, name)) for name, (cols, rows) in data.items()}
    target = output or default_output(names, fmt)
    if fmt == "xlsx":
        write_xlsx(target, sheets)
        return [Exported(name, target, len(data[name][1])) for name in names]
    if len(names) == 1 and target.suffix:
        write_csv(target, sheets[names[0]])
        return [Exported(names[0], target, len(data[names[0]][1]))]
    private_dir(target)
    written = []
    for name in names:
        write_csv(target / f"{name}.csv", sheets[name])
        written.append(Exported(name, target / f"{name}.csv", len(data[name][1])))
    return written
