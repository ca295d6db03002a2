"""File uploads and session exports: kept on disk by hash, parsed and stored by a job.

The request only streams the files to the data directory (hashing them on the way), records
a `Source` and queues an ingest job; re-posting the same bytes returns the existing source.
The job reads the files in two passes so that memory stays flat and nothing is half stored:

1. parse and check every record, writing the good ones to a spool file on disk and each
   refused row or line to the report (no transaction is open; progress is reported);
2. store the spool chunk by chunk with Core inserts inside ONE transaction, together with
   the signifiers a SenseMaker definition declares, reactions, reply links and vote tallies.

A file that cannot be read at all fails the job before the second pass, and an error during
it rolls the whole transaction back: a file is stored whole or not at all.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import AsyncGenerator, Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, BinaryIO, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from app.config import Settings
from app.errors import (
    BadRequest,
    NotFound,
    PayloadTooLarge,
    UnprocessableEntity,
    UnreadableUpload,
    UnsupportedMediaType,
    WeftError,
)
from app.jobs.context import JobContext
from app.jobs.registry import job_handler
from app.services import jobs as jobs_service
from app.services import narratives as narrative_service
from app.services import signifiers as signifier_service
from app.services.authors import pseudonym
from app.services.embeddings import EMBED_JOB
from models import (
    Job,
    MeetingSession,
    Narrative,
    Project,
    Reaction,
    Signifier,
    SignifierKind,
    Source,
    SourceStatus,
    VoteTally,
)
from models.base import utcnow
from pipelines.ingest import (
    ColumnMapping,
    FileFormat,
    NarrativeRecord,
    ParseReport,
    SignifierSpec,
    UnreadableFile,
    detect_format,
    open_batch,
    open_sensemaker_data,
    parse_polis,
    parse_sensemaker_definition,
    parse_teams_messages,
    parse_transcript,
    parse_zoom_chat,
)

INGEST_JOB = "ingest"

#: Form fields that hold files, by endpoint.
UPLOAD_FILES = frozenset({"file", "definition", "votes", "participants_votes"})
SESSION_FILES = frozenset({"file"})
DEFINITION_FILES = frozenset({"file"})

_HEAD_BYTES = 8192
_COPY_BUFFER = 1024 * 1024
_MAX_FIELD_BYTES = 256 * 1024
_TITLE_MAX, _ID_MAX, _AUTHOR_MAX, _EMOJI_MAX = 500, 200, 200, 200


# --- receiving -------------------------------------------------------------------------------


@dataclass
class KeptFile:
    """An uploaded file as kept in the data directory."""

    role: str
    filename: str | None
    media_type: str | None
    sha256: str
    size: int
    path: str  # relative to the data directory

    def as_json(self) -> dict[str, object]:
        return {
            "role": self.role,
            "filename": self.filename,
            "media_type": self.media_type,
            "sha256": self.sha256,
            "size": self.size,
            "path": self.path,
        }


@dataclass
class ReceivedForm:
    files: dict[str, KeptFile]
    fields: dict[str, str]


def _keep(upload: UploadFile, role: str, data_dir: Path, project_id: str) -> KeptFile:
    """Copy a received file into the data directory, named by its sha256, hashing as it goes."""
    digest = hashlib.sha256()
    size = 0
    tmp_dir = data_dir / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    partial = tmp_dir / f"upload-{secrets.token_hex(8)}.part"
    try:
        upload.file.seek(0)
        with open(partial, "wb") as out:
            while chunk := upload.file.read(_COPY_BUFFER):
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
        sha = digest.hexdigest()
        relative = Path("uploads") / project_id / sha
        final = data_dir / relative
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(partial, final)
    finally:
        with suppress(FileNotFoundError):
            partial.unlink()
    return KeptFile(
        role=role,
        filename=upload.filename,
        media_type=upload.content_type,
        sha256=sha,
        size=size,
        path=relative.as_posix(),
    )


async def receive(
    request: Request, settings: Settings, project_id: str, roles: frozenset[str]
) -> ReceivedForm:
    """Stream a multipart body into the data directory; 413 once it passes the upload limit."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise UnsupportedMediaType(
            "send the file as multipart/form-data, e.g. curl -F file=@export.csv"
        )
    limit = settings.max_upload_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the upload exceeds the limit of {limit} bytes")

    async def limited() -> AsyncGenerator[bytes, None]:
        received = 0
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                raise PayloadTooLarge(f"the upload exceeds the limit of {limit} bytes")
            yield chunk

    parser = MultiPartParser(
        request.headers,
        limited(),
        max_files=len(roles),
        max_fields=20,
        max_part_size=_MAX_FIELD_BYTES,
    )
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise BadRequest(f"the multipart body could not be read: {exc.message}") from exc
    data_dir = Path(settings.data_dir)
    files: dict[str, KeptFile] = {}
    fields: dict[str, str] = {}
    try:
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                if name not in roles:
                    expected = ", ".join(sorted(roles))
                    raise UnprocessableEntity(
                        f"unexpected file field {name!r}; files go in: {expected}",
                        errors=[{"field": name, "message": "unexpected file field"}],
                    )
                if name in files:
                    raise UnprocessableEntity(f"more than one file in field {name!r}")
                files[name] = await run_in_threadpool(_keep, value, name, data_dir, project_id)
            elif name in fields:
                raise UnprocessableEntity(f"field {name!r} is given twice")
            else:
                fields[name] = value
    finally:
        await form.close()
    if "file" not in files:
        raise UnprocessableEntity(
            "no file was sent: put it in the multipart field 'file', e.g. -F file=@export.csv",
            errors=[{"field": "file", "message": "field required"}],
        )
    return ReceivedForm(files=files, fields=fields)


M = TypeVar("M", bound=BaseModel)


def validate_fields(model: type[M], fields: Mapping[str, str]) -> M:
    """The form fields as `model`; errors are rendered like any request validation error."""
    try:
        return model.model_validate(dict(fields))
    except ValidationError as exc:
        errors = [
            {**e, "loc": ("body", *e["loc"])}
            for e in exc.errors(include_url=False, include_context=False)
        ]
        raise RequestValidationError(errors) from exc


# --- accepting -------------------------------------------------------------------------------


@dataclass
class Accepted:
    source: Source
    job: Job | None
    duplicate: bool
    meeting: MeetingSession | None = None


def _combined_sha(files: Mapping[str, KeptFile]) -> str:
    """One file: its sha256. Several (SenseMaker, Polis): a sha256 over their roles and hashes."""
    if len(files) == 1:
        return next(iter(files.values())).sha256
    material = "\n".join(f"{role}:{files[role].sha256}" for role in sorted(files))
    return hashlib.sha256(material.encode("ascii")).hexdigest()


def _existing_source(session: Session, project: Project, sha256: str) -> Source | None:
    return session.scalars(
        select(Source).where(Source.project_id == project.id, Source.sha256 == sha256)
    ).first()


def _queue(
    session: Session,
    project: Project,
    *,
    kind: str,
    received: ReceivedForm,
    options: dict[str, Any],
    existing: Source | None,
) -> Accepted:
    """A new source with its parse job, or a failed one re-queued with the new options."""
    files = received.files
    main = files["file"]
    if existing is None:
        source = Source(
            project_id=project.id,
            kind=kind,
            filename=main.filename,
            media_type=main.media_type,
            sha256=_combined_sha(files),
            size_bytes=sum(f.size for f in files.values()),
            status=SourceStatus.queued,
            files=[f.as_json() for f in files.values()],
            options=options,
        )
        session.add(source)
        session.flush()
    else:
        # a refused file stored nothing; with other options (a mapping, a format) it may
        # be read this time
        source = existing
        source.kind = kind  # it may have been posted to the other endpoint first
        source.status = SourceStatus.queued
        source.options = options
        source.error = None
        source.report = {}
        source.finished_at = None
    job = jobs_service.enqueue(
        session, INGEST_JOB, project_id=project.id, payload={"source_id": source.id}
    )
    source.job_id = job.id
    session.flush()
    return Accepted(source=source, job=job, duplicate=existing is not None)


def _replay(session: Session, source: Source) -> Accepted:
    """The answer for a file posted again: its source and job as they are."""
    job = session.get(Job, source.job_id) if source.job_id else None
    meeting_id = source.options.get("session_id")
    meeting = session.get(MeetingSession, meeting_id) if isinstance(meeting_id, int) else None
    return Accepted(source=source, job=job, duplicate=True, meeting=meeting)


def check_mapping(session: Session, project: Project, mapping: Mapping[str, Any] | None) -> None:
    """A column mapping may only name declared signifiers."""
    if not mapping:
        return
    declared = {s.key for s in signifier_service.list_signifiers(session, project)}
    signifiers = mapping.get("signifiers") or {}
    unknown = sorted(key for key in signifiers.values() if key not in declared)
    if unknown:
        known = ", ".join(sorted(declared)) or "none declared"
        raise UnprocessableEntity(
            f"the mapping names undeclared signifier(s) {', '.join(map(repr, unknown))} "
            f"(declared: {known}); declare them with POST /v1/projects/{{project}}/signifiers",
            errors=[{"field": "mapping.signifiers", "message": f"unknown: {unknown}"}],
        )


def accept_upload(
    session: Session, project: Project, received: ReceivedForm, options: dict[str, Any]
) -> Accepted:
    """Record an uploaded batch file (or SenseMaker / Polis export) and queue its parsing."""
    files = received.files
    if "definition" in files and ({"votes", "participants_votes"} & set(files)):
        raise UnprocessableEntity("send a SenseMaker definition or Polis votes, not both")
    if "votes" in files and "participants_votes" in files:
        raise UnprocessableEntity("send either 'votes' or 'participants_votes', not both")
    check_mapping(session, project, options.get("mapping"))
    existing = _existing_source(session, project, _combined_sha(files))
    if existing is not None and existing.status != SourceStatus.failed:
        return _replay(session, existing)
    return _queue(
        session, project, kind="file", received=received, options=options, existing=existing
    )


def accept_session(
    session: Session,
    project: Project,
    received: ReceivedForm,
    *,
    name: str,
    held_on: date | None,
    started_at: datetime | None,
    timezone: str,
    attributes: dict[str, Any],
    fmt: str,
) -> Accepted:
    """Record a session's chat export or transcript and queue its parsing."""
    existing = _existing_source(session, project, _combined_sha(received.files))
    if existing is not None and existing.status != SourceStatus.failed:
        return _replay(session, existing)
    if held_on is None and started_at is not None:
        held_on = started_at.date()
    # one meeting, several exports (chat and transcript): the same session
    meeting = session.scalars(
        select(MeetingSession)
        .where(
            MeetingSession.project_id == project.id,
            MeetingSession.name == name,
            MeetingSession.held_on.is_(None)
            if held_on is None
            else MeetingSession.held_on == held_on,
        )
        .order_by(MeetingSession.id)
        .limit(1)
    ).first()
    if meeting is None:
        meeting = MeetingSession(
            project_id=project.id, name=name, held_on=held_on, attributes=attributes
        )
        session.add(meeting)
        session.flush()
    elif attributes:
        meeting.attributes = {**meeting.attributes, **attributes}
    options: dict[str, Any] = {
        "format": fmt,
        "session_id": meeting.id,
        "held_on": held_on.isoformat() if held_on else None,
        "started_at": started_at.isoformat() if started_at else None,
        "timezone": timezone,
    }
    accepted = _queue(
        session, project, kind="session", received=received, options=options, existing=existing
    )
    meeting.source_id = accepted.source.id
    session.flush()
    accepted.meeting = meeting
    return accepted


def get_source(session: Session, project: Project, source_id: int) -> Source:
    source = session.get(Source, source_id)
    if source is None or source.project_id != project.id:
        raise NotFound(f"upload {source_id} not found")
    return source


def get_meeting(session: Session, project: Project, meeting_id: int) -> MeetingSession:
    meeting = session.get(MeetingSession, meeting_id)
    if meeting is None or meeting.project_id != project.id:
        raise NotFound(f"session {meeting_id} not found")
    return meeting


def list_meetings(session: Session, project: Project) -> list[MeetingSession]:
    return list(
        session.scalars(
            select(MeetingSession)
            .where(MeetingSession.project_id == project.id)
            .order_by(MeetingSession.held_on, MeetingSession.id)
        )
    )


def import_definition(session: Session, project: Project, data: bytes) -> list[Signifier]:
    """Declare the signifiers of a SenseMaker framework definition."""
    try:
        definition = parse_sensemaker_definition(data)
    except UnreadableFile as exc:
        raise UnreadableUpload(str(exc)) from exc
    return signifier_service.declare(
        session, project, [_declaration(s) for s in definition.signifiers]
    )


# --- the job ---------------------------------------------------------------------------------


def _declaration(spec: SignifierSpec) -> dict[str, Any]:
    return {k: v for k, v in spec.to_json().items() if v is not None}


def _spec_of(signifier: Signifier) -> SignifierSpec:
    d = signifier.definition
    return SignifierSpec(
        key=signifier.key,
        kind=signifier.kind.value,
        label=signifier.label,
        anchors=list(d.get("anchors") or []),  # type: ignore[call-overload]
        poles=list(d.get("poles") or []),  # type: ignore[call-overload]
        options=list(d.get("options") or []),  # type: ignore[call-overload]
        multiple=bool(d.get("multiple")),
        stones=list(d.get("stones") or []),  # type: ignore[call-overload]
        axes=dict(d.get("axes") or {}),  # type: ignore[call-overload]
    )


def _transient_signifier(spec: SignifierSpec) -> Signifier:
    declaration = _declaration(spec)
    definition = {k: v for k, v in declaration.items() if k not in ("key", "kind", "label")}
    return Signifier(
        key=spec.key, kind=SignifierKind(spec.kind), label=spec.label, definition=definition
    )


@dataclass
class _Plan:
    """What the first pass reads: records, the parser's report, and what comes with them."""

    records: Iterable[NarrativeRecord]
    report: ParseReport
    total: int | None = None
    definition: list[SignifierSpec] | None = None
    tallies: dict[str, dict[str, Any]] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)
    links: bool = False  # records may point at each other (chats)


@dataclass
class _Job:
    """Everything the job reads from the store before parsing (plain values, no session)."""

    source_id: int
    project: Project
    kind: str
    files: dict[str, Path]
    filenames: dict[str, str | None]
    options: dict[str, Any]
    signifiers: dict[str, Signifier]
    session_attributes: dict[str, Any]


def _zone(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _head(path: Path) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(_HEAD_BYTES)


_SESSION_FORMATS = {
    FileFormat.ZOOM_CHAT: "zoom_chat",
    FileFormat.WEBVTT: "transcript",
    FileFormat.SRT: "transcript",
    FileFormat.TRANSCRIPT: "transcript",
    FileFormat.TEAMS_JSON: "teams_json",
}


def _plan_session(job: _Job, opened: dict[str, BinaryIO], settings: Settings) -> _Plan:
    path = job.files["file"]
    fmt = job.options.get("format") or "auto"
    if fmt == "auto":
        detected = detect_format(job.filenames["file"], _head(path))
        if detected not in _SESSION_FORMATS:
            raise UnreadableFile(
                "This is not a chat export or transcript Weft reads (a Zoom chat .txt, a "
                "WebVTT, SRT or 'Name: text' transcript, or Teams messages JSON); it looks "
                f"like {detected.value}. Batch files go to /uploads."
            )
        fmt = _SESSION_FORMATS[detected]
    zone = _zone(job.options.get("timezone"))
    held_on = job.options.get("held_on")
    started = job.options.get("started_at")
    started_at = datetime.fromisoformat(started) if started else None
    if started_at is not None and started_at.tzinfo is None:
        started_at = started_at.replace(tzinfo=zone or UTC)
    stream = opened["file"]
    limit = settings.max_upload_bytes
    if fmt == "zoom_chat":
        result = parse_zoom_chat(
            stream,
            session_date=date.fromisoformat(held_on) if held_on else None,
            tz=zone or UTC,
            max_bytes=limit,
        )
    elif fmt == "teams_json":
        result = parse_teams_messages(stream, max_bytes=limit)
    else:
        result = parse_transcript(stream, session_start=started_at, max_bytes=limit)
    return _Plan(result.records, result.report, total=len(result.records), links=True)


def _mapping(raw: Mapping[str, Any] | None) -> ColumnMapping | None:
    if not raw:
        return None
    return ColumnMapping(
        text=raw.get("text"),
        title=raw.get("title"),
        id=raw.get("id"),
        time=raw.get("time"),
        author=raw.get("author"),
        attributes=raw.get("attributes"),
        signifiers=dict(raw.get("signifiers") or {}),
    )


def _plan_upload(job: _Job, opened: dict[str, BinaryIO], settings: Settings) -> _Plan:
    options = job.options
    fmt = options.get("format") or "auto"
    rows = settings.max_upload_rows
    if fmt == "auto":
        if "definition" in job.files:
            fmt = "sensemaker"
        elif "votes" in job.files or "participants_votes" in job.files:
            fmt = "polis"
        else:
            detected = detect_format(job.filenames["file"], _head(job.files["file"]))
            if detected in _SESSION_FORMATS:
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
            fmt = "polis" if detected is FileFormat.POLIS_COMMENTS else "auto"
    if fmt == "sensemaker":
        if "definition" not in job.files:
            raise UnreadableFile("A SenseMaker upload needs its framework definition JSON.")
        definition = parse_sensemaker_definition(
            opened["definition"], max_bytes=settings.max_upload_bytes
        )
        reader = open_sensemaker_data(opened["file"], definition, max_rows=rows)
        return _Plan(reader, reader.report, definition=list(definition.signifiers))
    if fmt == "polis":
        result = parse_polis(
            opened["file"],
            participants_votes=opened.get("participants_votes"),
            votes=opened.get("votes"),
        )
        tallies = {
            comment_id: {
                group: {"agree": t.agree, "disagree": t.disagree, "passed": t.passed}
                for group, t in by_group.items()
            }
            for comment_id, by_group in result.tallies.items()
        }
        return _Plan(
            result.records,
            result.report,
            total=len(result.records),
            tallies=tallies,
            groups=dict(result.participant_groups),
        )
    batch = open_batch(
        opened["file"],
        filename=job.filenames["file"],
        fmt=None if fmt == "auto" else fmt,  # type: ignore[arg-type]
        mapping=_mapping(options.get("mapping")),
        specs=[_spec_of(s) for s in job.signifiers.values()],
        max_rows=rows,
        max_text_length=settings.max_text_length,
        dayfirst=bool(options.get("dayfirst", True)),
        tz=options.get("timezone") or None,
        sheet=options.get("sheet") or None,
    )
    return _Plan(batch, batch.report)


def _load(ctx: JobContext, source_id: int) -> _Job:
    data_dir = Path(ctx.deps.settings.data_dir)
    with ctx.session() as session:
        source = session.get(Source, source_id)
        if source is None:
            raise UnreadableUpload(f"upload {source_id} no longer exists")
        project = session.get_one(Project, source.project_id)
        source.status = SourceStatus.running
        signifiers = {s.key: s for s in signifier_service.list_signifiers(session, project)}
        attributes: dict[str, Any] = {}
        meeting_id = source.options.get("session_id")
        if isinstance(meeting_id, int):
            meeting = session.get(MeetingSession, meeting_id)
            attributes = dict(meeting.attributes) if meeting else {}
        files = {str(f["role"]): data_dir / str(f["path"]) for f in source.files}
        filenames = {
            str(f["role"]): (str(f["filename"]) if f.get("filename") else None)
            for f in source.files
        }
        return _Job(
            source_id=source.id,
            project=project,
            kind=source.kind,
            files=files,
            filenames=filenames,
            options=dict(source.options),
            signifiers=signifiers,
            session_attributes=attributes,
        )


def _mark_failed(session: Session, source_id: int, message: str) -> None:
    session.execute(
        update(Source)
        .where(Source.id == source_id)
        .values(status=SourceStatus.failed, error=message[:2000], finished_at=utcnow(), report={})
    )


def _fail(ctx: JobContext, source_id: int, message: str) -> None:
    with ctx.session() as session:
        _mark_failed(session, source_id, message)


def _abandoned(session: Session, payload: Mapping[str, Any], message: str) -> None:
    _mark_failed(session, int(payload["source_id"]), message)


class _Checker:
    """Turns parsed records into rows ready to insert, reporting what it leaves out."""

    def __init__(
        self, job: _Job, plan: _Plan, settings: Settings, signifiers: Mapping[str, Signifier]
    ) -> None:
        self.job = job
        self.plan = plan
        self.report = plan.report
        self.max_text = settings.max_text_length
        self.signifiers = signifiers
        meeting_id = job.options.get("session_id")
        self.meeting_id = meeting_id if isinstance(meeting_id, int) else None
        self.occurrences: dict[str, int] = {}

    def row(self, index: int, record: NarrativeRecord) -> dict[str, Any] | None:
        report, location = self.report, record.location
        text = record.text
        if not text.strip():
            report.skip(location, "empty text")
            return None
        if len(text) > self.max_text:
            report.skip(
                location, f"text of {len(text)} characters is over the limit of {self.max_text}"
            )
            return None
        if record.external_id and len(record.external_id) > _ID_MAX:
            report.skip(location, f"id longer than {_ID_MAX} characters")
            return None
        title = record.title
        if title and len(title) > _TITLE_MAX:
            report.add_issue(location, f"title longer than {_TITLE_MAX} characters not stored")
            title = None
        project = self.job.project
        author = pseudonym(project, record.author)
        if author and len(author) > _AUTHOR_MAX:
            report.add_issue(location, f"author name cut to {_AUTHOR_MAX} characters")
            author = author[:_AUTHOR_MAX]
        values: dict[str, list[Any]] = {}
        for key, raw in record.signifiers.items():
            signifier = self.signifiers.get(key)
            if signifier is None:
                report.add_issue(location, f"signifier {key!r} is not declared; value not stored")
                continue
            try:
                na, value = signifier_service.check_value(signifier, raw)
            except signifier_service.InvalidValue as exc:
                report.add_issue(location, f"signifier {key!r}: {exc}; value not stored")
                continue
            values[key] = [na, value]
        attributes: dict[str, Any] = {**self.job.session_attributes, **record.attributes}
        external_id = record.external_id
        if self.plan.tallies or self.plan.groups:
            # Polis comment ids are only unique within one conversation
            if external_id:
                attributes["polis_comment_id"] = external_id
            group = self.plan.groups.get(record.author or "")
            if group:
                attributes["polis_group"] = group
            external_id = None
        at = record.occurred_at
        context = ""
        if self.meeting_id is not None:
            # A line is identified by its session, speaker, time and words; the same words
            # by the same person at the same time, said twice, are the 1st and 2nd line.
            position = str(attributes.get("time") or attributes.get("offset_seconds") or "")
            base = "\x1f".join([text, author or "", at.isoformat() if at else "", position])
            seen = self.occurrences.get(base, 0)
            self.occurrences[base] = seen + 1
            context = f"session:{self.meeting_id}:{position}:{seen}"
        key = narrative_service.dedupe_key(external_id, text, author, at, context=context)
        return {
            "i": index,
            "loc": location,
            "text": text,
            "title": title,
            "external_id": external_id,
            "author": author,
            "at": at.isoformat() if at else None,
            "attributes": attributes,
            "values": values,
            "low": record.low_content,
            "key": key,
            "reply": record.replies_to,
            "reactions": [
                [
                    pseudonym(project, r.author),
                    r.emoji[:_EMOJI_MAX],
                    r.occurred_at.isoformat() if r.occurred_at else None,
                ]
                for r in record.reactions
            ],
        }


def _spool_chunks(path: Path, size: int) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            chunk.append(json.loads(line))
            if len(chunk) >= size:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


def _report_json(report: ParseReport, stored: int, duplicates: int) -> dict[str, Any]:
    return {
        "format": report.format,
        "encoding": report.encoding,
        "records": report.records,
        "stored": stored,
        "duplicates": duplicates,
        "skipped": report.skipped,
        "private_messages": report.private_messages,
        "system_messages": report.system_messages,
        "deleted_messages": report.deleted_messages,
        "reactions": report.reactions,
        "unmatched_reactions": report.unmatched_reactions,
        "replies": report.replies,
        "low_content": report.low_content,
        "issues": [{"location": i.location, "reason": i.reason} for i in report.issues],
        "issues_not_stored": report.issues_not_stored,
    }


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _store(
    ctx: JobContext,
    job: _Job,
    plan: _Plan,
    spool: Path,
    signifiers: Mapping[str, Signifier],
) -> dict[str, Any]:
    """Second pass: the spool into the store, in one transaction."""
    settings = ctx.deps.settings
    report = plan.report
    stored = duplicates = 0
    ids_by_index: dict[int, int] = {}
    replies: list[tuple[int, int]] = []
    comment_ids: dict[str, int] = {}
    embed_job: Job | None = None
    with ctx.session() as session:
        project = session.get_one(Project, job.project.id)
        if plan.definition is not None:
            signifier_service.declare(session, project, [_declaration(s) for s in plan.definition])
        signifier_ids = {s.key: s.id for s in signifier_service.list_signifiers(session, project)}
        for chunk in _spool_chunks(spool, settings.ingest_chunk_size):
            prepared = [
                narrative_service.PreparedNarrative(
                    text=row["text"],
                    dedupe_key=row["key"],
                    title=row["title"],
                    external_id=row["external_id"],
                    author=row["author"],
                    occurred_at=_parse_time(row["at"]),
                    attributes=row["attributes"],
                    values={signifier_ids[k]: (v[0], v[1]) for k, v in row["values"].items()},
                    session_id=job.options.get("session_id"),
                    low_content=row["low"],
                )
                for row in chunk
            ]
            results = narrative_service.insert_chunk(session, project, job.source_id, prepared)
            reaction_rows: list[dict[str, Any]] = []
            for row, (narrative_id, created) in zip(chunk, results, strict=True):
                if plan.links:
                    ids_by_index[row["i"]] = narrative_id
                comment = row["attributes"].get("polis_comment_id")
                if plan.tallies and comment:
                    comment_ids[str(comment)] = narrative_id
                if not created:
                    duplicates += 1
                    report.add_issue(row["loc"], f"already stored as narrative {narrative_id}")
                    continue
                stored += 1
                if row["reply"] is not None:
                    replies.append((narrative_id, row["reply"]))
                reaction_rows.extend(
                    {
                        "project_id": job.project.id,
                        "narrative_id": narrative_id,
                        "source_id": job.source_id,
                        "author": author,
                        "emoji": emoji,
                        "occurred_at": _parse_time(at),
                    }
                    for author, emoji, at in row["reactions"]
                )
            if reaction_rows:
                session.execute(insert(Reaction), reaction_rows)
        links = [
            {"id": nid, "replies_to_id": ids_by_index[target]}
            for nid, target in replies
            if target in ids_by_index and ids_by_index[target] != nid
        ]
        if links:
            # bulk UPDATE by primary key
            session.execute(update(Narrative), links)
        if plan.tallies and comment_ids:
            _store_tallies(session, plan.tallies, comment_ids)
        if stored:
            embed_job = jobs_service.enqueue(
                session, EMBED_JOB, project_id=job.project.id, debounce=True
            )
        result = _report_json(report, stored, duplicates)
        session.execute(
            update(Source)
            .where(Source.id == job.source_id)
            .values(
                status=SourceStatus.stored,
                report=result,
                error=None,
                finished_at=utcnow(),
            )
        )
    return {
        "source_id": job.source_id,
        "session_id": job.options.get("session_id"),
        "embed_job_id": embed_job.id if embed_job else None,
        "report": result,
    }


def _store_tallies(
    session: Session, tallies: Mapping[str, Mapping[str, Any]], comment_ids: Mapping[str, int]
) -> None:
    """Vote tallies replace those stored for the same comments (a newer export counts)."""
    targets = {comment_ids[c] for c in tallies if c in comment_ids}
    ids = sorted(targets)
    for start in range(0, len(ids), 500):
        session.execute(
            delete(VoteTally).where(VoteTally.narrative_id.in_(ids[start : start + 500]))
        )
    rows = [
        {"narrative_id": comment_ids[comment], "group_key": str(group)[:100], **counts}
        for comment, by_group in tallies.items()
        if comment in comment_ids
        for group, counts in by_group.items()
    ]
    if rows:
        session.execute(insert(VoteTally), rows)


def _read(ctx: JobContext, job: _Job, spool: Path) -> tuple[_Plan, dict[str, Signifier]]:
    """First pass: parse and check, writing the rows to store into `spool`."""
    settings = ctx.deps.settings
    missing = [role for role, path in job.files.items() if not path.is_file()]
    if missing:
        raise UnreadableFile(
            f"The uploaded file(s) {', '.join(missing)} are no longer on disk; post them again."
        )
    with _open_all(job.files) as opened:
        plan = (
            _plan_session(job, opened, settings)
            if job.kind == "session"
            else _plan_upload(job, opened, settings)
        )
        signifiers = dict(job.signifiers)
        if plan.definition is not None:
            signifiers.update({s.key: _transient_signifier(s) for s in plan.definition})
        checker = _Checker(job, plan, settings, signifiers)
        ctx.progress(0, plan.total)
        step = settings.ingest_chunk_size
        with open(spool, "w", encoding="utf-8") as out:
            read = 0
            for index, record in enumerate(plan.records):
                row = checker.row(index, record)
                if row is not None:
                    out.write(json.dumps(row, ensure_ascii=False, default=str))
                    out.write("\n")
                read += 1
                if read % step == 0:
                    ctx.progress(read)
        if plan.report.truncated:
            raise UnreadableFile(
                f"The file has more than {settings.max_upload_rows} rows, the limit per file "
                "(WEFT_MAX_UPLOAD_ROWS); nothing was stored. Split it into smaller files."
            )
        report = plan.report
        if read == 0 and not (
            report.skipped
            or report.private_messages
            or report.system_messages
            or report.deleted_messages
        ):
            raise UnreadableFile("The file holds no narratives: no row or message with text.")
        ctx.progress(read, read)
    return plan, signifiers


@contextmanager
def _open_all(files: Mapping[str, Path]) -> Iterator[dict[str, BinaryIO]]:
    """Every file of a source opened for reading, closed together."""
    with ExitStack() as stack:
        yield {role: stack.enter_context(open(path, "rb")) for role, path in files.items()}


@job_handler(INGEST_JOB, on_abandon=_abandoned)
def ingest_source(ctx: JobContext) -> dict[str, Any]:
    """Parse an uploaded source and store its narratives, all or nothing."""
    source_id = int(ctx.payload["source_id"])
    spool_dir = Path(ctx.deps.settings.data_dir) / "tmp"
    spool_dir.mkdir(parents=True, exist_ok=True)
    spool = spool_dir / f"ingest-{ctx.job_id}.jsonl"
    try:
        job = _load(ctx, source_id)
        plan, signifiers = _read(ctx, job, spool)
        return _store(ctx, job, plan, spool, signifiers)
    except UnreadableFile as exc:
        _fail(ctx, source_id, str(exc))
        raise UnreadableUpload(str(exc)) from exc
    except WeftError as exc:
        _fail(ctx, source_id, exc.detail)
        raise
    except Exception as exc:
        _fail(ctx, source_id, f"internal error: {type(exc).__name__}")
        raise
    finally:
        with suppress(FileNotFoundError):
            spool.unlink()
