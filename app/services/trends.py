"""Trends from stored assignments: prevalence per group, session or period, distinctive themes,
emerging and fading themes, and sparkline series. One aggregate query, no re-clustering: the
statistics are `pipelines.trends.summarise` and the answer is shaped by `trends_json`."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, func, literal_column, select
from sqlalchemy.orm import Session, aliased

from app.errors import NotFound, UnprocessableEntity
from app.schemas.curation import View
from app.schemas.trends import Dimension, TrendParams, parse_by
from app.services import analyses as analysis_service
from app.services import curation_trends, trends_json
from app.services.narratives import NarrativeFilter, filtered
from app.services.trends_json import JSON
from models import (
    Analysis,
    MeetingSession,
    Narrative,
    NarrativeAttribute,
    Project,
    Theme,
    ThemeAssignment,
)
from pipelines.trends import (
    Axis,
    Period,
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


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _period_column(dialect: str, period: Period) -> ColumnElement[Any]:
    # Weeks are bucketed from days in Python: SQLite before 3.46 has no ISO week format.
    # Quarters are bucketed from months, which both databases format the same way.
    # The formats are inlined, not bound: PostgreSQL matches the SELECT expression to the
    # GROUP BY one only when both read the same text, and bound parameters differ ($1, $3).
    daily = period == "week"
    if dialect == "postgresql":
        utc = func.timezone(literal_column("'UTC'"), Narrative.occurred_at)
        fmt = "'YYYY-MM-DD'" if daily else "'YYYY-MM'"
        return func.to_char(utc, literal_column(fmt))
    fmt = "'%Y-%m-%d'" if daily else "'%Y-%m'"
    return func.strftime(literal_column(fmt), Narrative.occurred_at)


def _period_of(raw: str, period: Period) -> str:
    if period == "month":
        return raw
    if period == "quarter":
        return period_key(date(int(raw[:4]), int(raw[5:7]), 1), "quarter")
    return period_key(date.fromisoformat(raw[:10]), "week")


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass
class _Counts:
    """What the aggregate returned, with each dimension's raw values turned into cell values."""

    counts: dict[tuple[int | None, tuple[str, ...]], int]
    totals: dict[tuple[str, ...], int]
    in_filter: int
    unclustered: int


def _aggregate(
    session: Session, project: Project, analysis: Analysis, query: TrendQuery, leaf: bool
) -> _Counts:
    """One GROUP BY over the analysis's assignments: narratives per theme and cell.

    Attributes are outer-joined and missing values kept as NULL, so the same rows also give
    the narratives in the filter, the unclustered ones and those left out of every cell.
    """
    # The analysis holds exactly the project's narratives it clustered, so without a filter
    # or a narrative column to group by, the narratives table need not be read at all.
    needs_narrative = query.flt.active or any(d.kind != "attribute" for d in query.by)
    narrative_id = Narrative.id if needs_narrative else ThemeAssignment.narrative_id
    # Leaf level: the sub-theme where the theme has them, else the theme itself.
    theme_column = (
        func.coalesce(ThemeAssignment.subtheme_id, ThemeAssignment.theme_id)
        if leaf
        else ThemeAssignment.theme_id
    )
    stmt = select(theme_column).where(ThemeAssignment.analysis_id == analysis.id)
    if needs_narrative:
        stmt = stmt.join(Narrative, Narrative.id == ThemeAssignment.narrative_id)
        where = filtered(project, query.flt).whereclause
        if where is not None:
            stmt = stmt.where(where)
    columns: list[Any] = []
    for dim in query.by:
        if dim.kind == "attribute":
            attr = aliased(NarrativeAttribute)
            stmt = stmt.outerjoin(
                attr, and_(attr.narrative_id == narrative_id, attr.key == dim.name)
            )
            columns.append(attr.value)
        elif dim.kind == "session":
            columns.append(Narrative.session_id)
        else:
            columns.append(_period_column(_dialect(session), dim.period))
    stmt = stmt.add_columns(*columns, func.count()).group_by(theme_column, *columns)

    counts: dict[tuple[int | None, tuple[str, ...]], int] = defaultdict(int)
    totals: dict[tuple[str, ...], int] = defaultdict(int)
    cell_of: dict[tuple[Any, ...], tuple[str, ...]] = {}
    in_filter = unclustered = 0
    for row in session.execute(stmt):
        theme_id: int | None = row[0]
        raw: tuple[Any, ...] = tuple(row[1:-1])
        n = int(row[-1] or 0)
        in_filter += n
        if theme_id is None:
            unclustered += n
        if None in raw:
            continue
        cell = cell_of.get(raw)
        if cell is None:
            cell = cell_of[raw] = tuple(
                _period_of(str(value), dim.period) if dim.kind == "period" else str(value)
                for dim, value in zip(query.by, raw, strict=True)
            )
        counts[(theme_id, cell)] += n
        totals[cell] += n
    return _Counts(dict(counts), dict(totals), in_filter, unclustered)


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


def _themes(session: Session, analysis: Analysis, query: TrendQuery) -> list[Theme]:
    """The themes of the level: top-level ones, or sub-themes and childless top-level ones."""
    stmt = select(Theme).where(Theme.analysis_id == analysis.id)
    if query.level == "top":
        stmt = stmt.where(Theme.level == 0)
    else:
        divided = (
            select(Theme.parent_id)
            .where(Theme.analysis_id == analysis.id, Theme.parent_id.is_not(None))
            .scalar_subquery()
        )
        stmt = stmt.where((Theme.level == 1) | Theme.id.not_in(divided))
    if query.themes:
        stmt = stmt.where(Theme.key.in_(query.themes))
    themes = list(session.scalars(stmt))
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
    curated = view == "curated" and curation_trends.has_edits(session, project)
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
    agg = _aggregate(session, project, analysis, query, plan.leaf)
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
