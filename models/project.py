"""Projects: the tenants. Everything belongs to exactly one project."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, String, false
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, JSONType, UTCDateTime, new_public_id, utcnow


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_public_id)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(2000), default="")
    # Authors are pseudonymised with a keyed hash unless the project keeps real names.
    keep_author_names: Mapped[bool] = mapped_column(Boolean, default=False)
    # Keys are derived from the service secret, outside the database; a project older than
    # the secret keeps its key here only until start-up moves it into the secret file.
    pseudonym_key: Mapped[str | None] = mapped_column(String(64), default=None)
    # Chat exports and transcripts are deleted once parsed, unless the project keeps them
    # (then with every private message removed).
    keep_chat_files: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The project's own "no answer" strings (its form's default text, "keine Angabe"...):
    # answers equal to one of them are stored but left out of the themes.
    placeholders: Mapped[list[str]] = mapped_column(JSONType, default=list, server_default="[]")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
