from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.deps import RuntimeDep
from app.jobs.process_runner import ProcessJobRunner
from app.jobs.relay import RelayedJobRunner
from app.jobs.runner import JobRunner, ThreadJobRunner
from app.services import health as health_service

router = APIRouter(tags=["health"])


def _jobs(runner: JobRunner) -> dict[str, Any]:
    """Which runner runs the jobs; for the process runner, its worker's state."""
    if isinstance(runner, ProcessJobRunner | RelayedJobRunner):
        # with several web processes, as the `weft serve` process supervising it last said
        return {"runner": "process", "worker": runner.status()}
    if isinstance(runner, ThreadJobRunner):
        return {"runner": "thread", "lanes": runner.lanes}
    return {"runner": "celery"}


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(runtime: RuntimeDep) -> dict[str, Any]:
    """The database answers and the embedding model is loaded; `jobs` says how jobs run and,
    with the process runner, whether its worker is alive (pid, restarts), which does not
    stop the server from serving reads."""
    report: dict[str, Any] = health_service.readiness(runtime.engine, runtime.embedder.name)
    report["jobs"] = _jobs(runtime.runner)
    return report
