"""Tension and polarity signals of an analysis, per-narrative scores, and declared polarity axes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, JSONType, UTCDateTime, utcnow


class Signal(Base):
    """One finding about one theme (or several) of an analysis, with the evidence behind it."""

    __tablename__ = "signals"
    __table_args__ = (
        Index("ix_signals_analysis_id_theme_key", "analysis_id", "theme_key"),
        Index("ix_signals_analysis_id_kind", "analysis_id", "kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    analysis_id: Mapped[int] = mapped_column(ForeignKey("analyses.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    # the signifier, axis, measure or variable the finding is about
    subject: Mapped[str | None] = mapped_column(String(300), default=None)
    # the group attribute (organisation, role, session, ...) of a divergence or consensus
    attribute: Mapped[str | None] = mapped_column(String(100), default=None)
    # the first theme, for filtering; every theme concerned is in theme_keys
    theme_key: Mapped[str | None] = mapped_column(String(32), default=None)
    theme_keys: Mapped[list[object]] = mapped_column(JSONType, default=list)
    strength: Mapped[float] = mapped_column(Float)
    strength_name: Mapped[str] = mapped_column(String(60))
    flagged: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    test: Mapped[str | None] = mapped_column(String(100), default=None)
    p_value: Mapped[float | None] = mapped_column(Float, default=None)
    p_adjusted: Mapped[float | None] = mapped_column(Float, default=None)
    correction: Mapped[str | None] = mapped_column(String(8), default=None)
    interval_low: Mapped[float | None] = mapped_column(Float, default=None)
    interval_high: Mapped[float | None] = mapped_column(Float, default=None)
    evidence: Mapped[dict[str, object]] = mapped_column(JSONType, default=dict)
    # side name -> narrative ids
    exemplars: Mapped[dict[str, object]] = mapped_column(JSONType, default=dict)


class NarrativeScore(Base):
    """A number an analysis gave a narrative: its sentiment, its position on a declared axis."""

    __tablename__ = "narrative_scores"
    __table_args__ = (Index("ix_narrative_scores_narrative_id", "narrative_id"),)

    analysis_id: Mapped[int] = mapped_column(
        ForeignKey("analyses.id", ondelete="CASCADE"), primary_key=True
    )
    narrative_id: Mapped[int] = mapped_column(
        ForeignKey("narratives.id", ondelete="CASCADE"), primary_key=True
    )
    # "sentiment", "axis:<key>", "consensus", "divisiveness"
    name: Mapped[str] = mapped_column(String(120), primary_key=True)
    value: Mapped[float] = mapped_column(Float)


class PolarityAxis(Base):
    """A polarity a project declares as two pole descriptions; analyses place narratives on it."""

    __tablename__ = "polarity_axes"
    __table_args__ = (UniqueConstraint("project_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(100))
    label: Mapped[str] = mapped_column(String(300), default="")
    left: Mapped[str] = mapped_column(String(500))
    right: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
