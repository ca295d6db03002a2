"""The Celery job runner: what it sends and how a worker hands on and gives up jobs (no
broker needed), then against a real Redis and a real worker process.

`make test` starts Redis (scripts/with-redis.sh) and sets WEFT_TEST_BROKER_URL. The worker is
`celery -A app.jobs.celery_runner worker` in its own process, on the test database, with the
packaged embedding model: the API process never runs a job itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from celery.exceptions import TimeLimitExceeded
from fastapi.testclient import TestClient

from app.config import Settings
from app.jobs import registry
from app.jobs.celery_runner import GIVE_UP_TASK, TASK_NAME, CeleryJobRunner, run_job
from app.jobs.context import JobContext, JobDeps, build_deps
from app.jobs.execute import execute, give_up
from app.jobs.kinds import JobKind
from app.jobs.registry import time_limit
from app.main import create_app
from app.services.jobs import attach_runner
from models import Analysis, Job, JobStatus
from models.base import utcnow
from tests.conftest import CountingEmbedder, auth, free_port, make_project, wait_for_job

BROKER = os.environ.get("WEFT_TEST_BROKER_URL")
ROOT = Path(__file__).resolve().parents[2]

needs_broker = pytest.mark.skipif(
    BROKER is None, reason="no Redis: run through scripts/with-redis.sh (make test does)"
)

STORIES = [
    "The discharge letter reached the GP two weeks late and the medication changed twice.",
    "Our community nurse rang ahead, so the family knew what the visit was for.",
    "Waiting on hold with 111 for an hour before anyone could advise on the fever.",
    "The ward staff were kind but nobody explained the plan for going home.",
    "Transport to dialysis came late three times this month.",
    "Volunteers at the hub helped me fill the housing form and book the appointment.",
]


@pytest.fixture(scope="module")
def queue() -> str:
    return f"weft-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def worker(
    database_url: str, queue: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """A Celery worker process on the test database and a queue of its own."""
    assert BROKER is not None
    log = tmp_path_factory.mktemp("celery") / "worker.log"
    env = {
        **os.environ,
        "WEFT_DATABASE_URL": database_url,
        "WEFT_BROKER_URL": BROKER,
        "WEFT_JOB_QUEUE": queue,
        "WEFT_AUTO_ANALYZE": "true",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    process = _start_worker(log, env, "app.jobs.celery_runner", ["--pool", "solo"], queue)
    try:
        yield log
    finally:
        _stop_worker(process)


def _settings(database_url: str, broker: str, queue: str) -> Settings:
    return Settings(
        database_url=database_url,
        job_runner="celery",
        broker_url=broker,
        job_queue=queue,
        auto_analyze=True,
    )


def _start_worker(
    log: Path, env: dict[str, str], app: str, pool: list[str], queue: str
) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "celery", "-A", app, "worker", *pool]
    command += ["--queues", queue, "--loglevel", "info"]
    command += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while b"ready." not in log.read_bytes():
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, f"worker not ready:\n{log.read_text()}"
        time.sleep(0.2)
    return process


def _stop_worker(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()


@needs_broker
class TestCeleryRunner:
    def test_jobs_run_in_the_worker_process_and_queue_their_follow_ups(
        self, database_url: str, queue: str, worker: Path
    ) -> None:
        assert BROKER is not None
        with TestClient(create_app(_settings(database_url, BROKER, queue))) as client:
            project = make_project(client)
            items = [{"text": f"{s} (story {i})"} for i, s in enumerate(STORIES * 4)]
            stored = project.post("/narratives", {"narratives": items})
            assert stored.status_code == 201, stored.text
            embed = wait_for_job(client, project.admin_key, stored.json()["job"]["id"], 120)
            assert embed["status"] == "succeeded", embed
            assert embed["result"]["embedded"] == len(items)
            # the embedding job queued the first analysis from inside the worker
            analysis_id = embed["result"]["analysis_id"]
            analysis = project.get(f"/analyses/{analysis_id}").json()
            done = wait_for_job(client, project.admin_key, analysis["job_id"], 120)
            assert done["status"] == "succeeded", done
            themes = project.get("/themes").json()
            assert themes["analysis"]["id"] == analysis_id
        # the worker logs a job's success after its row is committed
        deadline = time.monotonic() + 30
        while analysis["job_id"] not in worker.read_text():
            assert time.monotonic() < deadline, worker.read_text()
            time.sleep(0.1)
        assert stored.json()["job"]["id"] in worker.read_text()

    def test_a_job_queued_while_the_broker_is_down_runs_when_it_is_back(
        self, database_url: str, queue: str, worker: Path
    ) -> None:
        assert BROKER is not None
        down = f"redis://127.0.0.1:{free_port()}/0"
        with TestClient(create_app(_settings(database_url, down, queue))) as client:
            project = make_project(client)
            stored = project.post("/narratives", {"narratives": [{"text": STORIES[0]}]})
            assert stored.status_code == 201, stored.text
            job_id = stored.json()["job"]["id"]
            time.sleep(1.0)
            body = client.get(f"/v1/jobs/{job_id}", headers=auth(project.admin_key)).json()
            assert body["status"] == "queued"
        # the next start sends what is still queued
        with TestClient(create_app(_settings(database_url, BROKER, queue))) as client:
            done = wait_for_job(client, project.admin_key, job_id, 120)
            assert done["status"] == "succeeded", done
            assert done["result"]["embedded"] == 1
            # the analysis it queued ends before the tables are emptied for the next test
            analysis = project.get(f"/analyses/{done['result']['analysis_id']}").json()
            follow_up = wait_for_job(client, project.admin_key, analysis["job_id"], 120)
            assert follow_up["status"] == "succeeded", follow_up


class SentTasks:
    """Stands in for the Celery app: records what would be sent to the broker."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, list[Any], dict[str, Any]]] = []

    def send_task(self, name: str, args: list[Any], **options: Any) -> None:
        self.sent.append((name, args, options))


class Submitted:
    """A runner that records the ids it is handed."""

    def __init__(self) -> None:
        self.ids: list[str] = []

    def submit(self, job_id: str) -> None:
        self.ids.append(job_id)


def _echo(ctx: JobContext) -> dict[str, Any]:
    return {"echo": ctx.payload}


registry.register("test-celery-echo", _echo)
registry.register("test-celery-limited", _echo, time_limit_setting="job_time_limit_ingest")


@pytest.fixture
def deps(settings: Settings, embedder: CountingEmbedder) -> Iterator[JobDeps]:
    limited = settings.model_copy(
        update={
            "job_time_limit_ingest": 300,
            "job_time_limit_analyze": 5400,
            "job_hard_limit_grace": 30,
        }
    )
    engine, deps = build_deps(limited, embedder)
    yield deps
    engine.dispose()


def _add_jobs(deps: JobDeps, *jobs: Job) -> list[str]:
    with deps.session_factory() as session, session.begin():
        session.add_all(jobs)
        session.flush()
        return [job.id for job in jobs]


class TestCelerySend:
    """These tests run jobs by hand as a Celery worker would; the app they make projects in
    must not pick the jobs up itself."""

    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        # the app's thread runner looks for queued jobs once as it starts, then sleeps
        return settings.model_copy(update={"job_poll_seconds": 3600.0})

    def test_each_job_is_sent_with_its_kinds_time_limits(
        self, client: TestClient, deps: JobDeps
    ) -> None:
        project = make_project(client)
        ingest, analyze, other = _add_jobs(
            deps,
            Job(project_id=project.id, kind=JobKind.ingest),
            Job(project_id=project.id, kind=JobKind.analyze),
            Job(project_id=project.id, kind="test-celery-echo"),
        )
        celery = SentTasks()
        runner = CeleryJobRunner(deps, celery)  # type: ignore[arg-type]
        for job_id in (ingest, analyze, other):
            runner.submit(job_id)
        assert celery.sent == [
            (TASK_NAME, [ingest], {**SENT, "soft_time_limit": 330.0, "time_limit": 360.0}),
            (TASK_NAME, [analyze], {**SENT, "soft_time_limit": 5430.0, "time_limit": 5460.0}),
            (TASK_NAME, [other], SENT),
        ]

    def test_a_job_killed_at_its_hard_limit_is_given_up_by_a_worker(
        self, client: TestClient, deps: JobDeps, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        celery = SentTasks()
        monkeypatch.setattr(run_job.app, "send_task", celery.send_task)
        run_job.on_failure(TimeLimitExceeded(5460), "task-id", ["job-1"], {}, None)
        # any other failure is not a kill
        run_job.on_failure(RuntimeError("no"), "task-id", ["job-2"], {}, None)
        assert [(name, args) for name, args, _ in celery.sent] == [(GIVE_UP_TASK, ["job-1"])]

    def test_giving_up_fails_the_job_and_its_analysis_and_hands_the_turn_on(
        self, client: TestClient, deps: JobDeps
    ) -> None:
        project = make_project(client)
        handed = Submitted()
        attach_runner(deps.session_factory, handed)
        killed, following = _add_jobs(
            deps,
            Job(
                project_id=project.id,
                kind=JobKind.analyze,
                status=JobStatus.running,
                attempts=1,
            ),
            Job(project_id=project.id, kind="test-celery-echo"),
        )
        with deps.session_factory() as session, session.begin():
            analysis = Analysis(
                project_id=project.id, job_id=killed, status="running", model_name="m"
            )
            session.add(analysis)
            session.flush()
            session.get_one(Job, killed).payload = {"analysis_id": analysis.id}
            analysis_id = analysis.id
        limit = time_limit(deps.settings, JobKind.analyze)
        assert limit is not None
        assert give_up(deps, killed, limit.message)
        assert not give_up(deps, killed, limit.message)
        with deps.session_factory() as session:
            job = session.get_one(Job, killed)
            run = session.get_one(Analysis, analysis_id)
            assert job.status == JobStatus.failed
            assert "WEFT_JOB_TIME_LIMIT_ANALYZE" in (job.error or "")
            assert run.status == "failed"
            assert run.error == job.error
        assert handed.ids == [following]

    def test_a_message_that_is_not_its_projects_turn_leaves_it_queued_until_its_turn(
        self, client: TestClient, deps: JobDeps
    ) -> None:
        project = make_project(client)
        handed = Submitted()
        attach_runner(deps.session_factory, handed)
        now = utcnow()
        first, second = _add_jobs(
            deps,
            Job(project_id=project.id, kind="test-celery-echo", created_at=now),
            Job(
                project_id=project.id,
                kind="test-celery-echo",
                created_at=now + timedelta(milliseconds=1),
            ),
        )
        # the second job's message arrives first: not its turn, it stays queued
        assert execute(deps, second) is None
        assert execute(deps, first) == JobStatus.succeeded
        # the first job's end sends the second again
        assert handed.ids == [second]
        assert execute(deps, second) == JobStatus.succeeded

    def test_jobs_past_their_hard_limit_are_given_up_at_start(
        self, client: TestClient, deps: JobDeps
    ) -> None:
        project = make_project(client)
        long_ago = utcnow() - timedelta(hours=1)
        stale, fresh = _add_jobs(
            deps,
            Job(
                project_id=project.id,
                kind="test-celery-limited",
                status=JobStatus.running,
                started_at=long_ago,
            ),
            Job(project_id=project.id, kind=JobKind.embed, status=JobStatus.running),
        )
        CeleryJobRunner(deps, SentTasks()).start()  # type: ignore[arg-type]
        with deps.session_factory() as session:
            assert session.get_one(Job, stale).status == JobStatus.failed
            assert "WEFT_JOB_TIME_LIMIT_INGEST" in (session.get_one(Job, stale).error or "")
            assert session.get_one(Job, fresh).status == JobStatus.running


SENT = {"queue": "weft", "retry": False}


@needs_broker
@pytest.mark.skipif(
    bool(os.environ.get("WEFT_TEST_DATABASE_URL")),
    reason="runs once, in the SQLite pass: it tests Celery's pool, not the database",
)
class TestHardTimeLimit:
    def test_a_job_that_ignores_its_limits_is_killed_and_failed_and_its_project_moves_on(
        self, settings: Settings, database_url: str, tmp_path: Path
    ) -> None:
        from tests.app import celery_sleeper

        assert BROKER is not None
        queue = f"weft-test-{uuid.uuid4().hex[:8]}"
        limits = {"job_time_limit_ingest": 1.0, "job_hard_limit_grace": 1.0}
        env = {
            **os.environ,
            "WEFT_DATABASE_URL": database_url,
            "WEFT_BROKER_URL": BROKER,
            "WEFT_JOB_QUEUE": queue,
            **{f"WEFT_{k.upper()}": str(v) for k, v in limits.items()},
        }
        pool = ["--pool", "prefork", "--concurrency", "1"]
        log = tmp_path / "worker.log"
        process = _start_worker(log, env, "tests.app.celery_sleeper", pool, queue)
        try:
            api = _settings(database_url, BROKER, queue).model_copy(update=limits)
            with TestClient(create_app(api, embedder=CountingEmbedder())) as client:
                project = make_project(client)
                started = time.monotonic()
                runtime = client.app.state.runtime  # type: ignore[attr-defined]
                with runtime.session_factory() as session, session.begin():
                    sleeper = Job(project_id=project.id, kind=celery_sleeper.KIND)
                    following = Job(project_id=project.id, kind=celery_sleeper.AFTER)
                    session.add(sleeper)
                    session.flush()
                    session.add(following)
                    session.flush()
                    ids = (sleeper.id, following.id)
                runtime.runner.submit(ids[0])
                killed = wait_for_job(client, project.admin_key, ids[0], 60)
                elapsed = time.monotonic() - started
                # the worker that gave it up sent the project's next job
                after = wait_for_job(client, project.admin_key, ids[1], 30)
        finally:
            _stop_worker(process)
        assert killed["status"] == "failed", killed
        assert "WEFT_JOB_TIME_LIMIT_INGEST" in killed["error"]
        # killed at the hard limit (3 s), not after the minute the job wanted
        assert elapsed < 30
        text = log.read_text()
        assert "Hard time limit (3.0s) exceeded" in text, text
        assert ids[0] in text
        assert after["status"] == "succeeded", after
