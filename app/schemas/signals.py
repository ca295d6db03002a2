"""Signals as the API shows them: on `GET /tensions` and in a theme's detail."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from app.schemas.common import Schema


class SignalTheme(Schema):
    key: str
    label: str | None = Field(description="The theme's label; null if not in this analysis.")


class SignalExemplar(Schema):
    id: int
    snippet: str | None


class SignalRead(Schema):
    id: int
    kind: str = Field(
        description="dyad_polarised, dyad_shift, triad_shift, choice_shift, stones_quadrant_shift, "
        "sentiment_summary, sentiment_mixed, opposing_sides, axis_polarised, axis_shift, "
        "group_divergence, group_consensus, divisive_theme, consensus_theme, ..."
    )
    themes: list[SignalTheme]
    subject: str | None = Field(
        description="The signifier, declared axis (axis:<key> in group signals), 'sentiment' "
        "or measure the signal is about."
    )
    attribute: str | None = Field(
        description="The attribute whose groups are compared ('votes' for vote tallies)."
    )
    strength: float = Field(description="The effect size named by strength_name.")
    strength_name: str
    flagged: bool = Field(
        description="Passes its test after correction over every test of the analysis, and "
        "its descriptive conditions."
    )
    test: str | None
    p_value: float | None
    p_adjusted: float | None
    correction: str | None
    interval: list[float] | None = Field(description="95% interval of the strength, if any.")
    evidence: dict[str, Any] = Field(description="The numbers behind the signal.")
    exemplars: dict[str, list[SignalExemplar]] = Field(
        description="Narratives illustrating each side (or the theme), by side name."
    )
