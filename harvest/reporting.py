"""How the CLI shows a sync: a progress bar on a terminal, plain log lines under cron."""

from __future__ import annotations

import sys
import time

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from harvest.sync import SourceResult

PLAIN_EVERY = 100_000  # under cron, one line per this many rows of a big source


class TerminalReporter:
    """A live row counter per source, then a one-line summary."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            TextColumn("{task.completed:,} rows"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self.tasks: dict[str, TaskID] = {}

    def source_started(self, name: str) -> None:
        self.progress.start()
        self.tasks[name] = self.progress.add_task(name, total=None)

    def rows_done(self, name: str, n: int) -> None:
        self.progress.advance(self.tasks[name], n)

    def source_finished(self, result: SourceResult) -> None:
        self.progress.remove_task(self.tasks.pop(result.name))
        self.progress.stop()
        print_summary(self.console, result)


class PlainReporter:
    """Timestamped lines, good for cron mail and log files."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.rows: dict[str, int] = {}

    def _line(self, text: str) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        self.console.print(f"{stamp} {text}", markup=False, highlight=False, soft_wrap=True)

    def source_started(self, name: str) -> None:
        self.rows[name] = 0
        self._line(f"{name}: syncing")

    def rows_done(self, name: str, n: int) -> None:
        before = self.rows[name]
        self.rows[name] += n
        if before // PLAIN_EVERY != self.rows[name] // PLAIN_EVERY:
            self._line(f"{name}: {self.rows[name]:,} rows so far")

    def source_finished(self, result: SourceResult) -> None:
        self._line(result.summary())
        for message in result.messages:
            self._line(f"{result.name}:   {message}")


def print_summary(console: Console, result: SourceResult) -> None:
    style = {"ok": "green", "problems": "yellow", "failed": "red"}[result.status]
    console.print(f"[{style}]●[/] {result.summary()}", highlight=False, soft_wrap=True)
    for message in result.messages:
        console.print(f"    {message}", markup=False, highlight=False, soft_wrap=True)


def make_reporter(
    console: Console, progress: bool | None = None
) -> TerminalReporter | PlainReporter:
    use_bar = console.is_terminal and sys.stdout.isatty() if progress is None else progress
    return TerminalReporter(console) if use_bar else PlainReporter(console)
