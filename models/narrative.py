"""Narratives: one unit of text (a story, a chat message, a transcript turn)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, JSONType, UTCDateTime, utcnow


class Narrative(Base):
    __tablename__ = "narratives"
    __table_args__ = (
        # the external id when given, else a hash of text + author + time:
        # re-posting stores nothing twice
        UniqueConstraint("project_id", "dedupe_key"),
        Index("ix_narratives_project_id_occurred_at", "project_id", "occurred_at"),
        Index("ix_narratives_project_id_source_id", "project_id", "source_id"),
        Index("ix_narratives_project_id_session_id", "project_id", "session_id"),
        Index("ix_narratives_text_hash", "text_hash"),
        Index("ix_narratives_replies_to_id", "replies_to_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    source_id: Mapped[int | None] = mapped_column(
        ForeignKey("sources.id", ondelete="SET NULL"), default=None
    )
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("sessions.id", ondelete="SET NULL"), default=None
    )
    external_id: Mapped[str | None] = mapped_column(String(200), default=None)
    title: Mapped[str | None] = mapped_column(String(500), default=None)
    text: Mapped[str] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(String(200), default=None)
    occurred_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    attributes: Mapped[dict[str, object]] = mapped_column(JSONType, default=dict)
    # sha256 of the canonical text: the embedding cache key together with the model name
    text_hash: Mapped[str] = mapped_column(String(64))
    dedupe_key: Mapped[str] = mapped_column(String(80))
    low_content: Mapped[bool] = mapped_column(Boolean, default=False)
    # why it is low content: a pleasantry, a survey placeholder, the question repeated...
    # (pipelines.nonresponse); None for content and for rows stored before reasons were kept
    low_content_reason: Mapped[str | None] = mapped_column(String(40), default=None)
    # the chat message this one answers (a reply that carries content of its own)
    replies_to_id: Mapped[int | None] = mapped_column(
        ForeignKey("narratives.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class NarrativeAttribute(Base):
    """One (key, value) of a narrative's attributes, as text, so group filters use an index."""

    __tablename__ = "narrative_attributes"
    __table_args__ = (
        Index("ix_narrative_attributes_project_id_key_value", "project_id", "key", "value"),
    )

    narrative_id: Mapped[int] = mapped_column(
        ForeignKey("narratives.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    value: Mapped[str] = mapped_column(String(500))
