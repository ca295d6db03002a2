"""What `GET /tensions` reads: its query and its page."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from app.schemas.common import DB_INT_MAX, Schema
from app.schemas.signals import SignalRead
from app.schemas.themes import AnalysisRead


class TensionsQuery(BaseModel):
    """Filters and page of `GET /tensions`; lists repeat their query parameter."""

    theme: list[str] = Field([], description="Theme keys (repeatable).")
    kind: list[str] = Field([], description="Signal kinds (repeatable).")
    attribute: list[str] = Field(
        [], description="Group attributes of divergence signals (repeatable)."
    )
    min_strength: float | None = Field(None, allow_inf_nan=False, description="Least strength.")
    flagged_only: bool = False
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0, le=DB_INT_MAX)


class TensionsPage(Schema):
    analysis_id: int | None = Field(description="The analysis read; null before the first.")
    analysis: AnalysisRead | None = Field(description="The analysis read; null before the first.")
    computed: bool = Field(description="Whether the analysis's signals have been computed.")
    notes: list[Any] = Field(
        description="The analysis's notes, signals' included; before the first analysis, "
        "what is running or how to start one."
    )
    placed_since: int = Field(
        0,
        description="Narratives placed into the analysis's themes after it ran (incremental "
        "placement): they count in themes and trends but not in these signals until the next "
        "analysis.",
    )
    total: int = Field(description="Signals that match, before pagination.")
    limit: int
    offset: int
    signals: list[SignalRead]
