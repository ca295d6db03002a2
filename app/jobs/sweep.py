"""Sweeping for jobs whose lease ran out (see app/jobs/lease.py): re-queued once per attempt,
or failed with their abandon hook after `job_max_attempts`."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, CursorResult, and_, select, update

from app.jobs.context import JobDeps
from app.jobs.execute import abandon, next_in_project
from app.jobs.lease import lease_ended
from app.services import jobs as job_service
from models import Job, JobStatus
from models.base import utcnow

log = logging.getLogger(__name__)


def _expired(now: datetime) -> ColumnElement[bool]:
    """A running job whose lease ended (or that has none)."""
    return and_(Job.status == JobStatus.running, lease_ended(now))


def sweep_expired(deps: JobDeps) -> tuple[list[str], list[str]]:
    """Re-queue the running jobs whose lease expired, or fail those out of attempts.

    Returns (re-queued ids, failed ids). Safe with many sweepers at once: each change is a
    conditional update on the expired lease, so a job is re-queued by one of them only, and a
    job whose lease was renewed meanwhile is left alone. The re-queued jobs reach the runner
    attached to the session factory once the transaction commits.
    """
    now = utcnow()
    settings = deps.settings
    oldest_live_start = now - timedelta(seconds=settings.job_lease_seconds)
    requeued: list[str] = []
    failed: list[str] = []
    with deps.session_factory() as session, session.begin():
        rows = session.execute(
            select(Job.id, Job.kind, Job.payload, Job.project_id, Job.attempts, Job.started_at)
            .where(_expired(now))
            .order_by(Job.created_at)
        ).all()
        for row in rows:
            if row.started_at is not None and row.started_at > oldest_live_start:
                # claimed moments ago by a run that has not beaten yet: not expired
                continue
            if row.attempts < settings.job_max_attempts:
                moved = session.execute(
                    update(Job)
                    .where(Job.id == row.id, _expired(now))
                    .values(
                        status=JobStatus.queued,
                        started_at=None,
                        run_token=None,
                        lease_expires_at=None,
                    )
                )
                assert isinstance(moved, CursorResult)
                if moved.rowcount == 1:
                    requeued.append(row.id)
                    job_service.hand_on(session, row.id)
                continue
            error = (
                f"interrupted: its worker stopped answering (no heartbeat for "
                f"{settings.job_lease_seconds:g} s) on each of {row.attempts} attempts "
                f"(setting WEFT_JOB_MAX_ATTEMPTS)"
            )
            if abandon(session, [row], error, only_expired=now):
                failed.append(row.id)
                following = next_in_project(session, row.project_id)
                if following is not None:
                    job_service.hand_on(session, following)
    if requeued or failed:
        log.warning(
            "jobs whose worker stopped answering: %d re-queued, %d failed: %s",
            len(requeued),
            len(failed),
            ", ".join(requeued + failed),
        )
    return requeued, failed


class Sweeper:
    """Runs `sweep_expired` every heartbeat interval on a daemon thread of this process."""

    def __init__(self, deps: JobDeps, sweep: Callable[[JobDeps], object] = sweep_expired) -> None:
        self.deps = deps
        self._sweep = sweep
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="weft-lease-sweeper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def _run(self) -> None:
        every = self.deps.settings.job_heartbeat_seconds
        while not self._stop.wait(every):
            try:
                self._sweep(self.deps)
            except Exception:
                log.warning("could not sweep expired job leases", exc_info=True)
