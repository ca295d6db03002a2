"""Accepting file uploads and session exports: a source per distinct content, and its job.

The request has already streamed the files to a staging name in the data directory
(app/routes/multipart.py); this records a `Source`, moves its files to
`uploads/<project>/<source sha256>[.<role>]` (`ReceivedForm.claim`) and queues an `ingest` job
(app/jobs/handlers/ingest.py). Files a request does not claim (a refusal, the same bytes again)
are deleted when it ends. Re-posting the same bytes returns the existing source, whether or not
its file is still kept (app/services/retention.py); only a source whose job failed is queued
again.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import NotFound, UnprocessableEntity, UnreadableUpload
from app.jobs.kinds import JobKind
from app.schemas.common import JobRead
from app.schemas.uploads import MeetingRead, SessionFields, SourceRead, UploadAccepted
from app.services import jobs as jobs_service
from app.services import meetings as meeting_service
from app.services import signifiers as signifier_service
from app.services import upload_progress
from models import Job, MeetingSession, Project, Signifier, Source, SourceStatus
from pipelines.ingest import SignifierSpec, UnreadableFile, parse_sensemaker_definition


@dataclass
class KeptFile:
    """An uploaded file as kept in the data directory."""

    role: str
    filename: str | None
    media_type: str | None
    sha256: str
    size: int
    path: str  # relative to the data directory: a staging name until the file is claimed

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
    data_dir: Path = Path(".")
    #: claimed paths that did not exist before this request (removed again if it fails)
    placed: list[Path] = field(default_factory=list)
    #: the files' staging names not yet claimed by a source
    staged: set[str] = field(init=False)

    def __post_init__(self) -> None:
        self.staged = {f.path for f in self.files.values()}

    def claim(self, project_id: str, source_sha: str) -> list[dict[str, object]]:
        """Move the staged files to their source's names; the `Source.files` entries."""
        for role, kept in self.files.items():
            if kept.path not in self.staged:
                continue
            name = source_sha if role == "file" else f"{source_sha}.{role}"
            relative = Path("uploads") / project_id / name
            final = self.data_dir / relative
            final.parent.mkdir(parents=True, exist_ok=True)
            if not final.exists():
                self.placed.append(final)
            os.replace(self.data_dir / kept.path, final)
            self.staged.discard(kept.path)
            kept.path = relative.as_posix()
        return [f.as_json() for f in self.files.values()]

    def discard(self, *, failed: bool) -> None:
        """Delete what the request left staged (and, when it failed, what it placed)."""
        for relative in self.staged:
            (self.data_dir / relative).unlink(missing_ok=True)
        self.staged.clear()
        if failed:
            for path in self.placed:
                path.unlink(missing_ok=True)
        self.placed.clear()


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
    sha = _combined_sha(files)
    if existing is None:
        source = Source(
            project_id=project.id,
            kind=kind,
            filename=main.filename,
            media_type=main.media_type,
            sha256=sha,
            size_bytes=sum(f.size for f in files.values()),
            status=SourceStatus.queued,
            files=received.claim(project.id, sha),
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
        # its files were deleted when it failed; these are the same bytes
        source.files = received.claim(project.id, sha)
        source.options = options
        source.error = None
        source.report = {}
        source.finished_at = None
    job = jobs_service.enqueue(
        session, JobKind.ingest, project_id=project.id, payload={"source_id": source.id}
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


def source_read(session: Session, source: Source) -> SourceRead:
    """A source as the API answers it, with the progress of its stages."""
    fields = {name: getattr(source, name) for name in SourceRead.model_fields if name != "progress"}
    return SourceRead(**fields, progress=upload_progress.progress(session, source))


def _answer(session: Session, accepted: Accepted, *, with_session: bool) -> UploadAccepted:
    meeting = accepted.meeting if with_session else None
    return UploadAccepted(
        source=source_read(session, accepted.source),
        job=JobRead.model_validate(accepted.job) if accepted.job else None,
        duplicate=accepted.duplicate,
        session=MeetingRead.model_validate(meeting) if meeting else None,
    )


def accept_upload(
    session: Session, project: Project, received: ReceivedForm, options: dict[str, Any]
) -> UploadAccepted:
    """Record an uploaded batch file (or SenseMaker / Polis export) and queue its parsing."""
    accepted = _accept_upload(session, project, received, options)
    return _answer(session, accepted, with_session=False)


def accept_session(
    session: Session, project: Project, received: ReceivedForm, fields: SessionFields
) -> UploadAccepted:
    """Record a session's chat export or transcript and queue its parsing."""
    return _answer(
        session,
        _accept_session(
            session,
            project,
            received,
            name=fields.name,
            held_on=fields.held_on,
            started_at=fields.started_at,
            timezone=fields.timezone,
            attributes=dict(fields.attributes),
            fmt=fields.format,
        ),
        with_session=True,
    )


def _accept_upload(
    session: Session, project: Project, received: ReceivedForm, options: dict[str, Any]
) -> Accepted:
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


def _accept_session(
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
    existing = _existing_source(session, project, _combined_sha(received.files))
    if existing is not None and existing.status != SourceStatus.failed:
        return _replay(session, existing)
    if held_on is None and started_at is not None:
        held_on = started_at.date()
    meeting = meeting_service.find_or_create(session, project, name, held_on, attributes)
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


def read_source(session: Session, project: Project, source_id: int) -> SourceRead:
    """An upload's status, report and progress."""
    return source_read(session, get_source(session, project, source_id))


def recent_sources(session: Session, project: Project, limit: int = 10) -> list[Source]:
    """The project's latest uploads and batches, newest first."""
    return list(
        session.scalars(
            select(Source)
            .where(Source.project_id == project.id)
            .order_by(Source.created_at.desc(), Source.id.desc())
            .limit(limit)
        )
    )


def import_definition(session: Session, project: Project, data: bytes) -> list[Signifier]:
    """Declare the signifiers of a SenseMaker framework definition."""
    try:
        definition = parse_sensemaker_definition(data)
    except UnreadableFile as exc:
        raise UnreadableUpload(str(exc)) from exc
    return signifier_service.declare(
        session, project, [declaration(s) for s in definition.signifiers]
    )


def declaration(spec: SignifierSpec) -> dict[str, Any]:
    """A parsed signifier as `signifiers.declare` takes it."""
    return {k: v for k, v in spec.to_json().items() if v is not None}
