"""Segments of long narratives: where each narrative text was cut, and one vector per distinct
segment text per model (shared by all projects, holding no text, like the embedding cache)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, utcnow


class NarrativeSegment(Base):
    """One segment of a long narrative text, by the text's hash: character offsets into its
    canonical form and the segment text's hash (its vector is in ``segment_embeddings``)."""

    __tablename__ = "narrative_segments"
    __table_args__ = (Index("ix_narrative_segments_model_segment_hash", "model", "segment_hash"),)

    model: Mapped[str] = mapped_column(String(200), primary_key=True)
    text_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    start_char: Mapped[int] = mapped_column(Integer)
    end_char: Mapped[int] = mapped_column(Integer)
    segment_hash: Mapped[str] = mapped_column(String(64))


class SegmentEmbedding(Base):
    __tablename__ = "segment_embeddings"

    model: Mapped[str] = mapped_column(String(200), primary_key=True)
    text_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    dimension: Mapped[int] = mapped_column(Integer)
    # raw little-endian float32, never pickled
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
