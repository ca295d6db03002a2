"""The Celery job runner against a real Redis and a real worker process.

`make test` starts Redis (scripts/with-redis.sh) and sets WEFT_TEST_BROKER_URL. The worker is
`celery -A app.jobs.celery_runner worker` in its own process, on the test database, with the
packaged embedding model: the API process never runs a job itself.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from tests.conftest import auth, make_project, wait_for_job

BROKER = os.environ.get("WEFT_TEST_BROKER_URL")
ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
    command = [sys.executable, "-m", "celery", "-A", "app.jobs.celery_runner", "worker"]
    command += ["--pool", "solo", "--queues", queue, "--loglevel", "info"]
    command += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while b"ready." not in log.read_bytes():
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"worker not ready:\n{log.read_text()}"
            time.sleep(0.2)
        yield log
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()


def _settings(database_url: str, broker: str, queue: str) -> Settings:
    return Settings(
        database_url=database_url,
        job_runner="celery",
        broker_url=broker,
        job_queue=queue,
        auto_analyze=True,
    )


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
        log = worker.read_text()
        assert stored.json()["job"]["id"] in log
        assert analysis["job_id"] in log

    def test_a_job_queued_while_the_broker_is_down_runs_when_it_is_back(
        self, database_url: str, queue: str, worker: Path
    ) -> None:
        assert BROKER is not None
        down = f"redis://127.0.0.1:{_free_port()}/0"
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
