"""Trends from stored assignments: prevalence per group, session or period, distinctive themes,
emerging and fading themes, and sparkline series. The counts come from the analysis's facts
in memory (`read_facts`), no re-clustering: the statistics are `pipelines.trends.summarise`
and the answer is shaped by `trends_json`."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
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
    CountTable,
    TrendSettingError,
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
class _Placed:
    """The narratives of the filter that have a value on every dimension: the theme of each
    (``read_facts.NONE``: unclustered) and, per dimension, the code of its value."""

    themes: np.ndarray
    codes: list[np.ndarray]
    columns: list[read_facts.Codes]
    in_filter: int
    unclustered: int

    def present(self, k: int) -> set[str]:
        """The values of dimension `k` that some placed narrative has."""
        values = self.columns[k].values
        return {values[i] for i in np.unique(self.codes[k]).tolist()}


def _aggregate(session: Session, analysis: Analysis, query: TrendQuery, leaf: bool) -> _Placed:
    """The narratives to count, from the analysis's facts (`read_facts`).

    A narrative missing a dimension's value (no such attribute, no session, no time) is in the
    filter and may be unclustered, but in no cell.
    """
    known = read_facts.facts(session, analysis)
    rows = known.mask(query.flt)
    picked = np.arange(len(known)) if rows is None else np.flatnonzero(rows)
    # Leaf level: the sub-theme where the theme has them, else the theme itself.
    themes = (known.leaf if leaf else known.theme)[picked]
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
    placed = np.ones(len(picked), dtype=bool)
    for column in codes:
        placed &= column != read_facts.NONE
    return _Placed(
        themes=themes[placed],
        codes=[column[placed] for column in codes],
        columns=columns,
        in_filter=len(picked),
        unclustered=int(np.count_nonzero(themes == read_facts.NONE)),
    )


def _table(placed: _Placed, axes: Sequence[Axis], plan: curation_trends.RowPlan) -> CountTable:
    """The theme x cell table of the placed narratives over every combination of the axes'
    values (the first axis varying slowest), one row per row of `plan`.

    A narrative whose value is on no axis (a session no longer listed) counts in no cell;
    one whose theme has no row (unclustered, hidden) counts in its cell's total only."""
    sizes = [len(axis.values) for axis in axes]
    n_cells = int(np.prod(sizes)) if sizes else 1
    cell = np.zeros(len(placed.themes), dtype=np.int64)
    on_axes = np.ones(len(placed.themes), dtype=bool)
    for column, codes, axis, size in zip(placed.columns, placed.codes, axes, sizes, strict=True):
        position = {value: i for i, value in enumerate(axis.values)}
        at = np.array([position.get(v, -1) for v in column.values], dtype=np.int64)
        where = at[codes]
        on_axes &= where >= 0
        cell = cell * size + where
    keys = [row.key for row in plan.rows]
    row_of_key = {key: i for i, key in enumerate(keys)}
    ids, inverse = np.unique(placed.themes, return_inverse=True)
    row_of_id = np.array(
        [row_of_key.get(plan.key_of.get(int(i), ""), -1) for i in ids.tolist()], dtype=np.int64
    )
    row = row_of_id[inverse.reshape(-1)]
    counted = on_axes & (row >= 0)
    counts = np.bincount(
        row[counted] * n_cells + cell[counted], minlength=len(keys) * n_cells
    ).reshape(len(keys), n_cells)
    totals = np.bincount(cell[on_axes], minlength=n_cells)
    cells = list(itertools.product(*(axis.values for axis in axes)))
    return CountTable.from_arrays(counts, totals, themes=keys, cells=cells)


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
    placed = _aggregate(session, analysis, query, plan.leaf)
    axes = [
        Axis(
            dict(_dimension_values(session, project, dim, placed.present(k), query.flt)),
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
    table = _table(placed, axes, plan)
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
        total_narratives=placed.in_filter,
        unclustered=placed.unclustered,
        excluded=placed.in_filter - len(placed.themes),
        notes=plan.notes,
    )
