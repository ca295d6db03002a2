"""Embedding a large upload with 1 worker against 2: wall time from posting the narratives to the
embedding job's end, with the packaged model (all-MiniLM-L6-v2, the real embedder).

Three runs on one PostgreSQL store and one Redis, each on a fresh project and an emptied embedding
cache:
- ``1 worker, one job`` (the anchor): the fan-out threshold above the text count, so one job
  embeds everything, as before fan-out;
- ``1 worker, chunks``: the default threshold, the chunks taken one after another (the cost of
  splitting);
- ``2 workers, chunks``: the default threshold, two worker processes sharing the chunks.
Each run starts its workers afresh; the model loads inside the measured time (each worker loads
it on its first job), the same in every run. The texts are the NHS comments (distinct, up to
``--rows``). Needs PostgreSQL and Redis::

    scripts/with-postgres.sh scripts/with-redis.sh .venv/bin/python -m bench.fanout \
        [--rows 6000] [--threshold 4096] [--threads 0]

On a machine with 2 cores, two workers share the cores one worker's torch threads already use:
pass ``--threads 1`` to give each worker one thread.
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
    """A Celery worker with the packaged model, in a process group of its own."""
    command = [sys.executable, "-m", "celery", "-A", "app.jobs.celery_runner", "worker"]
    command += ["--pool", "prefork", "--concurrency", "1", "--queues", queue, "--loglevel", "info"]
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    while b"ready." not in log.read_bytes():
        if process.poll() is not None:
            raise RuntimeError(log.read_text())
        time.sleep(0.2)
    return process


def _one(
    label: str,
    texts: list[str],
    workers: int,
    threshold: int,
    threads: int,
    database_url: str,
    broker: str,
) -> dict[str, Any]:
    from fastapi.testclient import TestClient
    from sqlalchemy import create_engine, delete, func, select
    from sqlalchemy.orm import Session

    from app.config import Settings
    from app.main import create_app
    from models import Embedding, Job, NarrativeSegment, SegmentEmbedding

    queue = f"weft-bench-{uuid.uuid4().hex[:8]}"
    workdir = Path(tempfile.mkdtemp(prefix="weft-fanout-"))
    env = {
        **os.environ,
        "WEFT_DATABASE_URL": database_url,
        "WEFT_BROKER_URL": broker,
        "WEFT_JOB_QUEUE": queue,
        "WEFT_DATA_DIR": str(workdir / "var"),
        "WEFT_AUTO_ANALYZE": "false",
        "WEFT_EMBEDDING_BACKEND": "torch",
        "WEFT_EMBEDDING_FANOUT_THRESHOLD": str(threshold),
        "WEFT_EMBEDDING_THREADS": str(threads),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    settings = Settings(
        database_url=database_url,
        data_dir=str(workdir / "var"),
        job_runner="celery",
        broker_url=broker,
        job_queue=queue,
        auto_analyze=False,
        embedding_fanout_threshold=threshold,
    )
    engine = create_engine(database_url)
    # the embedding cache is shared by every project of a store: each run starts without it
    with engine.begin() as connection:
        for table in (SegmentEmbedding, NarrativeSegment, Embedding):
            connection.execute(delete(table))
    processes = [_worker(workdir / f"w{n}.log", env, queue) for n in range(workers)]
    try:
        with TestClient(create_app(settings)) as client:
            created = client.post("/v1/projects", json={"name": label}).json()
            key, project = created["admin_key"]["key"], created["id"]
            started = time.perf_counter()
            answer = client.post(
                f"/v1/projects/{project}/narratives",
                json={"narratives": [{"text": t} for t in texts]},
                headers={"Authorization": f"Bearer {key}"},
            ).json()
            job_id = answer["job"]["id"]
            while True:
                with Session(engine) as session:
                    status = session.scalar(select(Job.status).where(Job.id == job_id))
                if status in ("succeeded", "failed"):
                    break
                time.sleep(0.2)
            wall = time.perf_counter() - started
            with Session(engine) as session:
                chunks = int(
                    session.scalar(select(func.count()).where(Job.parent_id == job_id)) or 0
                )
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(30)
        engine.dispose()
    logs = [(workdir / f"w{n}.log").read_text() for n in range(workers)]
    taken = [sum("of embedding job" in line for line in log.splitlines()) for log in logs]
    return {
        "run": label,
        "workers": workers,
        "status": str(status),
        "texts": len(texts),
        "chunks": chunks,
        "chunks_per_worker": taken,
        "wall_seconds": round(wall, 1),
        "texts_per_second": round(len(texts) / wall, 1),
    }


def run(
    rows: int, threads: int, threshold: int, database_url: str, broker: str, root: Path
) -> dict[str, Any]:
    migrate(database_url)
    comments = (r["FFT answer"].strip() for r in load_nhs_rows(root)[1])
    texts = list(dict.fromkeys(comments))[:rows]
    runs = [
        _one("1 worker, one job", texts, 1, len(texts) + 1, threads, database_url, broker),
        _one("1 worker, chunks", texts, 1, threshold, threads, database_url, broker),
        _one("2 workers, chunks", texts, 2, threshold, threads, database_url, broker),
    ]
    anchor = runs[0]["wall_seconds"]
    for entry in runs:
        entry["wall_vs_anchor"] = round(entry["wall_seconds"] / anchor, 2)
    return {
        "embedder": "all-MiniLM-L6-v2 (packaged, torch)",
        "threads_per_worker": threads or "torch default",
        "fanout_threshold": threshold,
        "cpus": os.cpu_count(),
        "runs": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=6000)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument(
        "--threshold",
        type=int,
        default=4096,
        help="WEFT_EMBEDDING_FANOUT_THRESHOLD of the chunk runs",
    )
    parser.add_argument("--data", default=None)
    parser.add_argument("--database-url", default=os.environ.get("WEFT_TEST_DATABASE_URL"))
    parser.add_argument("--broker-url", default=os.environ.get("WEFT_TEST_BROKER_URL"))
    args = parser.parse_args()
    if not args.database_url or not args.broker_url:
        parser.error(
            "needs PostgreSQL and Redis: run through scripts/with-postgres.sh and "
            "scripts/with-redis.sh, or pass --database-url and --broker-url"
        )
    result = run(
        args.rows,
        args.threads,
        args.threshold,
        args.database_url,
        args.broker_url,
        data_dir(args.data),
    )
    print(result)
    write_json(RESULTS_DIR / "fanout.json", result)


if __name__ == "__main__":
    main()
