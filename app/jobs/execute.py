"""Running one job: claim it, call its handler, and always end in `succeeded` or `failed`."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import CursorResult, select, update

from app.errors import WeftError
from app.jobs.context import JobContext, JobDeps
from app.jobs.registry import abandon_hook, handler_for
from models import Job, JobStatus
from models.base import utcnow

log = logging.getLogger(__name__)


def _rowcount(result: object) -> int:
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


def claim(deps: JobDeps, job_id: str) -> JobContext | None:
    """Move a queued job to running; None when another worker got there first."""
    with deps.session_factory() as session, session.begin():
        claimed = session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == JobStatus.queued)
            .values(status=JobStatus.running, started_at=utcnow(), attempts=Job.attempts + 1)
        )
        if _rowcount(claimed) != 1:
            return None
        job = session.get_one(Job, job_id)
        return JobContext(
            job_id=job.id,
            kind=job.kind,
            project_id=job.project_id,
            payload=dict(job.payload),
            deps=deps,
        )


def _finish(deps: JobDeps, job_id: str, **values: Any) -> None:
    with deps.session_factory() as session, session.begin():
        session.execute(update(Job).where(Job.id == job_id).values(finished_at=utcnow(), **values))


def execute(deps: JobDeps, job_id: str) -> JobStatus | None:
    """Run job `job_id` if it is still queued; returns its final status."""
    ctx = claim(deps, job_id)
    if ctx is None:
        return None
    try:
        result = handler_for(ctx.kind)(ctx)
    except WeftError as exc:
        _finish(deps, job_id, status=JobStatus.failed, error=exc.detail)
        log.info("job %s (%s) failed: %s", job_id, ctx.kind, exc.detail)
        return JobStatus.failed
    except Exception as exc:
        log.exception("job %s (%s) crashed", job_id, ctx.kind)
        _finish(
            deps,
            job_id,
            status=JobStatus.failed,
            error=f"internal error: {type(exc).__name__}: {exc}"[:2000],
        )
        return JobStatus.failed
    # a job that counted its work ends at 100%
    with deps.session_factory() as session, session.begin():
        total = session.scalar(select(Job.progress_total).where(Job.id == job_id))
        values: dict[str, Any] = {"status": JobStatus.succeeded, "result": result or {}}
        if total is not None:
            values["progress_done"] = total
        session.execute(update(Job).where(Job.id == job_id).values(finished_at=utcnow(), **values))
    return JobStatus.succeeded


def queued_ids(deps: JobDeps, limit: int | None = None) -> list[str]:
    """Ids of queued jobs, oldest first."""
    with deps.session_factory() as session:
        stmt = select(Job.id).where(Job.status == JobStatus.queued).order_by(Job.created_at)
        return list(session.scalars(stmt.limit(limit)))


def recover_interrupted(deps: JobDeps) -> tuple[int, int]:
    """Jobs left `running` by a stopped process: re-queue them, or fail them after too many tries.

    A failed job's abandon hook, where its kind has one, marks what it was working on as
    failed in the same transaction. Returns (requeued, failed). Only safe where this process
    is the only worker, as in the embedded default.
    """
    max_attempts = deps.settings.job_max_attempts
    error = f"interrupted: the worker stopped while running it {max_attempts} times"
    with deps.session_factory() as session, session.begin():
        abandoned = session.execute(
            select(Job.id, Job.kind, Job.payload).where(
                Job.status == JobStatus.running, Job.attempts >= max_attempts
            )
        ).all()
        requeued = _rowcount(
            session.execute(
                update(Job)
                .where(Job.status == JobStatus.running, Job.attempts < max_attempts)
                .values(status=JobStatus.queued, started_at=None)
            )
        )
        if abandoned:
            session.execute(
                update(Job)
                .where(Job.id.in_([job.id for job in abandoned]))
                .values(status=JobStatus.failed, finished_at=utcnow(), error=error)
            )
        for job in abandoned:
            hook = abandon_hook(job.kind)
            if hook is not None:
                hook(session, job.payload or {}, error)
    return requeued, len(abandoned)
