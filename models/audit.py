"""The audit trail of deletions: what was taken out, how much, when and by which key.

A record never holds content (no text, author, name or search term), and it has no foreign
key, so it outlives the project it describes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, utcnow


class AuditRecord(Base):
    __tablename__ = "audit_records"
    __table_args__ = (Index("ix_audit_records_project_id_created_at", "project_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # a plain copy of the project's id, no foreign key: the record survives the project
    project_id: Mapped[str] = mapped_column(String(32))
    # narrative, upload, session, withdrawal or project
    action: Mapped[str] = mapped_column(String(32))
    # the id deleted (a narrative, source or session id), or how a withdrawal searched
    # ("author" or "external_id"), never the name or id searched for
    target: Mapped[str | None] = mapped_column(String(64), default=None)
    narratives: Mapped[int] = mapped_column(Integer, default=0)
    sources: Mapped[int] = mapped_column(Integer, default=0)
    sessions: Mapped[int] = mapped_column(Integer, default=0)
    files: Mapped[int] = mapped_column(Integer, default=0)
    reactions: Mapped[int] = mapped_column(Integer, default=0)
    key_id: Mapped[str | None] = mapped_column(String(32), default=None)
    key_name: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
