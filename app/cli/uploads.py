"""`weft upload`: files or session exports, one after another, with one summary."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from app.cli.connection import Api, ApiError, connected
from app.cli.console import INTERRUPTED, Failed, Output
from app.cli.multipart import form_body
from app.cli.waiting import byte_progress, resume_hint, wait_for_upload

#: Issues listed under each file's report; the rest are counted.
SHOWN_ISSUES = 5


def _file_option(help: str) -> Any:
    return typer.Option(exists=True, dir_okay=False, readable=True, resolve_path=True, help=help)


@dataclass
class UploadOptions:
    session: str | None
    held_on: str | None
    started_at: str | None
    timezone: str | None
    mapping: str | None
    format: str | None
    definition: Path | None
    votes: Path | None
    participants_votes: Path | None

    def target(self) -> str:
        return "/sessions" if self.session else "/uploads"

    def fields(self) -> dict[str, str]:
        given = {
            "name": self.session,
            "held_on": self.held_on,
            "started_at": self.started_at,
            "timezone": self.timezone,
            "mapping": self.mapping,
            "format": self.format,
        }
        return {k: v for k, v in given.items() if v is not None}

    def files(self, path: Path) -> dict[str, Path]:
        extra = {
            "definition": self.definition,
            "votes": self.votes,
            "participants_votes": self.participants_votes,
        }
        return {"file": path, **{k: v for k, v in extra.items() if v is not None}}


def _mapping_text(value: str | None) -> str | None:
    """The mapping as given, or read from the file named after `@`."""
    if value is None or not value.startswith("@"):
        return value
    try:
        return Path(value[1:]).read_text(encoding="utf-8")
    except OSError as exc:
        raise typer.BadParameter(
            f"cannot read {value[1:]}: {exc.strerror}", param_hint="--mapping"
        ) from exc


def _send(api: Api, path: Path, options: UploadOptions) -> dict[str, Any]:
    target = api.in_project(options.target())
    files = options.files(path)
    total = sum(p.stat().st_size for p in files.values())
    bar, sent = byte_progress(api.out, "send", total)
    body = form_body(options.fields(), files, sent)
    headers = {"Content-Type": body.content_type, "Content-Length": str(body.length)}
    try:
        with bar:
            answer: dict[str, Any] = api.call(
                "POST", target, content=body.chunks, headers=headers
            ).json()
    except KeyboardInterrupt:
        # a body cut short is refused whole; one that had all arrived may have been accepted
        api.out.warn(
            f"stopped while sending {path.name}: a file cut short is not stored; "
            "`weft jobs` shows whether it had arrived whole"
        )
        raise typer.Exit(INTERRUPTED) from None
    return answer


def _report_lines(name: str, source: dict[str, Any]) -> list[str]:
    report = source.get("report") or {}
    if source["progress"]["stage"] == "failed":
        return [f"{name}: failed: {source['progress']['error'] or source['error']}"]
    lines = [
        f"{name}: stored {report.get('stored', 0)}, duplicates {report.get('duplicates', 0)}, "
        f"skipped {report.get('skipped', 0)}"
    ]
    issues = report.get("issues") or []
    lines += [f"  {i['location']}: {i['reason']}" for i in issues[:SHOWN_ISSUES]]
    more = len(issues) - SHOWN_ISSUES + int(report.get("issues_not_stored") or 0)
    if more > 0:
        lines.append(f"  ... and {more} more (weft --json upload, or GET /uploads/{source['id']})")
    return lines


def _summary(out: Output, done: list[tuple[str, dict[str, Any]]], failed: list[str]) -> None:
    rows = []
    for name, source in done:
        report = source.get("report") or {}
        rows.append(
            [
                name,
                source["id"],
                source["progress"]["stage"],
                report.get("stored"),
                report.get("duplicates"),
                report.get("skipped"),
            ]
        )
    rows += [[name, "", "refused", "", "", ""] for name in failed]
    out.table(["file", "source", "stage", "stored", "duplicates", "skipped"], rows)


def _upload_one(api: Api, path: Path, options: UploadOptions, wait: bool) -> dict[str, Any]:
    accepted = _send(api, path, options)
    source = accepted["source"]
    job_id = (accepted.get("job") or {}).get("id")
    meeting = accepted.get("session")
    again = " (these bytes were uploaded before)" if accepted["duplicate"] else ""
    held = f", session {meeting['id']}" if meeting else ""
    api.out.message(f"{path.name}: source {source['id']}{held}, job {job_id}{again}")
    if wait:
        source = wait_for_upload(api, int(source["id"]))
    else:
        api.out.message(f"  follow it with: {resume_hint(job_id)}")
    return {**source, "session": meeting} if meeting else dict(source)


@connected
def upload(
    api: Api,
    files: Annotated[
        list[Path],
        typer.Argument(
            exists=True,
            dir_okay=False,
            readable=True,
            resolve_path=True,
            metavar="FILE...",
            help="Files to upload.",
        ),
    ],
    session: Annotated[
        str | None, typer.Option(help="Upload as a session export with this meeting name.")
    ] = None,
    held_on: Annotated[str | None, typer.Option(help="Session date, YYYY-MM-DD.")] = None,
    started_at: Annotated[
        str | None, typer.Option(help="Transcript start, ISO 8601 (anchors cue times).")
    ] = None,
    timezone: Annotated[str | None, typer.Option(help="Zone of times without one.")] = None,
    mapping: Annotated[
        str | None, typer.Option(help="Column mapping: JSON, or @file holding it.")
    ] = None,
    format: Annotated[
        str | None, typer.Option(help="auto, csv, xlsx, sensemaker, polis, ...")
    ] = None,
    definition: Annotated[
        Path | None, _file_option("SenseMaker framework definition (JSON).")
    ] = None,
    votes: Annotated[Path | None, _file_option("Polis votes.csv.")] = None,
    participants_votes: Annotated[
        Path | None, _file_option("Polis participants-votes.csv.")
    ] = None,
    wait: Annotated[bool, typer.Option(help="Follow each upload to its end and report.")] = False,
) -> None:
    """Upload files (batch files, SenseMaker or Polis exports) or session exports."""
    if session and (definition or votes or participants_votes):
        raise typer.BadParameter(
            "--definition, --votes and --participants-votes are not for sessions"
        )
    options = UploadOptions(
        session,
        held_on,
        started_at,
        timezone,
        _mapping_text(mapping),
        format,
        definition,
        votes,
        participants_votes,
    )
    done: list[tuple[str, dict[str, Any]]] = []
    refused: list[str] = []
    for path in files:
        try:
            done.append((path.name, _upload_one(api, path, options, wait)))
        except ApiError as exc:
            if exc.status in (401, 403, 404):
                raise
            api.out.warn(f"{path.name}: {exc.message}")
            refused.append(path.name)
    _finish(api.out, done, refused, wait)


def _finish(
    out: Output, done: list[tuple[str, dict[str, Any]]], refused: list[str], wait: bool
) -> None:
    if out.as_json:
        out.json([source for _, source in done])
    else:
        if wait:
            for name, source in done:
                out.data("\n".join(_report_lines(name, source)))
        if len(done) + len(refused) > 1 or not wait:
            _summary(out, done, refused)
    failed = [n for n, s in done if s["progress"]["stage"] == "failed"] + refused
    if failed:
        raise Failed(
            f"{len(failed)} of {len(done) + len(refused)} file(s) failed: {', '.join(failed)}"
        )
