"""The application factory: everything heavy is built in the lifespan, not at import."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from app import problems
from app.config import Settings
from app.jobs.context import build_deps
from app.jobs.process_runner import ProcessJobRunner
from app.jobs.relay import RelayedJobRunner
from app.jobs.runner import JobRunner, ThreadJobRunner
from app.limits import BodySizeLimit
from app.routes import (
    analyses,
    health,
    jobs,
    narratives,
    projects,
    reports,
    sessions,
    signifiers,
    tensions,
    themes,
    trends,
    uploads,
    withdrawal,
)
from app.runtime import Runtime
from app.services.jobs import attach_runner
from app.ui import pages
from app.ui.render import HERE as UI_DIR
from app.ui.screens import curation as curation_screen
from app.ui.screens import map as map_screen
from app.ui.screens import overview, theme, upload
from app.ui.screens import report as report_screen
from app.ui.screens import signifiers as signifier_screen
from app.ui.screens import tensions as tension_screen
from app.ui.screens import trends as trend_screen
from pipelines.embed import Embedder

log = logging.getLogger("weft")


def _settle_the_heap() -> None:
    """Keep the garbage collector's full passes off what start-up built.

    The model, torch and the libraries leave some 600,000 objects behind; a full collection
    walks every one of them (130-280 ms here), pausing every request in the process, and
    under a dashboard's load one ran every couple of seconds. Frozen after start-up, they are
    left out of every later pass."""
    gc.collect()
    gc.freeze()


def create_app(
    settings: Settings | None = None,
    *,
    embedder: Embedder | None = None,
    worker_command: Sequence[str] | None = None,
    settle_heap: bool = False,
) -> FastAPI:
    """Build the service; `embedder` replaces the sentence-transformers model and
    `worker_command` the job worker's command line (tests, benchmarks). `settle_heap` (what
    `weft serve` asks for) freezes what start-up built out of the garbage collector's passes:
    only for a process that serves one app for its whole life."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine, deps = build_deps(settings, embedder)
        session_factory, model = deps.session_factory, deps.embedder
        runner: JobRunner
        if settings.job_runner == "celery":
            from app.jobs.celery_runner import CeleryJobRunner

            runner = CeleryJobRunner(deps)
        elif settings.job_relay is not None:
            # one web process of several: `weft serve` supervises the job worker
            runner = RelayedJobRunner(Path(settings.job_relay))
        elif settings.job_runner == "process":
            runner = ProcessJobRunner(settings, worker_command)
        else:
            # 'auto' in an app built in-process (tests, benchmarks); `weft serve` says process
            runner = ThreadJobRunner(deps, poll_seconds=settings.job_poll_seconds)
        attach_runner(session_factory, runner)
        runner.start()
        app.state.runtime = Runtime(settings, engine, session_factory, model, runner)
        if settle_heap:
            _settle_the_heap()
        log.info("weft ready: database %s, model %s", engine.url.render_as_string(), model.name)
        try:
            yield
        finally:
            runner.stop()
            engine.dispose()

    app = FastAPI(
        title="Weft",
        version="0.1.0",
        summary="Emerging themes, tensions and trends from narratives and meeting chats.",
        lifespan=lifespan,
    )
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    # the map's points and crossed trends run to hundreds of KiB of JSON
    # level 1: on the trends answers, half level 5's CPU (the largest cost of a crossed
    # leaf x month answer after the counting) for 19% of the raw bytes instead of 15%
    app.add_middleware(GZipMiddleware, minimum_size=4096, compresslevel=1)
    problems.install(app)
    for module in (
        health,
        projects,
        signifiers,
        narratives,
        uploads,
        sessions,
        themes,
        tensions,
        trends,
        reports,
        analyses,
        jobs,
    ):
        app.include_router(module.router)
    app.include_router(withdrawal.router)
    app.include_router(pages.router)
    for screen in (
        overview,
        theme,
        curation_screen,
        map_screen,
        trend_screen,
        tension_screen,
        signifier_screen,
        upload,
        report_screen,
    ):
        app.include_router(screen.router)
    problems.document(app)
    app.mount("/ui/static", StaticFiles(directory=UI_DIR / "static"), name="ui-static")

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        """A newcomer at the service's address lands on the dashboard."""
        return RedirectResponse("/ui/", status_code=307)

    return app
