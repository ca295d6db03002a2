"""Analyses (clustering runs), the themes they found and each narrative's assignment."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    Boolean,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql import false

from models.base import Base, JSONType, UTCDateTime, utcnow


class AnalysisStatus(enum.StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"


class Analysis(Base):
    __tablename__ = "analyses"
    __table_args__ = (Index("ix_analyses_project_id_created_at", "project_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    job_id: Mapped[str | None] = mapped_column(
        ForeignKey("jobs.id", ondelete="SET NULL"), default=None
    )
    # stored as VARCHAR(16) without a CHECK constraint, as it always was
    status: Mapped[AnalysisStatus] = mapped_column(
        Enum(AnalysisStatus, name="analysis_status", native_enum=False, length=16),
        default=AnalysisStatus.running,
    )
    # everything needed to reproduce the run
    parameters: Mapped[dict[str, object]] = mapped_column(JSONType, default=dict)
    seed: Mapped[int] = mapped_column(Integer, default=0)
    model_name: Mapped[str] = mapped_column(String(200))
    versions: Mapped[dict[str, object]] = mapped_column(JSONType, default=dict)
    timings: Mapped[dict[str, object]] = mapped_column(JSONType, default=dict)
    narrative_count: Mapped[int] = mapped_column(Integer, default=0)
    theme_count: Mapped[int] = mapped_column(Integer, default=0)
    unclustered_share: Mapped[float] = mapped_column(Float, default=0.0)
    # plain-language remarks on the result, e.g. "too few narratives to find themes"
    notes: Mapped[list[object]] = mapped_column(JSONType, default=list)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    # narratives placed into this analysis's themes after it ran, without re-clustering,
    # and how many of them fit no existing theme (emerging ones included)
    incremental_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    incremental_unassigned: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # raised by every change to a finished analysis's assignments (placement, withdrawal), so
    # counts kept in memory (app/services/read_facts.py) are read again
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class Theme(Base):
    __tablename__ = "themes"
    __table_args__ = (UniqueConstraint("analysis_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    analysis_id: Mapped[int] = mapped_column(ForeignKey("analyses.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(32))
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("themes.id", ondelete="CASCADE"), default=None
    )
    level: Mapped[int] = mapped_column(Integer, default=0)
    label: Mapped[str] = mapped_column(String(300))
    keywords: Mapped[list[object]] = mapped_column(JSONType, default=list)
    exemplars: Mapped[list[object]] = mapped_column(JSONType, default=list)
    size: Mapped[int] = mapped_column(Integer, default=0)
    share: Mapped[float] = mapped_column(Float, default=0.0)
    # float32 vector, raw bytes
    centroid: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    x: Mapped[float | None] = mapped_column(Float, default=None)
    y: Mapped[float | None] = mapped_column(Float, default=None)
    flags: Mapped[list[object]] = mapped_column(JSONType, default=list)


class ThemeAssignment(Base):
    __tablename__ = "theme_assignments"
    __table_args__ = (
        Index("ix_theme_assignments_analysis_id_theme_id", "analysis_id", "theme_id"),
    )

    analysis_id: Mapped[int] = mapped_column(
        ForeignKey("analyses.id", ondelete="CASCADE"), primary_key=True
    )
    narrative_id: Mapped[int] = mapped_column(
        ForeignKey("narratives.id", ondelete="CASCADE"), primary_key=True
    )
    # None: the narrative fits no theme
    theme_id: Mapped[int | None] = mapped_column(
        ForeignKey("themes.id", ondelete="CASCADE"), default=None
    )
    # the sub-theme (level 1) within theme_id; None when that theme has no sub-themes
    subtheme_id: Mapped[int | None] = mapped_column(
        ForeignKey("themes.id", ondelete="CASCADE"), default=None
    )
    probability: Mapped[float] = mapped_column(Float, default=0.0)
    x: Mapped[float | None] = mapped_column(Float, default=None)
    y: Mapped[float | None] = mapped_column(Float, default=None)
    # placed after the analysis ran, into its existing (or an emerging) theme
    incremental: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class ThemeMembership(Base):
    """Soft membership: a narrative's top three top-level themes with probabilities.

    Rank 0 is the theme of its assignment; ranks 1 and 2 are other themes it also touches.
    A narrative's probabilities sum to at most 1.
    """

    __tablename__ = "theme_memberships"
    __table_args__ = (
        Index("ix_theme_memberships_analysis_id_theme_id", "analysis_id", "theme_id"),
    )

    analysis_id: Mapped[int] = mapped_column(
        ForeignKey("analyses.id", ondelete="CASCADE"), primary_key=True
    )
    narrative_id: Mapped[int] = mapped_column(
        ForeignKey("narratives.id", ondelete="CASCADE"), primary_key=True
    )
    rank: Mapped[int] = mapped_column(Integer, primary_key=True)
    theme_id: Mapped[int] = mapped_column(ForeignKey("themes.id", ondelete="CASCADE"))
    probability: Mapped[float] = mapped_column(Float)


class ThemeLineage(Base):
    """One change between an analysis's themes and the previous analysis's, by key.

    ``kind`` is continued, split, merged, new or ended; ``overlaps`` lists
    ``[previous key, current key, shared narratives]`` for each flow behind it.
    """

    __tablename__ = "theme_lineage"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    analysis_id: Mapped[int] = mapped_column(
        ForeignKey("analyses.id", ondelete="CASCADE"), index=True
    )
    previous_analysis_id: Mapped[int | None] = mapped_column(
        ForeignKey("analyses.id", ondelete="SET NULL"), default=None
    )
    level: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(16))
    previous_keys: Mapped[list[object]] = mapped_column(JSONType, default=list)
    current_keys: Mapped[list[object]] = mapped_column(JSONType, default=list)
    overlaps: Mapped[list[object]] = mapped_column(JSONType, default=list)
    similarity: Mapped[float | None] = mapped_column(Float, default=None)
