"""Results written to files: the assignments export and a session's report."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import IO, Annotated

import httpx
import typer

from app.cli.connection import Api, ApiError, connected
from app.cli.console import Failed

export_app = typer.Typer(help="Export results to a file.", no_args_is_help=True)

OutFile = Annotated[
    Path, typer.Option("--output", "-o", dir_okay=False, help="File to write; - for stdout.")
]


class ExportFormat(StrEnum):
    csv = "csv"
    json = "json"


class ReportFormat(StrEnum):
    html = "html"
    pdf = "pdf"


def _copy(api: Api, path: str, params: dict[str, str], file: IO[bytes]) -> int:
    written = 0
    try:
        with api.http.stream("GET", path, params=params) as response:
            if response.is_error:
                response.read()
                raise ApiError.of(response)
            for chunk in response.iter_bytes():
                file.write(chunk)
                written += len(chunk)
    except httpx.TransportError as exc:
        raise api.unreachable(exc) from exc
    return written


def save_answer(api: Api, path: str, params: dict[str, str], target: Path) -> int:
    """Stream an answer into `target` (- is stdout): whole, or not at all; the bytes written."""
    if str(target) == "-":
        written = _copy(api, path, params, sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return written
    staged = target.with_name(f".{target.name}.partial")
    try:
        with staged.open("wb") as file:
            written = _copy(api, path, params, file)
        staged.replace(target)
    except OSError as exc:
        raise Failed(f"cannot write {target}: {exc.strerror}") from exc
    finally:
        staged.unlink(missing_ok=True)
    return written


@export_app.command(
    "assignments", epilog="Example: weft export assignments --format csv -o assignments.csv"
)
@connected
def export_assignments(
    api: Api,
    output: OutFile,
    format: Annotated[ExportFormat, typer.Option(help="csv or json.")] = ExportFormat.csv,
) -> None:
    """Every narrative's theme, sub-theme and top three themes (CSV safe for spreadsheets)."""
    path = api.in_project("/assignments")
    written = save_answer(api, path, {"format": format.value}, output)
    api.out.message(f"wrote {written} bytes to {output}")


@connected
def report(
    api: Api,
    session_id: Annotated[
        int, typer.Argument(help="The session's id (weft upload --session prints it).")
    ],
    output: OutFile,
    format: Annotated[ReportFormat, typer.Option(help="html or pdf.")] = ReportFormat.html,
) -> None:
    """A session's report, as HTML or PDF."""
    params = {"format": "pdf"} if format is ReportFormat.pdf else {}
    try:
        written = save_answer(api, api.in_project(f"/sessions/{session_id}/report"), params, output)
    except ApiError as exc:
        if exc.status != 404:
            raise
        raise Failed(
            f"no report for session {session_id}: is the id one of this project's sessions "
            f"(GET /v1/projects/{api.project}/sessions), and does this Weft make session "
            f"reports? The server said: {exc.message}"
        ) from exc
    api.out.message(f"wrote {written} bytes to {output}")
