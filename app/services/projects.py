"""Projects and their API keys."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import NotFound
from models import ApiKey, Project, Scope
from models.base import utcnow

KEY_PREFIX = "weft_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass
class IssuedKey:
    record: ApiKey
    secret: str


def issue_key(session: Session, project: Project, scope: Scope, name: str = "") -> IssuedKey:
    """Create a key; its secret is returned here once and only its hash is kept."""
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    record = ApiKey(
        project_id=project.id,
        scope=scope,
        name=name,
        key_hash=hash_key(secret),
        prefix=secret[: len(KEY_PREFIX) + 6],
    )
    session.add(record)
    session.flush()
    return IssuedKey(record=record, secret=secret)


def create_project(
    session: Session, name: str, description: str = "", keep_author_names: bool = False
) -> tuple[Project, IssuedKey]:
    """Create a project with its first admin key."""
    project = Project(name=name, description=description, keep_author_names=keep_author_names)
    session.add(project)
    session.flush()
    return project, issue_key(session, project, Scope.admin, name="initial admin key")


def find_key(session: Session, secret: str) -> ApiKey | None:
    """The live key whose hash matches `secret`, if any."""
    record = session.scalars(select(ApiKey).where(ApiKey.key_hash == hash_key(secret))).first()
    if record is None or record.revoked_at is not None:
        return None
    return record


def list_keys(session: Session, project: Project) -> list[ApiKey]:
    return list(
        session.scalars(
            select(ApiKey).where(ApiKey.project_id == project.id).order_by(ApiKey.created_at)
        )
    )


def revoke_key(session: Session, project: Project, key_id: str) -> ApiKey:
    record = session.get(ApiKey, key_id)
    if record is None or record.project_id != project.id:
        raise NotFound(f"API key {key_id!r} not found")
    if record.revoked_at is None:
        record.revoked_at = utcnow()
        session.flush()
    return record
