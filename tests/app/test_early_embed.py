"""An upload's texts are embedded while its rows are stored (app/services/early_embed.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app.services import early_embed
from app.services import embeddings as embedding_service
from app.services import narratives as narrative_service
from app.services.early_embed import EarlyEmbedding
from models import Embedding, Job, Narrative, Source, SourceStatus
from pipelines.embed import text_hash
from tests.app.test_uploads import upload, upload_and_wait
from tests.conftest import CountingEmbedder, ProjectHandle

LONG = " ".join(
    f"Sentence {i} tells how the ward kept the beds free for the night." for i in range(30)
)


def vectors_of(engine: Engine, model: str) -> set[str]:
    with Session(engine) as session:
        return set(session.scalars(select(Embedding.text_hash).where(Embedding.model == model)))


def units_of(engine: Engine) -> Any:
    @contextmanager
    def unit() -> Iterator[Session]:
        with Session(engine) as session, session.begin():
            yield session

    return unit


def wait_until_idle(early: EarlyEmbedding) -> None:
    thread = early._thread
    assert thread is not None
    thread.join(30)
    assert not thread.is_alive()


class TestEarlyEmbedding:
    def test_vectors_made_during_the_store_are_written_once_it_commits(
        self, engine: Engine, embedder: CountingEmbedder
    ) -> None:
        cached = "The porter stayed late."
        with Session(engine) as session, session.begin():
            embedding_service.store_vectors(
                session, embedder.name, [text_hash(cached)], embedder.encode([cached])
            )
        embedder.calls.clear()
        reports: list[tuple[int, int]] = []
        early = EarlyEmbedding(
            units_of(engine),
            embedder,
            chunk_size=2,
            concurrent_writes=False,
            report=lambda _session, done, total: reports.append((done, total)),
        )
        texts = [
            "Handover moved to 8.",
            "We used two forms.",
            "Handover  moved to 8.",
            cached,
            LONG,
        ]
        early.storing()
        early.start(texts)
        wait_until_idle(early)
        # held in memory while the store holds SQLite's one write lock
        assert vectors_of(engine, embedder.name) == {text_hash(cached)}
        early.stored()
        assert early.finish() == 2
        new = {text_hash("Handover moved to 8."), text_hash("We used two forms.")}
        assert vectors_of(engine, embedder.name) == new | {text_hash(cached)}
        # the same words once, the cached text not again, the long one left to the embedding job
        assert sorted(embedder.texts_embedded) == ["Handover moved to 8.", "We used two forms."]
        assert reports[-1] == (2, 2)

    def test_a_failed_store_leaves_the_held_vectors_unwritten(
        self, engine: Engine, embedder: CountingEmbedder
    ) -> None:
        early = EarlyEmbedding(units_of(engine), embedder, 8, concurrent_writes=False)
        early.storing()
        early.start(["Handover moved to 8.", "We used two forms."])
        wait_until_idle(early)
        early.abandon()
        early.stored()  # a late call writes nothing either
        assert vectors_of(engine, embedder.name) == set()

    def test_with_concurrent_writes_vectors_are_written_as_they_are_made(
        self, engine: Engine, embedder: CountingEmbedder
    ) -> None:
        early = EarlyEmbedding(units_of(engine), embedder, 1, concurrent_writes=True)
        early.storing()
        early.start(["Handover moved to 8.", "We used two forms."])
        wait_until_idle(early)
        assert len(vectors_of(engine, embedder.name)) == 2
        assert early.finish() == 2

    def test_the_thread_stops_once_the_store_has_committed(
        self, engine: Engine, embedder: CountingEmbedder
    ) -> None:
        plain = embedder.encode

        def slow(texts: Any) -> Any:
            time.sleep(0.2)
            return plain(texts)

        embedder.encode = slow  # type: ignore[method-assign]
        early = EarlyEmbedding(units_of(engine), embedder, 1, concurrent_writes=False)
        texts = [f"Story number {i} about the ward." for i in range(20)]
        early.storing()
        early.start(texts)
        deadline = time.monotonic() + 30
        while not embedder.calls and time.monotonic() < deadline:
            time.sleep(0.01)  # the model is on its first chunk
        early.stored()
        done = early.finish()
        # what is left is the embedding job's, which can split it across the workers
        assert 0 < done < 20
        assert len(vectors_of(engine, embedder.name)) == done

    def test_a_failing_model_is_left_to_the_embedding_job(
        self, engine: Engine, embedder: CountingEmbedder, caplog: pytest.LogCaptureFixture
    ) -> None:
        def broken(_texts: Any) -> Any:
            raise RuntimeError("out of memory")

        embedder.encode = broken  # type: ignore[method-assign]
        early = EarlyEmbedding(units_of(engine), embedder, 8, concurrent_writes=False)
        early.storing()
        early.start(["Handover moved to 8."])
        wait_until_idle(early)
        early.stored()
        assert early.finish() == 0
        assert "the embedding job embeds the rest" in caplog.text


CSV = (
    b"id,story\n"
    b"s-1,The porter stayed late so the patient got home before dark.\n"
    b"s-2,We used two forms because nobody knew which one was right.\n"
    b"s-3,Handover moved to 8 and the night shift missed it.\n"
    b"s-4,We used two forms because nobody knew which one was right.\n"
)


def test_an_upload_is_embedded_while_it_is_stored_and_each_text_once(
    project: ProjectHandle,
    embedder: CountingEmbedder,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    insert = narrative_service.insert_chunk
    lookup = early_embed._cached
    writing = threading.Event()

    def slow_store(*args: Any, **kwargs: Any) -> Any:
        # a store that holds the write lock until the model has started on the texts
        rows = insert(*args, **kwargs)
        writing.set()
        deadline = time.monotonic() + 10
        while not embedder.calls and time.monotonic() < deadline:
            time.sleep(0.01)
        return rows

    def late_lookup(*args: Any, **kwargs: Any) -> Any:
        # the thread looks up the stored vectors only once the store is writing
        assert writing.wait(10)
        return lookup(*args, **kwargs)

    monkeypatch.setattr(narrative_service, "insert_chunk", slow_store)
    monkeypatch.setattr(early_embed, "_cached", late_lookup)
    job = upload_and_wait(project, {"file": ("stories.csv", CSV)})
    assert job["status"] == "succeeded", job
    assert job["result"]["embedded_early"] == 3
    embed = project.client.get(
        f"/v1/jobs/{job['result']['embed_job_id']}",
        headers={"Authorization": f"Bearer {project.admin_key}"},
    ).json()
    deadline = time.monotonic() + 30
    while embed["status"] not in ("succeeded", "failed"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
        embed = project.client.get(
            f"/v1/jobs/{embed['id']}", headers={"Authorization": f"Bearer {project.admin_key}"}
        ).json()
    # the embedding job found every vector cached
    assert embed["result"]["embedded"] == 0
    assert len(embedder.texts_embedded) == 3 == len(set(embedder.texts_embedded))
    source = project.get(f"/uploads/{job['result']['source_id']}").json()
    stages = {s["name"]: (s["status"], s["done"], s["total"]) for s in source["progress"]["stages"]}
    assert stages["embed"] == ("done", 3, 3)


def test_a_store_that_fails_stores_nothing_and_stops_the_embedding(
    project: ProjectHandle,
    embedder: CountingEmbedder,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("disk full")

    monkeypatch.setattr(narrative_service, "insert_chunk", refuse)
    response = upload(project, {"file": ("stories.csv", CSV)})
    assert response.status_code == 202
    job_id = response.json()["job"]["id"]
    deadline = time.monotonic() + 30
    while True:
        with Session(engine) as session:
            job = session.get(Job, job_id)
            assert job is not None
            if job.status.value in ("succeeded", "failed"):
                break
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert job.status.value == "failed"
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Narrative)) == 0
        source = session.scalars(select(Source)).one()
        assert source.status is SourceStatus.failed
    assert not [t for t in threading.enumerate() if t.name == "weft-early-embed"]
