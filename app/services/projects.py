"""Projects and their API keys."""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import NotFound, Unauthorized
from app.schemas.projects import KeyIssued, KeyRead, ProjectCreate, ProjectCreated, ProjectRead
from models import ApiKey, Project, Scope
from models.base import utcnow

KEY_PREFIX = "weft_"
#: shortest bootstrap token a service reachable from other machines accepts
MIN_BOOTSTRAP_CHARS = 16


class ExposedWithoutToken(RuntimeError):
    """The service would let anyone on the network create projects."""


def hash_key(key: str) -> str:
    """The stored form of a key: its SHA-256, hex."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass
class IssuedKey:
    record: ApiKey
    secret: str

    def read(self) -> KeyIssued:
        """The key as its one response shows it, secret included."""
        return KeyIssued(**KeyRead.model_validate(self.record).model_dump(), key=self.secret)


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
    session: Session,
    name: str,
    description: str = "",
    keep_author_names: bool = False,
    keep_chat_files: bool = False,
    placeholders: Sequence[str] = (),
) -> tuple[Project, IssuedKey]:
    """Create a project with its first admin key."""
    project = Project(
        name=name,
        description=description,
        keep_author_names=keep_author_names,
        keep_chat_files=keep_chat_files,
        placeholders=list(placeholders),
    )
    session.add(project)
    session.flush()
    return project, issue_key(session, project, Scope.admin, name="initial admin key")


def check_bootstrap(bootstrap_token: str | None, presented: str | None) -> None:
    """Unauthorized unless the bootstrap token, when one is set, is the presented secret."""
    if not bootstrap_token:
        return
    # compared in constant time, so the token cannot be guessed from response times
    if presented is None or not secrets.compare_digest(
        presented.encode("utf-8"), bootstrap_token.encode("utf-8")
    ):
        raise Unauthorized("creating a project needs the bootstrap token as a bearer key")


def is_loopback(host: str) -> bool:
    """Whether binding `host` keeps the service on this machine."""
    if host.strip().lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any interface


def check_exposure(host: str, bootstrap_token: str) -> None:
    """Refuse to serve beyond loopback unless creating a project needs a real token."""
    if is_loopback(host):
        return
    if len(bootstrap_token) >= MIN_BOOTSTRAP_CHARS:
        return
    problem = "is shorter than 16 characters" if bootstrap_token else "is not set"
    raise ExposedWithoutToken(
        f"WEFT_HOST={host} serves Weft beyond this machine, and WEFT_BOOTSTRAP_TOKEN "
        f"{problem}, so anyone who can reach it could create projects. Set "
        "WEFT_BOOTSTRAP_TOKEN to a long random secret, e.g. the output of "
        "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`, and send it as "
        "'Authorization: Bearer <token>' to POST /v1/projects; or bind WEFT_HOST=127.0.0.1."
    )


def new_project(
    session: Session, body: ProjectCreate, bootstrap_token: str | None, presented: str | None
) -> ProjectCreated:
    """`POST /projects`: check the bootstrap token, create the project, show its admin key."""
    check_bootstrap(bootstrap_token, presented)
    project, issued = create_project(
        session,
        body.name,
        body.description,
        body.keep_author_names,
        body.keep_chat_files,
        body.placeholders,
    )
    return ProjectCreated(
        **ProjectRead.model_validate(project).model_dump(), admin_key=issued.read()
    )


def find_key(session: Session, secret: str) -> ApiKey | None:
    """The live key whose hash matches `secret`, if any."""
    record = session.scalars(select(ApiKey).where(ApiKey.key_hash == hash_key(secret))).first()
    if record is None or record.revoked_at is not None:
        return None
    return record


def find_key_and_project(session: Session, secret: str) -> tuple[ApiKey, Project | None] | None:
    """`find_key`, with the key's project read in the same query (every read asks for both)."""
    row = session.execute(
        select(ApiKey, Project)
        .outerjoin(Project, Project.id == ApiKey.project_id)
        .where(ApiKey.key_hash == hash_key(secret))
    ).first()
    if row is None or row[0].revoked_at is not None:
        return None
    return row[0], row[1]


def list_keys(session: Session, project: Project) -> list[ApiKey]:
    """Every key of the project, oldest first."""
    return list(
        session.scalars(
            select(ApiKey).where(ApiKey.project_id == project.id).order_by(ApiKey.created_at)
        )
    )


def revoke_key(session: Session, project: Project, key_id: str) -> ApiKey:
    """Revoke one of the project's keys (again is a no-op); NotFound for another's."""
    record = session.get(ApiKey, key_id)
    if record is None or record.project_id != project.id:
        raise NotFound(f"API key {key_id!r} not found")
    if record.revoked_at is None:
        record.revoked_at = utcnow()
        session.flush()
    return record
