from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from app.schemas.common import InputSchema, JobRead, Schema
from app.schemas.tensions import SignalRead


class AnalysisCreate(InputSchema):
    n_themes: int | None = Field(
        None,
        ge=1,
        le=1000,
        description="Target number of top-level themes; empty lets Weft choose.",
    )
    seed: int = Field(
        0, ge=0, le=2**31 - 1, description="Random seed; same data + seed = same themes."
    )
    include_low_content: bool = Field(
        False, description="Cluster low-content chat lines ('thanks!', '+1') too."
    )


class AnalysisRead(Schema):
    id: int
    status: str
    job_id: str | None
    parameters: dict[str, Any]
    seed: int
    model_name: str
    versions: dict[str, Any]
    timings: dict[str, Any]
    narrative_count: int
    theme_count: int
    unclustered_share: float
    notes: list[Any]
    error: str | None
    created_at: datetime
    finished_at: datetime | None


class AnalysisQueued(Schema):
    analysis: AnalysisRead
    job: JobRead


class Keyword(Schema):
    term: str
    weight: float


class Exemplar(Schema):
    id: int
    snippet: str


class ThemeSummary(Schema):
    key: str
    label: str
    keywords: list[Keyword]
    size: int = Field(description="Narratives in the theme (within the filter, if any).")
    share: float = Field(description="Size over all narratives analysed (within the filter).")
    exemplars: list[Exemplar]
    x: float | None
    y: float | None


class ThemesPage(Schema):
    analysis: AnalysisRead | None = Field(description="The analysis read; null before the first.")
    total_narratives: int
    unclustered: int
    total: int = Field(description="Themes that match, before pagination.")
    limit: int
    offset: int
    themes: list[ThemeSummary]


class Member(Schema):
    id: int
    snippet: str
    probability: float


class ThemeDetail(ThemeSummary):
    analysis_id: int
    members: list[Member]
    members_total: int
    limit: int
    offset: int
    signals: list[SignalRead] = Field(
        default_factory=list,
        description="The theme's tension and polarity signals, flagged first (see /tensions).",
    )


class SimilarNarrative(Schema):
    id: int
    similarity: float
    snippet: str


class SimilarList(Schema):
    narrative_id: int
    items: list[SimilarNarrative]
