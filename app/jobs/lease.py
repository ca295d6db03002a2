"""Leases: a running job proves its worker is alive, and a job whose worker went silent runs again.

A claim gives the job a fresh `run_token` and a lease that ends `job_lease_seconds` later.
While the handler runs, a `Heartbeat` thread of the same process renews the lease every
`job_heartbeat_seconds`, in an update that names the token; so does every progress report.
When the worker dies (kill -9, a lost machine), nothing renews it, and `sweep_expired`, run
by every runner and worker process every heartbeat interval, puts the job back in the queue
(once per attempt) or fails it after `job_max_attempts`, and sends the re-queued jobs to the
runner once its transaction commits.

Every write a run makes to its job row names its token: a presumed-dead worker that wakes up
late finds the token changed, cannot overwrite the new run's progress or result, and stops at
its next check point (`JobLeaseLost`). A broker's redelivery of a job that still holds a live
lease finds it `running` and is dropped by the claim without using an attempt.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import CursorResult, and_, or_, select, update

from app.errors import WeftError
from app.services import jobs as job_service
from models import Job, JobStatus
from models.base import utcnow

if TYPE_CHECKING:
    from app.jobs.context import JobDeps

log = logging.getLogger(__name__)


class JobLeaseLost(WeftError):
    """This run's lease was taken over: the job was re-queued while it ran (its heartbeats
    stopped reaching the store), and another run owns the job now."""

    title = "Job lease lost"


def lease_end(deps: JobDeps) -> object:
    """When a lease taken or renewed now ends."""
    return utcnow() + timedelta(seconds=deps.settings.job_lease_seconds)


def renew(deps: JobDeps, job_id: str, token: str) -> bool:
    """Extend the lease of run `token` of job `job_id`; False when the run no longer owns it."""
    with deps.session_factory() as session, session.begin():
        result = session.execute(
            update(Job)
            .where(Job.id == job_id, Job.run_token == token, Job.status == JobStatus.running)
            .values(lease_expires_at=lease_end(deps))
        )
        assert isinstance(result, CursorResult)
        return int(result.rowcount) == 1


class Heartbeat:
    """Renews one run's lease on a daemon thread until `stop`; `lost` once it could not."""

    def __init__(self, deps: JobDeps, job_id: str, token: str, lost: threading.Event) -> None:
        self.deps, self.job_id, self.token = deps, job_id, token
        self.lost = lost
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._beat, name=f"weft-heartbeat-{job_id[:8]}", daemon=True
        )

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(5)

    def _beat(self) -> None:
        every = self.deps.settings.job_heartbeat_seconds
        while not self._stop.wait(every):
            try:
                owned = renew(self.deps, self.job_id, self.token)
            except Exception:
                # the store is unreachable for now: the lease runs on; try again next beat
                log.warning("job %s: could not renew its lease", self.job_id, exc_info=True)
                continue
            if not owned:
                log.warning("job %s: its lease was taken over; this run stops", self.job_id)
                self.lost.set()
                return


def _expired(now: object) -> object:
    """A running job whose lease ended, or (a job claimed before leases existed) that has
    none and started before the oldest live lease could have."""
    return and_(
        Job.status == JobStatus.running,
        or_(
            Job.lease_expires_at < now,
            Job.lease_expires_at.is_(None),
        ),
    )


def sweep_expired(deps: JobDeps) -> tuple[list[str], list[str]]:
    """Re-queue the running jobs whose lease expired, or fail those out of attempts.

    Returns (re-queued ids, failed ids). Safe with many sweepers at once: each change is a
    conditional update on the expired lease, so a job is re-queued by one of them only, and a
    job whose lease was renewed meanwhile is left alone. The re-queued jobs reach the runner
    attached to the session factory once the transaction commits.
    """
    from app.jobs.execute import abandon, next_in_project

    now = utcnow()
    settings = deps.settings
    oldest_live_start = now - timedelta(seconds=settings.job_lease_seconds)
    requeued: list[str] = []
    failed: list[str] = []
    with deps.session_factory() as session, session.begin():
        rows = session.execute(
            select(Job.id, Job.kind, Job.payload, Job.project_id, Job.attempts, Job.started_at)
            .where(_expired(now))  # type: ignore[arg-type]
            .order_by(Job.created_at)
        ).all()
        for row in rows:
            if row.started_at is not None and row.started_at > oldest_live_start:
                # claimed moments ago by a run that has not beaten yet: not expired
                continue
            if row.attempts < settings.job_max_attempts:
                moved = session.execute(
                    update(Job)
                    .where(Job.id == row.id, _expired(now))  # type: ignore[arg-type]
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
