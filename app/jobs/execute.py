"""Running one job: claim it, call its handler, and always end in `succeeded` or `failed`.

Which job may start is one SQL condition, `_its_turn`: a queued job whose project has no job
running and no older job queued. The lanes of the thread runner pick from the jobs it holds
for (the oldest first, so each project gets its turn), and every claim re-checks it in the
conditional update that moves the job to `running`, so two lanes or two Celery workers
racing for work never run two jobs of one project at once. The one exception is the chunk jobs
of an embedding job split across workers (app/jobs/fanout.py): a chunk's turn is whenever its
parent is running, so a project's chunks run side by side while its other jobs wait.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, CursorResult, and_, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from app.errors import WeftError
from app.jobs import fanout
from app.jobs.context import JobContext, JobDeps, JobTimeLimitExceeded
from app.jobs.lease import Heartbeat, JobLeaseLost, lease_end, lease_ended, owned_by
from app.jobs.registry import abandon_hook, handler_for, time_limit
from app.services import jobs as job_service
from models import Job, JobStatus
from models.base import new_public_id, utcnow

log = logging.getLogger(__name__)

#: first key of the PostgreSQL advisory locks that serialise claims within one project
_CLAIM_LOCK = 0x57EF7


def _rowcount(result: object) -> int:
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


def _its_turn() -> ColumnElement[bool]:
    """`Job` is queued, and its project has no job running and no job queued before it; or
    `Job` is a chunk whose parent is running (see app/jobs/fanout.py).

    Jobs without a project are never held back by one another."""
    running, older, parent = aliased(Job), aliased(Job), aliased(Job)
    project_busy = exists().where(
        running.project_id == Job.project_id, running.status == JobStatus.running
    )
    queued_before = exists().where(
        older.project_id == Job.project_id,
        older.status == JobStatus.queued,
        # a project's queued chunks belong to its running job: they hold nothing back
        older.parent_id.is_(None),
        or_(
            older.created_at < Job.created_at,
            and_(older.created_at == Job.created_at, older.id < Job.id),
        ),
    )
    chunk_turn = exists().where(parent.id == Job.parent_id, parent.status == JobStatus.running)
    return and_(
        Job.status == JobStatus.queued,
        or_(
            and_(Job.parent_id.is_(None), ~project_busy, ~queued_before),
            and_(Job.parent_id.is_not(None), chunk_turn),
        ),
    )


def _running_in_project() -> ColumnElement[int]:
    """How many jobs of `Job`'s project are running: claims prefer the least busy projects,
    so one project's chunks do not keep another project's jobs waiting for every lane."""
    running = aliased(Job)
    return (
        select(func.count())
        .where(running.project_id == Job.project_id, running.status == JobStatus.running)
        .scalar_subquery()
    )


def _serialise_claims(session: Session, job_id: str) -> None:
    """On PostgreSQL, hold the job's project's claim lock until this transaction ends.

    Under READ COMMITTED two claims of different jobs of one project do not wait for each
    other's rows, and each could see the other's job still queued; the lock makes the second
    wait, and its update then reads the first one's committed claim. SQLite needs none: it
    runs one write at a time, and the claim is a single statement."""
    if session.get_bind().dialect.name != "postgresql":
        return
    project_id = session.scalar(select(Job.project_id).where(Job.id == job_id))
    if project_id is not None:
        session.execute(select(func.pg_advisory_xact_lock(_CLAIM_LOCK, func.hashtext(project_id))))


def claim(deps: JobDeps, job_id: str) -> JobContext | None:
    """Move job `job_id` to running if it is its turn; None when it is not (another worker
    took it, or its project is busy: the job that ends hands the turn on). The run gets a
    token of its own and a lease (app/jobs/lease.py)."""
    token = new_public_id()
    with deps.session_factory() as session, session.begin():
        _serialise_claims(session, job_id)
        claimed = session.execute(
            update(Job)
            .where(Job.id == job_id, _its_turn())
            .values(
                status=JobStatus.running,
                started_at=utcnow(),
                attempts=Job.attempts + 1,
                run_token=token,
                lease_expires_at=lease_end(deps),
            )
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
            limit=time_limit(deps.settings, job.kind),
            run_token=token,
        )


def claim_next(deps: JobDeps) -> JobContext | None:
    """Claim the oldest job whose turn it is, of any project; None when there is none."""
    with deps.session_factory() as session:
        candidates = list(
            session.scalars(
                select(Job.id)
                .where(_its_turn())
                .order_by(_running_in_project(), Job.created_at, Job.id)
                .limit(8)
            )
        )
    for job_id in candidates:
        ctx = claim(deps, job_id)
        if ctx is not None:
            return ctx
    return None


def next_in_project(session: Session, project_id: str | None) -> str | None:
    """The id of the job of `project_id` whose turn it is now, if any (chunks are sent when
    they are queued, so they are not handed on)."""
    if project_id is None:
        return None
    return session.scalar(
        select(Job.id).where(Job.project_id == project_id, Job.parent_id.is_(None), _its_turn())
    )


def _finish(deps: JobDeps, ctx: JobContext, **values: Any) -> None:
    """End the job with `values`, and hand its project's turn to the next job (sent to the
    runner once this commits: a Celery worker dropped it while this one ran). A chunk job that
    failed goes back in the queue while it has attempts left; a chunk that ended settles its
    parent (app/jobs/fanout.py)."""
    with deps.session_factory() as session, session.begin():
        row = session.execute(
            select(Job.progress_total, Job.parent_id, Job.attempts).where(Job.id == ctx.job_id)
        ).one()
        if values.get("status") == JobStatus.succeeded and row.progress_total is not None:
            # a job that counted its work ends at 100%
            values["progress_done"] = row.progress_total
        retry = (
            row.parent_id is not None
            and values.get("status") == JobStatus.failed
            and row.attempts < deps.settings.job_max_attempts
            # not once its parent has ended (another chunk failed for good): it would never run
            and session.scalar(
                select(Job.id).where(Job.id == row.parent_id, fanout.waiting_for_chunks())
            )
            is not None
        )
        if retry:
            # a chunk is retried alone; its error stays on it until the next attempt ends
            values = {**values, "status": JobStatus.queued, "started_at": None, "run_token": None}
        # only this run of a job still running: one given up meanwhile (see give_up) keeps
        # its failure, and one re-queued meanwhile (its lease expired) belongs to a newer run
        ended = session.execute(
            update(Job)
            .where(owned_by(ctx.job_id, ctx.run_token))
            .values(finished_at=None if retry else utcnow(), lease_expires_at=None, **values)
        )
        if _rowcount(ended) != 1:
            return
        if retry:
            log.info(
                "chunk job %s failed (attempt %d); it is queued again", ctx.job_id, row.attempts
            )
            job_service.hand_on(session, ctx.job_id)
        elif row.parent_id is not None:
            error = values.get("error") if values.get("status") == JobStatus.failed else None
            failure = fanout.chunk_failure(ctx.payload, str(error), row.attempts)
            fanout.chunk_ended(session, row.parent_id, failure if error is not None else None)
        following = next_in_project(session, ctx.project_id)
        if following is not None:
            job_service.hand_on(session, following)


def _split(deps: JobDeps, ctx: JobContext, order: fanout.SplitIntoChunks) -> bool:
    """End this run of a job its handler split into chunks: the job stays running, held by
    its chunks, which are queued in the same transaction. False if the run lost its job."""
    with deps.session_factory() as session, session.begin():
        held = session.execute(
            update(Job)
            .where(owned_by(ctx.job_id, ctx.run_token))
            .values(
                run_token=None,
                lease_expires_at=fanout.CHUNKS_HOLD,
                progress_done=0,
                progress_total=order.total,
            )
        )
        if _rowcount(held) != 1:
            return False
        fanout.split(session, ctx.job_id, ctx.project_id, order)
    return True


def execute(
    deps: JobDeps, job_id: str, overtime: tuple[type[BaseException], ...] = ()
) -> JobStatus | None:
    """Run job `job_id` if it is its turn; returns its final status (None: not run)."""
    ctx = claim(deps, job_id)
    if ctx is None:
        return None
    return run_claimed(deps, ctx, overtime)


def run_claimed(
    deps: JobDeps, ctx: JobContext, overtime: tuple[type[BaseException], ...] = ()
) -> JobStatus | None:
    """Call the handler of a claimed job, its lease renewed meanwhile, and record how it
    ended; None when another run took the job over (its outcome is that run's).

    `overtime` names exceptions that mean the job ran out of time (Celery's soft limit); they
    end the job with its time limit's message."""
    assert ctx.run_token is not None
    heartbeat = Heartbeat(deps, ctx.job_id, ctx.run_token, ctx.lease_lost).start()
    try:
        return _run_handler(deps, ctx, overtime)
    finally:
        heartbeat.stop()


def _run_handler(
    deps: JobDeps, ctx: JobContext, overtime: tuple[type[BaseException], ...]
) -> JobStatus | None:
    job_id = ctx.job_id
    try:
        result = handler_for(ctx.kind)(ctx)
    except fanout.SplitIntoChunks as order:
        if not _split(deps, ctx, order):
            return None
        return JobStatus.running
    except JobLeaseLost:
        log.warning("job %s (%s): another run took it over; this run stops", job_id, ctx.kind)
        return None
    except WeftError as exc:
        _finish(deps, ctx, status=JobStatus.failed, error=exc.detail)
        log.info("job %s (%s) failed: %s", job_id, ctx.kind, exc.detail)
        return JobStatus.failed
    except Exception as exc:
        if ctx.limit is not None and isinstance(exc, overtime):
            error = JobTimeLimitExceeded(ctx.limit.message).detail
            log.info("job %s (%s) failed: %s", job_id, ctx.kind, error)
        else:
            log.exception("job %s (%s) crashed", job_id, ctx.kind)
            error = f"internal error: {type(exc).__name__}: {exc}"[:2000]
        _finish(deps, ctx, status=JobStatus.failed, error=error)
        return JobStatus.failed
    _finish(deps, ctx, status=JobStatus.succeeded, result=result or {})
    return JobStatus.succeeded


def queued_ids(deps: JobDeps, limit: int | None = None) -> list[str]:
    """Ids of queued jobs, oldest first."""
    with deps.session_factory() as session:
        stmt = select(Job.id).where(Job.status == JobStatus.queued).order_by(Job.created_at)
        return list(session.scalars(stmt.limit(limit)))


def abandon(
    session: Session, jobs: list[Any], error: str, only_expired: datetime | None = None
) -> int:
    """Fail `jobs` (rows of id, kind, payload) still running with `error`, running their
    abandon hooks; with `only_expired`, only those whose lease ended before it. Returns how
    many were failed here (another process may have ended or renewed one meanwhile)."""
    failed = 0
    for job in jobs:
        condition = [Job.id == job.id, Job.status == JobStatus.running]
        if only_expired is not None:
            condition.append(lease_ended(only_expired))
        ended = session.execute(
            update(Job)
            .where(*condition)
            .values(
                status=JobStatus.failed,
                finished_at=utcnow(),
                error=error,
                run_token=None,
                lease_expires_at=None,
            )
        )
        if _rowcount(ended) != 1:
            continue
        failed += 1
        hook = abandon_hook(job.kind)
        if hook is not None:
            hook(session, job.payload or {}, error)
        fanout.cancel_chunks(session, job.id, "not run: its embedding job was given up")
    return failed


def recover_interrupted(deps: JobDeps) -> tuple[int, int]:
    """Jobs left `running` by a stopped process: re-queue them, or fail them after too many tries.

    A failed job's abandon hook, where its kind has one, marks what it was working on as
    failed in the same transaction. Returns (requeued, failed). Only safe where this process
    is the only worker, as in the embedded default.
    """
    max_attempts = deps.settings.job_max_attempts
    error = f"interrupted: the worker stopped while running it {max_attempts} times"
    with deps.session_factory() as session, session.begin():
        # a job whose chunks run has no worker of its own to have lost
        stopped = and_(
            Job.status == JobStatus.running,
            or_(Job.lease_expires_at.is_(None), Job.lease_expires_at != fanout.CHUNKS_HOLD),
        )
        abandoned = session.execute(
            select(Job.id, Job.kind, Job.payload).where(stopped, Job.attempts >= max_attempts)
        ).all()
        requeued = _rowcount(
            session.execute(
                update(Job)
                .where(stopped, Job.attempts < max_attempts)
                .values(
                    status=JobStatus.queued, started_at=None, run_token=None, lease_expires_at=None
                )
            )
        )
        abandon(session, list(abandoned), error)
    return requeued, len(abandoned)


def give_up(deps: JobDeps, job_id: str, error: str) -> bool:
    """Fail job `job_id` if it is still running (its process was killed at its hard time
    limit), with its abandon hook, and hand its project's turn on; False if it had ended."""
    with deps.session_factory() as session, session.begin():
        job = session.execute(
            select(Job.id, Job.kind, Job.payload, Job.project_id).where(
                Job.id == job_id, Job.status == JobStatus.running
            )
        ).first()
        if job is None:
            return False
        abandon(session, [job], error)
        following = next_in_project(session, job.project_id)
        if following is not None:
            job_service.hand_on(session, following)
    return True


def give_up_overdue(deps: JobDeps, grace: timedelta) -> int:
    """Fail the jobs running for longer than their kind's limit and `grace` (their worker
    died, or was killed at the hard limit, without recording it); returns how many."""
    now, given_up = utcnow(), 0
    with deps.session_factory() as session:
        running = session.execute(
            select(Job.id, Job.kind, Job.started_at).where(Job.status == JobStatus.running)
        ).all()
    for job in running:
        limit = time_limit(deps.settings, job.kind)
        if limit is None or job.started_at is None:
            continue
        if now - job.started_at > timedelta(seconds=limit.seconds) + grace:
            given_up += give_up(deps, job.id, limit.message)
    return given_up
