"""Time `harvest publish` and every funder query over HTTP, at 100k and 1M attendances.

    .venv/bin/python bench/bench_funders.py [--sizes 100000,1000000] [--requests 30]

For each size the sign-up CSV of ``gen_signups.py`` (25,000 people) is synced once into
``bench/data/funders-SIZE/`` with `harvest sync` (matching on, as a user would run it)
and that store is reused by later runs: delete the folder to sync again. Then, as a user
does, `harvest publish` builds funders.db (timed, wall clock, as a child process), a
funder login is added, `harvest serve --funders` starts, and every canned query is
requested ``--requests`` times over HTTP with the funder's cookie, each time with other
filter values drawn from the ``choices`` table (a fixed seed), after one untimed request
to warm up. The results replace the section between the bench_funders markers in
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from bench_sync import DATA, VENV_BIN, ensure_data, machine, write_docs  # noqa: E402

START, END = "<!-- bench_funders:start -->", "<!-- bench_funders:end -->"
FUNDER = ("bench-funder", "bench-funder-password")
PARAMS = {  # query → its boxes (as in funder_queries.yaml)
    "reach": ("period_type", "activity", "area"),
    "who": ("period", "activity", "area"),
    "where_people_live": ("period", "activity"),
    "areas": ("period", "activity"),
    "deprivation": ("period", "activity", "area"),
    "activities": ("period", "area"),
    "sessions_per_person": ("period", "activity", "area"),
    "outcomes": ("period", "area"),
    "score_change": ("period", "area"),
    "data_coverage": (),
}


def harvest(folder: Path, *args: str, stdin: str | None = None) -> float:
    """Run a harvest command in the store's folder; its wall time in seconds."""
    env = {**os.environ, "HARVEST_SECRETS_FILE": str(folder / "secrets.json")}
    command = [str(VENV_BIN / "harvest"), *args, "--config", str(folder / "harvest.yaml")]
    started = time.perf_counter()
    subprocess.run(command, input=stdin, text=True, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def ensure_store(size: int) -> Path:
    folder = DATA / f"funders-{size}"
    if (folder / "harvest.db").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "harvest.yaml").write_text(
        "organisation: Benchmark\ndatabase: harvest.db\nsources:\n  - name: signups\n"
        f"    type: file\n    options: {{path: {ensure_data(size)}}}\n"
        "    constants: {activity: Benchmark}\npublish: {after_sync: false}\n",
        encoding="utf-8",
    )
    print(f"syncing {size:,} rows into {folder.relative_to(ROOT)} (once) ...", flush=True)
    harvest(folder, "sync", "--no-progress")
    return folder


def login(base: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=60)
    token = re.search(r'name="csrftoken" value="([^"]+)"', client.get("/-/login").text)
    assert token, "no login form"
    client.post(
        "/-/login", data={"username": FUNDER[0], "password": FUNDER[1], "csrftoken": token[1]}
    )
    return client


def serve(folder: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "HARVEST_SECRETS_FILE": str(folder / "secrets.json")}
    command = [str(VENV_BIN / "harvest"), "serve", "--funders", "--port", str(port)]
    command += ["--config", str(folder / "harvest.yaml")]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/-/login", timeout=2).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.3)
    proc.terminate()
    raise SystemExit("the funder view did not start")


def time_queries(client: httpx.Client, requests: int) -> dict[str, list[float]]:
    rows = client.get("/funders/choices.json?_shape=array&_size=max").json()
    values: dict[str, list[str]] = {}
    for row in rows:
        values.setdefault(row["kind"], []).append(row["value"])
    rng = random.Random(2026)
    timings: dict[str, list[float]] = {}
    for name, boxes in PARAMS.items():
        client.get(f"/funders/{name}.json")  # warm up
        timings[name] = []
        for _ in range(requests):
            params = {box: rng.choice(values[box]) for box in boxes}
            started = time.perf_counter()
            response = client.get(f"/funders/{name}.json", params={**params, "_shape": "array"})
            timings[name].append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (name, params, response.text[:200])
    return timings


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


def bench_size(size: int, requests: int, port: int) -> tuple[float, dict[str, list[float]]]:
    folder = ensure_store(size)
    publish = harvest(folder, "publish")
    print(f"  {size:>9,} attendances: harvest publish {publish:.1f} s", flush=True)
    harvest(
        folder,
        "users",
        "add",
        FUNDER[0],
        "--role",
        "funder",
        "--password-stdin",
        "--replace",
        stdin=FUNDER[1] + "\n",
    )
    proc = serve(folder, port)
    try:
        timings = time_queries(login(f"http://127.0.0.1:{port}"), requests)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    for name, ms in timings.items():
        print(
            f"  {size:>9,}  {name:<20} p50 {statistics.median(ms):6.1f} ms  p95 {p95(ms):6.1f} ms"
        )
    return publish, timings


def section(
    results: dict[int, tuple[float, dict[str, list[float]]]], argv: list[str], requests: int
) -> str:
    sizes = list(results)
    head = "| query | " + " | ".join(f"{s:,}: p50 ms | {s:,}: p95 ms" for s in sizes) + " |"
    lines = [head, "|---|" + "---:|---:|" * len(sizes)]
    lines.append(
        "| `harvest publish` (s) | " + " | ".join(f"{results[s][0]:.1f} | –" for s in sizes) + " |"
    )
    for name in PARAMS:
        cells = []
        for s in sizes:
            ms = results[s][1][name]
            cells.append(f"{statistics.median(ms):.1f} | {p95(ms):.1f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    command = "python bench/bench_funders.py " + " ".join(shlex.quote(a) for a in argv)
    return "\n".join(
        [
            START,
            "## Funder figures: `harvest publish` and every funder query over HTTP",
            "",
            f"Run on {time.strftime('%Y-%m-%d')} with `{command.strip()}`  ",
            f"Machine: {machine()}  ",
            "Stores synced from `bench/gen_signups.py` (25,000 people; attendances as "
            "given) with matching on, once, then reused. `harvest publish` is one run, "
            f"wall clock, as a child process. Each query: {requests} requests over HTTP "
            "to `harvest serve --funders` with a funder login, each with other filter "
            "values drawn from the `choices` table, after one untimed request; time to "
            "the whole JSON answer, on the same machine. The generated sign-ups have no "
            'outcomes or scores, so `outcomes` and `score_change` answer "too few" '
            "(still a lookup of the protected tables).",
            "",
            *lines,
            END,
        ]
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000", help="attendances per store")
    parser.add_argument("--requests", type=int, default=30, help="requests per query (≥20)")
    parser.add_argument("--port", type=int, default=8791, help="port for the funder view")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--no-docs", action="store_true", help="print the figures only")
    args = parser.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    results = {size: bench_size(size, args.requests, args.port) for size in sizes}
    if not args.no_docs:
        text = section(results, argv, args.requests)
        write_docs_section(args.docs, text)
        print(f"updated {args.docs}")
    return 0


def write_docs_section(doc: Path, text: str) -> None:
    """Replace only the bench_funders section (bench_sync's writer with these markers)."""
    import bench_sync

    bench_sync.START, bench_sync.END = START, END
    write_docs(doc, text)


if __name__ == "__main__":
    sys.exit(main())
