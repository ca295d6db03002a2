"""Fan-out: a large embedding job split into chunk jobs, its progress the sum of theirs, a
failed chunk retried alone, the follow-up work done once after the last chunk.

The executor is driven by hand on SQLite (no runner attached), so each test decides which
job runs when; the last class runs the whole thing through the service's thread runner.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.jobs import fanout
from app.jobs.context import JobDeps, build_deps
from app.jobs.execute import claim_next, execute, next_in_project, run_claimed
from app.jobs.kinds import JobKind
from app.jobs.sweep import sweep_expired
from app.main import create_app
from app.services import dashboard, upload_progress
from app.services import embeddings as embedding_service
from app.services import jobs as job_service
from models import Analysis, Embedding, Job, JobStatus, Narrative, Project, Source, SourceStatus
from models.base import utcnow
from pipelines.embed import FloatMatrix, text_hash
from tests.conftest import CountingEmbedder, auth, make_project, wait_for_job

THRESHOLD = 12  # chunks of 3 texts


def _texts(n: int, tag: str = "") -> list[str]:
    return [f"story {tag}{i}: the bus to the clinic ran late again, number {i}" for i in range(n)]


def _project(engine: Engine, texts: Sequence[str]) -> str:
    with Session(engine) as session, session.begin():
        project = Project(name="Fan-out")
        session.add(project)
        session.flush()
        _add(session, project.id, texts)
        return project.id


def _add(session: Session, project_id: str, texts: Sequence[str]) -> None:
    for n, text in enumerate(texts):
        session.add(
            Narrative(
                project_id=project_id,
                text=text,
                text_hash=text_hash(text),
                dedupe_key=f"{text_hash(text)[:40]}-{n}",
            )
        )


def _queue(engine: Engine, project_id: str, kind: str = JobKind.embed, **payload: Any) -> str:
    with Session(engine) as session, session.begin():
        job = Job(project_id=project_id, kind=kind, payload=payload)
        session.add(job)
        session.flush()
        return job.id


def _job(engine: Engine, job_id: str) -> Job:
    with Session(engine) as session:
        return session.get_one(Job, job_id)


def _chunks(engine: Engine, parent_id: str) -> list[Job]:
    with Session(engine) as session:
        return list(
            session.scalars(select(Job).where(Job.parent_id == parent_id).order_by(Job.created_at))
        )


class FlakyEmbedder(CountingEmbedder):
    """Raises on texts containing `poison` for its first `failures` calls that meet one."""

    def __init__(self, poison: str, failures: int) -> None:
        super().__init__()
        self.poison, self.failures = poison, failures

    def encode(self, texts: Sequence[str]) -> FloatMatrix:
        if self.failures and any(self.poison in t for t in texts):
            self.failures -= 1
            raise RuntimeError("the model ran out of memory")
        return super().encode(texts)


@pytest.fixture
def fan_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"embedding_fanout_threshold": THRESHOLD, "embedding_chunk_size": 2}
    )


def _deps(settings: Settings, embedder: CountingEmbedder) -> Iterator[JobDeps]:
    engine, deps = build_deps(settings, embedder)
    yield deps
    engine.dispose()


@pytest.fixture
def deps(fan_settings: Settings, embedder: CountingEmbedder) -> Iterator[JobDeps]:
    yield from _deps(fan_settings, embedder)


def _run_all(deps: JobDeps) -> list[str]:
    """Run jobs until none is left whose turn it is; the ids in the order they ran."""
    ran: list[str] = []
    while (ctx := claim_next(deps)) is not None:
        run_claimed(deps, ctx)
        ran.append(ctx.job_id)
    return ran


class TestSplit:
    def test_a_job_over_the_threshold_is_split_and_ends_after_its_chunks(
        self, deps: JobDeps, engine: Engine, embedder: CountingEmbedder
    ) -> None:
        texts = _texts(20)
        project_id = _project(engine, texts + texts[:5])  # 5 repeats: 20 distinct texts
        parent_id = _queue(engine, project_id)

        assert execute(deps, parent_id) is JobStatus.running
        parent = _job(engine, parent_id)
        assert parent.status is JobStatus.running
        assert (parent.progress_done, parent.progress_total) == (0, 20)
        assert embedder.texts_embedded == []  # the parent embedded nothing itself
        chunks = _chunks(engine, parent_id)
        assert [c.progress_total for c in chunks] == [3, 3, 3, 3, 3, 3, 2]
        assert {c.kind for c in chunks} == {JobKind.embed_chunk}

        # two chunks run: the parent's progress is theirs added up
        for chunk in chunks[:2]:
            assert execute(deps, chunk.id) is JobStatus.succeeded
        assert _job(engine, parent_id).progress_done == 6
        assert _job(engine, parent_id).status is JobStatus.running

        _run_all(deps)
        parent = _job(engine, parent_id)
        assert parent.status is JobStatus.succeeded, parent.error
        assert (parent.progress_done, parent.progress_total) == (20, 20)
        assert parent.result is not None
        assert parent.result["embedded"] == 20
        assert parent.result["chunks"] == 7
        assert all(c.status is JobStatus.succeeded for c in _chunks(engine, parent_id))
        # every distinct text embedded once, and one vector each
        assert sorted(embedder.texts_embedded) == sorted(texts)
        with Session(engine) as session:
            assert session.scalar(select(func.count()).select_from(Embedding)) == 20

    def test_a_job_at_the_threshold_is_not_split(
        self, deps: JobDeps, engine: Engine, embedder: CountingEmbedder
    ) -> None:
        project_id = _project(engine, _texts(THRESHOLD))
        parent_id = _queue(engine, project_id)
        assert execute(deps, parent_id) is JobStatus.succeeded
        assert _chunks(engine, parent_id) == []
        assert len(embedder.texts_embedded) == THRESHOLD

    def test_the_chunks_share_the_texts_by_length(self) -> None:
        texts = [f"a{'h' * n}" for n in (9, 1, 5, 3, 7, 2, 8, 4, 6, 0)]
        items = [(text_hash(t), t) for t in texts]
        chunks = fanout.plan(items + items[:3], 4)  # repeats count once
        assert [len(c.hashes) for c in chunks] == [4, 4, 2]
        by_hash = dict(items)
        lengths = [[len(by_hash[h]) for h in c.hashes] for c in chunks]
        # shortest first, each chunk a run of similar lengths
        assert lengths == [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10]]
        assert sorted(h for c in chunks for h in c.hashes) == sorted(by_hash)

    def test_texts_stored_while_the_chunks_ran_are_embedded_by_the_last_run(
        self, deps: JobDeps, engine: Engine, embedder: CountingEmbedder
    ) -> None:
        project_id = _project(engine, _texts(16))
        parent_id = _queue(engine, project_id)
        execute(deps, parent_id)
        for chunk in _chunks(engine, parent_id):
            execute(deps, chunk.id)
        # a narrative added after its chunk ran (a JSON batch stored meanwhile)
        with Session(engine) as session, session.begin():
            _add(session, project_id, ["a late story about the night bus"])
        _run_all(deps)
        parent = _job(engine, parent_id)
        assert parent.status is JobStatus.succeeded, parent.error
        assert parent.result is not None and parent.result["embedded"] == 17
        assert (parent.progress_done, parent.progress_total) == (17, 17)


def _upload(engine: Engine, project_id: str, embed_id: str, stored: int) -> int:
    """A stored upload whose ingest job queued (or joined) embedding job `embed_id`."""
    with Session(engine) as session, session.begin():
        ingest = Job(
            project_id=project_id,
            kind=JobKind.ingest,
            status=JobStatus.succeeded,
            progress_done=stored,
            progress_total=stored,
            result={"embed_job_id": embed_id},
        )
        session.add(ingest)
        session.flush()
        source = Source(
            project_id=project_id,
            kind="csv",
            sha256="0" * 64,
            status=SourceStatus.stored,
            job_id=ingest.id,
            report={"records": stored, "stored": stored, "duplicates": 0},
        )
        session.add(source)
        session.flush()
        return source.id


def _embed_stage(engine: Engine, source_id: int) -> tuple[str, int | None, int | None, str]:
    with Session(engine) as session:
        source = session.get_one(Source, source_id)
        stage = upload_progress.progress(session, source).stages[2]
        return stage.status, stage.done, stage.total, stage.note or ""


class TestUploadProgress:
    def test_the_embed_stage_counts_the_chunks_work(self, deps: JobDeps, engine: Engine) -> None:
        project_id = _project(engine, _texts(20))
        parent_id = _queue(engine, project_id)
        source_id = _upload(engine, project_id, parent_id, 20)
        execute(deps, parent_id)
        status, done, total, note = _embed_stage(engine, source_id)
        assert (status, done, total) == ("running", 0, 20)
        assert "7 chunk jobs" in note and "0 done" in note
        for chunk in _chunks(engine, parent_id)[:3]:
            execute(deps, chunk.id)
        status, done, total, note = _embed_stage(engine, source_id)
        assert (status, done, total) == ("running", 9, 20)
        assert "3 done" in note
        for chunk in _chunks(engine, parent_id)[3:]:
            execute(deps, chunk.id)
        # every chunk has ended; the job waits for its last run, which places the narratives
        status, done, total, note = _embed_stage(engine, source_id)
        assert (status, done, total) == ("done", 20, 20)
        assert _job(engine, parent_id).status is JobStatus.queued
        _run_all(deps)
        status, done, total, note = _embed_stage(engine, source_id)
        assert (status, done, total) == ("done", 20, 20)
        assert "7 done" in note


class TestTurns:
    def test_chunks_run_beside_each_other_and_the_projects_other_jobs_wait(
        self, deps: JobDeps, engine: Engine
    ) -> None:
        project_id = _project(engine, _texts(20))
        parent_id = _queue(engine, project_id)
        execute(deps, parent_id)
        later = _queue(engine, project_id, no_analysis=True)
        chunks = _chunks(engine, parent_id)
        # two chunks claimed at once: both run, as two workers would
        first, second = claim_next(deps), claim_next(deps)
        assert first is not None and second is not None
        assert {first.job_id, second.job_id} <= {c.id for c in chunks}
        # the project's next job waits for its embedding job to end
        assert execute(deps, later) is None
        with Session(engine) as session:
            assert next_in_project(session, project_id) is None

    def test_another_projects_job_goes_before_the_chunks(
        self, deps: JobDeps, engine: Engine
    ) -> None:
        big = _project(engine, _texts(20))
        parent_id = _queue(engine, big)
        execute(deps, parent_id)
        small = _project(engine, _texts(2, "other "))
        other = _queue(engine, small, no_analysis=True)
        # the other project's job is younger than every chunk, and still claimed first
        ctx = claim_next(deps)
        assert ctx is not None and ctx.job_id == other

    def test_the_listings_show_the_job_not_its_chunks(
        self, fan_settings: Settings, engine: Engine, embedder: CountingEmbedder, deps: JobDeps
    ) -> None:
        project_id = _project(engine, _texts(20))
        parent_id = _queue(engine, project_id)
        execute(deps, parent_id)
        with Session(engine) as session:
            project = session.get_one(Project, project_id)
            work = dashboard.work_in_hand(session, project)
            assert [w.id for w in work] == [parent_id]
            page = job_service.list_page(session, project_id, 50, 0)
            assert page.total == 1 and [j.id for j in page.items] == [parent_id]


class TestFailures:
    def test_a_failed_chunk_is_retried_alone(self, fan_settings: Settings, engine: Engine) -> None:
        texts = _texts(20)
        flaky = FlakyEmbedder(poison=texts[7], failures=1)
        for deps in _deps(fan_settings, flaky):
            project_id = _project(engine, texts)
            parent_id = _queue(engine, project_id)
            execute(deps, parent_id)
            _run_all(deps)
            parent = _job(engine, parent_id)
            assert parent.status is JobStatus.succeeded, parent.error
            attempts = sorted(c.attempts for c in _chunks(engine, parent_id))
            # one chunk ran twice, every other once
            assert attempts == [1, 1, 1, 1, 1, 1, 2]
            retried = next(c for c in _chunks(engine, parent_id) if c.attempts == 2)
            assert retried.status is JobStatus.succeeded
            assert sorted(set(flaky.texts_embedded)) == sorted(texts)

    def test_a_chunk_that_fails_for_good_fails_the_job_and_no_analysis_is_queued(
        self, fan_settings: Settings, engine: Engine
    ) -> None:
        texts = _texts(20)
        broken = FlakyEmbedder(poison=texts[7], failures=100)
        wanted = fan_settings.model_copy(update={"auto_analyze": True})
        for deps in _deps(wanted, broken):
            project_id = _project(engine, texts)
            parent_id = _queue(engine, project_id)
            execute(deps, parent_id)
            _run_all(deps)
            parent = _job(engine, parent_id)
            assert parent.status is JobStatus.failed
            assert parent.error is not None
            assert "failed on each of 2 attempts (setting WEFT_JOB_MAX_ATTEMPTS)" in parent.error
            assert "the model ran out of memory" in parent.error
            statuses = [c.status for c in _chunks(engine, parent_id)]
            assert JobStatus.queued not in statuses and JobStatus.running not in statuses
            with Session(engine) as session:
                assert session.scalar(select(func.count()).select_from(Analysis)) == 0
            # the project's next job may run now
            later = _queue(engine, project_id, no_analysis=True)
            assert claim_next(deps) is not None
            assert _job(engine, later).status is JobStatus.running

    def test_a_chunk_whose_worker_died_runs_again_and_embeds_only_what_is_missing(
        self, deps: JobDeps, engine: Engine, embedder: CountingEmbedder
    ) -> None:
        texts = _texts(20)
        project_id = _project(engine, texts)
        parent_id = _queue(engine, project_id)
        execute(deps, parent_id)
        ctx = claim_next(deps)
        assert ctx is not None
        # the chunk's worker stored one batch of its texts, then died
        mine = [t for t in texts if text_hash(t) in ctx.payload["hashes"]]
        assert len(mine) == 3
        with Session(engine) as session, session.begin():
            embedding_service.store_vectors(
                session, embedder.name, [text_hash(mine[0])], embedder.encode(mine[:1])
            )
            chunk = session.get_one(Job, ctx.job_id)
            chunk.started_at = chunk.lease_expires_at = utcnow() - timedelta(hours=1)
        embedder.calls.clear()
        requeued, _failed = sweep_expired(deps)
        assert requeued == [ctx.job_id]
        _run_all(deps)
        parent = _job(engine, parent_id)
        assert parent.status is JobStatus.succeeded, parent.error
        assert _job(engine, ctx.job_id).attempts == 2
        assert sorted(embedder.texts_embedded) == sorted(t for t in texts if t != mine[0])
        assert (parent.progress_done, parent.progress_total) == (20, 20)

    def test_a_chunk_given_up_by_the_sweeper_fails_the_job(
        self, deps: JobDeps, engine: Engine
    ) -> None:
        project_id = _project(engine, _texts(20))
        parent_id = _queue(engine, project_id)
        execute(deps, parent_id)
        ctx = claim_next(deps)
        assert ctx is not None
        # its worker died on its last attempt: the lease ran out long ago
        with Session(engine) as session, session.begin():
            chunk = session.get_one(Job, ctx.job_id)
            chunk.attempts = deps.settings.job_max_attempts
            chunk.started_at = chunk.lease_expires_at = utcnow() - timedelta(hours=1)
        _requeued, failed = sweep_expired(deps)
        assert failed == [ctx.job_id]
        # the parent's own lease is held by its chunks: the sweeper never takes it
        parent = _job(engine, parent_id)
        assert parent.status is JobStatus.failed
        assert parent.error is not None and "interrupted" in parent.error

    def test_a_chunk_failing_after_its_job_failed_is_not_queued_again(
        self, fan_settings: Settings, engine: Engine
    ) -> None:
        broken = FlakyEmbedder(poison="story", failures=100)
        for deps in _deps(fan_settings, broken):
            project_id = _project(engine, _texts(20))
            parent_id = _queue(engine, project_id)
            execute(deps, parent_id)
            first, second = claim_next(deps), claim_next(deps)
            assert first is not None and second is not None
            with Session(engine) as session, session.begin():
                chunk = session.get_one(Job, first.job_id)
                chunk.attempts = deps.settings.job_max_attempts
                chunk.started_at = chunk.lease_expires_at = utcnow() - timedelta(hours=1)
            sweep_expired(deps)
            assert _job(engine, parent_id).status is JobStatus.failed
            # the second chunk fails on its first attempt, once its job has failed
            assert run_claimed(deps, second) is JobStatus.failed
            assert _job(engine, second.job_id).status is JobStatus.failed
            statuses = {c.status for c in _chunks(engine, parent_id)}
            assert statuses == {JobStatus.failed}


class TestThroughTheService:
    def test_an_upload_is_embedded_by_chunks_and_analysed_once(
        self, fan_settings: Settings, engine: Engine
    ) -> None:
        embedder = CountingEmbedder()
        settings = fan_settings.model_copy(update={"auto_analyze": True, "job_lanes": 2})
        texts = _texts(40)
        with TestClient(create_app(settings, embedder=embedder)) as client:
            project = make_project(client)
            stored = project.post("/narratives", {"narratives": [{"text": t} for t in texts]})
            assert stored.status_code == 201, stored.text
            job_id = stored.json()["job"]["id"]
            done = wait_for_job(client, project.admin_key, job_id, 60)
            assert done["status"] == "succeeded", done
            assert done["result"]["embedded"] == 40
            assert done["result"]["chunks"] == 14
            assert (done["progress_done"], done["progress_total"]) == (40, 40)
            analysis = project.get(f"/analyses/{done['result']['analysis_id']}").json()
            analysed = wait_for_job(client, project.admin_key, analysis["job_id"], 60)
            assert analysed["status"] == "succeeded", analysed
            listed = client.get(
                f"/v1/projects/{project.id}/jobs", headers=auth(project.admin_key)
            ).json()
            assert {j["kind"] for j in listed["items"]} == {"embed", "analyze"}
        # each story embedded once (the analysis embeds its own anchors and phrases besides)
        embedded = embedder.texts_embedded
        assert [embedded.count(t) for t in texts] == [1] * len(texts)
        with Session(engine) as session:
            assert session.scalar(select(func.count()).select_from(Analysis)) == 1
            chunks = session.scalar(select(func.count()).where(Job.parent_id == job_id))
            assert chunks == 14
