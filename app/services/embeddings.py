"""The embedding cache: which texts it lacks, storing and loading vectors, filling it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
from sqlalchemy import Engine, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.db import Transaction
from app.services import segments as segment_service
from models import Embedding, Narrative
from pipelines.embed import Embedder, FloatMatrix

_IN_CHUNK = 500


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def missing_texts(
    session: Session,
    project_id: str,
    model: str,
    among: Sequence[str] | None = None,
) -> list[tuple[str, str]]:
    """(text hash, text) of the project's narratives with no cached embedding for `model`;
    with `among`, only those whose hash is one of them (one chunk's share, app/jobs/fanout.py)."""
    stmt = (
        select(Narrative.text_hash, Narrative.text)
        .outerjoin(
            Embedding,
            (Embedding.model == model) & (Embedding.text_hash == Narrative.text_hash),
        )
        .where(Narrative.project_id == project_id, Embedding.text_hash.is_(None))
    )
    batches = (
        [stmt]
        if among is None
        else [
            stmt.where(Narrative.text_hash.in_(chunk)) for chunk in _chunks(list(among), _IN_CHUNK)
        ]
    )
    seen: dict[str, str] = {}
    for batch in batches:
        for text_hash, text in session.execute(batch):
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


def embed_and_store(
    transaction: Transaction,
    embedder: Embedder,
    items: list[tuple[str, str]],
    chunk_size: int,
    progress: Callable[[int], None],
) -> int:
    """Embed (hash, text) pairs and cache the vectors, calling `progress(done)` after each chunk.

    Shortest texts go first so batches pad little; each chunk is stored in its own short
    transaction, so nothing is held open while the model computes. Long texts are embedded
    by segments (`segments.encode_chunk`). Returns how many were done.
    """
    ordered = sorted(items, key=lambda item: len(item[1]))
    done = 0
    for chunk in _chunks(ordered, chunk_size):
        hashes = [h for h, _ in chunk]
        vectors = segment_service.encode_chunk(transaction, embedder, hashes, [t for _, t in chunk])
        with transaction() as session:
            store_vectors(session, embedder.name, hashes, vectors)
        done += len(hashes)
        progress(done)
    return done
