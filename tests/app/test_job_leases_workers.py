"""kill -9 of a real Celery worker mid-job: the job's lease runs out, the API's sweeper re-queues
it, and a second worker finishes it exactly once.

Real processes on the Redis `make test` starts; run once, in the PostgreSQL pass (the store
that deployments with Celery workers use). The workers use tests/app/celery_slow.py: the hash
embedder, slowed so there is time to kill them mid-embedding or mid-clustering.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.main import create_app
from models import Embedding, Job, JobStatus, Narrative, Theme, ThemeAssignment
from pipelines.embed import HashEmbedder
from tests.conftest import ProjectHandle, auth, make_project, wait_for_job

BROKER = os.environ.get("WEFT_TEST_BROKER_URL")
ROOT = Path(__file__).resolve().parents[2]
LEASE = {"job_lease_seconds": 2.0, "job_heartbeat_seconds": 0.3}

pytestmark = [
    pytest.mark.skipif(
        BROKER is None, reason="no Redis: run through scripts/with-redis.sh (make test does)"
    ),
    pytest.mark.skipif(
        not os.environ.get("WEFT_TEST_DATABASE_URL"),
        reason="runs once, in the PostgreSQL pass (make test-postgres)",
    ),
]


class Worker:
    """A Celery worker in a process group of its own, so kill -9 takes its pool too."""

    def __init__(self, log: Path, database_url: str, queue: str) -> None:
        env = {
            **os.environ,
            "WEFT_DATABASE_URL": database_url,
            "WEFT_BROKER_URL": BROKER or "",
            "WEFT_JOB_QUEUE": queue,
            "WEFT_AUTO_ANALYZE": "false",
            "WEFT_EMBEDDING_CHUNK_SIZE": "20",
            **{f"WEFT_{k.upper()}": str(v) for k, v in LEASE.items()},
        }
        command = [sys.executable, "-m", "celery", "-A", "tests.app.celery_slow", "worker"]
        command += ["--pool", "prefork", "--concurrency", "1", "--queues", queue]
        command += ["--loglevel", "info", "--without-gossip", "--without-mingle"]
        self.log = log
        with open(log, "wb") as out:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while b"ready." not in log.read_bytes():
            assert self.process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"worker not ready:\n{log.read_text()}"
            time.sleep(0.2)

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)


@pytest.fixture
def queue() -> str:
    return f"weft-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def workers(tmp_path: Path, database_url: str, queue: str) -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for worker in started:
        worker.stop()


@pytest.fixture
def client(settings: Settings, queue: str) -> Iterator[TestClient]:
    assert BROKER is not None
    api = settings.model_copy(
        update={
            "job_runner": "celery",
            "broker_url": BROKER,
            "job_queue": queue,
            "auto_analyze": False,
            **LEASE,
        }
    )
    with TestClient(create_app(api, embedder=HashEmbedder(16))) as test_client:
        yield test_client


def _job(client: TestClient, key: str, job_id: str) -> dict[str, Any]:
    body: dict[str, Any] = client.get(f"/v1/jobs/{job_id}", headers=auth(key)).json()
    return body


def _wait_until(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def _stories(n: int) -> list[dict[str, str]]:
    topics = ("discharge letters", "community transport", "home visits", "the 111 line")
    return [
        {"text": f"Story {i} about {topics[i % 4]}: what happened on visit {i * 7 % 97}."}
        for i in range(n)
    ]


def _succeeded_in(log: Path, job_id: str) -> int:
    return sum(
        job_id in line and "'status': 'succeeded'" in line for line in log.read_text().splitlines()
    )


def _finished_once_by(worker: Worker, killed: Worker, job_id: str) -> None:
    """`worker` logged the job's success once (Celery writes it after the job's row is
    committed, so it is waited for) and the killed worker never did."""
    _wait_until(
        lambda: _succeeded_in(worker.log, job_id) >= 1, 30, "the second worker logged no success"
    )
    assert _succeeded_in(worker.log, job_id) == 1
    assert _succeeded_in(killed.log, job_id) == 0


def _vectors_and_texts(engine: Engine, project: ProjectHandle) -> tuple[int, int]:
    with Session(engine) as session:
        texts = session.scalar(
            select(func.count(func.distinct(Narrative.text_hash))).where(
                Narrative.project_id == project.id
            )
        )
        hashes = select(Narrative.text_hash).where(Narrative.project_id == project.id)
        vectors = session.scalar(
            select(func.count()).where(Embedding.model == "hash", Embedding.text_hash.in_(hashes))
        )
    return int(vectors or 0), int(texts or 0)


def test_a_worker_killed_mid_embedding_leaves_the_job_to_the_next_worker(
    client: TestClient,
    engine: Engine,
    tmp_path: Path,
    database_url: str,
    queue: str,
    workers: list[Worker],
) -> None:
    first = Worker(tmp_path / "first.log", database_url, queue)
    workers.append(first)
    project = make_project(client)
    stored = project.post("/narratives", {"narratives": _stories(400)})
    assert stored.status_code == 201, stored.text
    job_id = stored.json()["job"]["id"]
    _wait_until(
        lambda: _job(client, project.admin_key, job_id)["progress_done"] >= 60,
        60,
        "the first worker never got going",
    )
    first.kill()
    killed_at = _job(client, project.admin_key, job_id)["progress_done"]
    assert 0 < killed_at < 400
    second = Worker(tmp_path / "second.log", database_url, queue)
    workers.append(second)
    done = wait_for_job(client, project.admin_key, job_id, 90)
    assert done["status"] == "succeeded", done
    with Session(engine) as session:
        job = session.get_one(Job, job_id)
        assert (job.status, job.attempts) == (JobStatus.succeeded, 2)
    # exactly one run finished it, the second worker's (whose log line follows the commit)
    _finished_once_by(second, first, job_id)
    vectors, texts = _vectors_and_texts(engine, project)
    assert vectors == texts == 400


def test_a_worker_killed_mid_analysis_leaves_one_set_of_themes(
    client: TestClient,
    engine: Engine,
    tmp_path: Path,
    database_url: str,
    queue: str,
    workers: list[Worker],
) -> None:
    first = Worker(tmp_path / "first.log", database_url, queue)
    workers.append(first)
    project = make_project(client)
    stored = project.post("/narratives", {"narratives": _stories(80)})
    assert stored.status_code == 201, stored.text
    assert wait_for_job(client, project.admin_key, stored.json()["job"]["id"], 60)["status"] == (
        "succeeded"
    )
    queued = project.post("/analyses", {"seed": 0, "n_themes": 4})
    assert queued.status_code == 202, queued.text
    analysis_id, job_id = queued.json()["analysis"]["id"], queued.json()["job"]["id"]
    # the clustering waits three seconds in these workers: kill it while it does
    _wait_until(
        lambda: _job(client, project.admin_key, job_id)["status"] == "running",
        30,
        "the analysis never started",
    )
    time.sleep(1.0)
    first.kill()
    second = Worker(tmp_path / "second.log", database_url, queue)
    workers.append(second)
    done = wait_for_job(client, project.admin_key, job_id, 90)
    assert done["status"] == "succeeded", done
    _finished_once_by(second, first, job_id)
    with Session(engine) as session:
        assert session.get_one(Job, job_id).attempts == 2
        themes = session.scalar(
            select(func.count())
            .select_from(Theme)
            .where(Theme.analysis_id == analysis_id, Theme.level == 0)
        )
        assignments = session.scalar(
            select(func.count())
            .select_from(ThemeAssignment)
            .where(ThemeAssignment.analysis_id == analysis_id)
        )
    listed = project.get("/themes").json()
    assert listed["analysis"]["id"] == analysis_id
    # one set of themes and one assignment per narrative: nothing stored twice
    assert assignments == 80
    assert themes == len(listed["themes"])
