"""What every process that reads or stores narratives does first (the server, each worker)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.services import pseudonym_secret, retention


def at_start(settings: Settings, session_factory: sessionmaker[Session]) -> None:
    """Load the pseudonym secret (moving keys out of the database), purge expired files."""
    pseudonym_secret.prepare(settings, session_factory)
    with session_factory() as session, session.begin():
        retention.purge(session, Path(settings.data_dir), settings.raw_retention_days)
