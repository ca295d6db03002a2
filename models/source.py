"""Sources: one upload each (a JSON batch, a file, a session's chat export)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, JSONType, UTCDateTime, utcnow


class SourceStatus(enum.StrEnum):
    """Where an upload is: waiting for its parse job, being parsed, stored, or refused."""

    queued = "queued"
    running = "running"
    stored = "stored"
    failed = "failed"


class Source(Base):
    __tablename__ = "sources"
    __table_args__ = (UniqueConstraint("project_id", "sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    filename: Mapped[str | None] = mapped_column(String(500), default=None)
    media_type: Mapped[str | None] = mapped_column(String(200), default=None)
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    report: Mapped[dict[str, object]] = mapped_column(JSONType, default=dict)
    # JSON batches are stored by the request itself; uploads are parsed by a job
    status: Mapped[SourceStatus] = mapped_column(
        Enum(SourceStatus, name="source_status", native_enum=False, length=16),
        default=SourceStatus.stored,
        server_default=SourceStatus.stored.value,
    )
    job_id: Mapped[str | None] = mapped_column(
        ForeignKey("jobs.id", ondelete="SET NULL"), default=None
    )
    # the uploaded files kept on disk: role, filename, media type, sha256, size, path
    files: Mapped[list[dict[str, object]]] = mapped_column(JSONType, default=list)
    # how to parse them (format, column mapping, session times ...)
    options: Mapped[dict[str, object]] = mapped_column(JSONType, default=dict)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
