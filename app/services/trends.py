"""Trends from stored assignments: prevalence per group, session or period, distinctive themes,
emerging and fading themes, and sparkline series. One aggregate query, no re-clustering."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, case, func, literal_column, select
from sqlalchemy.orm import Session, aliased

from app.errors import NotFound, UnprocessableEntity
from app.schemas.themes import AnalysisRead
from app.schemas.trends import (
    CellRead,
    DimensionRead,
    DistinctiveRead,
    GroupRead,
    PeriodRead,
    SeriesRead,
    ThemeCell,
    ThemeTrends,
    TimelineRead,
    TrendRead,
    TrendsPage,
)
from app.services.narratives import NarrativeFilter, filtered
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
    CountTable,
    Distinctiveness,
    TrendReport,
    check_period,
    detect_trends,
    distinctive_themes,
    period_key,
    period_label,
    period_range,
    share_table,
)
from pipelines.trends.periods import Period

#: Most cells one answer may hold; beyond it the request is refused with advice to narrow it.
MAX_CELLS = 5000

DimensionKind = Literal["attribute", "session", "period"]


@dataclass(frozen=True)
class Dimension:
    """One `by`: an attribute key, the session, or a calendar period."""

    spec: str
    kind: DimensionKind
    name: str | None = None

    @property
    def ordered(self) -> bool:
        return self.kind in ("session", "period")

    @property
    def period(self) -> Period:
        assert self.kind == "period" and self.name is not None
        return check_period(self.name)


def parse_by(values: Sequence[str]) -> list[Dimension]:
    """`by` values as dimensions: one or two, at most one of them a session or period."""
    if not values:
        raise UnprocessableEntity(
            "give at least one 'by': 'attribute:<key>', 'session' or 'period:week|month|quarter'"
        )
    if len(values) > 2:
        raise UnprocessableEntity(f"at most two 'by' can be crossed, got {len(values)}")
    dims: list[Dimension] = []
    for value in values:
        kind, _, name = value.partition(":")
        if kind == "attribute" and name:
            dims.append(Dimension(value, "attribute", name))
        elif kind == "session" and not name:
            dims.append(Dimension(value, "session"))
        elif kind == "period" and name in ("week", "month", "quarter"):
            dims.append(Dimension(value, "period", name))
        else:
            raise UnprocessableEntity(
                f"'by={value}' is not understood; use 'attribute:<key>' (e.g. attribute:role), "
                "'session', or 'period:week', 'period:month', 'period:quarter'"
            )
    if len({d.spec for d in dims}) < len(dims):
        raise UnprocessableEntity("the same 'by' is given twice")
    if sum(d.ordered for d in dims) > 1:
        raise UnprocessableEntity(
            "only one of 'by' may be a session or a period (the timeline); cross it with an "
            "attribute instead"
        )
    return dims


@dataclass
class TrendQuery:
    by: list[Dimension]
    flt: NarrativeFilter = field(default_factory=NarrativeFilter)
    themes: list[str] = field(default_factory=list)
    level: int = 0
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
    session: Session, project: Project, analysis: Analysis, query: TrendQuery
) -> _Counts:
    dialect = _dialect(session)
    where = filtered(project, query.flt).whereclause
    joined = and_(
        ThemeAssignment.narrative_id == Narrative.id,
        ThemeAssignment.analysis_id == analysis.id,
    )
    overall = (
        select(
            func.count(),
            func.coalesce(func.sum(case((ThemeAssignment.theme_id.is_(None), 1), else_=0)), 0),
        )
        .select_from(Narrative)
        .join(ThemeAssignment, joined)
    )
    if where is not None:
        overall = overall.where(where)
    in_filter, unclustered = session.execute(overall).one()

    columns: list[Any] = []
    stmt = select(ThemeAssignment.theme_id).select_from(Narrative).join(ThemeAssignment, joined)
    for dim in query.by:
        if dim.kind == "attribute":
            attr = aliased(NarrativeAttribute)
            stmt = stmt.join(attr, and_(attr.narrative_id == Narrative.id, attr.key == dim.name))
            columns.append(attr.value)
        elif dim.kind == "session":
            stmt = stmt.where(Narrative.session_id.is_not(None))
            columns.append(Narrative.session_id)
        else:
            stmt = stmt.where(Narrative.occurred_at.is_not(None))
            columns.append(_period_column(dialect, dim.period))
    stmt = stmt.add_columns(*columns, func.count()).group_by(ThemeAssignment.theme_id, *columns)
    if where is not None:
        stmt = stmt.where(where)

    counts: dict[tuple[int | None, tuple[str, ...]], int] = defaultdict(int)
    totals: dict[tuple[str, ...], int] = defaultdict(int)
    for row in session.execute(stmt):
        theme_id: int | None = row[0]
        raw: tuple[Any, ...] = tuple(row[1:-1])
        n = int(row[-1] or 0)
        cell = tuple(
            _period_of(str(value), dim.period) if dim.kind == "period" else str(value)
            for dim, value in zip(query.by, raw, strict=True)
        )
        counts[(theme_id, cell)] += n
        totals[cell] += n
    return _Counts(dict(counts), dict(totals), int(in_filter), int(unclustered))


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
    stmt = select(Theme).where(Theme.analysis_id == analysis.id, Theme.level == query.level)
    if query.themes:
        stmt = stmt.where(Theme.key.in_(query.themes))
    themes = list(session.scalars(stmt))
    missing = sorted(set(query.themes) - {t.key for t in themes})
    if missing:
        raise NotFound(
            f"theme {', '.join(map(repr, missing))} is not a level-{query.level} theme of the "
            "latest analysis"
        )
    return themes


def _floats(values: Sequence[float | None]) -> list[float | None]:
    return [None if v is None else round(v, 6) for v in values]


def _opt(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _distinctive(result: Distinctiveness, i: int, j: int) -> DistinctiveRead:
    row = result.row(i, j)
    group = row.group
    return DistinctiveRead(
        group=list(group) if isinstance(group, tuple) else [group],
        status=row.status.value,
        count=row.count,
        group_total=row.group_total,
        share=_opt(row.share),
        rest_share=_opt(row.rest_share),
        log_odds=_opt(row.log_odds),
        z=_opt(row.z),
        p_value=row.p_value,
        q_value=row.q_value,
        reason=row.reason,
    )


def _trend(report: TrendReport, i: int, group: list[str] | None) -> TrendRead:
    t = report.themes[i]
    return TrendRead(
        group=group,
        status=t.status.value,
        reading=t.reading,
        reason=t.reason,
        latest_count=t.latest_count,
        latest_total=t.latest_total,
        latest_share=_opt(t.latest_share),
        baseline_count=t.baseline_count,
        baseline_total=t.baseline_total,
        baseline_share=_opt(t.baseline_share),
        slope=_opt(t.slope),
        trend_z=_opt(t.trend_z),
        trend_p=t.trend_p,
        jump_p=t.jump_p,
        p_value=t.p_value,
        q_value=t.q_value,
        since=None if t.since is None else str(t.since),
        run_length=t.run_length,
        first_seen=None if t.first_seen is None else str(t.first_seen),
    )


def trends(
    session: Session, project: Project, analysis: Analysis | None, query: TrendQuery
) -> TrendsPage:
    """Counts, shares, distinctive themes, trends and series of the analysis's themes."""
    by = [d.spec for d in query.by]
    dims_empty = [DimensionRead(by=d.spec, kind=d.kind, name=d.name, values=[]) for d in query.by]
    if analysis is None:
        return TrendsPage(
            analysis=None,
            by=by,
            dimensions=dims_empty,
            alpha=query.alpha,
            total_narratives=0,
            unclustered=0,
            excluded=0,
            cells=[],
            groups=[],
            timelines=[],
            themes=[],
        )
    themes = _themes(session, analysis, query)
    agg = _aggregate(session, project, analysis, query)

    per_dim = [
        _dimension_values(session, project, dim, {cell[k] for cell in agg.totals}, query.flt)
        for k, dim in enumerate(query.by)
    ]
    n_cells = 1
    for values in per_dim:
        n_cells *= len(values)
    if n_cells > MAX_CELLS:
        raise UnprocessableEntity(
            f"{' x '.join(by)} makes {n_cells} cells (at most {MAX_CELLS}); narrow it with "
            "filters (attribute, since/until) or a longer period"
        )
    labels = [dict(values) for values in per_dim]
    cells: list[tuple[str, ...]] = [
        tuple(combo) for combo in itertools.product(*[[v for v, _ in vs] for vs in per_dim])
    ]
    keys = [t.key for t in themes]
    key_of = {t.id: t.key for t in themes}
    table = CountTable.from_rows(
        ((key_of[tid], cell, n) for (tid, cell), n in agg.counts.items() if tid in key_of),
        agg.totals,
        themes=keys,
        cells=cells,
    )
    shares = share_table(table)

    def label(cell: tuple[str, ...], positions: Sequence[int]) -> str:
        return " · ".join(labels[k][cell[k]] for k in positions)

    all_positions = range(len(query.by))
    group_positions = [k for k, d in enumerate(query.by) if d.kind != "period"]
    time_position = next((k for k, d in enumerate(query.by) if d.ordered), None)

    # Distinctive themes: groups are the cells without their period, pooled over periods.
    groups: list[tuple[str, ...]] = []
    distinct: Distinctiveness | None = None
    if group_positions:
        groups = list(dict.fromkeys(tuple(c[k] for k in group_positions) for c in cells))
        group_rows: dict[tuple[str, tuple[str, ...]], int] = defaultdict(int)
        group_totals: dict[tuple[str, ...], int] = defaultdict(int)
        for j, cell in enumerate(cells):
            group = tuple(cell[k] for k in group_positions)
            group_totals[group] += int(table.totals[j])
            for i, key in enumerate(keys):
                group_rows[(key, group)] += int(table.counts[i, j])
        group_table = CountTable.from_rows(
            ((key, g, n) for (key, g), n in group_rows.items()),
            group_totals,
            themes=keys,
            cells=groups,
        )
        distinct = distinctive_themes(group_table, alpha=query.alpha)

    # Emerging and fading: one history for all, or one per value of the other dimension.
    timelines: list[tuple[list[str] | None, str, TrendReport, CountTable]] = []
    if time_position is not None:
        dim = query.by[time_position]
        kind = "session" if dim.kind == "session" else dim.period
        others = [k for k in all_positions if k != time_position]
        history: dict[tuple[str, ...], CountTable]
        if others:
            history = {(str(value),): sub for value, sub in table.split(others[0]).items()}
        else:
            plain = tuple(c[0] for c in cells)
            history = {
                (): CountTable(
                    themes=table.themes, cells=plain, counts=table.counts, totals=table.totals
                )
            }
        for group_key, sub in history.items():
            names = [labels[time_position][str(c)] for c in sub.cells]
            try:
                report = detect_trends(
                    sub,
                    kind=kind,
                    labels=names,
                    window=query.window,
                    baseline=query.baseline,
                    alpha=query.alpha,
                )
            except ValueError as exc:
                raise UnprocessableEntity(str(exc)) from None
            group_list = list(group_key) if group_key else None
            group_label = labels[others[0]][group_key[0]] if group_key else "all narratives"
            timelines.append((group_list, group_label, report, sub))

    theme_totals = table.theme_totals
    grand = table.grand_total
    theme_rows: list[ThemeTrends] = []
    for i, theme in enumerate(themes):
        theme_rows.append(
            ThemeTrends(
                key=theme.key,
                label=theme.label,
                level=theme.level,
                count=int(theme_totals[i]),
                share=_opt(int(theme_totals[i]) / grand) if grand else None,
                cells=[
                    ThemeCell(
                        cell=j,
                        count=int(table.counts[i, j]),
                        share=_opt(_nan_none(shares.shares[i, j])),
                        low=_opt(_nan_none(shares.low[i, j])),
                        high=_opt(_nan_none(shares.high[i, j])),
                    )
                    for j in range(table.n_cells)
                ],
                distinctive=(
                    [_distinctive(distinct, i, j) for j in range(len(groups))]
                    if distinct is not None
                    else []
                ),
                trends=[_trend(report, i, group) for group, _, report, _ in timelines],
                series=[
                    SeriesRead(
                        group=group,
                        counts=[int(v) for v in sub.counts[i]],
                        shares=_floats(
                            [
                                int(c) / int(n) if n else None
                                for c, n in zip(sub.counts[i], sub.totals, strict=True)
                            ]
                        ),
                    )
                    for group, _, _, sub in timelines
                ],
            )
        )
    theme_rows.sort(key=lambda t: (-t.count, t.key))

    in_cells = sum(agg.totals.values())
    return TrendsPage(
        analysis=AnalysisRead.model_validate(analysis),
        by=by,
        dimensions=[
            DimensionRead(by=d.spec, kind=d.kind, name=d.name, values=[v for v, _ in per_dim[k]])
            for k, d in enumerate(query.by)
        ],
        alpha=query.alpha,
        total_narratives=agg.in_filter,
        unclustered=agg.unclustered,
        excluded=agg.in_filter - in_cells,
        cells=[
            CellRead(key=list(cell), label=label(cell, all_positions), total=int(table.totals[j]))
            for j, cell in enumerate(cells)
        ],
        groups=[
            GroupRead(
                key=list(g),
                label=" · ".join(labels[k][v] for k, v in zip(group_positions, g, strict=True)),
                total=int(distinct.table.totals[n]) if distinct is not None else 0,
            )
            for n, g in enumerate(groups)
        ],
        timelines=[
            TimelineRead(
                group=group,
                label=group_label,
                kind=report.kind,
                periods=[
                    PeriodRead(key=str(c), label=name, total=int(t))
                    for c, name, t in zip(sub.cells, report.labels, sub.totals, strict=True)
                ],
                latest=None if report.latest is None else str(report.latest),
                window=[str(c) for c in report.window],
                baseline=[str(c) for c in report.baseline],
                n_tests=report.n_tests,
                reason=report.reason,
            )
            for group, group_label, report, sub in timelines
        ],
        themes=theme_rows,
    )


def _nan_none(value: Any) -> float | None:
    number = float(value)
    return None if number != number else number
