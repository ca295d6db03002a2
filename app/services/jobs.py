"""Queueing jobs so that they start only once the request that queued them has committed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, sessionmaker

from app.errors import NotFound
from app.schemas.common import JobRead, Page
from models import Job, JobStatus

_PENDING = "weft_pending_jobs"
_RUNNER = "weft_job_runner"


def attach_runner(session_factory: sessionmaker[Session], runner: Any) -> None:
    """Make every session of `session_factory` hand its queued jobs to `runner` after commit."""
    session_factory.kw.setdefault("info", {})[_RUNNER] = runner

    @event.listens_for(session_factory, "after_commit")
    def _submit(session: Session) -> None:
        pending = session.info.pop(_PENDING, [])
        target = session.info.get(_RUNNER)
        if target is not None:
            for job_id in pending:
                target.submit(job_id)

    @event.listens_for(session_factory, "after_rollback")
    def _forget(session: Session) -> None:
        session.info.pop(_PENDING, None)


def enqueue(
    session: Session,
    kind: str,
    *,
    project_id: str | None,
    payload: dict[str, Any] | None = None,
    debounce: bool = False,
) -> Job:
    """Queue a job; with `debounce`, reuse a still-queued job of the same kind and project."""
    if debounce:
        existing = session.scalars(
            select(Job)
            .where(Job.kind == kind, Job.project_id == project_id, Job.status == JobStatus.queued)
            .order_by(Job.created_at)
            .limit(1)
        ).first()
        if existing is not None:
            return existing
    job = Job(kind=kind, project_id=project_id, payload=payload or {})
    session.add(job)
    session.flush()
    session.info.setdefault(_PENDING, []).append(job.id)
    return job


def hand_on(session: Session, job_id: str) -> None:
    """Give the runner job `job_id` once `session` commits (its turn came in this transaction)."""
    pending = session.info.setdefault(_PENDING, [])
    if job_id not in pending:
        pending.append(job_id)


def get_for_project(session: Session, job_id: str, project_id: str) -> Job:
    job = session.get(Job, job_id)
    # another project's job looks exactly like a missing one
    if job is None or job.project_id != project_id:
        raise NotFound(f"job {job_id!r} not found")
    return job


def list_page(session: Session, project_id: str, limit: int, offset: int) -> Page[JobRead]:
    """A page of the project's jobs, newest first, with their total. The chunk jobs of a
    split embedding job are left out: the job itself stands for them (its progress sums
    theirs), and `GET /jobs/{id}` still reads each one."""
    listed = (Job.project_id == project_id, Job.parent_id.is_(None))
    total = session.scalar(select(func.count()).where(*listed)) or 0
    rows = session.scalars(
        select(Job)
        .where(*listed)
        # jobs queued in one request share a timestamp to the microsecond on some stores
        .order_by(Job.created_at.desc(), Job.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    items = [JobRead.model_validate(job) for job in rows]
    return Page[JobRead](total=total, limit=limit, offset=offset, items=items)
