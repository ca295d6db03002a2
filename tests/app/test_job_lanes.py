"""Job lanes: several jobs at once, one at a time per project, the oldest first."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.config import Settings
from app.jobs import registry
from app.jobs.context import JobContext, build_deps
from app.jobs.execute import claim
from models import Job, JobStatus
from models.base import utcnow
from tests.conftest import CountingEmbedder, auth, make_project, wait_for_job


class Gates:
    """What the `test-gate` kind records: which jobs ran, in what order, how many at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.release: dict[str, threading.Event] = {}
        self.started: list[str] = []
        self.running: Counter[str] = Counter()
        self.peak_per_project: Counter[str] = Counter()
        self.peak_overall = 0

    def gate(self, name: str) -> threading.Event:
        with self.lock:
            return self.release.setdefault(name, threading.Event())


GATES = Gates()


def _gated(ctx: JobContext) -> dict[str, Any]:
    """Runs until the test opens the gate its payload names (or 10 s pass)."""
    project = ctx.project_id or ""
    name = str(ctx.payload["gate"])
    with GATES.lock:
        GATES.started.append(name)
        GATES.running[project] += 1
        GATES.peak_per_project[project] = max(
            GATES.peak_per_project[project], GATES.running[project]
        )
        GATES.peak_overall = max(GATES.peak_overall, sum(GATES.running.values()))
    try:
        opened = GATES.gate(name).wait(10)
    finally:
        with GATES.lock:
            GATES.running[project] -= 1
    return {"gate": name, "opened": opened}


registry.register("test-gate", _gated)


@pytest.fixture(autouse=True)
def _fresh_gates() -> Any:
    global GATES
    GATES = Gates()
    yield
    # nothing may stay blocked on a gate once a test ends
    with GATES.lock:
        for event in GATES.release.values():
            event.set()


def _queue(client: TestClient, engine: Engine, project_id: str, gate: str) -> str:
    """Insert a gated job and hand it to the running service's runner, as enqueue would."""
    with Session(engine) as session, session.begin():
        job = Job(project_id=project_id, kind="test-gate", payload={"gate": gate})
        session.add(job)
        session.flush()
        job_id = job.id
    client.app.state.runtime.runner.submit(job_id)  # type: ignore[attr-defined]
    return job_id


def _status(client: TestClient, key: str, job_id: str) -> str:
    return str(client.get(f"/v1/jobs/{job_id}", headers=auth(key)).json()["status"])


def _wait_until(condition: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


class TestLanes:
    def test_a_blocked_project_does_not_hold_back_another(
        self, client: TestClient, engine: Engine
    ) -> None:
        a, b = make_project(client, "A"), make_project(client, "B")
        slow = _queue(client, engine, a.id, "a-slow")
        assert _wait_until(lambda: _status(client, a.admin_key, slow) == "running")
        GATES.gate("b-quick").set()
        quick = _queue(client, engine, b.id, "b-quick")
        # B's job, queued after A's, ends while A's still runs
        done = wait_for_job(client, b.admin_key, quick, timeout=5)
        assert done["status"] == "succeeded"
        assert _status(client, a.admin_key, slow) == "running"
        GATES.gate("a-slow").set()
        assert wait_for_job(client, a.admin_key, slow)["result"] == {
            "gate": "a-slow",
            "opened": True,
        }

    def test_one_project_runs_one_job_at_a_time_oldest_first_while_lanes_serve_others(
        self, client: TestClient, engine: Engine
    ) -> None:
        a, b = make_project(client, "A"), make_project(client, "B")
        a_jobs = [_queue(client, engine, a.id, f"a{n}") for n in range(3)]
        b_jobs = [_queue(client, engine, b.id, f"b{n}") for n in range(2)]
        # one job of each project runs: two lanes busy, nothing else of A or B started
        assert _wait_until(lambda: len(GATES.started) == 2)
        time.sleep(0.5)
        assert sorted(GATES.started) == ["a0", "b0"]
        for name in ("a0", "a1", "b0", "b1", "a2"):
            GATES.gate(name).set()
            time.sleep(0.05)
        for job_id in a_jobs:
            assert wait_for_job(client, a.admin_key, job_id)["status"] == "succeeded"
        for job_id in b_jobs:
            assert wait_for_job(client, b.admin_key, job_id)["status"] == "succeeded"
        assert [g for g in GATES.started if g.startswith("a")] == ["a0", "a1", "a2"]
        assert [g for g in GATES.started if g.startswith("b")] == ["b0", "b1"]
        assert GATES.peak_per_project == {a.id: 1, b.id: 1}
        assert GATES.peak_overall == 2

    def test_lanes_is_a_setting(
        self, settings: Settings, embedder: CountingEmbedder, engine: Engine
    ) -> None:
        one_lane = settings.model_copy(update={"job_lanes": 1})
        from app.main import create_app

        with TestClient(create_app(one_lane, embedder=embedder)) as client:
            a, b = make_project(client, "A"), make_project(client, "B")
            slow = _queue(client, engine, a.id, "a-slow")
            assert _wait_until(lambda: _status(client, a.admin_key, slow) == "running")
            GATES.gate("b-quick").set()
            quick = _queue(client, engine, b.id, "b-quick")
            time.sleep(0.6)
            assert _status(client, b.admin_key, quick) == "queued"
            GATES.gate("a-slow").set()
            assert wait_for_job(client, b.admin_key, quick)["status"] == "succeeded"


class TestClaim:
    def test_racing_claims_start_one_job_of_a_project_and_it_is_the_oldest(
        self, settings: Settings, embedder: CountingEmbedder, engine: Engine
    ) -> None:
        """Two workers claiming two queued jobs of one project at the same instant: one wins,
        and only with the older job; a job of another project is claimed beside it."""
        from app.main import create_app

        with TestClient(create_app(settings, embedder=embedder)) as client:
            project, other = make_project(client, "A"), make_project(client, "B")
        engine_, deps = build_deps(settings, embedder)
        try:
            for _round in range(10):
                now = utcnow()
                with Session(engine) as session, session.begin():
                    jobs = [
                        Job(
                            project_id=owner,
                            kind="test-gate",
                            created_at=now + timedelta(milliseconds=ms),
                        )
                        for ms, owner in enumerate((project.id, project.id, other.id))
                    ]
                    session.add_all(jobs)
                    session.flush()
                    ids = [job.id for job in jobs]
                barrier = threading.Barrier(3)
                won: dict[str, bool] = {}

                def race(job_id: str, barrier: threading.Barrier, won: dict[str, bool]) -> None:
                    barrier.wait()
                    won[job_id] = claim(deps, job_id) is not None

                threads = [
                    threading.Thread(target=race, args=(job_id, barrier, won)) for job_id in ids
                ]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join(10)
                assert won == {ids[0]: True, ids[1]: False, ids[2]: True}
                with Session(engine) as session:
                    rows = dict(session.query(Job.id, Job.status).filter(Job.id.in_(ids)).all())
                assert rows == {
                    ids[0]: JobStatus.running,
                    ids[1]: JobStatus.queued,
                    ids[2]: JobStatus.running,
                }
                with Session(engine) as session, session.begin():
                    session.query(Job).filter(Job.id.in_(ids)).delete()
        finally:
            engine_.dispose()


def test_sqlite_writers_outwait_a_long_store(database_url: str) -> None:
    """A lane's progress write waits for another lane's upload store instead of failing."""
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite only")
    from sqlalchemy import text

    from app.db import build_engine

    engine = build_engine(database_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA busy_timeout")).scalar_one() >= 120_000
            assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
    finally:
        engine.dispose()
