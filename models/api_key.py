"""API keys: stored hashed, each scoped to one project."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, new_public_id, utcnow


class Scope(enum.StrEnum):
    read = "read"
    write = "write"
    admin = "admin"

    @property
    def rank(self) -> int:
        return {"read": 0, "write": 1, "admin": 2}[self.value]

    def allows(self, needed: Scope) -> bool:
        return self.rank >= needed.rank


class ApiKey(Base):
    __tablename__ = "api_keys"
    __table_args__ = (Index("ix_api_keys_project_id", "project_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_public_id)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    scope: Mapped[Scope] = mapped_column(
        Enum(Scope, name="api_key_scope", native_enum=False, length=16)
    )
    name: Mapped[str] = mapped_column(String(200), default="")
    # sha256 of the key; keys are 256-bit random tokens, so a fast hash is enough.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
