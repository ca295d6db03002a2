"""What a running job sees: its id and payload, a way to open sessions, progress reporting,
and its time limit, checked at every progress report and `check_time` call.

Each unit of work a run opens with `session()` ends by renewing its lease under its run token
(app/jobs/lease.py), in the same transaction: a run that lost its job to a newer one commits
nothing more, and the job row stays locked until the unit commits, so no sweeper re-queues it
in between."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import CursorResult, Engine, update
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db import build_engine, build_session_factory
from app.embedder import build_embedder
from app.errors import WeftError
from app.jobs.lease import JobLeaseLost, lease_end, owned_by
from app.services.privacy import at_start
from models import Job
from pipelines.embed import Embedder

LEASE_LOST = (
    "this run lost its job: its heartbeats stopped reaching the store, so the job was "
    "re-queued and another run owns it now"
)


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
    model = embedder or build_embedder(settings)
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
    #: this run's token (see app/jobs/lease.py); None for a context made outside a claim
    run_token: str | None = None
    #: set by the run's heartbeat when another run took the job over
    lease_lost: threading.Event = field(default_factory=threading.Event)

    def check_time(self) -> None:
        """Raise `JobTimeLimitExceeded` once the job has run past its limit; handlers call
        it between steps, and every progress report does."""
        if self.lease_lost.is_set():
            raise JobLeaseLost(LEASE_LOST)
        if self.limit is not None and time.monotonic() - self.started > self.limit.seconds:
            raise JobTimeLimitExceeded(self.limit.message)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A short unit of work: committed on success, rolled back on error, and (for a
        claimed run) only while the run still owns its job."""
        with self.deps.session_factory() as session, session.begin():
            yield session
            self._hold_lease(session)

    def _hold_lease(self, session: Session, **values: Any) -> None:
        """Renew this run's lease in `session`'s transaction (with `values`); raise
        `JobLeaseLost`, rolling the unit back, when another run owns the job now."""
        if self.run_token is None:
            if values:
                session.execute(update(Job).where(Job.id == self.job_id).values(**values))
            return
        renewed = session.execute(
            update(Job)
            .where(owned_by(self.job_id, self.run_token))
            .values(lease_expires_at=lease_end(self.deps), **values)
        )
        assert isinstance(renewed, CursorResult)
        if renewed.rowcount != 1:
            self.lease_lost.set()
            raise JobLeaseLost(LEASE_LOST)

    def progress(self, done: int, total: int | None = None) -> None:
        """Record progress in its own tiny transaction so pollers see it at once; past the
        time limit, raise instead (see `check_time`)."""
        self.check_time()
        values: dict[str, Any] = {"progress_done": done}
        if total is not None:
            values["progress_total"] = total
        with self.deps.session_factory() as session, session.begin():
            self._hold_lease(session, **values)
