"""Job leases in one process: claims take a lease, heartbeats renew it, sweepers re-queue or fail
jobs whose lease ran out, and a run that lost its job can no longer write to it.

The runs with real worker processes killed mid-job are in test_job_leases_workers.py."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import build_session_factory
from app.jobs import registry
from app.jobs.context import JobContext, JobDeps
from app.jobs.execute import claim, execute, run_claimed
from app.jobs.lease import JobLeaseLost
from app.jobs.runner import ThreadJobRunner
from app.jobs.sweep import sweep_expired
from app.services.jobs import attach_runner
from models import Analysis, AnalysisStatus, Job, JobStatus, Project
from models.base import utcnow
from tests.conftest import CountingEmbedder

runs: list[str] = []


def _record(ctx: JobContext) -> dict[str, Any]:
    runs.append(ctx.job_id)
    return {"ran": ctx.run_token}


def _long(ctx: JobContext) -> dict[str, Any]:
    """Reports progress until told to stop; long enough for a heartbeat or three."""
    for step in range(200):
        ctx.progress(step, 200)
        time.sleep(0.02)
    return {"long": True}


registry.register("test-lease-record", _record)
registry.register("test-lease-long", _long)


class RecordingRunner:
    def __init__(self) -> None:
        self.submitted: list[str] = []

    def submit(self, job_id: str) -> None:
        self.submitted.append(job_id)


@pytest.fixture
def quick(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"job_lease_seconds": 0.4, "job_heartbeat_seconds": 0.05, "job_max_attempts": 2}
    )


@pytest.fixture
def deps(quick: Settings, engine: Engine) -> JobDeps:
    return JobDeps(
        settings=quick, session_factory=build_session_factory(engine), embedder=CountingEmbedder()
    )


@pytest.fixture
def steady(deps: JobDeps) -> JobDeps:
    """Deps whose lease outlasts any pause of a loaded machine, for tests of a live lease."""
    return replace(deps, settings=deps.settings.model_copy(update={"job_lease_seconds": 60}))


@pytest.fixture
def project_id(engine: Engine) -> str:
    with Session(engine) as session, session.begin():
        project = Project(name="Leases")
        session.add(project)
        session.flush()
        return project.id


def _job(engine: Engine, project_id: str, kind: str, **fields: Any) -> str:
    with Session(engine) as session, session.begin():
        job = Job(project_id=project_id, kind=kind, **fields)
        session.add(job)
        session.flush()
        return job.id


def _row(engine: Engine, job_id: str) -> Job:
    with Session(engine) as session:
        job = session.get_one(Job, job_id)
        session.expunge(job)
        return job


def _expire(engine: Engine, job_id: str) -> None:
    """What a dead worker leaves: its lease ended a while ago."""
    past = utcnow() - timedelta(seconds=60)
    with Session(engine) as session, session.begin():
        session.execute(
            update(Job).where(Job.id == job_id).values(lease_expires_at=past, started_at=past)
        )


class TestClaimAndHeartbeat:
    def test_a_claim_takes_a_lease_and_a_token_of_its_own(
        self, steady: JobDeps, engine: Engine, project_id: str
    ) -> None:
        job_id = _job(engine, project_id, "test-lease-record")
        ctx = claim(steady, job_id)
        assert ctx is not None and ctx.run_token
        row = _row(engine, job_id)
        assert row.run_token == ctx.run_token
        assert row.lease_expires_at is not None and row.lease_expires_at > utcnow()

    def test_the_heartbeat_renews_the_lease_while_the_job_runs(
        self, deps: JobDeps, engine: Engine, project_id: str
    ) -> None:
        job_id = _job(engine, project_id, "test-lease-long")
        ctx = claim(deps, job_id)
        assert ctx is not None
        first = _row(engine, job_id).lease_expires_at
        seen: list[object] = []

        def watch() -> None:
            for _ in range(20):
                time.sleep(0.1)
                seen.append(_row(engine, job_id).lease_expires_at)

        watcher = threading.Thread(target=watch)
        watcher.start()
        assert run_claimed(deps, ctx) == JobStatus.succeeded
        watcher.join()
        renewed = [s for s in seen if s is not None]
        assert renewed and first is not None and max(renewed) > first  # type: ignore[operator]
        ended = _row(engine, job_id)
        # a job that ended holds no lease
        assert ended.status == JobStatus.succeeded and ended.lease_expires_at is None

    def test_a_redelivered_message_of_a_job_with_a_live_lease_is_dropped_without_an_attempt(
        self, deps: JobDeps, engine: Engine, project_id: str
    ) -> None:
        job_id = _job(engine, project_id, "test-lease-record")
        assert claim(deps, job_id) is not None
        assert execute(deps, job_id) is None
        row = _row(engine, job_id)
        assert row.attempts == 1 and row.status == JobStatus.running


class TestSweep:
    def test_an_expired_job_is_requeued_once_and_handed_to_the_runner(
        self, deps: JobDeps, engine: Engine, project_id: str
    ) -> None:
        runner = RecordingRunner()
        attach_runner(deps.session_factory, runner)
        job_id = _job(engine, project_id, "test-lease-record")
        assert claim(deps, job_id) is not None
        _expire(engine, job_id)
        assert sweep_expired(deps) == ([job_id], [])
        row = _row(engine, job_id)
        assert row.status == JobStatus.queued and row.run_token is None
        assert runner.submitted == [job_id]
        # nothing left to sweep
        assert sweep_expired(deps) == ([], [])

    def test_a_live_lease_is_left_alone(
        self, steady: JobDeps, engine: Engine, project_id: str
    ) -> None:
        job_id = _job(engine, project_id, "test-lease-record")
        assert claim(steady, job_id) is not None
        assert sweep_expired(steady) == ([], [])
        assert _row(engine, job_id).status == JobStatus.running

    def test_after_its_last_attempt_an_expired_job_fails_with_its_analysis(
        self, deps: JobDeps, engine: Engine, project_id: str
    ) -> None:
        with Session(engine) as session, session.begin():
            analysis = Analysis(
                project_id=project_id, status=AnalysisStatus.running, model_name="hash"
            )
            session.add(analysis)
            session.flush()
            analysis_id = analysis.id
        job_id = _job(
            engine, project_id, "analyze", payload={"analysis_id": analysis_id}, attempts=1
        )
        assert claim(deps, job_id) is not None
        _expire(engine, job_id)
        assert sweep_expired(deps) == ([], [job_id])
        row = _row(engine, job_id)
        assert row.status == JobStatus.failed
        assert row.error is not None and "WEFT_JOB_MAX_ATTEMPTS" in row.error
        assert "2 attempts" in row.error
        with Session(engine) as session:
            failed = session.get_one(Analysis, analysis_id)
            assert failed.status == AnalysisStatus.failed
            assert failed.error == row.error

    def test_sweepers_racing_requeue_a_job_once(
        self, deps: JobDeps, engine: Engine, project_id: str
    ) -> None:
        runner = RecordingRunner()
        attach_runner(deps.session_factory, runner)
        ids = [_job(engine, project_id, "test-lease-record") for _ in range(1)]
        assert claim(deps, ids[0]) is not None
        _expire(engine, ids[0])
        results: list[tuple[list[str], list[str]]] = []
        barrier = threading.Barrier(4)

        def sweep() -> None:
            barrier.wait()
            results.append(sweep_expired(deps))

        threads = [threading.Thread(target=sweep) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        requeued = [job for mine, _ in results for job in mine]
        assert requeued == ids
        assert runner.submitted == ids


class TestALateRun:
    def test_a_run_that_lost_its_job_cannot_write_to_it_and_stops(
        self, deps: JobDeps, engine: Engine, project_id: str
    ) -> None:
        job_id = _job(engine, project_id, "test-lease-record")
        old = claim(deps, job_id)
        assert old is not None
        _expire(engine, job_id)
        sweep_expired(deps)
        new = claim(deps, job_id)
        assert new is not None and new.run_token != old.run_token
        new.progress(3, 10)
        # the old run wakes up: its progress, its units of work and its end are refused
        with pytest.raises(JobLeaseLost):
            old.progress(9, 10)
        with pytest.raises(JobLeaseLost), old.session() as session:
            session.execute(update(Job).where(Job.id == job_id).values(error="late write"))
        with pytest.raises(JobLeaseLost):
            old.check_time()
        row = _row(engine, job_id)
        assert (row.progress_done, row.error, row.run_token) == (3, None, new.run_token)
        assert run_claimed(deps, new) == JobStatus.succeeded
        ended = _row(engine, job_id)
        assert ended.status == JobStatus.succeeded
        assert ended.result == {"ran": new.run_token}
        assert ended.attempts == 2


class TestThreadRunner:
    def test_the_runner_reruns_a_job_another_process_left_with_an_expired_lease(
        self, deps: JobDeps, engine: Engine, project_id: str
    ) -> None:
        runs.clear()
        runner = ThreadJobRunner(deps, poll_seconds=0.05, lanes=1)
        attach_runner(deps.session_factory, runner)
        runner.start()
        try:
            # a process sharing the store claimed it, then died
            past = utcnow() - timedelta(seconds=60)
            job_id = _job(
                engine,
                project_id,
                "test-lease-record",
                status=JobStatus.running,
                attempts=1,
                run_token="dead-worker",
                started_at=past,
                lease_expires_at=past,
            )
            deadline = time.monotonic() + 10
            while _row(engine, job_id).status != JobStatus.succeeded:
                assert time.monotonic() < deadline, _row(engine, job_id).status
                time.sleep(0.05)
        finally:
            runner.stop()
        assert runs == [job_id]
        assert _row(engine, job_id).attempts == 2
