"""Time `harvest sync` against plain CSV loaders on the same generated file.

    .venv/bin/python bench/bench_sync.py [--sizes 10000,100000,1000000] [--repeat 3]

For each size the sign-up CSV is generated once (cached in bench/data/, which git
ignores), then each tool is run ``--repeat`` times as a child process, each time on a
fresh database, and the median wall time is kept:

    harvest sync          `harvest sync` (config in ./harvest.yaml) on a fresh database
    harvest sync (again)  a second sync of the same, unchanged file
    sqlite-utils insert   `sqlite-utils insert fresh.db rows FILE --csv`
    sqlite3 .import       `sqlite3 fresh.db` with `.mode csv` and `.import FILE rows`

Peak memory is each child's own maximum resident set size, from ``os.wait4``. The
results replace the section between the bench_sync markers in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
VENV_BIN = ROOT / ".venv" / "bin"
if not VENV_BIN.is_dir():
    VENV_BIN = Path(sys.executable).parent
START, END = "<!-- bench_sync:start -->", "<!-- bench_sync:end -->"
TOOLS = ["harvest sync", "harvest sync (again)", "sqlite-utils insert", "sqlite3 .import"]


@dataclass
class Run:
    seconds: float
    peak_mb: float
    error: str = ""


@dataclass
class Result:
    size: int
    tool: str
    runs: list[Run] = field(default_factory=list)

    @property
    def error(self) -> str:
        return next((r.error for r in self.runs if r.error), "")

    @property
    def median(self) -> float:
        return statistics.median(r.seconds for r in self.runs)

    @property
    def peak_mb(self) -> float:
        return max(r.peak_mb for r in self.runs)


def timed(
    cmd: list[str], cwd: Path, stdin: str | None = None, env: dict[str, str] | None = None
) -> Run:
    """Run one child; its wall time, its own peak RSS (wait4) and any failure."""
    err_path = cwd / "stderr.txt"
    with err_path.open("wb") as err:
        start = time.perf_counter()
        try:
            proc = subprocess.Popen(
                cmd,
                cwd=cwd,
                stdin=subprocess.PIPE if stdin else None,
                stdout=subprocess.DEVNULL,
                stderr=err,
                env={**os.environ, **(env or {})},
            )
        except OSError as exc:
            return Run(0.0, 0.0, f"could not start {cmd[0]}: {exc}")
        if stdin:
            proc.stdin.write(stdin.encode())  # type: ignore[union-attr]
            proc.stdin.close()  # type: ignore[union-attr]
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped by wait4
    run = Run(seconds, usage.ru_maxrss / 1024)  # ru_maxrss is in KiB on Linux
    if proc.returncode != 0:
        tail = err_path.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
        run.error = f"exit {proc.returncode}: {tail[0][:90]}"
    return run


def ensure_data(size: int) -> Path:
    path = DATA / f"signups-{size}.csv"
    if not path.exists():
        print(f"generating {path.relative_to(ROOT)} ...", flush=True)
        tmp = path.with_suffix(".part")
        subprocess.run(
            [sys.executable, str(ROOT / "bench" / "gen_signups.py"), str(size), str(tmp)],
            check=True,
        )
        tmp.replace(path)
    return path


def write_config(folder: Path, csv_path: Path) -> Path:
    config = folder / "harvest.yaml"
    config.write_text(
        "organisation: Benchmark\n"
        "database: harvest.db\n"
        "sources:\n"
        "  - name: signups\n"
        "    type: file\n"
        f"    options: {{path: {csv_path}}}\n"
        "    constants: {activity: Benchmark}\n"
        "# landing and normalising only, as the issue asks: matching is measured by\n"
        "# bench_match.py, and publishing funders.db is a separate step\n"
        "matching: {enabled: false}\n"
        "publish: {after_sync: false}\n",
        encoding="utf-8",
    )
    return config


def one_repeat(csv_path: Path, harvest: str) -> dict[str, Run]:
    """Each tool once, in fresh folders; the harvest pair shares one folder and database."""
    runs: dict[str, Run] = {}
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as tmp:
        work = Path(tmp)
        for name in ("harvest", "sqlite-utils", "sqlite3"):
            (work / name).mkdir()
        # The config is ./harvest.yaml and $HARVEST_CONFIG, so it is found wherever
        # the CLI takes --config (before or after `sync`).
        env = {"HARVEST_CONFIG": str(write_config(work / "harvest", csv_path))}
        runs[TOOLS[0]] = timed([harvest, "sync"], work / "harvest", env=env)
        if not runs[TOOLS[0]].error:
            runs[TOOLS[1]] = timed([harvest, "sync"], work / "harvest", env=env)
        else:
            runs[TOOLS[1]] = Run(0.0, 0.0, "skipped: the first sync failed")
        runs[TOOLS[2]] = timed(
            [str(VENV_BIN / "sqlite-utils"), "insert", "fresh.db", "rows", str(csv_path), "--csv"],
            work / "sqlite-utils",
        )
        runs[TOOLS[3]] = timed(
            ["sqlite3", "fresh.db"], work / "sqlite3", stdin=f".mode csv\n.import {csv_path} rows\n"
        )
    return runs


def bench_size(size: int, repeat: int, harvest: str) -> list[Result]:
    csv_path = ensure_data(size)
    results = {tool: Result(size, tool) for tool in TOOLS}
    for i in range(repeat):
        for tool, run in one_repeat(csv_path, harvest).items():
            results[tool].runs.append(run)
            shown = run.error or f"{run.seconds:.2f} s, {run.peak_mb:.0f} MB"
            print(f"  {size:>9,} rows  {tool:<22} run {i + 1}/{repeat}: {shown}", flush=True)
    return list(results.values())


def table(results: list[Result]) -> str:
    lines = [
        "| rows | tool | median s | rows/s | peak MB | × sqlite-utils |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    baseline = {
        r.size: r.median for r in results if r.tool == "sqlite-utils insert" and not r.error
    }
    for r in results:
        if r.error:
            lines.append(f"| {r.size:,} | {r.tool} | – | – | – | {r.error.replace('|', '/')} |")
            continue
        base = baseline.get(r.size)
        ratio = f"{r.median / base:.2f}" if base else "–"
        rate = f"{r.size / r.median:,.0f}" if r.median > 0 else "–"
        lines.append(
            f"| {r.size:,} | {r.tool} | {r.median:.2f} | {rate} | {r.peak_mb:.0f} | {ratio} |"
        )
    return "\n".join(lines)


def machine() -> str:
    def out(cmd: list[str]) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return "unknown"

    cpu = (
        next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            "unknown",
        )
        if Path("/proc/cpuinfo").exists()
        else "unknown"
    )
    mem = out(["free", "-g"]).splitlines()
    total = mem[1].split()[1] + " GB" if len(mem) > 1 else "unknown"
    return (
        f"{out(['nproc'])} CPUs ({cpu}), {total} RAM, Python {sys.version.split()[0]}, "
        f"SQLite {out(['sqlite3', '--version']).split(' ')[0]}, "
        f"sqlite-utils {out([str(VENV_BIN / 'sqlite-utils'), '--version']).split()[-1]}"
    )


def load() -> str:
    """The machine's load average now (1, 5 and 15 minutes): others' work on the same cores."""
    try:
        return " / ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def section(results: list[Result], argv: list[str], repeat: int, loads: list[str]) -> str:
    command = "python bench/bench_sync.py " + " ".join(shlex.quote(a) for a in argv)
    return "\n".join(
        [
            START,
            "## `harvest sync` against plain CSV loaders",
            "",
            f"Run on {time.strftime('%Y-%m-%d')} with `{command.strip()}`  ",
            f"Machine: {machine()}  ",
            f"Load average (1 / 5 / 15 min) at the start and end: {loads[0]}; {loads[-1]}  ",
            f"Median of {repeat} run(s), each on a fresh database; peak MB is the child "
            "process's maximum resident set size; × sqlite-utils is the time relative to "
            "`sqlite-utils insert --csv` on the same file (lower is faster). The second sync "
            "reads the same, unchanged file into the database the first sync made.",
            "",
            table(results),
            END,
        ]
    )


def write_docs(doc: Path, text: str) -> None:
    """Replace only the bench_sync section, so other benchmarks can share the file."""
    if doc.exists():
        current = doc.read_text(encoding="utf-8")
    else:
        current = "# Benchmarks\n\nHow fast harvest is, measured by the scripts in `bench/`.\n"
    if START in current and END in current:
        before, rest = current.split(START, 1)
        after = rest.split(END, 1)[1]
        new = before + text + after
    else:
        new = current.rstrip("\n") + "\n\n" + text + "\n"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(new, encoding="utf-8")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        default="10000,100000,1000000",
        help="comma-separated row counts (default: 10000,100000,1000000)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per tool (default: 3)")
    parser.add_argument(
        "--harvest",
        default=str(VENV_BIN / "harvest"),
        help="the harvest command to time (default: the venv's)",
    )
    parser.add_argument(
        "--docs",
        type=Path,
        default=ROOT / "docs" / "benchmarks.md",
        help="markdown file to update (default: docs/benchmarks.md)",
    )
    parser.add_argument("--no-docs", action="store_true", help="print the table only")
    args = parser.parse_args(argv)
    try:
        args.sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--sizes must be whole numbers separated by commas, not {args.sizes!r}")
    if args.repeat < 1 or not args.sizes or min(args.sizes) < 1:
        parser.error("--repeat and every size must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    results: list[Result] = []
    loads = [load()]
    for size in args.sizes:
        results += bench_size(size, args.repeat, args.harvest)
    loads.append(load())
    print(table(results))
    if not args.no_docs:
        write_docs(args.docs, section(results, argv, args.repeat, loads))
        print(f"updated {args.docs}")
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
