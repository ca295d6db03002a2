"""Reading stored analyses: themes (optionally within a filter), members, similar narratives."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.errors import Conflict, NotFound
from app.services.narratives import NarrativeFilter, filtered
from models import Analysis, Embedding, Narrative, Project, Theme, ThemeAssignment

SNIPPET_CHARS = 240


def snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@dataclass
class ThemeCount:
    theme: Theme
    size: int
    share: float


@dataclass
class ThemeListing:
    total_narratives: int
    unclustered: int
    themes: list[ThemeCount]


def _is_filtered(flt: NarrativeFilter) -> bool:
    return bool(flt.attributes or flt.source_id or flt.session_id or flt.since or flt.until)


def list_themes(
    session: Session, project: Project, analysis: Analysis, flt: NarrativeFilter
) -> ThemeListing:
    """Themes by size; within a filter, sizes and shares are recounted from the assignments."""
    themes = list(session.scalars(select(Theme).where(Theme.analysis_id == analysis.id)))
    if not _is_filtered(flt):
        counted = [ThemeCount(t, t.size, t.share) for t in themes]
        total = analysis.narrative_count
        unclustered = total - sum(t.size for t in themes)
    else:
        members = filtered(project, flt).with_only_columns(Narrative.id).scalar_subquery()
        counts = dict(
            session.execute(
                select(ThemeAssignment.theme_id, func.count())
                .where(
                    ThemeAssignment.analysis_id == analysis.id,
                    ThemeAssignment.narrative_id.in_(members),
                )
                .group_by(ThemeAssignment.theme_id)
            ).all()
        )
        total = int(sum(counts.values()))
        unclustered = int(counts.get(None, 0))
        counted = [
            ThemeCount(t, int(counts[t.id]), counts[t.id] / total)
            for t in themes
            if counts.get(t.id)
        ]
    counted.sort(key=lambda c: (-c.size, c.theme.key))
    return ThemeListing(total_narratives=total, unclustered=unclustered, themes=counted)


def get_theme(session: Session, analysis: Analysis, key: str) -> Theme:
    theme = session.scalars(
        select(Theme).where(Theme.analysis_id == analysis.id, Theme.key == key)
    ).first()
    if theme is None:
        raise NotFound(f"theme {key!r} is not in the latest analysis")
    return theme


def members(
    session: Session, theme: Theme, limit: int, offset: int
) -> list[tuple[int, str, float]]:
    """(narrative id, text, probability) of a theme's members, most typical first."""
    rows = session.execute(
        select(Narrative.id, Narrative.text, ThemeAssignment.probability)
        .join(ThemeAssignment, ThemeAssignment.narrative_id == Narrative.id)
        .where(
            ThemeAssignment.analysis_id == theme.analysis_id,
            ThemeAssignment.theme_id == theme.id,
        )
        .order_by(ThemeAssignment.probability.desc(), Narrative.id)
        .limit(limit)
        .offset(offset)
    )
    return [(i, t, float(p)) for i, t, p in rows]


def texts_by_id(session: Session, ids: Sequence[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(
        session.execute(select(Narrative.id, Narrative.text).where(Narrative.id.in_(ids))).all()
    )


class VectorIndex:
    """Per-project matrices of unit vectors, kept while the project's narratives are unchanged."""

    def __init__(self, max_projects: int = 8) -> None:
        self._cache: OrderedDict[tuple[str, str], tuple[Any, list[int], np.ndarray]] = OrderedDict()
        self._max = max_projects
        self._lock = threading.Lock()

    def matrix(self, session: Session, project_id: str, model: str) -> tuple[list[int], np.ndarray]:
        signature = session.execute(
            select(func.count(Narrative.id), func.max(Narrative.id))
            .join(
                Embedding,
                (Embedding.model == model) & (Embedding.text_hash == Narrative.text_hash),
            )
            .where(Narrative.project_id == project_id)
        ).one()
        key = (project_id, model)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None and cached[0] == tuple(signature):
                self._cache.move_to_end(key)
                return cached[1], cached[2]
        rows = session.execute(
            select(Narrative.id, Embedding.vector)
            .join(
                Embedding,
                (Embedding.model == model) & (Embedding.text_hash == Narrative.text_hash),
            )
            .where(Narrative.project_id == project_id)
            .order_by(Narrative.id)
        ).all()
        ids = [r[0] for r in rows]
        matrix = (
            np.stack([np.frombuffer(r[1], dtype="<f4") for r in rows])
            if rows
            else np.zeros((0, 1), dtype=np.float32)
        )
        with self._lock:
            self._cache[key] = (tuple(signature), ids, matrix)
            while len(self._cache) > self._max:
                self._cache.popitem(last=False)
        return ids, matrix


def similar(
    session: Session,
    index: VectorIndex,
    project: Project,
    narrative: Narrative,
    model: str,
    limit: int,
) -> list[tuple[int, float]]:
    """(narrative id, cosine similarity) of the nearest other narratives of the project."""
    ids, matrix = index.matrix(session, project.id, model)
    try:
        row = ids.index(narrative.id)
    except ValueError:
        raise Conflict(
            f"narrative {narrative.id} is not embedded yet; retry when its embedding job is done"
        ) from None
    scores = matrix @ matrix[row]
    scores[row] = -np.inf
    k = min(limit, len(ids) - 1)
    if k <= 0:
        return []
    top = np.argpartition(-scores, k - 1)[:k]
    top = top[np.lexsort((np.array(ids)[top], -scores[top]))]
    return [(ids[i], float(scores[i])) for i in top]


def iter_assignments(
    session_factory: sessionmaker[Session], analysis_id: int, chunk: int = 2000
) -> Iterator[list[tuple[int, str | None, str | None, float]]]:
    """(narrative id, external id, theme key, probability) in chunks, each chunk read in its
    own short session so a slow client holds no transaction open."""
    last = 0
    while True:
        with session_factory() as session:
            rows = session.execute(
                select(
                    ThemeAssignment.narrative_id,
                    Narrative.external_id,
                    Theme.key,
                    ThemeAssignment.probability,
                )
                .join(Narrative, Narrative.id == ThemeAssignment.narrative_id)
                .outerjoin(Theme, Theme.id == ThemeAssignment.theme_id)
                .where(
                    ThemeAssignment.analysis_id == analysis_id,
                    ThemeAssignment.narrative_id > last,
                )
                .order_by(ThemeAssignment.narrative_id)
                .limit(chunk)
            ).all()
        if not rows:
            return
        yield [(r[0], r[1], r[2], float(r[3])) for r in rows]
        last = rows[-1][0]
