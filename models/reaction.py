"""Reactions to chat messages and vote tallies on comments: attached to a narrative, never one."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime


class Reaction(Base):
    """One reaction (an emoji, or its name) by one person to one narrative."""

    __tablename__ = "reactions"
    __table_args__ = (Index("ix_reactions_narrative_id", "narrative_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    narrative_id: Mapped[int] = mapped_column(ForeignKey("narratives.id", ondelete="CASCADE"))
    source_id: Mapped[int | None] = mapped_column(
        ForeignKey("sources.id", ondelete="SET NULL"), default=None
    )
    # pseudonymised like narrative authors
    author: Mapped[str | None] = mapped_column(String(200), default=None)
    emoji: Mapped[str] = mapped_column(String(200))
    occurred_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class VoteTally(Base):
    """Agree / disagree / pass votes on one narrative (a Polis comment) by one population:
    everyone (`group_key` "all") or one opinion group."""

    __tablename__ = "vote_tallies"

    narrative_id: Mapped[int] = mapped_column(
        ForeignKey("narratives.id", ondelete="CASCADE"), primary_key=True
    )
    group_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    agree: Mapped[int] = mapped_column(Integer, default=0)
    disagree: Mapped[int] = mapped_column(Integer, default=0)
    passed: Mapped[int] = mapped_column(Integer, default=0)
