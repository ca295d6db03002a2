"""Long narratives by segments: embedding them, their memberships in an analysis, the quote
of a theme, and forgetting the segments of deleted texts."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Engine, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.db import Transaction
from models import NarrativeSegment, SegmentEmbedding, Theme
from pipelines.embed import Embedder, FloatMatrix, normalize_text, text_hash
from pipelines.segments import Segmented, pooled_vector, reads_whole, segment, token_counter
from pipelines.themes import ThemeResult
from pipelines.themes.membership import closest_segment, with_segment_shares

_IN_CHUNK = 500


@dataclasses.dataclass(frozen=True)
class StoredSegment:
    """One stored segment of a narrative text: its span in the canonical text and its hash."""

    start: int
    end: int
    segment_hash: str

    @property
    def length(self) -> int:
        return self.end - self.start


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), _IN_CHUNK):
        yield items[start : start + _IN_CHUNK]


def _insert_ignoring(session: Session, table: Any, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    bind = session.get_bind()
    dialect = bind.dialect.name if isinstance(bind, Engine) else bind.engine.dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    session.execute(insert(table).on_conflict_do_nothing(), rows)


def load_segment_vectors(
    session: Session, model: str, hashes: Sequence[str]
) -> dict[str, FloatMatrix]:
    """Stored segment vectors of `hashes` for `model`, by segment hash."""
    found: dict[str, FloatMatrix] = {}
    for chunk in _chunks(list(dict.fromkeys(hashes))):
        for segment_hash, blob in session.execute(
            select(SegmentEmbedding.text_hash, SegmentEmbedding.vector).where(
                SegmentEmbedding.model == model, SegmentEmbedding.text_hash.in_(chunk)
            )
        ):
            found[segment_hash] = np.frombuffer(blob, dtype="<f4")
    return found


def load_segments(
    session: Session, model: str, text_hashes: Sequence[str]
) -> dict[str, list[StoredSegment]]:
    """The stored segments of each long text among `text_hashes`, in order; short texts are
    left out."""
    found: dict[str, list[StoredSegment]] = {}
    for chunk in _chunks(list(dict.fromkeys(text_hashes))):
        rows = session.execute(
            select(
                NarrativeSegment.text_hash,
                NarrativeSegment.start_char,
                NarrativeSegment.end_char,
                NarrativeSegment.segment_hash,
            )
            .where(NarrativeSegment.model == model, NarrativeSegment.text_hash.in_(chunk))
            .order_by(NarrativeSegment.text_hash, NarrativeSegment.position)
        )
        for owner, start, end, segment_hash in rows:
            found.setdefault(owner, []).append(StoredSegment(start, end, segment_hash))
    return found


def encode_chunk(
    transaction: Transaction, embedder: Embedder, hashes: Sequence[str], texts: Sequence[str]
) -> FloatMatrix:
    """The vectors of one chunk of distinct texts, storing the segments of the long ones.

    A short text is embedded whole. A long one is cut into sentence-aware segments; each
    distinct segment text not stored yet for the model is embedded once and stored. The
    text's own vector is the model's reading of the whole text when it fits the model's
    window, else the length-weighted mean of its segment vectors, normalised. The
    segments are written in their own short transaction (idempotent: a chunk done again
    writes nothing new), so they are there before the texts' vectors that rest on them.
    """
    canonical = [normalize_text(t) for t in texts]
    plans = segment(canonical, token_counter(embedder))
    vectors = np.zeros((len(canonical), embedder.dimension), dtype=np.float32)
    short = [i for i, plan in enumerate(plans) if plan is None]
    if short:
        vectors[short] = embedder.encode([canonical[i] for i in short])
    long = {i: plan for i, plan in enumerate(plans) if plan is not None}
    if not long:
        return vectors
    by_hash = {text_hash(t): t for plan in long.values() for t in plan.texts}
    with transaction() as session:
        known = load_segment_vectors(session, embedder.name, list(by_hash))
    new = [h for h in by_hash if h not in known]
    fresh = embedder.encode([by_hash[h] for h in new]) if new else vectors[:0]
    known.update(zip(new, fresh, strict=True))
    fits = reads_whole(embedder, [canonical[i] for i in long])
    whole = {i for i, fit in zip(long, fits, strict=True) if fit}
    if whole:
        order = sorted(whole)
        vectors[order] = embedder.encode([canonical[i] for i in order])
    for i, plan in long.items():
        if i not in whole:
            vectors[i] = pooled_vector([known[text_hash(t)] for t in plan.texts], plan.lengths)
    with transaction() as session:
        _store(session, embedder.name, {hashes[i]: plan for i, plan in long.items()})
        _insert_ignoring(
            session,
            SegmentEmbedding,
            [
                {
                    "model": embedder.name,
                    "text_hash": h,
                    "dimension": int(v.shape[0]),
                    "vector": np.asarray(v, dtype="<f4").tobytes(),
                }
                for h, v in zip(new, fresh, strict=True)
            ],
        )
    return vectors


def _store(session: Session, model: str, plans: dict[str, Segmented]) -> None:
    rows = [
        {
            "model": model,
            "text_hash": owner,
            "position": position,
            "start_char": start,
            "end_char": end,
            "segment_hash": text_hash(piece),
        }
        for owner, plan in plans.items()
        for position, ((start, end), piece) in enumerate(zip(plan.spans, plan.texts, strict=True))
    ]
    _insert_ignoring(session, NarrativeSegment, rows)


def segment_top(
    session: Session,
    model: str,
    hashes: Sequence[str],
    labels: npt.NDArray[np.int64],
    centroids: npt.NDArray[np.float64],
    top_themes: npt.NDArray[np.int64],
    top_probabilities: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Soft memberships with the rows of long narratives (of `hashes`, in a theme: `labels`
    >= 0) taken from the themes their stored segments fall in (`with_segment_shares`)."""
    stored = load_segments(session, model, hashes)
    by_hash = load_segment_vectors(
        session, model, [p.segment_hash for parts in stored.values() for p in parts]
    )
    rows = [
        i
        for i, h in enumerate(hashes)
        if h in stored and labels[i] >= 0 and all(p.segment_hash in by_hash for p in stored[h])
    ]
    pieces = [p for i in rows for p in stored[hashes[i]]]
    if not pieces or centroids.shape[0] == 0:
        return top_themes, top_probabilities
    return with_segment_shares(
        top_themes,
        top_probabilities,
        labels,
        centroids,
        np.asarray(rows, dtype=np.int64),
        np.asarray([o for o, i in enumerate(rows) for _ in stored[hashes[i]]], dtype=np.int64),
        np.stack([by_hash[p.segment_hash] for p in pieces]).astype(np.float64),
        np.asarray([p.length for p in pieces], dtype=np.float64),
    )


def with_segment_memberships(
    session: Session, hashes: Sequence[str], result: ThemeResult, model: str
) -> ThemeResult:
    """`result` with the soft memberships of its long narratives taken from their segments.

    A long narrative belongs to the themes its segments fall in, with shares weighted by
    length; it keeps the theme it was clustered in as its primary one (whose share is raised
    to lead where segments lean elsewhere, as for whole texts), so sizes, trends and signals,
    which count each narrative once by its theme, do not change.
    """
    if not result.themes:
        return result
    top_themes, top_probabilities = segment_top(
        session,
        model,
        hashes,
        result.labels,
        np.stack([t.centroid for t in result.themes]).astype(np.float64),
        result.top_themes,
        result.top_probabilities,
    )
    return dataclasses.replace(result, top_themes=top_themes, top_probabilities=top_probabilities)


def exemplar_quotes(
    session: Session, model: str, themes: Sequence[Theme], texts: dict[int, str]
) -> dict[int, dict[int, str]]:
    """What each of `themes` quotes of its exemplars among `texts` (narrative id -> text), by
    theme id: for a long narrative the segment nearest the theme's centroid (the one that fell
    in the theme), else the text. The segments of every theme's exemplars are read at once,
    in two queries however many themes a page shows."""
    owned = {
        theme.id: [i for i in theme.exemplars if isinstance(i, int) and i in texts]
        for theme in themes
    }
    out = {theme_id: {i: texts[i] for i in ids} for theme_id, ids in owned.items()}
    hashes = {i: text_hash(texts[i]) for ids in owned.values() for i in ids}
    stored = load_segments(session, model, list(set(hashes.values())))
    if not stored:
        return out
    vectors = load_segment_vectors(
        session, model, [p.segment_hash for parts in stored.values() for p in parts]
    )
    for theme in themes:
        if theme.centroid is None:
            continue
        center = np.frombuffer(theme.centroid, dtype="<f4").astype(np.float64)
        for i in owned[theme.id]:
            parts = [p for p in stored.get(hashes[i], []) if p.segment_hash in vectors]
            if not parts or vectors[parts[0].segment_hash].shape[0] != center.shape[0]:
                continue
            matrix = np.stack([vectors[p.segment_hash] for p in parts]).astype(np.float64)
            best = parts[closest_segment(matrix, center)]
            out[theme.id][i] = normalize_text(texts[i])[best.start : best.end]
    return out


def drop_unshared(session: Session, text_hashes: Sequence[str]) -> None:
    """Forget the segments of texts no narrative holds any more (all models), and the vectors
    of segment texts that no remaining segment uses."""
    if not text_hashes:
        return
    segment_hashes: set[str] = set()
    for chunk in _chunks(list(text_hashes)):
        segment_hashes.update(
            session.scalars(
                select(NarrativeSegment.segment_hash).where(NarrativeSegment.text_hash.in_(chunk))
            )
        )
        session.execute(
            delete(NarrativeSegment)
            .where(NarrativeSegment.text_hash.in_(chunk))
            .execution_options(synchronize_session=False)
        )
    for chunk in _chunks(sorted(segment_hashes)):
        used = set(
            session.scalars(
                select(NarrativeSegment.segment_hash).where(
                    NarrativeSegment.segment_hash.in_(chunk)
                )
            )
        )
        unused = [h for h in chunk if h not in used]
        if unused:
            session.execute(
                delete(SegmentEmbedding)
                .where(SegmentEmbedding.text_hash.in_(unused))
                .execution_options(synchronize_session=False)
            )
