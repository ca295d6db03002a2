"""The trends answer: prevalence per cell, distinctive themes per group, emerging and fading
themes per timeline, and sparkline series, shaped for a dashboard to draw directly."""

from __future__ import annotations

from pydantic import Field

from app.schemas.common import Schema
from app.schemas.themes import AnalysisRead


class DimensionRead(Schema):
    by: str = Field(description="As given: 'attribute:role', 'session' or 'period:month'.")
    kind: str = Field(description="attribute, session or period.")
    name: str | None = Field(description="The attribute key or the period (week, month, quarter).")
    values: list[str] = Field(description="Values of this dimension in the cells, in order.")


class CellRead(Schema):
    key: list[str] = Field(description="One value per `by`, in the order of `by`.")
    label: str
    total: int = Field(description="Narratives of the analysis in the cell (the share's base).")


class GroupRead(Schema):
    key: list[str] = Field(description="Values of the group dimensions (periods left out).")
    label: str
    total: int


class PeriodRead(Schema):
    key: str = Field(description="Period key (2026-03, 2026-Q1, 2026-W07) or session id.")
    label: str
    total: int


class TimelineRead(Schema):
    """One ordered history (periods or sessions), for all narratives or one group."""

    group: list[str] | None = Field(description="The group this history is for; null = all.")
    label: str
    kind: str = Field(description="session, week, month or quarter.")
    periods: list[PeriodRead]
    latest: str | None = Field(description="The period or session judged.")
    window: list[str] = Field(description="Periods the trend test covers, the latest included.")
    baseline: list[str] = Field(description="Periods pooled as the latest's baseline.")
    n_tests: int = Field(description="Themes tested (the false-discovery-rate family).")
    reason: str | None = Field(description="Why no theme could be tested, if so.")


class ThemeCell(Schema):
    cell: int = Field(description="Index into the top-level `cells`.")
    count: int
    share: float | None = Field(description="count / cell total; null for an empty cell.")
    low: float | None = Field(description="Wilson 95% interval of the share, lower end.")
    high: float | None


class DistinctiveRead(Schema):
    group: list[str]
    status: str = Field(description="over, under, neutral or insufficient.")
    count: int
    group_total: int
    share: float | None
    rest_share: float | None = Field(description="The theme's share in all other groups.")
    log_odds: float | None = Field(description="Prior-smoothed log-odds ratio, group vs rest.")
    z: float | None
    p_value: float | None
    q_value: float | None = Field(description="Benjamini-Hochberg across themes and groups.")
    reason: str | None = Field(description="Why the pair was not tested ('not enough data').")


class TrendRead(Schema):
    group: list[str] | None = Field(description="The timeline's group; null = all narratives.")
    status: str = Field(description="rising, falling, stable, new or insufficient.")
    reading: str = Field(description="A plain phrase, e.g. 'rising in the last 3 sessions'.")
    reason: str | None
    latest_count: int
    latest_total: int
    latest_share: float | None
    baseline_count: int
    baseline_total: int
    baseline_share: float | None
    slope: float | None = Field(description="Change in share per period over the window.")
    trend_z: float | None = Field(description="Cochran-Armitage z (positive = rising).")
    trend_p: float | None
    jump_p: float | None = Field(description="Fisher exact p, latest against the baseline.")
    p_value: float | None
    q_value: float | None = Field(description="Benjamini-Hochberg across the timeline's themes.")
    since: str | None
    run_length: int | None
    first_seen: str | None


class SeriesRead(Schema):
    group: list[str] | None
    counts: list[int] = Field(description="Per period of the matching timeline, oldest first.")
    shares: list[float | None] = Field(description="Null where the period has no narratives.")


class ThemeTrends(Schema):
    key: str
    label: str
    level: int
    count: int = Field(description="Narratives of the theme over all cells.")
    share: float | None = Field(description="count over the narratives of all cells.")
    cells: list[ThemeCell] = Field(description="One per top-level cell, in the same order.")
    distinctive: list[DistinctiveRead] = Field(description="One per group, as `groups`.")
    trends: list[TrendRead] = Field(description="One per timeline, as `timelines`.")
    series: list[SeriesRead] = Field(description="One per timeline, as `timelines`.")


class TrendsPage(Schema):
    analysis: AnalysisRead | None = Field(description="The analysis read; null before the first.")
    by: list[str]
    dimensions: list[DimensionRead]
    alpha: float = Field(description="False-discovery rate of every over/under/rising/falling.")
    total_narratives: int = Field(description="Narratives of the analysis within the filters.")
    unclustered: int
    excluded: int = Field(
        description="Narratives within the filters left out of every cell: no value for an "
        "attribute, no session, or no date."
    )
    cells: list[CellRead]
    groups: list[GroupRead] = Field(
        description="Groups compared for distinctive themes: the cells without their period "
        "(empty when `by` is only a period)."
    )
    timelines: list[TimelineRead] = Field(
        description="Histories tested for emerging and fading themes: one, or one per group "
        "when a period or session is crossed with another dimension (empty without one)."
    )
    themes: list[ThemeTrends] = Field(description="Largest first within the filters.")
