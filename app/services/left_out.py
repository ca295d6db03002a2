"""What an analysis leaves out of its themes: no answers and low-content lines, how many and
which strings (for its notes and parameters)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from models import Narrative
from pipelines.embed import Embedder, FloatMatrix
from pipelines.nonresponse import (
    NEGATIVE_ANCHORS,
    POSITIVE_ANCHORS,
    SIMILAR_TO_PLACEHOLDER,
    PlaceholderScreen,
)

#: Strings a note names; the parameters keep a few more.
SHOWN_IN_NOTE = 5
KEPT = 20


@dataclass
class LeftOut:
    """Counts of left-out narratives by (text as shown, reason)."""

    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    #: narratives found by their vectors in this analysis, flagged when it is stored
    screened: list[int] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def as_json(self) -> dict[str, Any]:
        return {
            "count": self.total,
            "strings": [
                {"text": text, "reason": reason, "count": n}
                for (text, reason), n in self.counts.most_common(KEPT)
            ],
        }

    def note(self) -> str | None:
        """The analysis note: how many narratives are left out and the commonest strings."""
        if not self.total:
            return None
        shown = ", ".join(
            f"“{text}” ({n}, {reason})"
            for (text, reason), n in self.counts.most_common(SHOWN_IN_NOTE)
        )
        kinds = len(self.counts)
        more = f" and {kinds - SHOWN_IN_NOTE} other strings" if kinds > SHOWN_IN_NOTE else ""
        return (
            f"{self.total} narratives are left out of the themes as no answer or low content: "
            f"{shown}{more}"
        )


def stored(session: Session, project_id: str) -> LeftOut:
    """The project's narratives stored as low content, grouped by text and reason."""
    rows = session.execute(
        select(Narrative.text, Narrative.low_content_reason, func.count())
        .where(Narrative.project_id == project_id, Narrative.low_content.is_(True))
        .group_by(Narrative.text, Narrative.low_content_reason)
    ).all()
    left = LeftOut()
    for text, reason, n in rows:
        left.counts[(_shown(text), reason or "low content")] += int(n)
    return left


def set_aside(
    left: LeftOut, ids: list[int], texts: list[str], X: FloatMatrix, embedder: Embedder
) -> np.ndarray:
    """Which of an analysis's narratives it keeps: False for placeholders only their vectors
    reveal (see `PlaceholderScreen`), which are counted in `left` and flagged when stored."""
    screen = PlaceholderScreen().fit(
        texts, X, embedder.encode(POSITIVE_ANCHORS), embedder.encode(NEGATIVE_ANCHORS)
    )
    out = screen.mask(texts)
    for i in np.flatnonzero(out):
        left.screened.append(ids[int(i)])
        left.counts[(_shown(texts[int(i)]), SIMILAR_TO_PLACEHOLDER)] += 1
    keep: np.ndarray = ~out
    return keep


def flag(session: Session, ids: list[int], reason: str) -> None:
    """Store the analysis's judgement on the narratives, so that later analyses and the
    placement of new narratives leave them out too."""
    for start in range(0, len(ids), 500):
        session.execute(
            update(Narrative)
            .where(Narrative.id.in_(ids[start : start + 500]))
            .values(low_content=True, low_content_reason=reason)
        )


def _shown(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= 60 else flat[:59] + "…"
