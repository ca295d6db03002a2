"""Dashboard sign-ins: a project key exchanged for a session cookie."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, utcnow


class UiSession(Base):
    __tablename__ = "ui_sessions"
    __table_args__ = (Index("ix_ui_sessions_key_id", "key_id"),)

    # sha256 of the cookie's random token: a stolen table does not sign anyone in
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    # the key signed in with; revoking it ends its sessions
    key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"))
    # the token every unsafe request of the session must carry (form field or header)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
