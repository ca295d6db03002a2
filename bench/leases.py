"""A Celery worker killed with kill -9 mid-embedding: how long until its job runs again, with the
default lease settings (WEFT_JOB_LEASE_SECONDS=30, WEFT_JOB_HEARTBEAT_SECONDS=10).

The API runs in process on PostgreSQL with the Celery runner; two real workers
(``celery -A app.jobs.celery_runner worker --pool prefork``, the packaged model) take turns: the
first is killed (its whole process group, SIGKILL) once the embedding job has done ``--kill-at``
texts of the NHS comments, the second is started at once. Reported: seconds from the kill to the
job being re-queued (the lease ran out and a sweeper found it), to it running again (the new
worker's start and model load included), and to it ending, with its attempts, and whether every
distinct text has exactly one vector. Needs PostgreSQL and Redis::

    scripts/with-postgres.sh scripts/with-redis.sh .venv/bin/python -m bench.leases [--rows 2000]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench.harness import RESULTS_DIR, ROOT, data_dir, load_nhs_rows, migrate, write_json


def _worker(log: Path, env: dict[str, str], queue: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "celery", "-A", "app.jobs.celery_runner", "worker"]
    command += ["--pool", "prefork", "--concurrency", "1", "--queues", queue, "--loglevel", "info"]
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    while b"ready." not in log.read_bytes():
        if process.poll() is not None:
            raise RuntimeError(log.read_text())
        time.sleep(0.2)
    return process


def _job(engine: Any, job_id: str) -> Any:
    from sqlalchemy.orm import Session

    from models import Job

    with Session(engine) as session:
        job = session.get_one(Job, job_id)
        session.expunge(job)
        return job


def run(rows: int, kill_at: int, database_url: str, broker: str, root: Path) -> dict[str, Any]:
    from fastapi.testclient import TestClient
    from sqlalchemy import create_engine, func, select
    from sqlalchemy.orm import Session

    from app.config import Settings
    from app.main import create_app
    from models import Embedding, Narrative

    migrate(database_url)
    queue = f"weft-bench-{uuid.uuid4().hex[:8]}"
    texts = list(dict.fromkeys(r["FFT answer"].strip() for r in load_nhs_rows(root)[1]))[:rows]
    workdir = Path(tempfile.mkdtemp(prefix="weft-leases-"))
    env = {
        **os.environ,
        "WEFT_DATABASE_URL": database_url,
        "WEFT_BROKER_URL": broker,
        "WEFT_JOB_QUEUE": queue,
        "WEFT_DATA_DIR": str(workdir / "var"),
        "WEFT_AUTO_ANALYZE": "false",
        "WEFT_EMBEDDING_BACKEND": "torch",
        # progress every 64 texts, so the kill lands mid-embedding
        "WEFT_EMBEDDING_CHUNK_SIZE": "64",
        "HF_HUB_OFFLINE": "1",
    }
    settings = Settings(
        database_url=database_url,
        data_dir=str(workdir / "var"),
        job_runner="celery",
        broker_url=broker,
        job_queue=queue,
        auto_analyze=False,
    )
    engine = create_engine(database_url)
    first = _worker(workdir / "first.log", env, queue)
    second: subprocess.Popen[bytes] | None = None
    try:
        with TestClient(create_app(settings)) as client:
            created = client.post("/v1/projects", json={"name": "leases"}).json()
            key, project = created["admin_key"]["key"], created["id"]
            answer = client.post(
                f"/v1/projects/{project}/narratives",
                json={"narratives": [{"text": t} for t in texts]},
                headers={"Authorization": f"Bearer {key}"},
            ).json()
            job_id = answer["job"]["id"]
            while _job(engine, job_id).progress_done < kill_at:
                time.sleep(0.05)
            os.killpg(first.pid, signal.SIGKILL)
            killed = time.monotonic()
            done_at_kill = _job(engine, job_id).progress_done
            second = _worker(workdir / "second.log", env, queue)
            requeued = running_again = None
            while True:
                job = _job(engine, job_id)
                now = time.monotonic() - killed
                if requeued is None and (job.status == "queued" or job.attempts >= 2):
                    requeued = now
                if running_again is None and job.attempts >= 2 and job.status != "queued":
                    running_again = now
                if job.status in ("succeeded", "failed"):
                    ended = now
                    break
                time.sleep(0.1)
            with Session(engine) as session:
                hashes = select(Narrative.text_hash).where(Narrative.project_id == project)
                distinct = session.scalar(
                    select(func.count(func.distinct(Narrative.text_hash))).where(
                        Narrative.project_id == project
                    )
                )
                vectors = session.scalar(
                    select(func.count()).where(Embedding.text_hash.in_(hashes))
                )
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(30)
    return {
        "rows": len(texts),
        "killed_at_done": done_at_kill,
        "lease_seconds": settings.job_lease_seconds,
        "heartbeat_seconds": settings.job_heartbeat_seconds,
        "seconds_to_requeued": round(requeued or -1, 1),
        "seconds_to_running_again": round(running_again or -1, 1),
        "seconds_to_ended": round(ended, 1),
        "status": str(job.status),
        "attempts": job.attempts,
        "distinct_texts": distinct,
        "vectors": vectors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--kill-at", type=int, default=256)
    parser.add_argument("--data", default=None)
    parser.add_argument("--database-url", default=os.environ.get("WEFT_TEST_DATABASE_URL"))
    parser.add_argument("--broker-url", default=os.environ.get("WEFT_TEST_BROKER_URL"))
    args = parser.parse_args()
    if not args.database_url or not args.broker_url:
        parser.error(
            "needs PostgreSQL and Redis: run through scripts/with-postgres.sh and "
            "scripts/with-redis.sh, or pass --database-url and --broker-url"
        )
    result = run(args.rows, args.kill_at, args.database_url, args.broker_url, data_dir(args.data))
    print(result)
    write_json(RESULTS_DIR / "leases.json", result)


if __name__ == "__main__":
    main()
