"""Placing narratives added after an analysis into its themes, without re-clustering.

A posted session is embedded, then its narratives join the latest analysis's themes at once
(:func:`pipelines.themes.incremental.assign_incremental`); those that fit no theme and are
dense together become new themes flagged ``emerging``. The analysis keeps count of what was
placed this way, and :func:`pipelines.themes.incremental.reanalysis_due` says when a full
analysis is due.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from app.db import Transaction
from app.services import segments as segment_service
from app.services.analyses import AnalysisParams, latest, theme_row
from app.services.embeddings import load_vectors
from app.services.theme_keys import new_key
from models import Analysis, Embedding, Narrative, Project, Theme, ThemeAssignment, ThemeMembership
from pipelines.embed import unit_rows
from pipelines.themes.incremental import (
    IncrementalResult,
    ReanalysisAdvice,
    assign_incremental,
    reanalysis_due,
)

EMERGING = "emerging"
#: New narratives compared with the reference at a time, to bound memory.
_CHUNK = 2000

_locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
_locks_guard = threading.Lock()


def _lock(project_id: str) -> threading.Lock:
    with _locks_guard:
        return _locks[project_id]


def advice(analysis: Analysis) -> ReanalysisAdvice:
    """Whether a full analysis is due, from what was placed since the analysis ran."""
    return reanalysis_due(
        analysis.narrative_count - analysis.incremental_count,
        analysis.incremental_count,
        analysis.incremental_unassigned,
    )


@dataclass
class Placement:
    analysis_id: int
    placed: int
    unassigned: int
    emerging: list[str]
    advice: ReanalysisAdvice
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "analysis_id": self.analysis_id,
            "placed": self.placed,
            "unassigned": self.unassigned,
            "emerging": self.emerging,
            "reanalysis_due": self.advice.due,
            "reanalysis_reason": self.advice.reason,
            "seconds": round(self.seconds, 3),
        }


def place_new(transaction: Transaction, project_id: str, model: str) -> Placement | None:
    """Place the project's narratives embedded by `model` that the latest analysis lacks.

    Returns ``None`` when there is no analysis to place into (or it used another model).
    Runs in one transaction with the analysis row locked, so two jobs never place the same
    narratives twice.
    """
    with _lock(project_id), transaction() as session:
        found = latest(session, session.get_one(Project, project_id))
        if found is None or found.model_name != model:
            return None
        analysis = session.get_one(Analysis, found.id, with_for_update=True)
        started = time.perf_counter()
        placement = _place(session, project_id, analysis, model)
        session.flush()
        placement.seconds = time.perf_counter() - started
        return placement


def _nearest(new: np.ndarray, reference: np.ndarray) -> np.ndarray:
    out = np.zeros(new.shape[0], dtype=np.int64)
    for start in range(0, new.shape[0], _CHUNK):
        out[start : start + _CHUNK] = np.argmax(new[start : start + _CHUNK] @ reference.T, axis=1)
    return out


def _place(session: Session, project_id: str, analysis: Analysis, model: str) -> Placement:
    params = AnalysisParams.from_row(analysis)
    assigned = select(ThemeAssignment.narrative_id).where(
        ThemeAssignment.analysis_id == analysis.id
    )
    query = (
        select(Narrative.id, Narrative.text, Narrative.text_hash)
        .join(Embedding, (Embedding.model == model) & (Embedding.text_hash == Narrative.text_hash))
        .where(Narrative.project_id == project_id, Narrative.id.not_in(assigned))
    )
    if not params.include_low_content:
        query = query.where(Narrative.low_content.is_(False))
    new_rows = session.execute(query.order_by(Narrative.id)).all()
    if not new_rows:
        return Placement(analysis.id, 0, 0, [], advice(analysis))

    ref_rows = session.execute(
        select(
            ThemeAssignment.narrative_id,
            ThemeAssignment.theme_id,
            ThemeAssignment.x,
            ThemeAssignment.y,
            Narrative.text_hash,
        )
        .join(Narrative, Narrative.id == ThemeAssignment.narrative_id)
        .where(ThemeAssignment.analysis_id == analysis.id)
        .order_by(ThemeAssignment.narrative_id)
    ).all()
    themes = list(
        session.scalars(select(Theme).where(Theme.analysis_id == analysis.id).order_by(Theme.id))
    )
    top = [t for t in themes if t.level == 0]
    index_of = {t.id: i for i, t in enumerate(top)}
    vectors = load_vectors(
        session, model, [r.text_hash for r in ref_rows] + [r.text_hash for r in new_rows]
    )
    new_x = unit_rows(np.stack([vectors[r.text_hash] for r in new_rows]).astype(np.float64))
    ref_kept = [r for r in ref_rows if r.text_hash in vectors]
    dim = new_x.shape[1]
    ref_x = (
        unit_rows(np.stack([vectors[r.text_hash] for r in ref_kept]).astype(np.float64))
        if ref_kept
        else np.zeros((0, dim))
    )
    ref_labels = np.array(
        [index_of.get(r.theme_id, -1) if r.theme_id is not None else -1 for r in ref_kept],
        dtype=np.int64,
    )
    centroids = (
        np.stack(
            [
                np.frombuffer(t.centroid, dtype="<f4") if t.centroid else np.zeros(dim, "<f4")
                for t in top
            ]
        )
        if top
        else np.zeros((0, dim))
    )
    result = assign_incremental(
        new_x,
        ref_x,
        ref_labels,
        centroids,
        new_texts=[r.text for r in new_rows],
        random_state=analysis.seed,
    )
    new_ids = [r.id for r in new_rows]

    # Map position: where the most similar narrative the analysis holds sits.
    if ref_kept:
        near = _nearest(new_x, ref_x)
        xs = np.array([ref_kept[j].x if ref_kept[j].x is not None else 0.0 for j in near])
        ys = np.array([ref_kept[j].y if ref_kept[j].y is not None else 0.0 for j in near])
    else:
        xs = ys = np.zeros(len(new_rows))

    taken = {t.key for t in themes}
    total = analysis.narrative_count + len(new_rows)
    theme_ids = [t.id for t in top]
    emerging_keys: list[str] = []
    for description in result.emerging:
        members = result.labels == description.theme
        key = new_key(project_id, new_ids[description.exemplars[0]], taken)
        taken.add(key)
        # size and share are recounted with the rest below
        xy = (float(xs[members].mean()), float(ys[members].mean()))
        record = theme_row(analysis.id, key, 0, description, new_ids, 0, total, xy)
        record.flags = [EMERGING]
        session.add(record)
        session.flush()
        theme_ids.append(record.id)
        emerging_keys.append(key)

    subtheme_of = _nearest_subthemes(themes, result.labels, theme_ids, new_x)
    ranked, ranked_p = _memberships(session, model, new_rows, result, centroids)
    rows: list[dict[str, Any]] = []
    memberships: list[dict[str, Any]] = []
    for i, narrative_id in enumerate(new_ids):
        label = int(result.labels[i])
        theme_id = theme_ids[label] if label >= 0 else None
        subtheme_id = subtheme_of.get(i)
        probability = float(result.probabilities[i])
        rows.append(
            {
                "analysis_id": analysis.id,
                "narrative_id": narrative_id,
                "theme_id": theme_id,
                "subtheme_id": subtheme_id,
                "probability": probability,
                "x": float(xs[i]),
                "y": float(ys[i]),
                "incremental": True,
            }
        )
        if theme_id is not None:
            memberships += [
                {
                    "analysis_id": analysis.id,
                    "narrative_id": narrative_id,
                    "rank": rank,
                    "theme_id": theme_ids[int(ranked[i, rank])],
                    "probability": float(ranked_p[i, rank]),
                }
                for rank in np.flatnonzero(ranked[i] >= 0)
            ]
    session.execute(insert(ThemeAssignment), rows)
    if memberships:
        session.execute(insert(ThemeMembership), memberships)
    _recount(session, analysis, total)
    analysis.incremental_count += len(new_rows)
    analysis.revision += 1
    analysis.incremental_unassigned += int(result.n_unassigned)
    session.flush()
    return Placement(
        analysis.id, len(new_rows), int(result.n_unassigned), emerging_keys, advice(analysis)
    )


def _memberships(
    session: Session,
    model: str,
    new_rows: Sequence[Any],
    result: IncrementalResult,
    centroids: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Each placed narrative's themes by rank (index into the theme ids, ``-1`` padded) and
    probabilities: its own theme alone, or for a long one placed in an analysed theme, the
    themes its segments fall in."""
    n = len(new_rows)
    labels = np.asarray(result.labels, dtype=np.int64)
    ranked = np.column_stack([labels, np.full((n, 2), -1, dtype=np.int64)])
    ranked_p = np.column_stack(
        [np.asarray(result.probabilities, dtype=np.float64), np.zeros((n, 2))]
    )
    analysed = np.where(labels < centroids.shape[0], labels, -1)
    return segment_service.segment_top(
        session,
        model,
        [r.text_hash for r in new_rows],
        analysed,
        np.asarray(centroids, dtype=np.float64),
        ranked,
        ranked_p,
    )


def _nearest_subthemes(
    themes: list[Theme], labels: np.ndarray, theme_ids: list[int], new_x: np.ndarray
) -> dict[int, int]:
    """New narrative index -> the sub-theme of its theme with the nearest centroid, for the
    narratives placed in a theme that has sub-themes."""
    children: dict[int, list[Theme]] = defaultdict(list)
    for t in themes:
        if t.level == 1 and t.parent_id is not None and t.centroid:
            children[t.parent_id].append(t)
    out: dict[int, int] = {}
    for label, theme_id in enumerate(theme_ids):
        kids = children.get(theme_id)
        rows = np.flatnonzero(labels == label)
        if not kids or rows.size == 0:
            continue
        centroids = np.stack([np.frombuffer(k.centroid or b"", dtype="<f4") for k in kids])
        nearest = np.argmax(new_x[rows] @ centroids.T, axis=1)
        out.update({int(r): kids[int(j)].id for r, j in zip(rows, nearest, strict=True)})
    return out


def _recount(session: Session, analysis: Analysis, total: int) -> None:
    """Sizes and shares of every theme of the analysis, from its assignments."""
    for column in (ThemeAssignment.theme_id, ThemeAssignment.subtheme_id):
        counts = session.execute(
            select(column, func.count())
            .where(ThemeAssignment.analysis_id == analysis.id, column.is_not(None))
            .group_by(column)
        ).all()
        for theme_id, size in counts:
            session.execute(
                update(Theme)
                .where(Theme.id == theme_id)
                .values(size=int(size), share=int(size) / total if total else 0.0)
            )
    clustered = session.scalar(
        select(func.count())
        .select_from(ThemeAssignment)
        .where(ThemeAssignment.analysis_id == analysis.id, ThemeAssignment.theme_id.is_not(None))
    )
    analysis.narrative_count = total
    analysis.unclustered_share = (total - int(clustered or 0)) / total if total else 0.0
