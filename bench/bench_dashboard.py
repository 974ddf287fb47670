"""Time the funder's dashboard (/dashboard), a table page and the PDF over HTTP, at 100k and
1M attendances.

    .venv/bin/python bench/bench_dashboard.py [--sizes 100000,1000000] [--requests 30]

Reuses bench_funders.py's stores (``bench/data/funders-SIZE/``, synced once from
``gen_signups.py``) and its way of serving: `harvest publish`, a funder login, `harvest
serve --funders`. Then the overview page is requested ``--requests`` times with the
funder's cookie, each time with another period, activity and area drawn from the
``choices`` table (a fixed seed), after one untimed request; the same for the table
page of every area (the longest), and the PDF a third as often. Time to the whole answer. The results replace the section between the
bench_dashboard markers in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import random
import shlex
import statistics
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
import bench_sync  # noqa: E402
from bench_funders import (  # noqa: E402
    FUNDER,
    ensure_store,
    harvest,
    login,
    p95,
    serve,
)
from bench_sync import machine  # noqa: E402

START, END = "<!-- bench_dashboard:start -->", "<!-- bench_dashboard:end -->"
PAGES = {
    "overview": "/dashboard",
    "a table page": "/dashboard/table/areas",
    "PDF": "/dashboard/report.pdf",
}


def time_pages(client: httpx.Client, requests: int) -> dict[str, list[float]]:
    rows = client.get("/funders/choices.json?_shape=array&_size=max").json()
    values: dict[str, list[str]] = {}
    for row in rows:
        values.setdefault(row["kind"], []).append(row["value"])
    rng = random.Random(2026)
    timings: dict[str, list[float]] = {}
    for name, path in PAGES.items():
        client.get(path)  # warm up
        timings[name] = []
        for _ in range(requests if name != "PDF" else max(requests // 3, 20)):
            params = {k: rng.choice(values[k]) for k in ("period", "activity", "area")}
            started = time.perf_counter()
            response = client.get(path, params=params)
            timings[name].append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (name, params, response.text[:200])
    return timings


def bench_size(size: int, requests: int, port: int) -> dict[str, list[float]]:
    folder = ensure_store(size)
    harvest(folder, "publish")
    harvest(
        folder,
        *("users", "add", FUNDER[0], "--role", "funder", "--password-stdin", "--replace"),
        stdin=FUNDER[1] + "\n",
    )
    proc = serve(folder, port)
    try:
        timings = time_pages(login(f"http://127.0.0.1:{port}"), requests)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    for name, ms in timings.items():
        print(
            f"  {size:>9,}  {name:<10} p50 {statistics.median(ms):7.1f} ms  p95 {p95(ms):7.1f} ms"
        )
    return timings


def section(results: dict[int, dict[str, list[float]]], argv: list[str], requests: int) -> str:
    sizes = list(results)
    head = "| page | " + " | ".join(f"{s:,}: p50 ms | {s:,}: p95 ms" for s in sizes) + " |"
    lines = [head, "|---|" + "---:|---:|" * len(sizes)]
    for name, path in PAGES.items():
        cells = [
            f"{statistics.median(results[s][name]):.0f} | {p95(results[s][name]):.0f}"
            for s in sizes
        ]
        lines.append(f"| {name} (`{path}`) | " + " | ".join(cells) + " |")
    command = "python bench/bench_dashboard.py " + " ".join(shlex.quote(a) for a in argv)
    return "\n".join(
        [
            START,
            "## The funder's dashboard over HTTP",
            "",
            f"Run on {time.strftime('%Y-%m-%d')} with `{command.strip()}`  ",
            f"Machine: {machine()}, **busy**: other engineers' builds and tests were "
            "running on the same two cores, so these are upper bounds.  ",
            "The stores of bench_funders.py. The overview: "
            f"{requests} requests over HTTP to `harvest serve --funders` with a funder "
            "login, each with another period, activity and area drawn from the `choices` "
            "table, after one untimed request; time to the whole HTML page (every figure, "
            "the chart and the map). The table page of every area the same; the PDF a "
            "third as often (at least 20).",
            "",
            *lines,
            END,
        ]
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000", help="attendances per store")
    parser.add_argument("--requests", type=int, default=30, help="requests per page (≥20)")
    parser.add_argument("--port", type=int, default=8792, help="port for the funder view")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--no-docs", action="store_true", help="print the figures only")
    args = parser.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    results = {size: bench_size(size, max(args.requests, 20), args.port) for size in sizes}
    if not args.no_docs:
        bench_sync.START, bench_sync.END = START, END  # replace only this section
        bench_sync.write_docs(args.docs, section(results, argv, max(args.requests, 20)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
