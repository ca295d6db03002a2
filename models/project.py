"""Projects: the tenants. Everything belongs to exactly one project."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, new_public_id, utcnow


def _new_pseudonym_key() -> str:
    return secrets.token_hex(32)


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_public_id)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(2000), default="")
    # Authors are pseudonymised with a keyed hash unless the project keeps real names.
    keep_author_names: Mapped[bool] = mapped_column(Boolean, default=False)
    pseudonym_key: Mapped[str] = mapped_column(String(64), default=_new_pseudonym_key)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
