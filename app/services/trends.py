"""Trends from stored assignments: prevalence per group, session or period, distinctive themes,
emerging and fading themes, and sparkline series. The counts come from the analysis's facts
in memory (`read_facts`), no re-clustering: the statistics are `pipelines.trends.summarise`
and the answer is shaped by `trends_json`."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import NotFound, UnprocessableEntity
from app.schemas.curation import View
from app.schemas.trends import Dimension, TrendParams, parse_by
from app.services import analyses as analysis_service
from app.services import curation_state, curation_trends, read_facts, trends_json
from app.services.narratives import NarrativeFilter
from app.services.trends_json import JSON
from models import (
    Analysis,
    MeetingSession,
    Project,
)
from pipelines.trends import (
    Axis,
    TrendSettingError,
    crossed_table,
    period_key,
    period_label,
    period_range,
    summarise,
)

#: Most cells one answer may hold; beyond it the request is refused with advice to narrow it.
MAX_CELLS = 5000


@dataclass
class TrendQuery:
    """One request, its `by` parsed: what to count, over which narratives and themes."""

    by: list[Dimension]
    flt: NarrativeFilter = field(default_factory=NarrativeFilter)
    themes: list[str] = field(default_factory=list)
    level: Literal["top", "leaf"] = "top"
    alpha: float = 0.05
    window: int = 8
    baseline: int = 3


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True)
class _ThemeRow:
    id: int
    key: str
    label: str
    level: int


@dataclass
class _Counts:
    """What the aggregate returned, with each dimension's raw values turned into cell values."""

    counts: dict[tuple[int | None, tuple[str, ...]], int]
    totals: dict[tuple[str, ...], int]
    in_filter: int
    unclustered: int


def _aggregate(session: Session, analysis: Analysis, query: TrendQuery, leaf: bool) -> _Counts:
    """Narratives per theme and cell, counted from the analysis's facts (`read_facts`).

    A narrative missing a dimension's value (no such attribute, no session, no time) is in the
    filter and may be unclustered, but in no cell.
    """
    known = read_facts.facts(session, analysis)
    rows = known.mask(query.flt)
    picked = np.arange(len(known)) if rows is None else np.flatnonzero(rows)
    # Leaf level: the sub-theme where the theme has them, else the theme itself.
    themes = (known.leaf if leaf else known.theme)[picked]
    in_filter = len(picked)
    unclustered = int(np.count_nonzero(themes == read_facts.NONE))
    columns: list[read_facts.Codes] = []
    for dim in query.by:
        if dim.kind == "attribute":
            columns.append(
                known.attributes.get(dim.name or "")
                or read_facts.Codes(np.full(len(known), read_facts.NONE, np.int32), ())
            )
        elif dim.kind == "session":
            columns.append(known.sessions())
        else:
            columns.append(known.period(dim.period))
    codes = [c.codes[picked] for c in columns]
    placed = np.ones(in_filter, dtype=bool)
    for column in codes:
        placed &= column != read_facts.NONE
    sizes = [max(len(c.values), 1) for c in columns]
    cell = np.ravel_multi_index([c[placed] for c in codes], sizes) if codes else None
    theme_ids, theme_index = np.unique(themes[placed], return_inverse=True)
    n_cells = int(np.prod(sizes)) if sizes else 1
    pair = theme_index.reshape(-1) * n_cells + (0 if cell is None else cell)
    found, n = np.unique(pair, return_counts=True)

    cells = found % n_cells
    at = np.unravel_index(cells, sizes) if sizes else ()
    labels = [[c.values[i] for i in axis.tolist()] for c, axis in zip(columns, at, strict=True)]
    where = list(zip(*labels, strict=True)) if labels else [()] * len(found)
    owners = theme_ids[found // n_cells].tolist()
    counts: dict[tuple[int | None, tuple[str, ...]], int] = {}
    totals: dict[tuple[str, ...], int] = defaultdict(int)
    for theme_id, values, k in zip(owners, where, n.tolist(), strict=True):
        counts[(None if theme_id == read_facts.NONE else theme_id, values)] = k
        totals[values] += k
    return _Counts(counts, dict(totals), in_filter, unclustered)


def _session_labels(session: Session, project: Project, ids: set[str]) -> list[tuple[str, str]]:
    """(session id, label) of the given sessions, in the order they were held."""
    if not ids:
        return []
    rows = session.execute(
        select(
            MeetingSession.id,
            MeetingSession.name,
            MeetingSession.held_on,
            MeetingSession.created_at,
        ).where(
            MeetingSession.project_id == project.id,
            MeetingSession.id.in_([int(i) for i in ids]),
        )
    ).all()
    ordered = sorted(rows, key=lambda r: (r.held_on or r.created_at.date(), r.id))
    return [
        (str(r.id), f"{r.name} ({r.held_on.isoformat()})" if r.held_on else r.name) for r in ordered
    ]


def _dimension_values(
    session: Session,
    project: Project,
    dim: Dimension,
    present: set[str],
    flt: NarrativeFilter,
) -> list[tuple[str, str]]:
    """(value, label) of one dimension, in display order; periods include the empty ones."""
    if dim.kind == "attribute":
        return [(v, v) for v in sorted(present)]
    if dim.kind == "session":
        return _session_labels(session, project, present)
    period = dim.period
    bounds = sorted(present)
    if flt.since is not None:
        bounds.append(period_key(_as_utc(flt.since), period))
    if flt.until is not None:
        bounds.append(period_key(_as_utc(flt.until) - timedelta(microseconds=1), period))
    if not bounds:
        return []
    keys = period_range(min(bounds), max(bounds))
    if len(keys) > MAX_CELLS:
        raise UnprocessableEntity(
            f"{dim.spec} from {keys[0]} to {keys[-1]} makes {len(keys)} periods; narrow the "
            "time window with since/until or use a longer period"
        )
    return [(k, period_label(k)) for k in keys]


def _themes(session: Session, analysis: Analysis, query: TrendQuery) -> list[_ThemeRow]:
    """The themes of the level: top-level ones, or sub-themes and childless top-level ones."""
    every = sorted(read_facts.facts(session, analysis).themes, key=lambda t: t.id)
    if query.level == "top":
        chosen = [t for t in every if t.level == 0]
    else:
        divided = {t.parent_id for t in every if t.parent_id is not None}
        chosen = [t for t in every if t.level == 1 or t.id not in divided]
    if query.themes:
        wanted = set(query.themes)
        chosen = [t for t in chosen if t.key in wanted]
    themes = [_ThemeRow(t.id, t.key, t.label, t.level) for t in chosen]
    missing = sorted(set(query.themes) - {t.key for t in themes})
    if missing:
        raise NotFound(
            f"theme {', '.join(map(repr, missing))} is not a {query.level}-level theme of the "
            "latest analysis"
        )
    return themes


def trends_page(
    session: Session,
    project: Project,
    params: TrendParams,
    flt: NarrativeFilter,
    view: View = "curated",
) -> JSON:
    """The `TrendsPage` JSON of the project's latest analysis (curated unless `view` is
    machine), or the empty page before one."""
    query = TrendQuery(
        by=parse_by(params.by),
        flt=flt,
        themes=params.theme,
        level=params.level,
        alpha=params.alpha,
        window=params.window,
        baseline=params.baseline,
    )
    analysis = analysis_service.latest(session, project)
    if analysis is None:
        notes = analysis_service.no_analysis_notes(session, project)
        return trends_json.empty_page(query.by, query.alpha, notes)
    curated = view == "curated" and curation_state.any_edit(session, project.id)
    return _analysed_page(session, project, analysis, query, curated)


def _rows(
    session: Session, project: Project, analysis: Analysis, query: TrendQuery, curated: bool
) -> curation_trends.RowPlan:
    """The table's rows: the curated view's themes, or the analysis's own."""
    plan = (
        curation_trends.plan(session, project, analysis, query.level, query.themes)
        if curated
        else None
    )
    if plan is not None:
        return plan
    themes = _themes(session, analysis, query)
    rows = [curation_trends.Row(t.key, t.label, t.level) for t in themes]
    return curation_trends.RowPlan(rows, {t.id: t.key for t in themes}, query.level == "leaf")


def _analysed_page(
    session: Session, project: Project, analysis: Analysis, query: TrendQuery, curated: bool
) -> JSON:
    """Counts, shares, distinctive themes, trends and series of the analysis's themes."""
    plan = _rows(session, project, analysis, query, curated)
    themes = plan.rows
    agg = _aggregate(session, analysis, query, plan.leaf)
    axes = [
        Axis(
            dict(_dimension_values(session, project, dim, {c[k] for c in agg.totals}, query.flt)),
            timeline=dim.timeline,
        )
        for k, dim in enumerate(query.by)
    ]
    n_cells = 1
    for axis in axes:
        n_cells *= len(axis.labels)
    if n_cells > MAX_CELLS:
        raise UnprocessableEntity(
            f"{' x '.join(d.spec for d in query.by)} makes {n_cells} cells (at most "
            f"{MAX_CELLS}); narrow it with filters (attribute, since/until) or a longer period"
        )
    summed: dict[tuple[str, tuple[str, ...]], int] = defaultdict(int)
    for (tid, cell), n in agg.counts.items():
        if tid in plan.key_of:
            summed[(plan.key_of[tid], cell)] += n
    rows = ((key, cell, n) for (key, cell), n in summed.items())
    table = crossed_table(rows, agg.totals, [t.key for t in themes], axes)
    try:
        summary = summarise(
            table, axes, alpha=query.alpha, window=query.window, baseline=query.baseline
        )
    except TrendSettingError as exc:
        # window and baseline are each in range, but a baseline must be shorter than the window
        raise UnprocessableEntity(str(exc)) from None
    return trends_json.page(
        analysis,
        query.by,
        themes,
        summary,
        alpha=query.alpha,
        total_narratives=agg.in_filter,
        unclustered=agg.unclustered,
        excluded=agg.in_filter - sum(agg.totals.values()),
        notes=plan.notes,
    )
