"""Who took part and how groups differ: participants by group, the group x theme table
(read from the trends service), warnings where groups are too small, and the words of a
report that has no analysis to read yet."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.schemas.trends import BY_PATTERN, TrendParams
from app.services import dashboard, dashboard_trends
from app.services import trends as trend_service
from app.services.narratives import filtered
from app.services.report.window import Window
from models import Narrative, NarrativeAttribute, Project

#: An attribute groups the messages when it has from 2 to this many values in the window.
MAX_GROUPS = 12
#: Below this many messages a group's shares are not compared.
SMALL_GROUP = 10


@dataclass(frozen=True)
class Column:
    label: str
    messages: int


@dataclass(frozen=True)
class GroupTable:
    """Share of each top theme in each group (rows follow the report's top themes)."""

    by: str
    name: str
    columns: list[Column]
    rows: list[tuple[str, list[float | None]]]


@dataclass(frozen=True)
class Participants:
    people: int
    by: str | None
    groups: list[tuple[str, int]]


def _group_attribute(session: Session, project: Project, w: Window) -> str | None:
    """The attribute with the fewest values (two or more) among the window's messages."""
    members = filtered(project, w.flt).with_only_columns(Narrative.id).scalar_subquery()
    rows = session.execute(
        select(NarrativeAttribute.key, func.count(func.distinct(NarrativeAttribute.value)))
        .where(
            NarrativeAttribute.project_id == project.id,
            NarrativeAttribute.narrative_id.in_(members),
        )
        .group_by(NarrativeAttribute.key)
    ).all()
    fits = sorted((int(n), str(k)) for k, n in rows if 2 <= int(n) <= MAX_GROUPS)
    usable = [k for _, k in fits if re.match(BY_PATTERN, f"attribute:{k}")]
    return usable[0] if usable else None


def group_table(
    session: Session, project: Project, w: Window, keys: list[str]
) -> GroupTable | None:
    """The group x theme table of the window, by an attribute, or by session over a period."""
    attribute = _group_attribute(session, project, w)
    if attribute is not None:
        by, name = f"attribute:{attribute}", attribute
    elif w.meeting is None:
        by, name = "session", "session"
    else:
        return None
    params = TrendParams(by=[by], theme=keys)
    page = trend_service.trends_page(session, project, params, w.flt)
    columns = [Column(str(c["label"]), int(c["total"])) for c in page["cells"]]
    if len(columns) < 2:
        return None
    order = {key: i for i, key in enumerate(keys)}
    themes = sorted(page["themes"], key=lambda t: order.get(t["key"], len(order)))
    rows = [(str(t["label"]), [cell["share"] for cell in t["cells"]]) for t in themes]
    return GroupTable(by=by, name=name, columns=columns, rows=rows)


def participants(
    session: Session, project: Project, w: Window, table: GroupTable | None
) -> Participants:
    """How many people wrote in the window, and how many in each group of the table."""
    authors = filtered(project, w.flt).with_only_columns(
        func.count(func.distinct(Narrative.author))
    )
    people = int(session.scalar(authors) or 0)
    if table is None or not table.by.startswith("attribute:"):
        return Participants(people, None, [])
    members = filtered(project, w.flt).with_only_columns(Narrative.id).scalar_subquery()
    rows = session.execute(
        select(NarrativeAttribute.value, func.count(func.distinct(Narrative.author)))
        .join(Narrative, Narrative.id == NarrativeAttribute.narrative_id)
        .where(NarrativeAttribute.key == table.name, NarrativeAttribute.narrative_id.in_(members))
        .group_by(NarrativeAttribute.value)
        .order_by(NarrativeAttribute.value)
    ).all()
    return Participants(people, table.name, [(str(v), int(n)) for v, n in rows])


def warnings(table: GroupTable | None) -> list[str]:
    """Plain words for the groups too small to compare."""
    if table is None:
        return []
    return [
        f"{table.name} \u201c{c.label}\u201d has only {c.messages} message"
        f"{'' if c.messages == 1 else 's'} in the themes: too few to say how its themes differ "
        "from the others'."
        for c in table.columns
        if c.messages < SMALL_GROUP
    ]


def work_words(session: Session, project: Project) -> list[str]:
    """The jobs queued or running for the project, one sentence each."""
    words = []
    for work in dashboard.work_in_hand(session, project):
        how = (
            "waiting to start"
            if work.status == "queued"
            else f"{work.percent}% done"
            if work.percent is not None
            else "started"
        )
        words.append(f"Running now: {work.words.lower()} ({how}).")
    return words


def waiting_words(session: Session, project: Project) -> list[str]:
    """Why a project without a finished analysis has no report yet, and the work in hand."""
    state = dashboard_trends.waiting(session, project, "The report's sections")
    return [state.headline, state.advice, *work_words(session, project)]


def late_words(session: Session, project: Project, analysis_id: int) -> list[str]:
    """Why a window whose messages the latest analysis does not hold has no report yet."""
    work = work_words(session, project)
    then = (
        "They join its themes when the work below is done."
        if work
        else "Nothing is running: someone with a write key can start an analysis from the "
        "dashboard's overview."
    )
    return [f"These messages are not in the themes of analysis {analysis_id} yet.", then, *work]
