"""What the service builds at start-up and shares with routes and jobs."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.jobs.runner import JobRunner
from app.services.themes import VectorIndex
from pipelines.embed import Embedder


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    embedder: Embedder
    runner: JobRunner
    vectors: VectorIndex = field(default_factory=VectorIndex)
