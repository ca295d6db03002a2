from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, StringConstraints, model_validator

from app.schemas.common import InputSchema, Schema
from app.schemas.signifiers import KEY_PATTERN

Pole = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class PolarityDeclare(InputSchema):
    key: str = Field(pattern=KEY_PATTERN)
    label: str = Field("", max_length=300)
    poles: list[Pole] = Field(
        min_length=2,
        max_length=2,
        description="[left pole, right pole], each a short description, e.g. "
        "['follow the plan', 'work with emergence']",
    )

    @model_validator(mode="after")
    def _distinct(self) -> PolarityDeclare:
        if self.poles[0].casefold() == self.poles[1].casefold():
            raise ValueError("the two poles must differ")
        return self


class PolaritiesDeclare(InputSchema):
    axes: list[PolarityDeclare] = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def _unique_keys(self) -> PolaritiesDeclare:
        keys = [a.key for a in self.axes]
        if len(set(keys)) != len(keys):
            raise ValueError("each axis key may appear once")
        return self


class PolarityRead(Schema):
    key: str
    label: str
    poles: list[str]
    created_at: datetime


class PolarityList(Schema):
    axes: list[PolarityRead]
    note: str = Field(
        "positions and polarised themes are computed by the next analysis",
        description="When declared axes take effect.",
    )


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
