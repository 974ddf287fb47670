"""Benchmark person matching through `harvest sync`, beside Splink and recordlinkage.

    .venv/bin/python bench/bench_match.py [--sizes 10000,100000,1000000] [--seed 1]
        [--holdout 20261205] [--no-splink] [--no-recordlinkage] [--rl-max 100000]
        [--no-febrl] [--no-docs]

Needs the `bench` extra: splink, duckdb and recordlinkage.

Generated UK people: for each size, rows from bench/gen_people.py (seed ``--seed``, 30%
duplicates, cached in bench/data/) are synced into a fresh store by `harvest sync` at
default settings, as a user's CSV would be (cleaning and matching included; the match's
own time, from ``match_runs``, in brackets), then 1% more rows are synced into the same
store (an incremental match). Splink and recordlinkage (bench/others.py) run on the same
store's cleaned records. The same is done, harvest only, for the ``--holdout`` seed, a
seed nobody looked at while changing the matcher. For the largest size a table counts
the true pairs still missed, by the generator's pattern (bench/diagnose_match.py).

FEBRL 1-4 (bench/bench_febrl.py) go through `harvest sync` the same way.

Quality is pairwise precision, recall and F1 of the people found against the truth,
and the size of the review queue. Each tool is a child process: wall time and peak
memory (``os.wait4``). The tables replace the section between the bench_match markers
in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
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

from bench_febrl import FEBRL, GENERATED, febrl_lists, write_config  # noqa: E402
from bench_tables import per_cause, table  # noqa: E402
from others import _entity  # noqa: E402
from quality import pairwise  # noqa: E402


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


def store_labels(db_path: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Each current record's person, its truth and its generator patterns."""
    conn = sqlite3.connect(db_path)
    rows = conn.execute(
        "SELECT person_id, coalesce(json_extract(extra, '$.Person'), source_record_id),"
        " coalesce(json_extract(extra, '$.Pattern'), '') FROM records WHERE is_current = 1"
        " ORDER BY id"
    ).fetchall()
    conn.close()
    labels = np.array([r[0] for r in rows], np.int64)
    return labels, np.array([_entity(r[1]) for r in rows], np.int64), [r[2] for r in rows]


def quality(db_path: Path) -> dict:
    import sqlite_utils

    from harvest.people.review import queue_size

    labels, truth, _ = store_labels(db_path)
    db = sqlite_utils.Database(db_path)
    review = queue_size(db)  # questions a person is asked: pairs of people
    inside = db.execute("SELECT seconds FROM match_runs ORDER BY id DESC LIMIT 1").fetchone()
    db.close()
    p, r, f1 = pairwise(truth, labels)
    return {
        "precision": p,
        "recall": r,
        "f1": f1,
        "review": review,
        "records": len(labels),
        "inside": inside[0] if inside else None,  # the run's own clock: no start-up
    }


def harvest_sync(work: Path, files: list[Path], mapping: str, tool: str, size) -> dict:
    """Time `harvest sync` of ``files`` (into the store already in ``work``, if any)."""
    write_config(work, files, mapping)
    seconds, mb, error = timed([str(HARVEST), "sync", "-c", "harvest.yaml"], work)
    found = quality(work / "harvest.db") if not error else {}
    inside = f" ({found['inside']:.1f} s matching)" if found.get("inside") is not None else ""
    print(f"  {size}  {tool}: {seconds:.1f} s{inside}, {mb:.0f} MB {error}", flush=True)
    return {"tool": tool, "size": size, "seconds": seconds, "mb": mb, "error": error, **found}


def other(tool: str, size, work: Path) -> dict:
    """Splink or recordlinkage (bench/others.py) on the store's records, in a child."""
    out = work / f"{tool}.json"
    cmd = [sys.executable, str(ROOT / "bench" / "others.py"), tool, str(work / "harvest.db")]
    seconds, mb, error = timed([*cmd, str(out)], work)
    name = {"splink": "Splink (DuckDB)", "recordlinkage": "recordlinkage (ECM)"}[tool]
    row = {"tool": name, "size": size, "mb": mb, "error": error, "seconds": seconds}
    if not error:
        res = json.loads(out.read_text())
        p, r, f1 = res["0.5"]
        best = max((k for k in res if k[0].isdigit()), key=lambda k: res[k][2])
        row.update(precision=p, recall=r, f1=f1, seconds=res["seconds"])
        row.update(best=best, best_f1=res[best][2])
    print(f"  {size}  {name}: {row['seconds']:.1f} s, {mb:.0f} MB {error}", flush=True)
    return row


def generated(size: int, seed: int, args, causes: dict) -> list[dict]:
    main, extra = ensure_data(size, seed)
    with tempfile.TemporaryDirectory(prefix="bench-match-") as tmp:
        work = Path(tmp)
        rows = [harvest_sync(work, [main], GENERATED, "harvest sync", size)]
        if not rows[0]["error"]:
            causes[size] = per_cause(*store_labels(work / "harvest.db"))
        if not args.no_splink:
            rows.append(other("splink", size, work))
        if not args.no_recordlinkage and size <= args.rl_max:
            rows.append(other("recordlinkage", size, work))
        rows.append(harvest_sync(work, [main, extra], GENERATED, "harvest re-sync +1%", size))
    return rows


def holdout(size: int, seed: int) -> dict:
    main, _ = ensure_data(size, seed)
    with tempfile.TemporaryDirectory(prefix="bench-holdout-") as tmp:
        tool = f"harvest sync, held-out seed {seed}"
        return harvest_sync(Path(tmp), [main], GENERATED, tool, size)


def febrl(args) -> list[dict]:
    rows = []
    for name, files in febrl_lists():
        with tempfile.TemporaryDirectory(prefix="bench-febrl-") as tmp:
            work = Path(tmp)
            rows.append(harvest_sync(work, files, FEBRL, "harvest sync", name))
            if not args.no_splink:
                rows.append(other("splink", name, work))
            if not args.no_recordlinkage:
                rows.append(other("recordlinkage", name, work))
    return rows


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
    parser.add_argument("--holdout", type=int, default=20261205)
    parser.add_argument("--no-splink", action="store_true")
    parser.add_argument("--no-recordlinkage", action="store_true")
    parser.add_argument("--rl-max", type=int, default=100_000, help="largest size for it")
    parser.add_argument("--no-febrl", action="store_true")
    parser.add_argument("--note", default="", help="said under the tables (a busy machine…)")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    rows: list[dict] = []
    causes: dict = {}
    for size in sizes:
        rows += generated(size, args.seed, args, causes)
    held = [holdout(size, args.holdout) for size in sizes] if args.holdout else []
    febrl_rows = [] if args.no_febrl else febrl(args)
    text = table(rows, held, febrl_rows, causes, args)
    print(text)
    if not args.no_docs:
        write_docs(text, args.docs)
    return 1 if any(r.get("error") for r in rows + held + febrl_rows) else 0


if __name__ == "__main__":
    sys.exit(main())
