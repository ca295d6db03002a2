"""Signifiers (the questions of an instrument) and the values narratives carry for them."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, Enum, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, JSONType, UTCDateTime, utcnow


class SignifierKind(enum.StrEnum):
    triad = "triad"
    dyad = "dyad"
    stones = "stones"
    mcq = "mcq"
    free_text = "free_text"


class Signifier(Base):
    __tablename__ = "signifiers"
    __table_args__ = (UniqueConstraint("project_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(100))
    kind: Mapped[SignifierKind] = mapped_column(
        Enum(SignifierKind, name="signifier_kind", native_enum=False, length=16)
    )
    label: Mapped[str] = mapped_column(String(1000), default="")
    # anchors / poles / options / stones and axes, by kind
    definition: Mapped[dict[str, object]] = mapped_column(JSONType, default=dict)
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SignifierValue(Base):
    __tablename__ = "signifier_values"
    __table_args__ = (Index("ix_signifier_values_signifier_id", "signifier_id"),)

    narrative_id: Mapped[int] = mapped_column(
        ForeignKey("narratives.id", ondelete="CASCADE"), primary_key=True
    )
    signifier_id: Mapped[int] = mapped_column(
        ForeignKey("signifiers.id", ondelete="CASCADE"), primary_key=True
    )
    # "Not applicable" is its own state, never a zero.
    not_applicable: Mapped[bool] = mapped_column(Boolean, default=False)
    value: Mapped[object | None] = mapped_column(JSONType, default=None)
