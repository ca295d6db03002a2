"""What a report says, read through the services the API answers with: themes, trends,
tensions, meetings and what was left out. The page layout is in the report templates."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from itertools import zip_longest

from sqlalchemy import func, select
from sqlalchemy.orm import Session

import app.services.report.chat as chat
import app.services.report.groups as groups
import app.services.report.window as windows
from app.schemas.themes import AnalysisRead
from app.services import analyses as analysis_service
from app.services import dashboard, dashboard_trends
from app.services import tensions as tension_service
from app.services import themes as theme_service
from app.services.curation_view import curated_themes
from app.services.left_out import reasons_in_words
from app.services.narratives import filtered
from app.services.report.window import Window
from models import Analysis, Narrative, Project, Source, Theme, ThemeAssignment

#: The top themes of a report; the others are listed under "Also raised".
TOP_THEMES = 6
#: A theme needs this many messages in the window to be a top theme.
TOP_MIN_SIZE = 3
QUOTES = 3
#: A quote has at least this many words, when the theme has such messages.
QUOTE_WORDS = 4
TENSIONS = 6
#: Unclustered messages listed under "Also raised".
UNCLUSTERED_SHOWN = 20


@dataclass(frozen=True)
class ReportTheme:
    """A theme as a report shows it."""

    key: str
    label: str
    size: int
    share: float
    quotes: list[str]
    new: bool = False


@dataclass(frozen=True)
class Tension:
    headline: str
    themes: str
    strength: str
    chance: str
    flagged: bool
    sides: list[tuple[str, str]]


@dataclass(frozen=True)
class Footer:
    first: datetime | None
    last: datetime | None
    analysis_id: int | None
    model: str | None
    parameters: list[str]
    left_out: list[tuple[str, int]]
    private_messages: int
    warnings: list[str]


@dataclass
class Report:
    """Everything a report shows, by section (What? So what? Now what? Also raised)."""

    project: str
    window: Window
    ready: bool
    waiting: list[str] = field(default_factory=list)
    messages: int = 0
    #: messages of the window in the analysis (the denominator of theme shares)
    analysed: int = 0
    participants: groups.Participants | None = None
    themes: list[ReportTheme] = field(default_factory=list)
    #: themes a convenor hid (still in every share's denominator)
    hidden: int = 0
    new: list[ReportTheme] = field(default_factory=list)
    quiet: list[str] = field(default_factory=list)
    compared_with: str | None = None
    tensions: list[Tension] = field(default_factory=list)
    table: groups.GroupTable | None = None
    now: chat.NowWhat | None = None
    small: list[ReportTheme] = field(default_factory=list)
    unclustered: list[chat.Message] = field(default_factory=list)
    unclustered_total: int = 0
    footer: Footer | None = None


def _quotes(
    session: Session, project: Project, analysis: Analysis, theme_id: int, w: Window
) -> list[str]:
    """The most typical messages of the theme within the window, verbatim."""
    members = filtered(project, w.flt).with_only_columns(Narrative.id).scalar_subquery()
    texts = session.scalars(
        select(Narrative.text)
        .join(ThemeAssignment, ThemeAssignment.narrative_id == Narrative.id)
        .where(
            ThemeAssignment.analysis_id == analysis.id,
            ThemeAssignment.theme_id == theme_id,
            Narrative.id.in_(members),
            Narrative.low_content.is_(False),
        )
        .order_by(ThemeAssignment.probability.desc(), Narrative.id)
        .limit(4 * QUOTES)
    ).all()
    flat = list(dict.fromkeys(" ".join(t.split()) for t in texts))
    long = [t for t in flat if len(t.split()) >= QUOTE_WORDS]
    return [theme_service.snippet(t, 400) for t in (long or flat)[:QUOTES]]


def report_themes(
    session: Session, project: Project, analysis: Analysis, w: Window
) -> tuple[int, list[ReportTheme], int]:
    """The messages of the window the analysis holds, its themes as the report lists them
    (the curated view: curated labels, merged themes as one, hidden themes left out),
    largest first, counted in the window, and how many themes are hidden.

    The one place a report reads themes."""
    listing = curated_themes(session, project, analysis, w.flt)
    return (
        listing.total_narratives,
        [
            ReportTheme(
                key=c.key,
                label=c.label,
                size=c.size,
                share=c.share,
                quotes=_merged_quotes(session, project, analysis, c.theme_ids, w),
            )
            for c in listing.themes
        ],
        len(listing.hidden),
    )


def _merged_quotes(
    session: Session, project: Project, analysis: Analysis, theme_ids: list[int], w: Window
) -> list[str]:
    """Quotes of a theme, or of each of the themes merged into it in turn."""
    each = [_quotes(session, project, analysis, theme_id, w) for theme_id in theme_ids]
    taken = [q for row in zip_longest(*each) for q in row if q is not None]
    return list(dict.fromkeys(taken))[:QUOTES]


def _named(session: Session, ids: set[int]) -> list[tuple[str, str]]:
    """(key, label) of the themes with these ids."""
    if not ids:
        return []
    return [
        (k, label)
        for k, label in session.execute(select(Theme.key, Theme.label).where(Theme.id.in_(ids)))
    ]


def _tensions(session: Session, analysis: Analysis, keys: list[str]) -> list[Tension]:
    """The signals of the window's themes that pull two ways or show groups agreeing."""
    if not keys:
        return []
    wanted = (*dashboard.TENSION_KINDS, "group_consensus", "consensus_theme")
    flt = tension_service.SignalFilter(themes=tuple(keys), kinds=wanted)
    _, rows = tension_service.list_signals(session, analysis, flt, 4 * TENSIONS, 0)
    # only what a test found: the others describe the stories without a finding
    shown = [r for r in rows if r.flagged and r.test is not None]
    signals = tension_service.render_signals(
        shown, tension_service.context(session, analysis, shown)
    )
    found = []
    for signal in signals[:TENSIONS]:
        view = dashboard_trends.signal_view(signal)
        found.append(
            Tension(
                headline=view.headline,
                themes=view.themes,
                strength=view.strength,
                chance=view.test,
                flagged=view.flagged,
                sides=[(side.label, side.quotes[0]) for side in view.sides if side.quotes][:3],
            )
        )
    return found


def _unclustered(
    session: Session, project: Project, analysis: Analysis, w: Window
) -> tuple[list[chat.Message], int]:
    """Messages with content in no theme (placed in none, or arrived after the analysis)."""
    placed = (
        select(ThemeAssignment.narrative_id)
        .where(ThemeAssignment.analysis_id == analysis.id, ThemeAssignment.theme_id.is_not(None))
        .scalar_subquery()
    )
    query = filtered(project, w.flt).where(
        Narrative.low_content.is_(False), Narrative.id.not_in(placed)
    )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Narrative.occurred_at, Narrative.id).limit(UNCLUSTERED_SHOWN)
    )
    return [chat.message(n) for n in rows], int(total)


def _left_out(session: Session, project: Project, w: Window) -> list[tuple[str, int]]:
    rows = session.execute(
        filtered(project, w.flt)
        .where(Narrative.low_content.is_(True))
        .with_only_columns(Narrative.low_content_reason, func.count())
        .group_by(Narrative.low_content_reason)
    ).all()
    return reasons_in_words((reason, int(n)) for reason, n in rows)


def _private_messages(session: Session, project: Project, w: Window) -> int:
    """Private messages the window's exports held (counted at ingest, never stored)."""
    sources = (
        filtered(project, w.flt).with_only_columns(Narrative.source_id).distinct().scalar_subquery()
    )
    reports = session.scalars(select(Source.report).where(Source.id.in_(sources)))
    counts = (r.get("private_messages") for r in reports if isinstance(r, dict))
    return sum(n for n in counts if isinstance(n, int))


def _span(
    session: Session, project: Project, w: Window
) -> tuple[int, datetime | None, datetime | None]:
    count, first, last = session.execute(
        filtered(project, w.flt).with_only_columns(
            func.count(Narrative.id),
            func.min(Narrative.occurred_at),
            func.max(Narrative.occurred_at),
        )
    ).one()
    return int(count), first, last


def _footer(
    session: Session, project: Project, analysis: Analysis | None, w: Window, warnings: list[str]
) -> Footer:
    _, first, last = _span(session, project, w)
    return Footer(
        first=first,
        last=last,
        analysis_id=analysis.id if analysis else None,
        model=analysis.model_name if analysis else None,
        parameters=dashboard.parameters_in_words(AnalysisRead.model_validate(analysis))
        if analysis
        else [],
        left_out=_left_out(session, project, w),
        private_messages=_private_messages(session, project, w),
        warnings=warnings,
    )


def _in_analysis(session: Session, project: Project, analysis: Analysis, w: Window) -> int:
    members = filtered(project, w.flt).with_only_columns(Narrative.id).scalar_subquery()
    found = session.scalar(
        select(func.count())
        .select_from(ThemeAssignment)
        .where(
            ThemeAssignment.analysis_id == analysis.id, ThemeAssignment.narrative_id.in_(members)
        )
    )
    return int(found or 0)


def _not_yet(
    session: Session, project: Project, w: Window, words: list[str], messages: int
) -> Report:
    report = Report(project=project.name, window=w, ready=False, waiting=words, messages=messages)
    report.footer = _footer(session, project, None, w, [])
    return report


def build(session: Session, project: Project, w: Window) -> Report:
    """The report of the window: its sections, or a "not yet" report saying what is running."""
    messages, _, _ = _span(session, project, w)
    analysis = analysis_service.latest(session, project)
    if analysis is None:
        return _not_yet(session, project, w, groups.waiting_words(session, project), messages)
    if not messages and (work := groups.work_words(session, project)):
        # an export still being read: its messages are on their way
        return _not_yet(session, project, w, work, messages)
    if messages and not _in_analysis(session, project, analysis, w):
        return _not_yet(
            session, project, w, groups.late_words(session, project, analysis.id), messages
        )
    analysed, listed, hidden = report_themes(session, project, analysis, w)
    change = windows.change(session, project, analysis, w)
    new_keys = {key for key, _ in _named(session, change.new)}
    listed = [replace(t, new=t.key in new_keys) for t in listed]
    top = [t for t in listed if t.size >= TOP_MIN_SIZE][:TOP_THEMES]
    shown = {t.key for t in top}
    unclustered, unclustered_total = _unclustered(session, project, analysis, w)
    table = groups.group_table(session, project, w, [t.key for t in top])
    return Report(
        project=project.name,
        window=w,
        ready=True,
        messages=messages,
        analysed=analysed,
        participants=groups.participants(session, project, w, table),
        themes=top,
        hidden=hidden,
        new=[t for t in listed if t.new],
        quiet=sorted(label for _, label in _named(session, change.quiet)),
        compared_with=change.against,
        tensions=_tensions(session, analysis, [t.key for t in top]),
        table=table,
        now=chat.now_what(session, project, w.flt),
        small=[t for t in listed if t.key not in shown],
        unclustered=unclustered,
        unclustered_total=unclustered_total,
        footer=_footer(session, project, analysis, w, groups.warnings(table)),
    )
