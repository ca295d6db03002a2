"""The Celery runner: job ids go to a Redis queue, and Celery worker processes run them.

The API (``WEFT_JOB_RUNNER=celery``) only sends ids; the job rows, their status and progress
stay in the database, which the workers share with it (and the data directory, for uploaded
files). A worker is started with the same ``WEFT_`` settings::

    celery -A app.jobs.celery_runner worker --pool solo --queues weft

Each worker process builds its own engine, session factory and embedding model on its first
job, and sends the jobs its jobs queue (an analysis after an embedding job) the same way.
The message carries nothing but the id; `execute` claims the job with a conditional update,
so a message delivered twice runs the job once.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from celery import Celery

from app.config import Settings
from app.jobs.context import JobDeps, build_deps
from app.jobs.execute import execute, queued_ids

log = logging.getLogger(__name__)

TASK_NAME = "weft.run_job"


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


class CeleryJobRunner:
    """Sends job ids to the Celery queue. A job whose id cannot be sent (the broker is down)
    stays `queued` in the database, and is sent again when a runner next starts."""

    def __init__(self, deps: JobDeps, celery: Celery | None = None) -> None:
        self.deps = deps
        self.celery = celery or make_celery(deps.settings)

    def start(self) -> None:
        queued = queued_ids(self.deps)
        for job_id in queued:
            self.submit(job_id)
        if queued:
            log.info("sent %d queued jobs to the workers", len(queued))

    def stop(self) -> None:
        pass

    def submit(self, job_id: str) -> None:
        try:
            self.celery.send_task(
                TASK_NAME, args=[job_id], queue=self.deps.settings.job_queue, retry=False
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
            # jobs queued by jobs go to the queue too
            attach_runner(_deps.session_factory, CeleryJobRunner(_deps, celery_app))
        return _deps


@celery_app.task(name=TASK_NAME)  # type: ignore[untyped-decorator]
def run_job(job_id: str) -> dict[str, Any]:
    status = execute(worker_deps(), job_id)
    return {"job": job_id, "status": status.value if status else "taken"}
