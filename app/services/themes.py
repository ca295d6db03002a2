"""Reading stored analyses: themes (optionally within a filter), members, similar narratives,
a key's history. The answers of the theme endpoints are shaped in `theme_pages`."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from app.errors import Conflict, NotFound, UnprocessableEntity
from app.services import read_facts
from app.services.narratives import NarrativeFilter
from models import (
    Analysis,
    AnalysisStatus,
    Embedding,
    Narrative,
    Project,
    Theme,
    ThemeAssignment,
    ThemeLineage,
)

SNIPPET_CHARS = 240


def snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    """The text on one line, cut to `limit` characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


Level = Literal["top", "leaf"]
Membership = Literal["primary", "any"]


@dataclass
class ThemeCount:
    theme: Theme
    size: int
    share: float
    children: list[ThemeCount] = field(default_factory=list)


@dataclass
class ThemeListing:
    total_narratives: int
    unclustered: int
    themes: list[ThemeCount]
    #: theme id -> key, of every theme of the analysis
    keys: dict[int, str] = field(default_factory=dict)


def list_themes(
    session: Session,
    project: Project,
    analysis: Analysis,
    flt: NarrativeFilter,
    level: Level = "top",
    membership: Membership = "primary",
) -> ThemeListing:
    """Themes by size, each top-level one with its sub-themes.

    ``level="top"`` lists the top-level themes; ``level="leaf"`` the most specific ones: the
    sub-themes, and the top-level themes that have none. With ``membership="any"``, a
    narrative counts in each of its (up to three) top-level themes, so shares may sum past
    1. Within a filter, sizes and shares are recounted from the stored assignments.
    """
    if level == "leaf" and membership == "any":
        raise UnprocessableEntity(
            "soft membership is kept between top-level themes; use level=top with "
            "membership=any, or membership=primary with level=leaf"
        )
    known = read_facts.facts(session, analysis)
    themes = list(known.themes)
    kids: dict[int, list[Theme]] = {}
    for t in themes:
        if t.level == 1 and t.parent_id is not None:
            kids.setdefault(t.parent_id, []).append(t)
    top = [t for t in themes if t.level == 0]
    chosen = top if level == "top" else [t for t in themes if t.level == 1 or t.id not in kids]

    if not flt.active:
        total = analysis.narrative_count
        unclustered = total - sum(t.size for t in top)
        sizes: dict[int | None, int] = {t.id: t.size for t in themes}
    rows = known.mask(flt)
    if flt.active:
        primary = read_facts.counts(known.theme, rows)
        total = sum(primary.values())
        unclustered = primary.get(None, 0)
        sizes = {**read_facts.counts(known.subtheme, rows), **primary}
    if membership == "any":
        member_rows, member_themes = known.memberships(session, analysis)
        if rows is not None:
            member_themes = member_themes[rows[member_rows]]
        sizes.update(read_facts.counts(member_themes, None))

    def counted(theme: Theme) -> ThemeCount:
        size = int(sizes.get(theme.id, 0))
        children = [counted(k) for k in kids.get(theme.id, []) if sizes.get(k.id)]
        children.sort(key=lambda c: (-c.size, c.theme.key))
        return ThemeCount(theme, size, size / total if total else 0.0, children)

    listed = [counted(t) for t in chosen if sizes.get(t.id)]
    listed.sort(key=lambda c: (-c.size, c.theme.key))
    return ThemeListing(
        total_narratives=total,
        unclustered=unclustered,
        themes=listed,
        keys={t.id: t.key for t in themes},
    )


def get_theme(session: Session, analysis: Analysis, key: str) -> Theme:
    """The analysis's theme with this key; NotFound if it has none."""
    theme = session.scalars(
        select(Theme).where(Theme.analysis_id == analysis.id, Theme.key == key)
    ).first()
    if theme is None:
        raise NotFound(f"theme {key!r} is not in the latest analysis")
    return theme


def children(session: Session, theme: Theme) -> list[Theme]:
    """Sub-themes of a theme, largest first."""
    return list(
        session.scalars(
            select(Theme).where(Theme.parent_id == theme.id).order_by(Theme.size.desc(), Theme.key)
        )
    )


def parent_keys(session: Session, themes: Sequence[Theme]) -> dict[int, str]:
    """Parent theme id -> key, of the given sub-themes' parents (the keys only: a listing
    reads them on every request)."""
    ids = {t.parent_id for t in themes if t.parent_id is not None}
    if not ids:
        return {}
    rows = session.execute(select(Theme.id, Theme.key).where(Theme.id.in_(ids)))
    return {theme_id: key for theme_id, key in rows}


def parent_key(session: Session, theme: Theme) -> str | None:
    """The key of a sub-theme's parent; None for a top-level theme."""
    if theme.parent_id is None:
        return None
    return session.scalar(select(Theme.key).where(Theme.id == theme.parent_id))


def members(
    session: Session, theme: Theme, limit: int, offset: int
) -> list[tuple[int, str, float]]:
    """(narrative id, text, probability) of a theme's members, most typical first."""
    column = ThemeAssignment.subtheme_id if theme.level else ThemeAssignment.theme_id
    rows = session.execute(
        select(Narrative.id, Narrative.text, ThemeAssignment.probability)
        .join(ThemeAssignment, ThemeAssignment.narrative_id == Narrative.id)
        .where(ThemeAssignment.analysis_id == theme.analysis_id, column == theme.id)
        .order_by(ThemeAssignment.probability.desc(), Narrative.id)
        .limit(limit)
        .offset(offset)
    )
    return [(i, t, float(p)) for i, t, p in rows]


def members_of(
    session: Session, themes: Sequence[Theme], limit: int, offset: int
) -> list[tuple[int, str, float]]:
    """Members of one theme, or of several shown as one (a curated merge), most typical first."""
    if len(themes) == 1:
        return members(session, themes[0], limit, offset)
    ids = [t.id for t in themes]
    rows = session.execute(
        select(Narrative.id, Narrative.text, ThemeAssignment.probability)
        .join(ThemeAssignment, ThemeAssignment.narrative_id == Narrative.id)
        .where(
            ThemeAssignment.analysis_id == themes[0].analysis_id,
            ThemeAssignment.theme_id.in_(ids),
        )
        .order_by(ThemeAssignment.probability.desc(), Narrative.id)
        .limit(limit)
        .offset(offset)
    )
    return [(i, t, float(p)) for i, t, p in rows]


def texts_by_id(session: Session, ids: Sequence[int]) -> dict[int, str]:
    """Narrative id -> text, for the given ids."""
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


@dataclass
class Appearance:
    analysis: Analysis
    theme: Theme
    parent_key: str | None


@dataclass
class History:
    key: str
    appearances: list[Appearance]
    events: list[ThemeLineage]


def history(session: Session, project: Project, key: str) -> History:
    """Every finished analysis that held the key, and every lineage event that names it."""
    parent = aliased(Theme)
    appearances = [
        Appearance(analysis, theme, parent_key)
        for analysis, theme, parent_key in session.execute(
            select(Analysis, Theme, parent.key)
            .join(Theme, Theme.analysis_id == Analysis.id)
            .outerjoin(parent, parent.id == Theme.parent_id)
            .where(
                Analysis.project_id == project.id,
                Analysis.status == AnalysisStatus.succeeded,
                Theme.key == key,
            )
            .order_by(Analysis.finished_at, Analysis.id)
        ).all()
    ]
    # Lineage rows are few (themes x analyses); the key is matched in Python so the JSON
    # lists need no dialect-specific operators.
    events = [
        event
        for event in session.scalars(
            select(ThemeLineage)
            .join(Analysis, Analysis.id == ThemeLineage.analysis_id)
            .where(Analysis.project_id == project.id)
            .order_by(ThemeLineage.analysis_id, ThemeLineage.id)
        )
        if key in event.previous_keys or key in event.current_keys
    ]
    if not appearances and not events:
        raise NotFound(f"theme {key!r} is in no analysis of this project")
    return History(key, appearances, events)
