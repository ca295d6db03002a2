from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field, StrictBool, StrictInt, computed_field

from app.schemas.common import InputSchema, JobRead, Schema
from app.schemas.signals import SignalRead
from pipelines.themes.incremental import reanalysis_due


class AnalysisCreate(InputSchema):
    n_themes: StrictInt | None = Field(
        None,
        ge=1,
        le=1000,
        description="Target number of top-level themes; empty lets Weft choose.",
    )
    seed: StrictInt = Field(
        0, ge=0, le=2**31 - 1, description="Random seed; same data + seed = same themes."
    )
    include_low_content: StrictBool = Field(
        False, description="Cluster low-content chat lines ('thanks!', '+1') too."
    )
    keep_level: StrictBool = Field(
        True,
        description="Keep the previous analysis's level of detail (merge resolution) when the "
        "project grew by at most half; false chooses it afresh.",
    )


class Reanalysis(Schema):
    due: bool
    reason: str


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
    incremental_count: int = Field(
        0, description="Narratives placed into this analysis's themes after it ran."
    )
    incremental_unassigned: int = Field(
        0, description="Of those, the ones that fit no existing theme (emerging included)."
    )

    @computed_field(description="Whether a full re-analysis is due, and why.")  # type: ignore[prop-decorator]
    @property
    def reanalysis(self) -> Reanalysis:
        advice = reanalysis_due(
            self.narrative_count - self.incremental_count,
            self.incremental_count,
            self.incremental_unassigned,
        )
        return Reanalysis(due=advice.due, reason=advice.reason)


class AnalysisQueued(Schema):
    analysis: AnalysisRead
    job: JobRead


class Keyword(Schema):
    term: str
    weight: float


class Exemplar(Schema):
    id: int
    snippet: str


class ThemeChild(Schema):
    key: str
    label: str
    size: int
    share: float


class ThemeSummary(Schema):
    key: str
    label: str
    level: int = Field(description="0 for a top-level theme, 1 for a sub-theme.")
    parent: str | None = Field(description="Key of the theme a sub-theme belongs to.")
    emerging: bool = Field(
        description="Formed from narratives added since the analysis ran, which fit no theme."
    )
    keywords: list[Keyword]
    size: int = Field(description="Narratives in the theme (within the filter, if any).")
    share: float = Field(description="Size over all narratives analysed (within the filter).")
    exemplars: list[Exemplar]
    x: float | None
    y: float | None
    children: list[ThemeChild] = Field(
        default_factory=list, description="Sub-themes, largest first; they cover the theme."
    )


class ThemesPage(Schema):
    analysis: AnalysisRead | None = Field(description="The analysis read; null before the first.")
    notes: list[str] = Field(
        description="The analysis's notes; before the first, why there is none and how to run one."
    )
    level: str
    membership: str
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


class ThemeAppearance(Schema):
    analysis_id: int
    finished_at: datetime | None
    level: int
    parent: str | None
    label: str
    size: int
    share: float
    emerging: bool


class LineageFlow(Schema):
    previous: str
    current: str
    shared: int = Field(description="Narratives both themes held.")


class LineageEventRead(Schema):
    analysis_id: int
    previous_analysis_id: int | None
    level: int
    kind: str = Field(description="continued, split, merged, new or ended.")
    previous_keys: list[str]
    current_keys: list[str]
    flows: list[LineageFlow]
    similarity: float | None = Field(description="Centroid cosine, for continued themes.")


class ThemeHistory(Schema):
    key: str
    appearances: list[ThemeAppearance] = Field(
        description="Each finished analysis that held the key, oldest first."
    )
    events: list[LineageEventRead] = Field(
        description="Splits, merges, continuations, births and endings that name the key."
    )
