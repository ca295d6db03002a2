"""The theme map: the latest analysis's stored 2-D layout within a filter, for the dashboard.

Points are read from ``theme_assignments`` (x, y, theme) of the latest succeeded analysis,
narrowed by the same `NarrativeFilter` as ``GET /v1/themes``; theme counts come from
`themes.list_themes`, as there. Everything is ordered (narratives by id, themes by size then
key), so the same data gives the same answer on every call.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from pydantic_core import to_json
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from app.errors import UnprocessableEntity
from app.services import analyses as analysis_service
from app.services import analysis_state
from app.services import narratives as narrative_service
from app.services import themes as theme_service
from app.services.incremental import EMERGING
from app.services.narratives import NarrativeFilter, filtered
from models import (
    Analysis,
    AnalysisStatus,
    MeetingSession,
    Narrative,
    NarrativeAttribute,
    Project,
    Theme,
    ThemeAssignment,
)

#: Below this many stories in the filter the page explains instead of drawing a map.
MIN_POINTS = 5
#: Stories listed in the page's table view (the map itself holds them all).
TABLE_ROWS = 50
#: Characters of a story shown when the pointer rests on its point.
HOVER_CHARS = 200
#: Coordinates (in [-1, 1]) are sent as integers in thousandths: half a pixel on a wide map.
SCALE = 1000
#: Group options: attributes with at most this many values, at most this many options.
MAX_VALUES_PER_KEY, MAX_GROUP_OPTIONS = 40, 300

State = Literal["empty", "waiting", "failed", "ready"]


# --- filters ---------------------------------------------------------------------------------


def _moment(value: str, name: str, end_of_day: bool) -> datetime | None:
    value = value.strip()
    if not value:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            # a day given as "until" is included: the filter ends at the next midnight
            moment = datetime.combine(day + timedelta(days=1 if end_of_day else 0), time())
        else:
            moment = datetime.fromisoformat(value)
    except (ValueError, OverflowError):  # OverflowError: the day after 9999-12-31
        raise UnprocessableEntity(
            f"the {name} date {value!r} is not a date; use the date picker (e.g. 2026-03-01)"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def parse_filter(
    group: str = "", session_id: str = "", since: str = "", until: str = ""
) -> NarrativeFilter:
    """The filter of the map's form fields: a group ``key:value``, a session id, and days
    (``until``'s day included) or ISO times; empty fields filter nothing."""
    attributes: list[tuple[str, str]] = []
    if group.strip():
        key, sep, value = group.partition(":")
        if not sep or not key:
            raise UnprocessableEntity(f"the group {group!r} should look like 'role:nurse'")
        attributes.append((key, value))
    chosen: int | None = None
    if session_id.strip():
        try:
            chosen = int(session_id)
        except ValueError:
            raise UnprocessableEntity(
                f"the session {session_id!r} is not one of the list"
            ) from None
    flt = NarrativeFilter(
        attributes=attributes,
        session_id=chosen,
        since=_moment(since, "from", end_of_day=False),
        until=_moment(until, "until", end_of_day=True),
    )
    if flt.since and flt.until and flt.since >= flt.until:
        raise UnprocessableEntity("the 'from' date is after the 'until' date; swap them")
    return flt


@dataclass(frozen=True)
class Option:
    value: str
    label: str


def group_options(session: Session, project: Project) -> list[Option]:
    """Each (attribute, value) of the project's narratives as ``key:value``, for attributes
    with few enough values to choose from, by key then value."""
    per_key = (
        select(NarrativeAttribute.key)
        .where(NarrativeAttribute.project_id == project.id)
        .group_by(NarrativeAttribute.key)
        .having(func.count(func.distinct(NarrativeAttribute.value)) <= MAX_VALUES_PER_KEY)
    )
    rows = session.execute(
        select(NarrativeAttribute.key, NarrativeAttribute.value, func.count())
        .where(NarrativeAttribute.project_id == project.id, NarrativeAttribute.key.in_(per_key))
        .group_by(NarrativeAttribute.key, NarrativeAttribute.value)
        .order_by(NarrativeAttribute.key, NarrativeAttribute.value)
        .limit(MAX_GROUP_OPTIONS)
    ).all()
    return [Option(f"{k}:{v}", f"{k} = {v} ({n})") for k, v, n in rows]


def session_options(session: Session, project: Project) -> list[Option]:
    """The project's sessions (meetings), by date then id."""
    rows = session.scalars(
        select(MeetingSession)
        .where(MeetingSession.project_id == project.id)
        .order_by(MeetingSession.held_on, MeetingSession.created_at, MeetingSession.id)
    )
    return [
        Option(str(s.id), f"{s.name} ({s.held_on:%d %b %Y})" if s.held_on else s.name) for s in rows
    ]


# --- points ----------------------------------------------------------------------------------


def _themes(session: Session, analysis: Analysis) -> list[Theme]:
    """The analysis's top-level themes in colour order: by size, then key."""
    return list(
        session.scalars(
            select(Theme)
            .where(Theme.analysis_id == analysis.id, Theme.level == 0)
            .order_by(Theme.size.desc(), Theme.key)
        )
    )


def _label(theme: Theme) -> str:
    return f"{theme.label} (emerging)" if EMERGING in (theme.flags or []) else theme.label


def _points(
    project: Project, analysis: Analysis, flt: NarrativeFilter
) -> Select[int, float | None, float | None, int | None]:
    """(narrative id, x, y, theme id) of the analysis's placed narratives in the filter."""
    stmt = select(
        ThemeAssignment.narrative_id, ThemeAssignment.x, ThemeAssignment.y, ThemeAssignment.theme_id
    ).where(
        ThemeAssignment.analysis_id == analysis.id,
        ThemeAssignment.x.is_not(None),
        ThemeAssignment.y.is_not(None),
    )
    if flt.active:
        members = filtered(project, flt).with_only_columns(Narrative.id).scalar_subquery()
        stmt = stmt.where(ThemeAssignment.narrative_id.in_(members))
    return stmt.order_by(ThemeAssignment.narrative_id)


def _coord(value: float | None) -> int:
    # the query leaves out assignments without a position; a theme may lack one
    return round((value or 0.0) * SCALE)


#: Serialised answers of `map_points_json`, newest last; a dashboard reloads the same map often.
_ANSWERS: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()
_ANSWERS_MAX = 32
_ANSWERS_LOCK = threading.Lock()
#: Bumped when a project's stored data is taken out, so no answer cached before is used again.
_GENERATIONS: dict[str, int] = {}


def forget(project_id: str) -> None:
    """Stop answering from the project's cached maps (its narratives were deleted)."""
    with _ANSWERS_LOCK:
        _GENERATIONS[project_id] = _GENERATIONS.get(project_id, 0) + 1
        for key in [k for k in _ANSWERS if k[0] == project_id]:
            del _ANSWERS[key]


def _answer_key(
    project: Project, analysis: Analysis | None, flt: NarrativeFilter
) -> tuple[Any, ...]:
    # an analysis's points change only when narratives are placed into it (incremental_count)
    # or taken out of it (revision, raised in whichever process took them out)
    placed = (
        (analysis.id, analysis.incremental_count, analysis.revision)
        if analysis is not None
        else None
    )
    filters = (tuple(flt.attributes), flt.source_id, flt.session_id, flt.since, flt.until)
    return (project.id, placed, filters, _GENERATIONS.get(project.id, 0))


def map_points_json(session: Session, project: Project, flt: NarrativeFilter) -> bytes:
    """`map_points` as JSON bytes, kept for the latest analysis until it changes."""
    analysis = analysis_service.latest(session, project)
    key = _answer_key(project, analysis, flt)
    with _ANSWERS_LOCK:
        found = _ANSWERS.get(key)
        if found is not None:
            _ANSWERS.move_to_end(key)
            return found
    body = to_json(map_points(session, project, flt, analysis))
    with _ANSWERS_LOCK:
        _ANSWERS[key] = body
        while len(_ANSWERS) > _ANSWERS_MAX:
            _ANSWERS.popitem(last=False)
    return body


def map_points(
    session: Session, project: Project, flt: NarrativeFilter, analysis: Analysis | None
) -> dict[str, Any]:
    """The points of the map as parallel arrays: ``ids``, ``xs`` and ``ys`` (thousandths),
    ``theme`` (an index into ``themes``, -1 for a story that fits no theme)."""
    if analysis is None:
        return {"analysis": None, "scale": SCALE, "themes": [], "ids": [], "xs": [], "ys": []}
    themes = _themes(session, analysis)
    index = {t.id: i for i, t in enumerate(themes)}
    rows = session.execute(_points(project, analysis, flt)).all()
    return {
        "analysis": analysis.id,
        "scale": SCALE,
        "themes": [
            {
                "key": t.key,
                "label": _label(t),
                "x": _coord(t.x),
                "y": _coord(t.y),
            }
            for t in themes
        ],
        "ids": [r[0] for r in rows],
        "xs": [_coord(r[1]) for r in rows],
        "ys": [_coord(r[2]) for r in rows],
        "theme": [index.get(r[3], -1) if r[3] is not None else -1 for r in rows],
    }


def hover_snippet(session: Session, project: Project, narrative_id: int) -> dict[str, Any]:
    """The start of one story of the project, on one line, for the map's hover card."""
    narrative = narrative_service.get(session, project, narrative_id)
    return {"id": narrative.id, "snippet": theme_service.snippet(narrative.text, HOVER_CHARS)}


# --- the page --------------------------------------------------------------------------------


@dataclass(frozen=True)
class MapTheme:
    key: str
    label: str
    #: index into the palette (the theme's place among all the analysis's themes)
    colour: int
    size: int
    share: float


@dataclass(frozen=True)
class MapRow:
    id: int
    theme: str
    snippet: str


@dataclass
class MapPage:
    """What the map page shows around the canvas (whose points the script fetches)."""

    state: State
    message: str
    filtered: bool
    analysis_id: int | None = None
    #: a newer analysis queued or running while this map shows the last finished one
    pending: str = ""
    themes: list[MapTheme] = field(default_factory=list)
    total: int = 0
    unclustered: int = 0
    rows: list[MapRow] = field(default_factory=list)
    groups: list[Option] = field(default_factory=list)
    sessions: list[Option] = field(default_factory=list)

    @property
    def drawable(self) -> bool:
        return self.state == "ready" and self.total >= MIN_POINTS


def _progress(session: Session, analysis: Analysis) -> str:
    percent = analysis_state.job_percent(session, analysis)
    if percent is not None:
        return f"{percent}%"
    return "queued" if analysis.status == AnalysisStatus.queued else "started"


def _waiting(session: Session, project: Project) -> tuple[State, str]:
    """The state and words of a project with no finished analysis."""
    state = analysis_state.pending(session, project)
    last = state.last
    if state.busy and last is not None:
        return "waiting", (
            f"An analysis is running: {_progress(session, last)}. The map appears when it has "
            "finished; reload this page in a minute."
        )
    if state.failed and last is not None:
        return "failed", (
            f"The last analysis could not finish ({last.error or 'no reason was recorded'}). "
            "Ask whoever looks after Weft to run it again."
        )
    if not state.narratives:
        return "empty", (
            "There are no stories in this project yet. Upload a chat export or a file of "
            "stories, and the map appears once Weft has found their themes."
        )
    return "empty", (
        f"{state.narratives} stories are stored, but Weft has not looked for themes yet. An "
        "analysis starts by itself after an upload has been read; ask whoever looks after "
        "Weft if none does."
    )


def _pending(session: Session, project: Project, shown: Analysis) -> str:
    newer = session.scalars(
        select(Analysis)
        .where(
            Analysis.project_id == project.id,
            Analysis.id > shown.id,
            Analysis.status.in_((AnalysisStatus.queued, AnalysisStatus.running)),
        )
        .order_by(Analysis.id.desc())
    ).first()
    if newer is None:
        return ""
    return (
        f"A new analysis is running: {_progress(session, newer)}. This map shows the last "
        "finished one until it is done."
    )


def _too_few(total: int) -> str:
    if total == 0:
        return "No story matches these filters. Widen them, or clear them to see every story."
    story = "story matches" if total == 1 else "stories match"
    return (
        f"Only {total} {story} these filters: too few to draw a map. Widen the filters, or "
        "clear them to see every story."
    )


def map_page(session: Session, project: Project, flt: NarrativeFilter) -> MapPage:
    """The page around the map: its state in words, the themes with their counts in the
    filter (as ``GET /v1/themes`` counts them), the first stories for the table view, and
    the filter's choices."""
    groups, sessions = group_options(session, project), session_options(session, project)
    analysis = analysis_service.latest(session, project)
    if analysis is None:
        state, message = _waiting(session, project)
        return MapPage(state, message, flt.active, groups=groups, sessions=sessions)
    colour = {t.id: i for i, t in enumerate(_themes(session, analysis))}
    listing = theme_service.list_themes(session, project, analysis, flt)
    themes = [
        MapTheme(c.theme.key, _label(c.theme), colour.get(c.theme.id, 0), c.size, c.share)
        for c in sorted(listing.themes, key=lambda c: colour.get(c.theme.id, 0))
    ]
    labels: dict[int | None, str] = {c.theme.id: _label(c.theme) for c in listing.themes}
    first = session.execute(_points(project, analysis, flt).limit(TABLE_ROWS)).all()
    texts = theme_service.texts_by_id(session, [r[0] for r in first])
    rows = [
        MapRow(
            id=r[0],
            theme=labels.get(r[3], "Fits no theme"),
            snippet=theme_service.snippet(texts.get(r[0], ""), 160),
        )
        for r in first
    ]
    total = listing.total_narratives
    return MapPage(
        state="ready",
        message="" if total >= MIN_POINTS else _too_few(total),
        filtered=flt.active,
        analysis_id=analysis.id,
        pending=_pending(session, project, analysis),
        themes=themes,
        total=total,
        unclustered=listing.unclustered,
        rows=rows,
        groups=groups,
        sessions=sessions,
    )
