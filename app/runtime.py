"""What the service builds at start-up and shares with routes and jobs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.services.themes import VectorIndex
from pipelines.embed import Embedder

if TYPE_CHECKING:
    from app.jobs.runner import JobRunner


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    embedder: Embedder
    runner: JobRunner
    vectors: VectorIndex = field(default_factory=VectorIndex)
