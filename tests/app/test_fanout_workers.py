"""Fan-out across real Celery worker processes: a 20,000-row upload is embedded by chunk jobs
that two workers share, and analysed once after the last chunk.

Real processes on the Redis `make test` starts; run once, in the PostgreSQL pass (the store
that deployments with Celery workers use). The workers use tests/app/celery_slow.py: the hash
embedder, slowed a little per batch so neither worker can drain the queue alone.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.main import create_app
from models import Analysis, Embedding, Job, JobStatus, Narrative
from pipelines.embed import HashEmbedder
from tests.app.test_job_leases_workers import BROKER, ROOT, Worker
from tests.conftest import auth, make_project, wait_for_job

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        BROKER is None, reason="no Redis: run through scripts/with-redis.sh (make test does)"
    ),
    pytest.mark.skipif(
        not os.environ.get("WEFT_TEST_DATABASE_URL"),
        reason="runs once, in the PostgreSQL pass (make test-postgres)",
    ),
]

ROWS, DISTINCT = 20_000, 18_000


class FanoutWorker(Worker):
    """A worker of tests/app/celery_slow.py that analyses after embedding, in batches of 256,
    at the default fan-out threshold."""

    def __init__(self, log: Path, database_url: str, queue: str, data_dir: str) -> None:
        env = {
            **os.environ,
            # uploaded files: the API keeps them, the worker parses them
            "WEFT_DATA_DIR": data_dir,
            "WEFT_DATABASE_URL": database_url,
            "WEFT_BROKER_URL": BROKER or "",
            "WEFT_JOB_QUEUE": queue,
            "WEFT_AUTO_ANALYZE": "true",
            "WEFT_EMBEDDING_CHUNK_SIZE": "256",
            # every text is left to the embedding job, so the chunks it splits are known
            "WEFT_INGEST_EMBED_EARLY": "false",
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


@pytest.fixture
def queue() -> str:
    return f"weft-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def workers(tmp_path: Path, database_url: str, queue: str) -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for worker in started:
        worker.stop()


def _csv() -> bytes:
    topics = ("discharge letters", "community transport", "home visits", "the 111 line")
    lines = ["id,story"]
    for row in range(ROWS):
        n = row % DISTINCT  # the last 2,000 rows repeat earlier texts
        lines.append(f"r{row},Story {n} about {topics[n % 4]}: what happened on visit {n}.")
    return ("\n".join(lines) + "\n").encode()


def test_two_workers_share_the_chunks_of_a_large_upload(
    settings: Settings,
    engine: Engine,
    tmp_path: Path,
    database_url: str,
    queue: str,
    workers: list[Worker],
) -> None:
    assert BROKER is not None
    workers.extend(
        FanoutWorker(tmp_path / f"w{n}.log", database_url, queue, settings.data_dir) for n in (1, 2)
    )
    api = settings.model_copy(
        update={"job_runner": "celery", "broker_url": BROKER, "job_queue": queue}
    )
    with TestClient(create_app(api, embedder=HashEmbedder(16))) as client:
        project = make_project(client)
        sent = client.post(
            project.url("/uploads"),
            files={"file": ("stories.csv", _csv())},
            data={"format": "csv", "mapping": '{"text": "story"}'},
            headers=auth(project.admin_key),
        )
        assert sent.status_code == 202, sent.text
        ingest = wait_for_job(client, project.admin_key, sent.json()["job"]["id"], 180)
        assert ingest["status"] == "succeeded", ingest["error"]
        embed_id = ingest["result"]["embed_job_id"]
        embed = wait_for_job(client, project.admin_key, embed_id, 300)
        assert embed["status"] == "succeeded", embed
        assert embed["result"]["embedded"] == DISTINCT
        assert embed["result"]["chunks"] == 18  # 18,000 texts in chunks of 1,024
        assert (embed["progress_done"], embed["progress_total"]) == (DISTINCT, DISTINCT)
        source = project.get(f"/uploads/{sent.json()['source']['id']}").json()
        stage = {s["name"]: s for s in source["progress"]["stages"]}["embed"]
        assert (stage["status"], stage["done"], stage["total"]) == ("done", DISTINCT, DISTINCT)
        analysis = project.get(f"/analyses/{embed['result']['analysis_id']}").json()
        analysed = wait_for_job(client, project.admin_key, analysis["job_id"], 600)
        assert analysed["status"] == "succeeded", analysed

    def runs() -> int:
        return sum(
            analysis["job_id"] in line and "'status': 'succeeded'" in line
            for w in workers
            for line in w.log.read_text().splitlines()
        )

    # a worker logs a job's success after its row is committed
    deadline = time.monotonic() + 30
    while not runs():
        assert time.monotonic() < deadline, "no worker logged the analysis's success"
        time.sleep(0.1)
    logs = [w.log.read_text() for w in workers]
    # both workers took chunks of the job
    taken = [
        sum(f"of embedding job {embed_id}" in line for line in log.splitlines()) for log in logs
    ]
    assert all(n > 0 for n in taken), taken
    with Session(engine) as session:
        chunks = session.scalars(select(Job).where(Job.parent_id == embed_id)).all()
        assert len(chunks) == 18
        assert all(c.status is JobStatus.succeeded for c in chunks)
        assert sum(taken) >= len(chunks)
        # every distinct text has exactly one vector
        hashes = select(Narrative.text_hash).where(Narrative.project_id == project.id)
        vectors = session.execute(
            select(Embedding.text_hash, func.count())
            .where(Embedding.model == "hash", Embedding.text_hash.in_(hashes))
            .group_by(Embedding.text_hash)
        ).all()
        assert len(vectors) == DISTINCT and {n for _, n in vectors} == {1}
        # the analysis ran once, after the last chunk
        analyses = session.scalars(select(Analysis).where(Analysis.project_id == project.id)).all()
        assert len(analyses) == 1
        last_chunk = max(c.finished_at for c in chunks if c.finished_at is not None)
        assert analyses[0].created_at >= last_chunk
    assert runs() == 1
