from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.config import Settings
from app.jobs import registry
from app.jobs.context import JobContext
from app.jobs.kinds import JobKind
from app.main import create_app
from models import Analysis, Job, JobStatus, Source, SourceStatus
from pipelines.embed import FloatMatrix
from tests.conftest import CountingEmbedder, ProjectHandle, auth, make_project, wait_for_job


def _crash(ctx: JobContext) -> dict[str, Any]:
    ctx.progress(1, 3)
    raise RuntimeError("the disk caught fire")


def _echo(ctx: JobContext) -> dict[str, Any]:
    return {"echo": ctx.payload}


registry.register("test-crash", _crash)
registry.register("test-echo", _echo)


def _insert_job(engine: Engine, project_id: str, **fields: Any) -> str:
    with Session(engine) as session, session.begin():
        job = Job(project_id=project_id, **fields)
        session.add(job)
        session.flush()
        return job.id


class GatedEmbedder(CountingEmbedder):
    """Blocks on its second call until released, so a test can watch progress mid-job."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def encode(self, texts: Sequence[str]) -> FloatMatrix:
        if len(self.calls) == 1:
            self.release.wait(10)
        return super().encode(texts)


class TestReadJob:
    def test_progress_is_visible_while_running(self, settings: Settings, database_url: str) -> None:
        gated = GatedEmbedder()
        chunked = settings.model_copy(update={"embedding_chunk_size": 2})
        with TestClient(create_app(chunked, embedder=gated)) as client:
            project = make_project(client)
            batch = [{"text": f"story number {i}"} for i in range(5)]
            job_id = project.post("/narratives", {"narratives": batch}).json()["job"]["id"]
            deadline = time.monotonic() + 10
            while True:
                body = client.get(f"/v1/jobs/{job_id}", headers=auth(project.admin_key)).json()
                if body["progress_done"] == 2 or time.monotonic() > deadline:
                    break
                time.sleep(0.02)
            assert body["status"] == "running"
            assert (body["progress_done"], body["progress_total"]) == (2, 5)
            gated.release.set()
            done = wait_for_job(client, project.admin_key, job_id)
            assert done["status"] == "succeeded"
            assert (done["progress_done"], done["progress_total"]) == (5, 5)
            assert done["result"] == {"embedded": 5, "model": "test/counting"}
            assert done["started_at"] and done["finished_at"]

    def test_crashing_job_ends_failed_with_its_error(
        self, client: TestClient, project: ProjectHandle, engine: Engine
    ) -> None:
        job_id = _insert_job(engine, project.id, kind="test-crash")
        client.app.state.runtime.runner.submit(job_id)  # type: ignore[attr-defined]
        body = wait_for_job(client, project.admin_key, job_id)
        assert body["status"] == "failed"
        assert "the disk caught fire" in body["error"]
        assert body["finished_at"] is not None

    def test_other_projects_job_is_404(self, client: TestClient, project: ProjectHandle) -> None:
        job_id = project.post("/narratives", {"narratives": [{"text": "x"}]}).json()["job"]["id"]
        other = make_project(client, "Other")
        response = client.get(f"/v1/jobs/{job_id}", headers=auth(other.admin_key))
        assert response.status_code == 404
        assert client.get("/v1/jobs/nope", headers=auth(project.admin_key)).status_code == 404
        assert client.get(f"/v1/jobs/{job_id}").status_code == 401


class TestRecoveryAtStart:
    @pytest.mark.parametrize(("attempts", "expected"), [(1, "succeeded"), (2, "failed")])
    def test_jobs_left_running_are_requeued_or_failed(
        self,
        settings: Settings,
        embedder: CountingEmbedder,
        engine: Engine,
        attempts: int,
        expected: str,
    ) -> None:
        with TestClient(create_app(settings, embedder=embedder)) as client:
            project = make_project(client)
        # a job that a killed process left behind
        job_id = _insert_job(
            engine,
            project.id,
            kind="test-echo",
            status=JobStatus.running,
            attempts=attempts,
            payload={"n": 1},
        )
        with TestClient(create_app(settings, embedder=embedder)) as client:
            body = wait_for_job(client, project.admin_key, job_id)
        assert body["status"] == expected
        if expected == "succeeded":
            assert body["result"] == {"echo": {"n": 1}}
        else:
            assert "interrupted" in body["error"]

    def test_an_abandoned_job_fails_the_upload_and_analysis_it_was_running(
        self, settings: Settings, embedder: CountingEmbedder, engine: Engine
    ) -> None:
        with TestClient(create_app(settings, embedder=embedder)) as client:
            project = make_project(client)
        # an upload and an analysis whose jobs a killed process left running, for the last time
        with Session(engine) as session, session.begin():
            ingest = Job(
                project_id=project.id, kind=JobKind.ingest, status=JobStatus.running, attempts=2
            )
            analyze = Job(
                project_id=project.id, kind=JobKind.analyze, status=JobStatus.running, attempts=2
            )
            session.add_all([ingest, analyze])
            session.flush()
            source = Source(
                project_id=project.id,
                kind="csv",
                sha256="0" * 64,
                status=SourceStatus.running,
                job_id=ingest.id,
            )
            analysis = Analysis(
                project_id=project.id, job_id=analyze.id, status="running", model_name="m"
            )
            session.add_all([source, analysis])
            session.flush()
            ingest.payload = {"source_id": source.id}
            analyze.payload = {"analysis_id": analysis.id}
            ids = (ingest.id, analyze.id, source.id, analysis.id)
        with TestClient(create_app(settings, embedder=embedder)) as client:
            headers = auth(project.admin_key)
            base = f"/v1/projects/{project.id}"
            for job_id in ids[:2]:
                assert wait_for_job(client, project.admin_key, job_id)["status"] == "failed"
            upload = client.get(f"{base}/uploads/{ids[2]}", headers=headers).json()
            run = client.get(f"{base}/analyses/{ids[3]}", headers=headers).json()
        assert upload["status"] == "failed"
        assert "interrupted" in upload["error"]
        assert run["status"] == "failed"
        assert "interrupted" in run["error"]


def _busy(ctx: JobContext) -> dict[str, Any]:
    """Keeps reporting progress for 5 s, far past the tests' limit."""
    deadline = time.monotonic() + 5
    n = 0
    while time.monotonic() < deadline:
        n += 1
        ctx.progress(n, 1000)
        time.sleep(0.02)
    return {"steps": n}


def _limited(settings: Settings, **limits: float) -> Settings:
    return settings.model_copy(update={f"job_time_limit_{k}": v for k, v in limits.items()})


class TestTimeLimits:
    def test_a_job_past_its_limit_fails_at_its_next_progress_report(
        self, settings: Settings, embedder: CountingEmbedder, engine: Engine
    ) -> None:
        registry.register("test-busy", _busy, time_limit_setting="job_time_limit_ingest")
        with TestClient(create_app(_limited(settings, ingest=0.6), embedder=embedder)) as client:
            project = make_project(client)
            started = time.monotonic()
            job_id = _insert_job(engine, project.id, kind="test-busy")
            client.app.state.runtime.runner.submit(job_id)  # type: ignore[attr-defined]
            body = wait_for_job(client, project.admin_key, job_id)
            # the handler reports for 5 s: it was stopped well before
            assert time.monotonic() - started < 4.5
        assert body["status"] == "failed"
        assert "time limit of 0.6 s" in body["error"]
        assert "WEFT_JOB_TIME_LIMIT_INGEST" in body["error"]
        assert 0 < body["progress_done"] < 1000

    def test_check_time_stops_a_handler_between_steps(self, settings: Settings) -> None:
        from app.jobs.context import JobDeps, JobTimeLimitExceeded, TimeLimit

        deps = JobDeps(settings, None, CountingEmbedder())  # type: ignore[arg-type]
        limit = TimeLimit(60, "job_time_limit_embed")
        JobContext("j", "test-busy", None, {}, deps, limit).check_time()
        late = JobContext("j", "test-busy", None, {}, deps, limit, started=time.monotonic() - 61)
        with pytest.raises(JobTimeLimitExceeded, match="WEFT_JOB_TIME_LIMIT_EMBED"):
            late.check_time()
        # no limit, no stop
        JobContext("j", "test-busy", None, {}, deps, None, started=0).check_time()

    def test_an_ingest_past_its_limit_fails_its_upload_and_stores_nothing(
        self, settings: Settings, embedder: CountingEmbedder
    ) -> None:
        tiny = _limited(settings, ingest=1e-6)
        with TestClient(create_app(tiny, embedder=embedder)) as client:
            project = make_project(client)
            body = "text\n" + "".join(f"story {i}\n" for i in range(50))
            response = client.post(
                project.url("/uploads"),
                files={"file": ("stories.csv", body.encode(), "text/csv")},
                headers=auth(project.admin_key),
            )
            assert response.status_code == 202, response.text
            job = wait_for_job(client, project.admin_key, response.json()["job"]["id"])
            upload = project.get(f"/uploads/{response.json()['source']['id']}").json()
            stored = project.get("/narratives").json()
        assert job["status"] == "failed"
        assert "WEFT_JOB_TIME_LIMIT_INGEST" in job["error"]
        assert upload["status"] == "failed"
        assert "WEFT_JOB_TIME_LIMIT_INGEST" in upload["error"]
        assert stored["total"] == 0

    def test_an_analysis_past_its_limit_fails_and_says_which_setting(
        self, settings: Settings, embedder: CountingEmbedder
    ) -> None:
        tiny = _limited(settings, analyze=1e-6)
        with TestClient(create_app(tiny, embedder=embedder)) as client:
            project = make_project(client)
            batch = [{"text": f"story number {i} about the ward"} for i in range(30)]
            embed = project.post("/narratives", {"narratives": batch}).json()["job"]["id"]
            assert wait_for_job(client, project.admin_key, embed)["status"] == "succeeded"
            queued = project.post("/analyses", {}).json()
            job = wait_for_job(client, project.admin_key, queued["job"]["id"])
            run = project.get(f"/analyses/{queued['analysis']['id']}").json()
            themes = project.get("/themes").json()
        assert job["status"] == "failed"
        assert "WEFT_JOB_TIME_LIMIT_ANALYZE" in job["error"]
        assert run["status"] == "failed"
        assert run["error"] == job["error"]
        assert themes["analysis"] is None
