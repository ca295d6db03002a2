"""Trends from stored assignments: prevalence per group, session or period, distinctive themes,
emerging and fading themes, and sparkline series. One aggregate query, no re-clustering."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import numpy as np
from sqlalchemy import ColumnElement, and_, func, literal_column, select
from sqlalchemy.orm import Session, aliased

from app.errors import NotFound, UnprocessableEntity
from app.schemas.themes import AnalysisRead
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
JSON = dict[str, Any]


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
    session: Session, project: Project, analysis: Analysis, query: TrendQuery
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
        ThemeAssignment.theme_id
        if query.level == "top"
        else func.coalesce(ThemeAssignment.subtheme_id, ThemeAssignment.theme_id)
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


def _nullable(array: Any) -> list[Any]:
    """An array as nested lists, NaN as None (JSON null)."""
    values = np.asarray(array, dtype=np.float64)
    boxed = values.astype(object)
    boxed[np.isnan(values)] = None
    return list(boxed.tolist())


def _rounded(array: Any) -> list[Any]:
    """An array as nested lists of floats rounded to 6 places, NaN as None."""
    return _nullable(np.round(np.asarray(array, dtype=np.float64), 6))


def _opt(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _distinctive_rows(result: Distinctiveness, groups: list[list[str]]) -> list[list[JSON]]:
    """Per theme, one entry per group, read straight from the result's arrays."""
    t = result.table
    counts, totals = t.counts.tolist(), t.totals.tolist()
    theme_totals, grand = t.theme_totals.tolist(), t.grand_total
    arrays = [_rounded(a) for a in (result.log_odds, result.z)]
    log_odds, z = arrays
    p, q = _nullable(result.p_value), _nullable(result.q_value)
    rows = []
    for i in range(t.n_themes):
        row = []
        for j, group in enumerate(groups):
            count, total = counts[i][j], totals[j]
            rest_count, rest_total = theme_totals[i] - count, grand - total
            row.append(
                {
                    "group": group,
                    "status": result.status(i, j).value,
                    "count": count,
                    "group_total": total,
                    "share": round(count / total, 6) if total else None,
                    "rest_share": round(rest_count / rest_total, 6) if rest_total else None,
                    "log_odds": log_odds[i][j],
                    "z": z[i][j],
                    "p_value": p[i][j],
                    "q_value": q[i][j],
                    "reason": result.reasons[i][j],
                }
            )
        rows.append(row)
    return rows


def _trend(report: TrendReport, i: int, group: list[str] | None) -> JSON:
    t = report.themes[i]
    return {
        "group": group,
        "status": t.status.value,
        "reading": t.reading,
        "reason": t.reason,
        "latest_count": t.latest_count,
        "latest_total": t.latest_total,
        "latest_share": _opt(t.latest_share),
        "baseline_count": t.baseline_count,
        "baseline_total": t.baseline_total,
        "baseline_share": _opt(t.baseline_share),
        "slope": _opt(t.slope),
        "trend_z": _opt(t.trend_z),
        "trend_p": t.trend_p,
        "jump_p": t.jump_p,
        "p_value": t.p_value,
        "q_value": t.q_value,
        "since": None if t.since is None else str(t.since),
        "run_length": t.run_length,
        "first_seen": None if t.first_seen is None else str(t.first_seen),
    }


def trends(
    session: Session, project: Project, analysis: Analysis | None, query: TrendQuery
) -> JSON:
    """Counts, shares, distinctive themes, trends and series of the analysis's themes, as the
    JSON of `TrendsPage` (built as plain data: a large project's answer holds tens of
    thousands of numbers, and building and re-validating models for them costs more than
    the query)."""
    by = [d.spec for d in query.by]
    if analysis is None:
        return {
            "analysis": None,
            "by": by,
            "dimensions": [
                {"by": d.spec, "kind": d.kind, "name": d.name, "values": []} for d in query.by
            ],
            "alpha": query.alpha,
            "total_narratives": 0,
            "unclustered": 0,
            "excluded": 0,
            "cells": [],
            "groups": [],
            "timelines": [],
            "themes": [],
        }
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
        index = {g: n for n, g in enumerate(groups)}
        # cells x groups indicator: pooling over periods is one matrix product
        member = np.zeros((len(cells), len(groups)), dtype=np.int64)
        for j, cell in enumerate(cells):
            member[j, index[tuple(cell[k] for k in group_positions)]] = 1
        group_table = CountTable(
            themes=tuple(keys),
            cells=tuple(groups),
            counts=table.counts @ member,
            totals=table.totals @ member,
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

    theme_totals = table.theme_totals.tolist()
    grand = table.grand_total
    counts = table.counts.tolist()
    share_rows, low_rows, high_rows = (
        _rounded(a) for a in (shares.shares, shares.low, shares.high)
    )
    group_lists = [list(g) for g in groups]
    distinctive = (
        _distinctive_rows(distinct, group_lists) if distinct is not None else [[] for _ in themes]
    )
    series_rows = []
    for timeline_group, _, _, sub in timelines:
        with np.errstate(divide="ignore", invalid="ignore"):
            sub_shares = sub.counts / np.where(sub.totals > 0, sub.totals, 1)
        sub_shares = np.where(sub.totals[None, :] > 0, sub_shares, np.nan)
        series_rows.append((timeline_group, sub.counts.tolist(), _rounded(sub_shares)))
    theme_rows: list[JSON] = []
    for i, theme in enumerate(themes):
        theme_rows.append(
            {
                "key": theme.key,
                "label": theme.label,
                "level": theme.level,
                "count": theme_totals[i],
                "share": round(theme_totals[i] / grand, 6) if grand else None,
                "cells": [
                    {"cell": j, "count": c, "share": s, "low": lo, "high": hi}
                    for j, (c, s, lo, hi) in enumerate(
                        zip(counts[i], share_rows[i], low_rows[i], high_rows[i], strict=True)
                    )
                ],
                "distinctive": distinctive[i],
                "trends": [_trend(report, i, group) for group, _, report, _ in timelines],
                "series": [
                    {"group": group, "counts": c[i], "shares": sh[i]}
                    for group, c, sh in series_rows
                ],
            }
        )
    theme_rows.sort(key=lambda t: (-t["count"], t["key"]))

    in_cells = sum(agg.totals.values())
    return {
        "analysis": AnalysisRead.model_validate(analysis).model_dump(mode="json"),
        "by": by,
        "dimensions": [
            {"by": d.spec, "kind": d.kind, "name": d.name, "values": [v for v, _ in per_dim[k]]}
            for k, d in enumerate(query.by)
        ],
        "alpha": query.alpha,
        "total_narratives": agg.in_filter,
        "unclustered": agg.unclustered,
        "excluded": agg.in_filter - in_cells,
        "cells": [
            {"key": list(cell), "label": label(cell, all_positions), "total": total}
            for cell, total in zip(cells, table.totals.tolist(), strict=True)
        ],
        "groups": [
            {
                "key": list(g),
                "label": " · ".join(labels[k][v] for k, v in zip(group_positions, g, strict=True)),
                "total": int(distinct.table.totals[n]) if distinct is not None else 0,
            }
            for n, g in enumerate(groups)
        ],
        "timelines": [
            {
                "group": group,
                "label": group_label,
                "kind": report.kind,
                "periods": [
                    {"key": str(c), "label": name, "total": t}
                    for c, name, t in zip(
                        sub.cells, report.labels, sub.totals.tolist(), strict=True
                    )
                ],
                "latest": None if report.latest is None else str(report.latest),
                "window": [str(c) for c in report.window],
                "baseline": [str(c) for c in report.baseline],
                "n_tests": report.n_tests,
                "reason": report.reason,
            }
            for group, group_label, report, sub in timelines
        ],
        "themes": theme_rows,
    }
