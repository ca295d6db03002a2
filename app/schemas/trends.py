"""The trends question and answer: the query parameters and the `by` they name; the answer,
prevalence per cell, distinctive themes per group, emerging and fading themes per timeline,
and sparkline series, shaped for a dashboard to draw directly."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

from app.errors import UnprocessableEntity
from app.schemas.common import Schema
from app.schemas.themes import AnalysisRead
from pipelines.trends import Period, check_period

DimensionKind = Literal["attribute", "session", "period"]

#: What one `by` looks like (parse_by reads it and says what is wrong).
BY_PATTERN = r"^(attribute:.+|session|period:(week|month|quarter))$"


class TrendParams(BaseModel):
    """The query parameters of `GET /trends` besides the narrative filters."""

    by: list[str] = Field(
        [],
        # declared for clients and fuzzers; parse_by gives the words when one is wrong
        json_schema_extra={
            "minItems": 1,
            "maxItems": 2,
            "items": {"type": "string", "pattern": BY_PATTERN},
        },
        description="'attribute:<key>', 'session' or 'period:week|month|quarter'; give "
        "two to cross them (e.g. by=attribute:trust&by=period:month)",
    )
    theme: list[str] = Field([], description="Theme keys to report, repeatable; all by default")
    level: Literal["top", "leaf"] = Field(
        "top", description="top: top-level themes; leaf: sub-themes and childless themes"
    )
    alpha: float = Field(0.05, gt=0, lt=0.5, description="False-discovery rate of every flag")
    window: int = Field(
        8, ge=2, le=104, description="Recent periods or sessions the trend test covers"
    )
    baseline: int = Field(
        3, ge=1, le=103, description="Periods before the latest pooled as its baseline"
    )


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

    @property
    def timeline(self) -> str | None:
        """What its values are in time: "session", the period, or None for an attribute."""
        if self.kind == "session":
            return "session"
        return self.name if self.kind == "period" else None


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
    notes: list[str] = Field(
        description="The analysis's notes; before the first analysis, whether one is queued, "
        "running or failed, or how to start one."
    )
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
