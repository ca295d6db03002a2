"""The embedding cache and the job that fills it for a project's narratives."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from sqlalchemy import Engine, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.jobs.context import JobContext
from app.jobs.registry import job_handler
from models import Embedding, Narrative
from pipelines.embed import FloatMatrix, normalize_text

EMBED_JOB = "embed"
_IN_CHUNK = 500


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def missing_texts(session: Session, project_id: str, model: str) -> list[tuple[str, str]]:
    """(text hash, text) of the project's narratives with no cached embedding for `model`."""
    rows = session.execute(
        select(Narrative.text_hash, Narrative.text)
        .outerjoin(
            Embedding,
            (Embedding.model == model) & (Embedding.text_hash == Narrative.text_hash),
        )
        .where(Narrative.project_id == project_id, Embedding.text_hash.is_(None))
    )
    seen: dict[str, str] = {}
    for text_hash, text in rows:
        seen.setdefault(text_hash, text)
    return list(seen.items())


def store_vectors(
    session: Session, model: str, hashes: Sequence[str], vectors: FloatMatrix
) -> None:
    """Insert vectors, ignoring any that another job stored first."""
    if not hashes:
        return
    rows = [
        {
            "model": model,
            "text_hash": h,
            "dimension": int(vectors.shape[1]),
            "vector": np.asarray(v, dtype="<f4").tobytes(),
        }
        for h, v in zip(hashes, vectors, strict=True)
    ]
    bind = session.get_bind()
    dialect = bind.dialect.name if isinstance(bind, Engine) else bind.engine.dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    session.execute(insert(Embedding).on_conflict_do_nothing(), rows)


def load_vectors(session: Session, model: str, hashes: Sequence[str]) -> dict[str, FloatMatrix]:
    """Cached vectors of `hashes` for `model`, by hash; absent hashes are left out."""
    found: dict[str, FloatMatrix] = {}
    for chunk in _chunks(list(dict.fromkeys(hashes)), _IN_CHUNK):
        for text_hash, blob in session.execute(
            select(Embedding.text_hash, Embedding.vector).where(
                Embedding.model == model, Embedding.text_hash.in_(chunk)
            )
        ):
            found[text_hash] = np.frombuffer(blob, dtype="<f4")
    return found


def embed_and_store(ctx: JobContext, items: list[tuple[str, str]]) -> int:
    """Embed (hash, text) pairs and cache the vectors, reporting progress after each chunk.

    Shortest texts go first so batches pad little; each chunk is stored in its own short
    transaction, so nothing is held open while the model computes. Returns how many were done.
    """
    embedder = ctx.deps.embedder
    ordered = sorted(items, key=lambda item: len(item[1]))
    done = 0
    for chunk in _chunks(ordered, ctx.deps.settings.embedding_chunk_size):
        hashes = [h for h, _ in chunk]
        vectors = embedder.encode([normalize_text(t) for _, t in chunk])
        with ctx.session() as session:
            store_vectors(session, embedder.name, hashes, vectors)
        done += len(hashes)
        ctx.progress(done)
    return done


@job_handler(EMBED_JOB)
def embed_project(ctx: JobContext) -> dict[str, Any]:
    """Embed every narrative of the project that the cache does not hold yet, then place the
    new narratives into the latest analysis's themes. With auto-analysis on, a full analysis
    is queued when there is none yet or when the re-analysis rule says one is due."""
    assert ctx.project_id is not None
    embedder = ctx.deps.embedder
    with ctx.session() as session:
        todo = missing_texts(session, ctx.project_id, embedder.name)
    ctx.progress(0, len(todo))
    done = embed_and_store(ctx, todo)
    result: dict[str, Any] = {"embedded": done, "model": embedder.name}
    # imported here: placing uses the analyses service, which uses this module
    from app.services.incremental import place_new

    placement = place_new(ctx, ctx.project_id)
    if placement is not None:
        result["incremental"] = placement.as_json()
    wanted = ctx.deps.settings.auto_analyze and not ctx.payload.get("no_analysis")
    if wanted and (placement is None or placement.advice.due):
        result["analysis_id"] = _queue_analysis(ctx, ctx.project_id, embedder.name)
    return result


def _queue_analysis(ctx: JobContext, project_id: str, model_name: str) -> int:
    # imported here: the analysis job itself uses this module's embedding functions
    from app.services.analyses import AnalysisParams, request_analysis
    from models import Project

    with ctx.session() as session:
        project = session.get_one(Project, project_id)
        analysis, _job = request_analysis(
            session, project, AnalysisParams(), model_name, debounce=True
        )
        return analysis.id
