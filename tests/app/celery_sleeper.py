"""The Celery app of the hard-time-limit test's worker: Weft's tasks, a job kind that shrugs
off the soft time limit (so only the hard one stops it), and the hash embedder instead of
the packaged model."""

from __future__ import annotations

import time
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_process_init

from app.jobs import context, registry
from app.jobs.celery_runner import celery_app
from app.jobs.context import JobContext
from pipelines.embed import HashEmbedder

__all__ = ["celery_app"]

KIND = "test-sleep"
#: a quick kind, to see the project's next job run once the sleeper is given up
AFTER = "test-sleep-after"


def _sleep(ctx: JobContext) -> dict[str, Any]:
    """Sleeps for a minute without a check point, ignoring the soft limit."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            time.sleep(0.05)
        except SoftTimeLimitExceeded:
            continue
    return {"slept": True}


def _after(ctx: JobContext) -> dict[str, Any]:
    return {"after": True}


registry.register(KIND, _sleep, time_limit_setting="job_time_limit_ingest")
registry.register(AFTER, _after)


@worker_process_init.connect
def _no_model(**_kwargs: Any) -> None:
    """In the worker's pool processes only (the test process imports this module too), the
    embedder is built through this name: no model is loaded."""
    context.build_embedder = lambda *_args: HashEmbedder(16)  # type: ignore[assignment,misc]
