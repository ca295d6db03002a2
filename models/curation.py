"""Curation: a convenor's edits of a project's themes, kept as data of the project.

An edit names themes by their stable keys, not by row ids, so every later analysis can apply
it again while those keys continue (see ``app/services/curation_state.py``).
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, JSONType, UTCDateTime, utcnow


class EditKind(enum.StrEnum):
    label = "label"
    hidden = "hidden"
    pinned = "pinned"
    merge = "merge"
    # not "split": that would shadow str.split
    split_theme = "split"


class ThemeEdit(Base):
    """One edit: rename, hide or unhide, pin or unpin, merge or split.

    ``keys`` are the themes it names (a merge's first key is the one the merged theme keeps);
    ``value`` is the label (a string or null), the flag (a boolean), or for a merge its label.
    ``analysis_id`` is the analysis the edit was made on, or was last confirmed on: lineage
    after it tells whether its keys continued.
    """

    __tablename__ = "theme_edits"
    __table_args__ = (Index("ix_theme_edits_project_id_id", "project_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    kind: Mapped[EditKind] = mapped_column(
        Enum(EditKind, name="theme_edit_kind", native_enum=False, length=16)
    )
    keys: Mapped[list[object]] = mapped_column(JSONType, default=list)
    value: Mapped[object] = mapped_column(JSONType, default=None, nullable=True)
    analysis_id: Mapped[int | None] = mapped_column(
        ForeignKey("analyses.id", ondelete="SET NULL"), default=None
    )
    key_id: Mapped[str | None] = mapped_column(String(32), default=None)
    key_name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    confirmed_by: Mapped[str | None] = mapped_column(String(200), default=None)
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    undone_by: Mapped[str | None] = mapped_column(String(200), default=None)
