"""The use cases behind the dashboard's overview, theme and narrative pages.

Each page is built from the same service functions the /v1 API calls (`theme_pages`,
`trends`, `tensions`, `analyses`); this module only gathers and words what they answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from app.errors import Conflict, NotFound, WeftError
from app.schemas.narratives import NarrativeRead
from app.schemas.signals import SignalRead
from app.schemas.themes import AnalysisRead, SimilarList, ThemeDetail, ThemeHistory, ThemeSummary
from app.schemas.trends import TrendParams
from app.services import analyses as analysis_service
from app.services import curation_view, theme_pages
from app.services import meetings as meeting_service
from app.services import narratives as narrative_service
from app.services import themes as theme_service
from app.services import trends as trend_service
from app.services.left_out import InWords, in_words
from app.services.narratives import NarrativeFilter
from app.services.themes import Level, VectorIndex
from models import (
    Analysis,
    Job,
    JobStatus,
    MeetingSession,
    Narrative,
    Project,
    SignifierValue,
    Source,
    Theme,
    ThemeAssignment,
    ThemeLineage,
    ThemeMembership,
)

#: What each kind of job is doing, in a convenor's words.
_JOB_WORDS = {
    "ingest": "Reading an upload",
    "embed": "Reading the new stories",
    "analyze": "Finding themes",
}


# --- progress of the work in hand ----------------------------------------------------------


@dataclass
class Work:
    """A job still queued or running."""

    id: str
    kind: str
    words: str
    status: str
    done: int
    total: int | None

    @property
    def percent(self) -> int | None:
        if not self.total:
            return None
        return min(100, round(100 * self.done / self.total))


def work_in_hand(session: Session, project: Project) -> list[Work]:
    """The project's queued and running jobs, oldest first (a split job, not its chunks)."""
    jobs = session.scalars(
        select(Job)
        .where(Job.project_id == project.id, Job.parent_id.is_(None))
        .where(Job.status.in_((JobStatus.queued, JobStatus.running)))
        .order_by(Job.created_at, Job.id)
    )
    return [
        Work(
            id=job.id,
            kind=job.kind,
            words=_JOB_WORDS.get(job.kind, "Working"),
            status=job.status.value,
            done=job.progress_done,
            total=job.progress_total,
        )
        for job in jobs
    ]


def progress(session: Session, project: Project) -> dict[str, Any]:
    """What the overview's script polls while work is in hand."""
    work = work_in_hand(session, project)
    return {
        "busy": bool(work),
        "work": [
            {"kind": w.kind, "words": w.words, "status": w.status, "percent": w.percent}
            for w in work
        ],
    }


# --- the overview ---------------------------------------------------------------------------


@dataclass
class Counts:
    narratives: int
    sessions: int
    sources: int
    low_content: int
    low_content_left_out: bool
    #: why they are low content and the commonest such texts, in words
    left_out: InWords
    unclustered: int
    not_yet_analysed: int
    not_applicable: int
    not_applicable_stories: int


@dataclass
class ThemeRow:
    summary: ThemeSummary
    shares: list[float | None]
    trend: str | None


@dataclass
class Overview:
    counts: Counts
    analysis: AnalysisRead | None
    facts: list[str]
    notes: list[str]
    last: Analysis | None
    work: list[Work]
    themes: list[ThemeRow]
    over: str | None
    over_labels: list[str]
    emerging: list[ThemeSummary]
    new_keys: list[ThemeSummary]
    rising: list[ThemeRow]
    #: themes a convenor hid, (key, label): out of the list, still in every share
    hidden: list[tuple[str, str]] = field(default_factory=list)


def _count(session: Session, model: Any, *where: Any, what: Any = None) -> int:
    """How many rows of `model` match `where` (or how many distinct `what`)."""
    counted = func.count() if what is None else func.count(distinct(what))
    return int(session.scalar(select(counted).select_from(model).where(*where)) or 0)


def _counts(session: Session, project: Project, analysis: Analysis | None) -> Counts:
    pid = project.id
    narratives = _count(session, Narrative, Narrative.project_id == pid)
    low = _count(session, Narrative, Narrative.project_id == pid, Narrative.low_content.is_(True))
    left_out = True
    assigned = unclustered = 0
    if analysis is not None:
        left_out = not analysis_service.AnalysisParams.from_row(analysis).include_low_content
        mine = ThemeAssignment.analysis_id == analysis.id
        assigned = _count(session, ThemeAssignment, mine)
        unclustered = _count(session, ThemeAssignment, mine, ThemeAssignment.theme_id.is_(None))
    considered = narratives - (low if left_out else 0)
    answers = SignifierValue.__table__.join(
        Narrative.__table__, Narrative.id == SignifierValue.narrative_id
    )
    blank = (Narrative.project_id == pid, SignifierValue.not_applicable.is_(True))
    return Counts(
        narratives=narratives,
        sessions=_count(session, MeetingSession, MeetingSession.project_id == pid),
        sources=_count(session, Source, Source.project_id == pid),
        low_content=low,
        low_content_left_out=left_out,
        left_out=in_words(session, pid),
        unclustered=unclustered,
        not_yet_analysed=max(0, considered - assigned) if analysis is not None else 0,
        not_applicable=_count(session, answers, *blank),
        not_applicable_stories=_count(session, answers, *blank, what=SignifierValue.narrative_id),
    )


def _last_analysis(session: Session, project: Project) -> Analysis | None:
    """The project's newest analysis, whatever its status."""
    return session.scalars(
        select(Analysis).where(Analysis.project_id == project.id).order_by(Analysis.id.desc())
    ).first()


def parameters_in_words(analysis: AnalysisRead) -> list[str]:
    """What the analysis was asked to do and how it ran, as sentences."""
    requested = analysis.parameters.get("requested") or {}
    used = analysis.parameters.get("used") or {}
    facts: list[str] = []
    asked = requested.get("n_themes")
    if isinstance(asked, int):
        facts.append(f"You asked for {asked} themes; it found {analysis.theme_count}.")
    else:
        facts.append(f"Weft chose the number of themes itself and found {analysis.theme_count}.")
    facts.append(
        f"It read {analysis.narrative_count} stories"
        + (
            f", of which {analysis.unclustered_share:.0%} fit no theme."
            if analysis.unclustered_share
            else "; every one of them fits a theme."
        )
    )
    fate = "included" if requested.get("include_low_content") else "left out"
    facts.append(
        f"Non-answers and lines that say too little to group (such as \u201cthanks!\u201d) "
        f"were {fate}."
    )
    held = used.get("resolution_held_from") if isinstance(used, dict) else None
    if held is not None:
        facts.append(f"It kept the level of detail of analysis {held}, so boundaries stay put.")
    seconds = analysis.timings.get("total_seconds")
    timing = ""
    if isinstance(seconds, int | float):
        whole = max(1, round(float(seconds)))
        timing = f" and took {whole} second{'' if whole == 1 else 's'}"
    facts.append(
        f"It used the language model \u201c{analysis.model_name}\u201d with seed "
        f"{analysis.seed}{timing}; the same stories and seed give the same themes."
    )
    if analysis.incremental_count:
        facts.append(
            f"{analysis.incremental_count} stories arrived since and were placed into its themes"
            + (
                f" ({analysis.incremental_unassigned} fit none of them)."
                if analysis.incremental_unassigned
                else "."
            )
        )
    return facts


def _dated(session: Session, project: Project) -> bool:
    """Whether any of the project's narratives carries a time."""
    where = (Narrative.project_id == project.id, Narrative.occurred_at.is_not(None))
    return session.scalar(select(Narrative.id).where(*where).limit(1)) is not None


def _over(session: Session, project: Project, counts: Counts) -> str | None:
    """What the sparklines run over: sessions for meeting data, else months of dated stories."""
    if counts.sessions:
        return "session"
    return "period:month" if _dated(session, project) else None


def _trends(
    session: Session,
    project: Project,
    by: str,
    theme: list[str] | None = None,
    level: Level = "top",
) -> dict[str, Any] | None:
    """The trends page for one `by`, or None when it cannot be made (too many cells...)."""
    params = TrendParams(by=[by], theme=theme or [], level=level)
    try:
        return trend_service.trends_page(session, project, params, NarrativeFilter())
    except WeftError:
        return None


def _note_in_words(note: str) -> str | None:
    """An analysis note as the overview says it; None for one the page already says."""
    if note.endswith("fit no theme and are left unclustered") or "low content: " in note:
        return None  # "Left out, and why" and the analysis's facts say it
    found = re.fullmatch(r"signals: (\d+) of (\d+) flagged", note)
    if found is None:
        return note
    clear, tested = int(found[1]), int(found[2])
    return (
        f"Weft looked for tensions and differences between groups {tested} ways; "
        f"{clear} of them {'is' if clear == 1 else 'are'} clear (see each theme's page)."
    )


def _new_keys(session: Session, analysis: Analysis) -> set[str]:
    """Keys the analysis's lineage records as new (it had a previous analysis to compare)."""
    keys: set[str] = set()
    for event in session.scalars(
        select(ThemeLineage).where(
            ThemeLineage.analysis_id == analysis.id, ThemeLineage.kind == "new"
        )
    ):
        keys.update(str(k) for k in event.current_keys)
    return keys


def overview(session: Session, project: Project) -> Overview:
    """Everything the overview page shows."""
    page = theme_pages.themes_page(session, project, NarrativeFilter(), "top", "primary", 500, 0)
    latest = analysis_service.latest(session, project)
    counts = _counts(session, project, latest)
    last = _last_analysis(session, project)
    over = _over(session, project, counts) if latest is not None else None
    trends = _trends(session, project, over) if over else None
    by_key: dict[str, dict[str, Any]] = {}
    labels: list[str] = []
    if trends is not None:
        by_key = {t["key"]: t for t in trends["themes"]}
        labels = [c["label"] for c in trends["cells"]]
    rows = []
    for summary in page.themes:
        found = by_key.get(summary.key)
        series = found["series"][0]["shares"] if found and found["series"] else []
        trend = found["trends"][0] if found and found["trends"] else None
        rows.append(
            ThemeRow(
                summary=summary,
                shares=series,
                trend=trend["reading"] if trend and trend["status"] != "insufficient" else None,
            )
        )
    rising = [
        r
        for r in rows
        if (t := by_key.get(r.summary.key)) and t["trends"] and t["trends"][0]["status"] == "rising"
    ]
    fresh = _new_keys(session, latest) if latest is not None else set()
    return Overview(
        counts=counts,
        analysis=page.analysis,
        facts=parameters_in_words(page.analysis) if page.analysis else [],
        notes=[w for n in page.notes if (w := _note_in_words(n)) is not None]
        if page.analysis
        else [],
        last=last,
        work=work_in_hand(session, project),
        themes=rows,
        over=over if len(labels) > 1 else None,
        over_labels=labels,
        emerging=[t for t in page.themes if t.emerging],
        new_keys=[t for t in page.themes if t.key in fresh and not t.emerging],
        rising=rising,
        hidden=_hidden(session, project, latest) if page.hidden else [],
    )


def _hidden(session: Session, project: Project, latest: Analysis | None) -> list[tuple[str, str]]:
    """The hidden themes of the curated view, to show them again from their pages."""
    if latest is None:
        return []
    listing = curation_view.curated_themes(session, project, latest, NarrativeFilter())
    return [(t.key, t.label) for t in listing.hidden]


# --- one theme ------------------------------------------------------------------------------


@dataclass
class Side:
    name: str
    quote: str
    narrative_id: int


@dataclass
class Tension:
    heading: str
    flagged: bool
    sides: list[Side]


@dataclass
class ThemeView:
    detail: ThemeDetail
    history: ThemeHistory
    tensions: list[Tension]
    attributes: list[str]
    over_options: list[tuple[str, str]]
    current_keys: set[str] = field(default_factory=set)
    labels: dict[str, str] = field(default_factory=dict)


def _side_name(signal: SignalRead, side: str) -> str:
    poles = signal.evidence.get("poles")
    if side in ("left", "right") and isinstance(poles, list) and len(poles) == 2:
        return str(poles[0] if side == "left" else poles[1])
    if signal.attribute and side not in ("left", "right", "a", "b"):
        return f"{signal.attribute}: {side}"
    words = {"a": "one side", "b": "the other side", "positive": "pleased", "negative": "upset"}
    return words.get(side, side)


def _heading(signal: SignalRead) -> str:
    subject = signal.subject or ""
    if subject.startswith("axis:"):
        subject = subject[5:]
    kind = signal.kind
    if kind in ("dyad_polarised", "axis_polarised"):
        return f"Stories pull to both ends of \u201c{subject}\u201d"
    if kind == "opposing_sides":
        return "Stories in this theme take opposing sides"
    if kind == "sentiment_mixed":
        return "Feelings about this theme are mixed"
    if kind == "group_divergence" and signal.attribute:
        about = (
            " in how they feel about it"
            if subject == "sentiment"
            else (f" on {subject}" if subject else "")
        )
        return f"Groups by {signal.attribute} see it differently{about}"
    if kind == "divisive_theme":
        return "Groups vote on these stories in opposite ways"
    return f"Two sides on {subject or 'this theme'}"


#: Signal kinds that say a theme pulls two ways (consensus and summaries do not).
TENSION_KINDS = frozenset(
    {
        "dyad_polarised",
        "axis_polarised",
        "opposing_sides",
        "sentiment_mixed",
        "group_divergence",
        "divisive_theme",
    }
)


def tensions_in_words(signals: list[SignalRead], limit: int = 4) -> list[Tension]:
    """Tension signals with two sides that have a quote, flagged first, in words."""
    found: list[Tension] = []
    for signal in signals:
        if signal.kind not in TENSION_KINDS:
            continue
        sides = [
            Side(_side_name(signal, name), ex[0].snippet, ex[0].id)
            for name, ex in signal.exemplars.items()
            if name != "theme" and ex and ex[0].snippet
        ]
        if len(sides) < 2:
            continue
        found.append(Tension(_heading(signal), signal.flagged, sides[:2]))
        if len(found) == limit:
            break
    return found


def _over_options(session: Session, project: Project) -> list[tuple[str, str]]:
    options: list[tuple[str, str]] = []
    if _count(session, MeetingSession, MeetingSession.project_id == project.id):
        options.append(("session", "Session by session"))
    if _dated(session, project):
        options += [("period:month", "Month by month"), ("period:quarter", "Quarter by quarter")]
    return options


def theme_view(session: Session, project: Project, key: str) -> ThemeView:
    """Everything the theme page shows; NotFound in words for a key not in the analysis."""
    try:
        detail = theme_pages.theme_detail(session, project, key, 5, 0)
    except NotFound:
        raise NotFound(
            f"There is no theme \u201c{key}\u201d in the latest analysis. It may have been "
            "merged into another theme, or ended, when the stories were analysed again. Go back "
            "to the overview to see the current themes."
        ) from None
    latest = session.get_one(Analysis, detail.analysis_id)
    current = {
        str(k): str(label)
        for k, label in session.execute(
            select(Theme.key, Theme.label).where(Theme.analysis_id == latest.id)
        )
    }
    return ThemeView(
        detail=detail,
        history=theme_pages.theme_history(session, project, key),
        tensions=tensions_in_words(detail.signals),
        attributes=narrative_service.attribute_keys(session, project),
        over_options=_over_options(session, project),
        current_keys=set(current),
        labels=current,
    )


def theme_shares(session: Session, project: Project, key: str, by: str) -> dict[str, Any]:
    """One theme's share in each group (or session, or period) with its 95% Wilson interval."""
    if by.startswith("attribute:") and by[10:] not in narrative_service.attribute_keys(
        session, project
    ):
        raise NotFound(f"no story carries the attribute {by[10:]!r}")
    analysis = analysis_service.latest(session, project)
    if analysis is None:
        raise NotFound("there are no themes until the first analysis has finished")
    level: Level = "leaf" if theme_service.get_theme(session, analysis, key).level else "top"
    params = TrendParams(by=[by], theme=[key], level=level)
    page = trend_service.trends_page(session, project, params, NarrativeFilter())
    theme = page["themes"][0] if page["themes"] else None
    rows = []
    for cell in page["cells"]:
        rows.append({"label": cell["label"], "total": cell["total"], "count": 0, "share": None})
    if theme is not None:
        for value in theme["cells"]:
            rows[value["cell"]].update(
                count=value["count"], share=value["share"], low=value["low"], high=value["high"]
            )
    trend = theme["trends"][0] if theme and theme["trends"] else None
    return {
        "by": by,
        "theme": key,
        "overall": theme["share"] if theme else None,
        "rows": rows,
        "reading": trend["reading"] if trend else None,
        "left_out": page["excluded"],
    }


# --- one narrative --------------------------------------------------------------------------


@dataclass
class Placement:
    key: str
    label: str
    probability: float | None
    placed_later: bool
    current: bool = True


@dataclass
class NarrativeView:
    narrative: NarrativeRead
    session_name: str | None
    theme: Placement | None
    subtheme: Placement | None
    also: list[Placement]
    analysed: bool
    similar: SimilarList | None
    similar_note: str | None


def _placements(
    session: Session, analysis: Analysis, narrative_id: int
) -> tuple[Placement | None, Placement | None, list[Placement], bool]:
    row = session.scalars(
        select(ThemeAssignment).where(
            ThemeAssignment.analysis_id == analysis.id,
            ThemeAssignment.narrative_id == narrative_id,
        )
    ).first()
    if row is None:
        return None, None, [], False
    themes = {
        t.id: t for t in session.scalars(select(Theme).where(Theme.analysis_id == analysis.id))
    }

    def placed(theme_id: int | None, probability: float | None) -> Placement | None:
        theme = themes.get(theme_id) if theme_id is not None else None
        if theme is None:
            return None
        return Placement(theme.key, theme.label, probability, row.incremental)

    also = [
        p
        for m in session.scalars(
            select(ThemeMembership)
            .where(
                ThemeMembership.analysis_id == analysis.id,
                ThemeMembership.narrative_id == narrative_id,
                ThemeMembership.rank > 0,
            )
            .order_by(ThemeMembership.rank)
        )
        if (p := placed(m.theme_id, m.probability)) is not None
    ]
    return placed(row.theme_id, row.probability), placed(row.subtheme_id, None), also, True


def narrative_view(
    session: Session, index: VectorIndex, project: Project, narrative_id: int, model: str
) -> NarrativeView:
    """One story with its theme in the latest analysis and the stories nearest to it."""
    narrative = narrative_service.read(session, project, narrative_id)
    meeting = (
        meeting_service.get_meeting(session, project, narrative.session_id)
        if narrative.session_id is not None
        else None
    )
    session_name = None
    if meeting is not None:
        session_name = meeting.name + (f" ({meeting.held_on:%d %b %Y})" if meeting.held_on else "")
    analysis = analysis_service.latest(session, project)
    theme = sub = None
    also: list[Placement] = []
    analysed = False
    if analysis is not None:
        theme, sub, also, analysed = _placements(session, analysis, narrative_id)
    similar, note = None, None
    try:
        similar = theme_pages.similar_page(session, index, project, narrative_id, model, 6)
    except Conflict:
        note = "Weft is still reading this story; similar ones appear here when it is done."
    return NarrativeView(narrative, session_name, theme, sub, also, analysed, similar, note)
