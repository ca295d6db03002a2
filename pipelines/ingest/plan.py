"""Choosing the parser for an upload or a session export, and opening its records.

Pure: open binary streams, their file names and the upload's options in; the records to
read (a list, or a streaming reader), the parser's report and what comes with them (a
SenseMaker definition, Polis vote tallies and groups) out. A file posted to the wrong
endpoint, or a format Weft does not read there, raises `UnreadableFile` saying where it goes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, BinaryIO, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pipelines.ingest._rows import TabularFormat
from pipelines.ingest.batch import ColumnMapping, open_batch
from pipelines.ingest.detect import FileFormat, detect_format
from pipelines.ingest.polis import parse_polis
from pipelines.ingest.records import NarrativeRecord, ParseReport, SignifierSpec, UnreadableFile
from pipelines.ingest.sensemaker import open_sensemaker_data, parse_sensemaker_definition
from pipelines.ingest.teams import parse_teams_messages
from pipelines.ingest.transcript import parse_transcript
from pipelines.ingest.zoom_chat import parse_zoom_chat

#: Bytes read from the start of a file to tell its format.
DETECT_BYTES = 8192
#: Detected formats that are session exports, and the session parser each one takes.
SESSION_FORMATS = {
    FileFormat.ZOOM_CHAT: "zoom_chat",
    FileFormat.WEBVTT: "transcript",
    FileFormat.SRT: "transcript",
    FileFormat.TRANSCRIPT: "transcript",
    FileFormat.TEAMS_JSON: "teams_json",
}


@dataclass(frozen=True)
class Limits:
    """Bounds a parser checks as it reads."""

    max_bytes: int
    max_rows: int
    max_text_length: int


@dataclass
class IngestPlan:
    """What the read pass reads: records, the parser's report, and what comes with them."""

    records: Iterable[NarrativeRecord]
    report: ParseReport
    total: int | None = None
    definition: list[SignifierSpec] | None = None
    #: Polis comment id -> opinion group -> {"agree", "disagree", "passed"}
    tallies: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Polis participant -> opinion group
    groups: dict[str, str] = field(default_factory=dict)
    #: records may point at each other (chats: replies)
    links: bool = False
    #: the names of everyone who wrote or reacted, as the file writes them (sessions)
    participants: set[str] = field(default_factory=set)


def _zone(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _head(stream: BinaryIO) -> bytes:
    head = stream.read(DETECT_BYTES)
    stream.seek(0)
    return head


def plan_session(
    stream: BinaryIO, filename: str | None, options: Mapping[str, Any], limits: Limits
) -> IngestPlan:
    """A chat export or transcript: `options` holds format, held_on, started_at, timezone."""
    fmt = options.get("format") or "auto"
    if fmt == "auto":
        detected = detect_format(filename, _head(stream))
        if detected not in SESSION_FORMATS:
            raise UnreadableFile(
                "This is not a chat export or transcript Weft reads (a Zoom chat .txt, a "
                "WebVTT, SRT or 'Name: text' transcript, or Teams messages JSON); it looks "
                f"like {detected.value}. Batch files go to /uploads."
            )
        fmt = SESSION_FORMATS[detected]
    zone = _zone(options.get("timezone"))
    held_on = options.get("held_on")
    started = options.get("started_at")
    started_at = datetime.fromisoformat(started) if started else None
    if started_at is not None and started_at.tzinfo is None:
        started_at = started_at.replace(tzinfo=zone or UTC)
    if fmt == "zoom_chat":
        result = parse_zoom_chat(
            stream,
            session_date=date.fromisoformat(held_on) if held_on else None,
            tz=zone or UTC,
            max_bytes=limits.max_bytes,
        )
    elif fmt == "teams_json":
        result = parse_teams_messages(stream, max_bytes=limits.max_bytes)
    else:
        result = parse_transcript(stream, session_start=started_at, max_bytes=limits.max_bytes)
    return IngestPlan(result.records, result.report, total=len(result.records), links=True)


def column_mapping(raw: Mapping[str, Any] | None) -> ColumnMapping | None:
    """An upload's `mapping` option as the batch reader takes it."""
    if not raw:
        return None
    return ColumnMapping.from_json(raw)


def _upload_format(files: Mapping[str, BinaryIO], filename: str | None, fmt: str) -> str:
    """The parser an upload with format `auto` takes, from its files and its content."""
    if "definition" in files:
        return "sensemaker"
    if "votes" in files or "participants_votes" in files:
        return "polis"
    detected = detect_format(filename, _head(files["file"]))
    if detected in SESSION_FORMATS:
        raise UnreadableFile(
            f"This looks like a chat export or transcript ({detected.value}); post it "
            "to /sessions with the session's name and date."
        )
    if detected is FileFormat.SENSEMAKER_DEFINITION:
        raise UnreadableFile(
            "This is a SenseMaker framework definition: import it with "
            "/signifiers/import, or send it as 'definition' beside the data file."
        )
    if detected is FileFormat.SENSEMAKER_DATA:
        raise UnreadableFile(
            "This is a SenseMaker data file: send its framework definition JSON "
            "as 'definition' in the same upload."
        )
    return "polis" if detected is FileFormat.POLIS_COMMENTS else fmt


def _polis(files: Mapping[str, BinaryIO], limits: Limits) -> IngestPlan:
    result = parse_polis(
        files["file"],
        participants_votes=files.get("participants_votes"),
        votes=files.get("votes"),
        max_rows=limits.max_rows,
        max_bytes=limits.max_bytes,
    )
    tallies = {
        comment_id: {
            group: {"agree": t.agree, "disagree": t.disagree, "passed": t.passed}
            for group, t in by_group.items()
        }
        for comment_id, by_group in result.tallies.items()
    }
    return IngestPlan(
        result.records,
        result.report,
        total=len(result.records),
        tallies=tallies,
        groups=dict(result.participant_groups),
    )


def plan_upload(
    files: Mapping[str, BinaryIO],
    filenames: Mapping[str, str | None],
    options: Mapping[str, Any],
    specs: Sequence[SignifierSpec],
    limits: Limits,
) -> IngestPlan:
    """A batch file, SenseMaker export or Polis export, by role (`file`, `definition`,
    `votes`, `participants_votes`); `specs` are the project's declared signifiers."""
    fmt = options.get("format") or "auto"
    if fmt == "auto":
        fmt = _upload_format(files, filenames.get("file"), fmt)
    if fmt == "sensemaker":
        if "definition" not in files:
            raise UnreadableFile("A SenseMaker upload needs its framework definition JSON.")
        definition = parse_sensemaker_definition(files["definition"], max_bytes=limits.max_bytes)
        reader = open_sensemaker_data(
            files["file"], definition, max_rows=limits.max_rows, max_bytes=limits.max_bytes
        )
        return IngestPlan(reader, reader.report, definition=list(definition.signifiers))
    if fmt == "polis":
        return _polis(files, limits)
    tabular: TabularFormat | None = None
    for choice in get_args(TabularFormat):
        if fmt == choice:
            tabular = choice
    batch = open_batch(
        files["file"],
        filename=filenames.get("file"),
        fmt=tabular,
        mapping=column_mapping(options.get("mapping")),
        specs=specs,
        max_rows=limits.max_rows,
        max_text_length=limits.max_text_length,
        dayfirst=bool(options.get("dayfirst", True)),
        tz=options.get("timezone") or None,
        sheet=options.get("sheet") or None,
        max_bytes=limits.max_bytes,
    )
    return IngestPlan(batch, batch.report)
