"""What a running job sees: its id and payload, a way to open sessions, progress reporting,
and its time limit, checked at every progress report and `check_time` call."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, update
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db import build_engine, build_session_factory
from app.errors import WeftError
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


@dataclass(frozen=True)
class TimeLimit:
    """How long a job of some kind may run, and the setting that says so."""

    seconds: float
    setting: str

    @property
    def message(self) -> str:
        env = f"WEFT_{self.setting.upper()}"
        return (
            f"stopped: the job ran past its time limit of {self.seconds:g} s "
            f"(setting {env}); raise {env} if such work is expected to take longer"
        )


class JobTimeLimitExceeded(WeftError):
    """A job went past its kind's time limit; raised at its next check point."""

    title = "Job time limit exceeded"


@dataclass
class JobContext:
    job_id: str
    kind: str
    project_id: str | None
    payload: dict[str, Any]
    deps: JobDeps
    limit: TimeLimit | None = None
    #: `time.monotonic()` when the job was claimed
    started: float = field(default_factory=time.monotonic)

    def check_time(self) -> None:
        """Raise `JobTimeLimitExceeded` once the job has run past its limit; handlers call
        it between steps, and every progress report does."""
        if self.limit is not None and time.monotonic() - self.started > self.limit.seconds:
            raise JobTimeLimitExceeded(self.limit.message)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A short unit of work: committed on success, rolled back on error."""
        with self.deps.session_factory() as session, session.begin():
            yield session

    def progress(self, done: int, total: int | None = None) -> None:
        """Record progress in its own tiny transaction so pollers see it at once; past the
        time limit, raise instead (see `check_time`)."""
        self.check_time()
        values: dict[str, Any] = {"progress_done": done}
        if total is not None:
            values["progress_total"] = total
        with self.session() as session:
            session.execute(update(Job).where(Job.id == self.job_id).values(**values))
