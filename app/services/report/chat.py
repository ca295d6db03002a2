"""The "Now what?" of a report: questions left unanswered in the chat, and messages that
sound like an action to take.

A question is a message of three words or more that ends with a question mark, or opens
with a question word ("how", "can someone", ...). It counts as answered when a later
message is stored as a reply to it: Zoom's "Replying to ..." lines and Teams' reply field
set `replies_to_id` at ingest. Exports without replies (older Zoom layouts) link nothing,
so there every question is listed; the report says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, aliased

from app.services.narratives import NarrativeFilter, filtered
from app.services.themes import snippet
from models import Narrative, Project

_QUESTION_OPENING = re.compile(
    # not "when": "when I click on it, ..." opens a statement as often as a question
    r"^(?:who|what|where|why|which|how|is|are|was|were|do|does|did|can|could|should|"
    r"would|will|has|have|any\s+(?:idea|ideas|thoughts|tips)|anyone|anybody|"
    r"does\s+anyone|has\s+anyone)\b",
    re.IGNORECASE,
)
_ACTION = re.compile(
    r"\b(?:we\s+should|we\s+need\s+to|we\s+must|let'?s|let\s+us|next\s+time|"
    r"action\s*(?:point|item)?\s*:|to\s*do\s*:|todo\s*:|can\s+someone|could\s+someone|"
    r"can\s+somebody|could\s+somebody|someone\s+should|"
    r"i'?ll\s+(?:send|share|post|check|follow\s+up))",
    re.IGNORECASE,
)
#: A question needs this many words to be worth listing ("what?" alone is not).
MIN_QUESTION_WORDS = 3
#: At most this many of each list in a report; the count says how many there were.
SHOWN = 25


def is_question(text: str) -> bool:
    """A message that asks something: ends with '?' or opens with a question word."""
    flat = " ".join(text.split())
    if len(flat.split()) < MIN_QUESTION_WORDS:
        return False
    return flat.rstrip().endswith("?") or bool(_QUESTION_OPENING.match(flat))


def is_action(text: str) -> bool:
    """A message that proposes something to do ("we should", "next time", "action:")."""
    return bool(_ACTION.search(text))


@dataclass(frozen=True)
class Message:
    """One chat message as the report quotes it: who (pseudonym), when, what."""

    id: int
    author: str
    at: datetime | None
    text: str


@dataclass(frozen=True)
class NowWhat:
    questions: list[Message]
    questions_total: int
    #: questions asked in the window, answered or not
    questions_asked: int
    actions: list[Message]
    actions_total: int
    #: whether any message of the window is stored as a reply to another
    replies_linked: bool


def message(row: Narrative) -> Message:
    return Message(row.id, row.author or "someone", row.occurred_at, snippet(row.text, 400))


def now_what(session: Session, project: Project, flt: NarrativeFilter) -> NowWhat:
    """Unanswered questions and action-like messages of the narratives within `flt`."""
    reply = aliased(Narrative)
    answered = exists().where(reply.replies_to_id == Narrative.id)
    rows = session.execute(
        filtered(project, flt)
        .add_columns(answered)
        .where(Narrative.low_content.is_(False))
        .order_by(Narrative.occurred_at, Narrative.id)
    ).all()
    asked = [(n, has_reply) for n, has_reply in rows if is_question(n.text)]
    questions = [message(n) for n, has_reply in asked if not has_reply]
    actions = [message(n) for n, _ in rows if is_action(n.text)]
    linked = session.scalar(
        select(
            filtered(project, flt)
            .where(Narrative.replies_to_id.is_not(None))
            .with_only_columns(Narrative.id)
            .exists()
        )
    )
    return NowWhat(
        questions=questions[:SHOWN],
        questions_total=len(questions),
        questions_asked=len(asked),
        actions=actions[:SHOWN],
        actions_total=len(actions),
        replies_linked=bool(linked),
    )
