"""Dashboard sign-ins: a project key exchanged for a session, checked on every page."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from app.errors import Unauthorized
from app.services import projects as project_service
from models import ApiKey, Project, Scope, UiSession
from models.base import utcnow

#: How long a sign-in lasts without signing in again.
SESSION_LIFETIME = timedelta(hours=12)


@dataclass(frozen=True)
class Viewer:
    """Who is looking at the dashboard: the project their key opens, and what it allows."""

    project: Project
    scope: Scope
    csrf_token: str

    @property
    def can_upload(self) -> bool:
        return self.scope.allows(Scope.write)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def sign_in(session: Session, secret: str) -> tuple[str, Viewer]:
    """A new session for the key `secret`: (the cookie's token, the viewer)."""
    key = project_service.find_key(session, secret.strip())
    if key is None:
        # the same words whether the key, or its project, never existed or was revoked
        raise Unauthorized("That key was not recognised. Check it, or ask for a new one.")
    token = secrets.token_urlsafe(32)
    record = UiSession(
        id=_hash(token),
        project_id=key.project_id,
        key_id=key.id,
        csrf_token=secrets.token_urlsafe(32),
        expires_at=utcnow() + SESSION_LIFETIME,
    )
    session.add(record)
    session.flush()
    project = session.get_one(Project, key.project_id)
    return token, Viewer(project=project, scope=key.scope, csrf_token=record.csrf_token)


def viewer(session: Session, token: str | None) -> Viewer | None:
    """The viewer of a live session, or None (no cookie, signed out, expired, key revoked)."""
    if not token:
        return None
    record = session.get(UiSession, _hash(token))
    if record is None or record.expires_at <= utcnow():
        return None
    key = session.get(ApiKey, record.key_id)
    if key is None or key.revoked_at is not None:
        return None
    project = session.get(Project, record.project_id)
    if project is None:
        return None
    return Viewer(project=project, scope=key.scope, csrf_token=record.csrf_token)


def sign_out(session: Session, token: str | None) -> None:
    """End the session: its cookie signs nobody in any more."""
    if token:
        session.execute(delete(UiSession).where(UiSession.id == _hash(token)))
