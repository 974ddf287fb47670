"""The markdown tables bench_match.py writes into docs/benchmarks.md."""

from __future__ import annotations

import platform
import time

import numpy as np

HEADER = [
    "| records | tool | precision | recall | F1 | review queue | time | peak memory |",
    "|---:|---|---:|---:|---:|---:|---:|---:|",
]


def per_cause(labels: np.ndarray, truth: np.ndarray, patterns: list[str]) -> list[tuple]:
    from diagnose_match import by_pattern

    return by_pattern(truth, labels, patterns)


def _row(r: dict) -> str:
    size = f"{r['size']:,}" if isinstance(r["size"], int) else r["size"]
    if r.get("error"):
        return f"| {size} | {r['tool']} | failed: {r['error']} | | | | | |"
    if "review" in r:
        share = f" ({r['review'] / r['records']:.2%})" if r.get("records") else ""
        review = f"{r['review']:,}{share}"
    else:
        review = f"best F1 {r['best_f1']:.4f} at {r['best']}" if r.get("best") else ""
    inside = f" ({r['inside']:.1f} s)" if r.get("inside") is not None else ""
    return (
        f"| {size} | {r['tool']} | {r['precision']:.4f} | {r['recall']:.4f} | "
        f"{r['f1']:.4f} | {review} | {r['seconds']:.1f} s{inside} | {r['mb']:,.0f} MB |"
    )


def _intro(rows: list[dict], args) -> str:
    sizes = ",".join(str(x) for x in dict.fromkeys(r["size"] for r in rows))
    extra = f" --rl-max {args.rl_max}" if args.rl_max != 100_000 else ""
    return (
        f"Generated UK people (`bench/gen_people.py`, seed {args.seed}, 30% duplicates, "
        "with the patterns of issue 16), synced by `harvest sync` from the CSV at default "
        "settings, as a user would: precision, recall and F1 of the people found (pairs of "
        "records); review queue: the questions `harvest review` asks, as a share of "
        "records; wall time and peak memory of the whole sync (reading, cleaning, landing "
        "and matching), and in brackets the time the match itself records in "
        "`match_runs`. Splink and recordlinkage run on the same store's cleaned records "
        "(`bench/others.py`: Splink with the comparisons its documentation recommends, F1 "
        "at its default 0.5 and its best over 0.5–0.9999, the scan not timed; "
        "recordlinkage's blocks on each name and the date of birth, ECM); their time is "
        "the linking alone. Nothing was tuned on seed 1 or on the held-out seed "
        f"{args.holdout} (the matcher was changed looking at seeds 7 and 3 only). Run on "
        f"{time.strftime('%Y-%m-%d')} with `python bench/bench_match.py --sizes {sizes}"
        f"{extra}` on a {_machine()}{_load(args)}." + (f" {args.note}" if args.note else "")
    )


def _load(args) -> str:
    """The machine's load average (1 minute) through the run, as `uptime` says it."""
    seen = getattr(args, "loads", [])
    if not seen:
        return ""
    return f", load average {min(seen):.1f} to {max(seen):.1f} during the run (`uptime`)"


def _machine() -> str:
    import os

    return f"{os.cpu_count()}-core machine, Python {platform.python_version()}"


def _causes(causes: dict) -> list[str]:
    if not causes:
        return []
    size = max(causes)
    lines = [
        "",
        f"What is still missed at {size:,} records, by the generator's pattern (true pairs "
        "of records with the pattern on either side; a pair with two patterns counts "
        "under both; `(none)`: neither record was corrupted, but a field was left blank "
        "or typed another way):",
        "",
        "| pattern | true pairs | missed | share missed |",
        "|---|---:|---:|---:|",
    ]
    for tag, total, missed in causes[size]:
        lines.append(f"| {tag} | {total:,} | {missed:,} | {missed / max(total, 1):.1%} |")
    return lines


def table(rows, held, febrl_rows, causes, args) -> str:
    lines = [_intro(rows, args), "", *HEADER, *map(_row, rows + held)]
    lines += _causes(causes)
    if febrl_rows:
        lines += [
            "",
            "FEBRL 1–4 (from `recordlinkage.datasets`, written as CSV without `soc_sec_id`, "
            "FEBRL4's two lists as two sources) through `harvest sync` at default settings: "
            "its dates as written (19560125), its Australian postcodes kept as text, the "
            "columns mapped as `harvest map` maps them (`address_1` as the address; "
            "`street_number`, `address_2`, `suburb` and `state` kept as extras). Splink and "
            "recordlinkage on the same cleaned records.",
            "",
            "| data | tool | precision | recall | F1 | review queue | time | peak memory |",
            "|---|---|---:|---:|---:|---:|---:|---:|",
            *map(_row, febrl_rows),
        ]
    return "\n".join(lines)
