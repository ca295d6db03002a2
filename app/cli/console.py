"""What the command writes where: data on stdout, messages and progress on stderr.

Progress bars are drawn only when stderr is a terminal, so a pipe or a log file gets the
messages alone; `--quiet` silences those too, and `--json` makes stdout one JSON document.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any, ParamSpec

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

#: Exit code when Ctrl-C stops the waiting (the shell's code for SIGINT); the job goes on.
INTERRUPTED = 130


class Failed(Exception):
    """The request or the job failed: the reason goes to stderr, the exit code is 1."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


P = ParamSpec("P")


def exits_on_failure(func: Callable[P, None]) -> Callable[P, None]:
    """Run command `func`; a `Failed` is one line on stderr and exit code 1."""

    @functools.wraps(func)
    def command(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            func(*args, **kwargs)
        except Failed as exc:
            Output().warn(f"error: {exc.message}")
            raise typer.Exit(1) from None

    return command


class Output:
    """Where one command writes, set by its --quiet and --json options."""

    def __init__(self, quiet: bool = False, as_json: bool = False) -> None:
        self.quiet = quiet
        self.as_json = as_json
        self.err = Console(stderr=True, highlight=False)
        # tables are data: stdout, as wide as they need when stdout is no terminal
        self.out = Console(highlight=False, width=None if sys.stdout.isatty() else 200)

    @property
    def shows_progress(self) -> bool:
        return not self.quiet and sys.stderr.isatty()

    def message(self, text: str) -> None:
        """A line for the person at the terminal (stderr), unless --quiet."""
        if not self.quiet:
            self.err.print(escape(text), soft_wrap=True)

    def warn(self, text: str) -> None:
        """A line that says something went wrong, even with --quiet."""
        self.err.print(f"weft: {escape(text)}", soft_wrap=True)

    def data(self, text: str) -> None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()

    def json(self, value: Any) -> None:
        self.data(json.dumps(value, indent=2, ensure_ascii=False))

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[Any]], title: str = "") -> None:
        table = Table(*headers, title=title or None, title_justify="left", show_lines=False)
        for row in rows:
            table.add_row(*(escape(_cell_text(cell)) for cell in row))
        self.out.print(table)


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def percent(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f}%"
