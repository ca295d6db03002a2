"""The Celery runner: job ids go to a Redis queue, and Celery worker processes run them.

The API (``WEFT_JOB_RUNNER=celery``) only sends ids; the job rows, their status and progress
stay in the database, which the workers share with it (and the data directory, for uploaded
files). A worker is started with the same ``WEFT_`` settings::

    celery -A app.jobs.celery_runner worker --pool prefork --concurrency 1 --queues weft

Each worker process compiles the analysis code in the background when it starts
(``WEFT_ANALYSIS_WARM_UP``), builds its own engine, session factory and embedding model on its
first job, and sends the jobs its jobs queue (an analysis after an embedding job) the same way.
The message carries nothing but the id; `execute` claims the job with a conditional update,
so a message delivered twice runs the job once, and a job whose project is busy is left
queued: the project's running job sends it again when it ends. A running job holds a lease
its worker renews (app/jobs/lease.py); the API's runner and every worker sweep for expired
leases, so a job whose worker was killed is re-queued and sent again, and a redelivered
message of a job whose lease is live is dropped without using an attempt.

Each message carries its kind's time limits: a soft one (`job_time_limit_<kind>` plus
`job_hard_limit_grace`), which raises inside the job, and a hard one (a grace later), at
which the worker kills the process running it; the worker's parent then sends `give_up`,
which fails the job and what it was working on. The cooperative limit of
`app.jobs.context` usually stops the job first. Time limits need the prefork (or gevent)
pool: the solo pool ignores them.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Any

from celery import Celery, Task
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded
from celery.signals import worker_process_init
from sqlalchemy import select

from app.config import Settings
from app.jobs.context import JobDeps, build_deps
from app.jobs.execute import execute, give_up, give_up_overdue, queued_ids
from app.jobs.registry import time_limit
from app.jobs.sweep import Sweeper, sweep_expired
from app.jobs.warm import start_warm_up
from models import Job

log = logging.getLogger(__name__)

TASK_NAME = "weft.run_job"
GIVE_UP_TASK = "weft.give_up"


def make_celery(settings: Settings) -> Celery:
    """A Celery app on the settings' broker and queue."""
    celery = Celery("weft", broker=settings.broker_url, set_as_current=False)
    celery.conf.update(
        task_default_queue=settings.job_queue,
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        # a publish fails fast when the broker is down; the job stays queued (see submit)
        broker_connection_timeout=3,
    )
    return celery


def time_limits(settings: Settings, kind: str) -> dict[str, float]:
    """The `soft_time_limit` and `time_limit` a job of `kind` is sent with (none: no limit)."""
    limit = time_limit(settings, kind)
    if limit is None:
        return {}
    grace = settings.job_hard_limit_grace
    return {"soft_time_limit": limit.seconds + grace, "time_limit": limit.seconds + 2 * grace}


class CeleryJobRunner:
    """Sends job ids to the Celery queue. A job whose id cannot be sent (the broker is down)
    stays `queued` in the database, and is sent again when a runner next starts."""

    def __init__(self, deps: JobDeps, celery: Celery | None = None) -> None:
        self.deps = deps
        self.celery = celery or make_celery(deps.settings)
        self._sweeper = Sweeper(deps)

    def start(self) -> None:
        grace = timedelta(seconds=2 * self.deps.settings.job_hard_limit_grace)
        overdue = give_up_overdue(self.deps, grace)
        if overdue:
            log.warning("%d jobs were still running past their hard time limit: failed", overdue)
        queued = queued_ids(self.deps)
        for job_id in queued:
            self.submit(job_id)
        if queued:
            log.info("sent %d queued jobs to the workers", len(queued))
        # jobs of a worker that died (kill -9) are re-queued and sent again once their lease
        # runs out: the broker may have dropped their message with the worker
        self._sweeper.start()

    def stop(self) -> None:
        self._sweeper.stop()

    def submit(self, job_id: str) -> None:
        try:
            with self.deps.session_factory() as session:
                kind = session.scalar(select(Job.kind).where(Job.id == job_id))
            limits = time_limits(self.deps.settings, kind or "")
            self.celery.send_task(
                TASK_NAME,
                args=[job_id],
                queue=self.deps.settings.job_queue,
                retry=False,
                **limits,
            )
        except Exception:
            # the job is committed as queued: nothing is lost, it is sent again at start-up
            log.exception("could not send job %s to the broker; it stays queued", job_id)


# --- the worker side: `celery -A app.jobs.celery_runner worker` -------------------------------

celery_app = make_celery(Settings())
_deps: JobDeps | None = None
_deps_lock = threading.Lock()


def worker_deps() -> JobDeps:
    """This worker process's engine, sessions and model, built on its first job."""
    global _deps
    with _deps_lock:
        if _deps is None:
            from app.services.jobs import attach_runner

            _deps = build_deps(Settings())[1]
            # jobs queued by jobs go to the queue too, and so do jobs this worker's sweeper
            # re-queues when another worker died
            runner = CeleryJobRunner(_deps, celery_app)
            attach_runner(_deps.session_factory, runner)
            runner._sweeper.start()
        return _deps


@worker_process_init.connect  # type: ignore[untyped-decorator]
def _warm_up_child(**_: Any) -> None:
    """Each prefork child compiles the analysis code as it starts, before its first job."""
    start_warm_up(Settings())


class JobTask(Task):  # type: ignore[misc]
    """Runs a job; when the worker kills it at its hard time limit, the worker's parent
    process (which has no database of its own) sends `give_up` for it."""

    def on_failure(self, exc: Exception, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        if isinstance(exc, TimeLimitExceeded) and args:
            queue = self.app.conf.task_default_queue
            self.app.send_task(GIVE_UP_TASK, args=[args[0]], queue=queue, retry=False)


@celery_app.task(name=TASK_NAME, base=JobTask)  # type: ignore[untyped-decorator]
def run_job(job_id: str) -> dict[str, Any]:
    deps = worker_deps()
    give_up_overdue(deps, timedelta(seconds=2 * deps.settings.job_hard_limit_grace))
    sweep_expired(deps)
    status = execute(deps, job_id, overtime=(SoftTimeLimitExceeded,))
    return {"job": job_id, "status": status.value if status else "not its turn"}


@celery_app.task(name=GIVE_UP_TASK)  # type: ignore[untyped-decorator]
def give_up_job(job_id: str) -> dict[str, Any]:
    deps = worker_deps()
    with deps.session_factory() as session:
        kind = session.scalar(select(Job.kind).where(Job.id == job_id))
    limit = time_limit(deps.settings, kind or "")
    error = limit.message if limit is not None else "stopped: the worker killed the job"
    return {"job": job_id, "given_up": give_up(deps, job_id, error)}
