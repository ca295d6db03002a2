"""What a running job sees: its id and payload, a way to open sessions, and progress reporting."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, update
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db import build_engine, build_session_factory
from app.services.privacy import at_start
from models import Job
from pipelines.embed import Embedder, SentenceTransformerEmbedder


@dataclass
class JobDeps:
    """Long-lived things a job may use, built once per process."""

    settings: Settings
    session_factory: sessionmaker[Session]
    embedder: Embedder


def build_deps(settings: Settings, embedder: Embedder | None = None) -> tuple[Engine, JobDeps]:
    """A process's engine, session factory and model (the configured one unless given)."""
    engine = build_engine(settings.database_url)
    session_factory = build_session_factory(engine)
    # the pseudonym secret and raw-file retention, before any narrative is read or stored
    at_start(settings, session_factory)
    model = embedder or SentenceTransformerEmbedder(
        settings.embedding_model, settings.embedding_batch_size, settings.embedding_threads
    )
    deps = JobDeps(settings=settings, session_factory=session_factory, embedder=model)
    return engine, deps


@dataclass
class JobContext:
    job_id: str
    kind: str
    project_id: str | None
    payload: dict[str, Any]
    deps: JobDeps

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A short unit of work: committed on success, rolled back on error."""
        with self.deps.session_factory() as session, session.begin():
            yield session

    def progress(self, done: int, total: int | None = None) -> None:
        """Record progress in its own tiny transaction so pollers see it at once."""
        values: dict[str, Any] = {"progress_done": done}
        if total is not None:
            values["progress_total"] = total
        with self.session() as session:
            session.execute(update(Job).where(Job.id == self.job_id).values(**values))
