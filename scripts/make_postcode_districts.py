"""Derive harvest/publish/postcode_districts.csv from GeoNames' UK postal-code file.

    python scripts/make_postcode_districts.py [../shared/data/geonames-GB-postcodes.tsv]

One row per outward code (postcode district, e.g. NW1): its centroid (the mean
latitude and longitude of the file's places in that district, to 4 decimal places),
the place named most often, its country, its county or metropolitan area, and its
local authority where GeoNames gives one.

Postal code data © GeoNames (geonames.org), CC BY 4.0. The derived table carries
the same licence and attribution (see docs/funders.md).
"""

from __future__ import annotations

import csv
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_INPUT = ROOT.parent / "shared" / "data" / "geonames-GB-postcodes.tsv"
OUTPUT = ROOT / "harvest" / "publish" / "postcode_districts.csv"
COLUMNS = [
    "postcode_district",
    "place",
    "county",
    "local_authority",
    "country",
    "latitude",
    "longitude",
]


def most_common(values: list[str]) -> str:
    """The most frequent non-blank value (the first seen on a tie), or ''."""
    counts = Counter(v for v in values if v)
    return max(counts, key=lambda v: (counts[v], -values.index(v))) if counts else ""


def read_rows(path: Path) -> dict[str, list[list[str]]]:
    by_district: dict[str, list[list[str]]] = defaultdict(list)
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
            if len(row) >= 11 and row[1].strip():
                by_district[row[1].strip().upper()].append(row)
    return by_district


def district_row(district: str, rows: list[list[str]]) -> dict[str, str]:
    lats = [float(r[9]) for r in rows]
    lons = [float(r[10]) for r in rows]
    return {
        "postcode_district": district,
        "place": most_common([r[2] for r in rows]),
        "county": most_common([r[5] for r in rows]),
        "local_authority": most_common([r[7].removesuffix(" District (B)") for r in rows]),
        "country": most_common([r[3] for r in rows]),
        "latitude": f"{sum(lats) / len(lats):.4f}",
        "longitude": f"{sum(lons) / len(lons):.4f}",
    }


def main(argv: list[str]) -> int:
    source = Path(argv[1]) if len(argv) > 1 else DEFAULT_INPUT
    by_district = read_rows(source)
    with OUTPUT.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for district in sorted(by_district):
            writer.writerow(district_row(district, by_district[district]))
    print(f"Wrote {len(by_district):,} postcode districts to {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
