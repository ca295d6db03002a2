"""What an analysis leaves out of its themes: no answers and low-content lines, how many and
which strings (for its notes and parameters)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from models import Narrative
from pipelines.embed import Embedder, FloatMatrix
from pipelines.nonresponse import (
    ABOUT_THE_CALL,
    CORRECTION,
    FORM_DEFAULT,
    LAUGHTER,
    LINK_ONLY,
    NEGATIVE_ANCHORS,
    NO_WORDS,
    PLACEHOLDER,
    PLEASANTRY,
    POSITIVE_ANCHORS,
    PROJECT_PLACEHOLDER,
    REPEATS_QUESTION,
    SIMILAR_TO_PLACEHOLDER,
    SYMBOLS_ONLY,
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
        left.counts[(_shown(text), reason or PLEASANTRY)] += int(n)
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


#: A reason a text is left out (pipelines.nonresponse), in words: what such texts are, then
#: what one of them is (for a story's own page).
REASON_WORDS = {
    PLACEHOLDER: (
        "Placeholders instead of an answer (such as \u201cDid not answer\u201d)",
        "a placeholder instead of an answer",
    ),
    FORM_DEFAULT: ("A form\u2019s default text", "the form\u2019s default text"),
    NO_WORDS: ("Answers with no words", "an answer with no words"),
    REPEATS_QUESTION: ("Answers that only repeat their question", "it only repeats its question"),
    PROJECT_PLACEHOLDER: (
        "The project\u2019s own placeholders",
        "one of the project\u2019s placeholders",
    ),
    SIMILAR_TO_PLACEHOLDER: (
        "Short texts repeated many times that mean \u201cno answer\u201d",
        "a short text repeated many times that means \u201cno answer\u201d",
    ),
    PLEASANTRY: ("Pleasantries (such as \u201cthanks!\u201d or \u201c+1\u201d)", "a pleasantry"),
    LINK_ONLY: ("Bare links", "a bare link"),
    SYMBOLS_ONLY: ("Lines of only emoji or symbols", "only emoji or symbols"),
    ABOUT_THE_CALL: (
        "Lines about the call itself (such as \u201ccan you hear me?\u201d)",
        "a line about the call itself",
    ),
    LAUGHTER: ("Laughter", "laughter"),
    CORRECTION: ("Corrections of a typo (such as \u201c*link\u201d)", "a typo\u2019s correction"),
}
_OTHER = ("Other lines that say too little", "it says too little to group")


def reason_in_words(reason: str | None) -> str:
    """What one left-out text is, in words, for its own page."""
    return REASON_WORDS.get(reason or PLEASANTRY, _OTHER)[1]


@dataclass(frozen=True)
class InWords:
    """What the project leaves out, as the overview says it."""

    #: how many for each reason, in words, largest first (reasons with the same words summed)
    reasons: list[tuple[str, int]]
    #: the commonest texts left out, as shown, with how many
    commonest: list[tuple[str, int]]


def reasons_in_words(counts: Iterable[tuple[str | None, int]]) -> list[tuple[str, int]]:
    """How many texts are left out for each reason, the reasons in words, largest first
    (reasons with the same words summed)."""
    reasons: Counter[str] = Counter()
    for reason, n in counts:
        reasons[REASON_WORDS.get(reason or PLEASANTRY, _OTHER)[0]] += n
    return sorted(reasons.items(), key=lambda item: (-item[1], item[0]))


def in_words(session: Session, project_id: str) -> InWords:
    """How many of the project's narratives are left out for each reason, and which texts."""
    left = stored(session, project_id)
    texts: Counter[str] = Counter()
    for (text, _), n in left.counts.items():
        texts[text] += n
    return InWords(
        reasons=reasons_in_words((reason, n) for (_, reason), n in left.counts.items()),
        commonest=texts.most_common(SHOWN_IN_NOTE),
    )
