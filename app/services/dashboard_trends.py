"""What the dashboard's trends and tensions screens show: the choices their controls offer,
the state before the first analysis in a convenor's words, and signals read out in words.

The numbers come from the same functions the API calls (`trends.trends_page`,
`tensions.tensions_page`); this module only chooses, explains and words them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import NotFound, UnprocessableEntity
from app.schemas.signals import SignalRead
from app.schemas.tensions import TensionsPage, TensionsQuery
from app.schemas.trends import TrendParams
from app.services import analyses as analysis_service
from app.services import analysis_state
from app.services import narratives as narrative_service
from app.services import tensions as tension_service
from app.services import trends as trend_service
from app.services.meetings import list_meetings
from app.services.narratives import NarrativeFilter
from app.services.trends_json import JSON
from models import Analysis, AnalysisStatus, Project, Theme
from models import Signal as SignalRow

#: A corrected p-value at or below this reads "unlikely to be chance".
ALPHA = 0.05

# --- before the first analysis -------------------------------------------------------------


@dataclass(frozen=True)
class Waiting:
    """Why there is nothing to show yet, and what to do next."""

    headline: str
    advice: str
    upload: bool = False  # whether the advice is to upload


def waiting(session: Session, project: Project, what: str) -> Waiting:
    """The state of a project with no finished analysis, for a screen showing `what`."""
    state = analysis_state.pending(session, project)
    last = state.last
    if state.busy and last is not None:
        done = f": {state.percent}%" if state.percent is not None else ""
        status = "waiting to start" if last.status == AnalysisStatus.queued else "running"
        return Waiting(
            f"An analysis is {status}{done}.",
            f"{what} appear here when it finishes; reload this page in a minute or two.",
        )
    if state.failed and last is not None:
        return Waiting(
            "The last analysis did not finish.",
            f"Weft recorded why: {last.error or 'no reason was given'}. Ask whoever looks "
            "after Weft for this project to run another.",
        )
    if not state.narratives:
        return Waiting(
            "This project has no narratives yet.",
            f"Upload a chat export or a file of narratives; {what.lower()} appear here once "
            "Weft has analysed them.",
            upload=True,
        )
    return Waiting(
        f"The project holds {state.narratives} narratives, but no analysis has run yet.",
        "An analysis starts by itself after an upload when automatic analysis is on; "
        f"otherwise ask whoever looks after Weft to start one. {what} appear here after it.",
    )


# --- trends --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ByOption:
    value: str
    label: str
    group: str
    timeline: bool = False


@dataclass
class TrendsScreen:
    options: list[ByOption]
    by: str
    cross: str
    level: str
    data: JSON | None
    error: str | None
    waiting: Waiting | None


def by_options(session: Session, project: Project) -> list[ByOption]:
    """What the trends can be compared by: attributes, sessions (if any) and periods."""
    options = [
        ByOption(f"attribute:{key}", key.replace("_", " "), "Groups")
        for key in narrative_service.attribute_keys(session, project)
    ]
    meetings = len(list_meetings(session, project))
    if meetings:
        plural = "s" if meetings != 1 else ""
        options.append(
            ByOption("session", f"Session ({meetings} meeting{plural})", "Meetings", True)
        )
    for period in ("week", "month", "quarter"):
        options.append(ByOption(f"period:{period}", period.capitalize(), "Time", True))
    return options


def trends_screen(
    session: Session,
    project: Project,
    by: Sequence[str],
    level: Literal["top", "leaf"],
    flt: NarrativeFilter,
) -> TrendsScreen:
    """The trends page's controls and its first answer (or why there is none)."""
    options = by_options(session, project)
    chosen = [b for b in by if b] or [options[0].value]
    screen = TrendsScreen(
        options=options,
        by=chosen[0],
        cross=chosen[1] if len(chosen) > 1 else "",
        level=level,
        data=None,
        error=None,
        waiting=None,
    )
    try:
        params = TrendParams(by=chosen, level=level)
        screen.data = trend_service.trends_page(session, project, params, flt)
    except (UnprocessableEntity, NotFound) as exc:
        screen.error = exc.detail
        return screen
    if screen.data["analysis"] is None:
        screen.waiting = waiting(session, project, "Trends")
    return screen


# --- tensions ------------------------------------------------------------------------------

#: Each kind of signal in words: (what the filter calls it, the headline, with {subject},
#: {attribute} and {poles} filled in from the signal).
KINDS: dict[str, tuple[str, str]] = {
    "dyad_polarised": ("Split opinions on a scale", "opinions split to both ends of {subject}"),
    "dyad_shift": (
        "Leaning differently on a scale",
        "leans differently on {subject} from the other themes",
    ),
    "axis_polarised": ("Split along a declared tension", "opinions split along {subject}"),
    "axis_shift": (
        "Leaning differently on a declared tension",
        "leans differently on {subject} from the other themes",
    ),
    "triad_shift": (
        "Weighing a triangle differently",
        "weighs {subject} differently from the other themes",
    ),
    "choice_shift": ("Choosing differently", "answers {subject} differently from the other themes"),
    "stones_quadrant_shift": (
        "Placing stones differently",
        "places {subject} differently from the other themes",
    ),
    "opposing_sides": ("Two opposing sides", "two opposing sides"),
    "sentiment_mixed": ("Mixed feelings", "both strongly positive and strongly negative stories"),
    "sentiment_summary": ("Overall feeling", "the overall feeling"),
    "group_divergence": ("Groups disagree", "groups by {attribute} see {subject} differently"),
    "group_consensus": ("Groups agree", "groups by {attribute} agree on {subject}"),
    "divisive_theme": ("Divides voters", "divides voters"),
    "consensus_theme": ("Voters agree", "voters agree"),
}

#: Below the first bound a strength is weak, from the second strong (by strength_name).
_BANDS: dict[str, tuple[float, float]] = {
    "cramers_v": (0.2, 0.4),
    "epsilon_squared": (0.08, 0.26),
    "ks_distance": (0.2, 0.4),
    "weaker_pole_share": (0.2, 0.35),
    "loo_seed_correlation": (0.3, 0.5),
    "aitchison_distance": (0.5, 1.0),
    "weaker_strong_share": (0.15, 0.3),
}
_DEFAULT_BAND = (0.2, 0.5)


@dataclass(frozen=True)
class Side:
    label: str
    quotes: list[str]


@dataclass(frozen=True)
class SignalView:
    """One signal read out: what it says, how strong, whether it could be chance, who says."""

    id: int
    flagged: bool
    kind: str
    themes: str
    headline: str
    summary: str
    strength: str
    measure: str
    test: str
    sides: list[Side]
    facts: list[str]


@dataclass(frozen=True)
class TensionOptions:
    kinds: list[tuple[str, str]] = field(default_factory=list)
    themes: list[tuple[str, str]] = field(default_factory=list)
    attributes: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.kinds


@dataclass
class TensionsScreen:
    page: TensionsPage
    options: TensionOptions
    chosen: dict[str, str]
    flagged: list[SignalView]
    others: list[SignalView]
    notes: list[str]
    waiting: Waiting | None
    filtered: bool
    flagged_only: bool


def _first(values: Sequence[str]) -> str:
    return next((v for v in values if v), "")


def tensions_screen(session: Session, project: Project, query: TensionsQuery) -> TensionsScreen:
    """The tensions page: signals flagged first, read out in words, with the filters' choices."""
    chosen = {
        "kind": _first(query.kind),
        "theme": _first(query.theme),
        "attribute": _first(query.attribute),
    }
    cleaned = query.model_copy(
        update={name: [value] if value else [] for name, value in chosen.items()}
    )
    page = tension_service.tensions_page(session, project, cleaned)
    analysis = analysis_service.latest(session, project)
    options = TensionOptions() if analysis is None else tension_options(session, analysis)
    views = [signal_view(signal) for signal in page.signals]
    # the note on narratives placed since is shown by itself, in words of its own
    placed = f"{page.placed_since} narratives placed"
    notes = [str(n) for n in page.notes if not str(n).startswith(placed) or not page.placed_since]
    return TensionsScreen(
        page=page,
        options=options,
        chosen=chosen,
        flagged=[v for v in views if v.flagged],
        others=[v for v in views if not v.flagged],
        notes=notes,
        waiting=waiting(session, project, "Tensions") if analysis is None else None,
        filtered=any(chosen.values()) or query.flagged_only or query.min_strength is not None,
        flagged_only=query.flagged_only,
    )


def tension_options(session: Session, analysis: Analysis) -> TensionOptions:
    """The kinds, themes and attributes the analysis's signals have, for the filters."""
    rows = session.execute(
        select(SignalRow.kind, SignalRow.theme_key, SignalRow.attribute)
        .where(SignalRow.analysis_id == analysis.id)
        .distinct()
    ).all()
    labels = dict(
        session.execute(
            select(Theme.key, Theme.label).where(Theme.analysis_id == analysis.id)
        ).all()
    )
    kinds = sorted({r.kind for r in rows}, key=lambda k: kind_label(k))
    themes = sorted({r.theme_key for r in rows if r.theme_key}, key=lambda k: labels.get(k, k))
    return TensionOptions(
        kinds=[(k, kind_label(k)) for k in kinds],
        themes=[(k, labels.get(k, k)) for k in themes],
        attributes=sorted({r.attribute for r in rows if r.attribute}),
    )


def kind_label(kind: str) -> str:
    return KINDS.get(kind, (kind.replace("_", " ").capitalize(), ""))[0]


def _quoted(value: object) -> str:
    return f"\u201c{value}\u201d"


def strength_words(value: float, name: str, consensus: bool = False) -> str:
    """e.g. "strong (0.62)"."""
    low, high = _BANDS.get(name, _DEFAULT_BAND)
    if name == "mean_sentiment":
        feeling = "positive" if value > 0.1 else "negative" if value < -0.1 else "neutral"
        return f"{feeling} on average ({value:+.2f})"
    band = "weak" if abs(value) < low else "strong" if abs(value) >= high else "moderate"
    if consensus:
        # a consensus is strong when the groups differ little
        little = {"weak": "very little", "moderate": "somewhat", "strong": "a lot"}[band]
        return f"the groups differ {little} ({value:.2f})"
    return f"{band} ({value:.2f})"


def q_text(q: float) -> str:
    if q < 0.001:
        return "q < 0.001"
    return f"q = {q:.3f}" if q < 0.1 else f"q = {q:.2f}"


def chance_words(signal: SignalRead) -> str:
    """Whether the signal could be chance, e.g. "unlikely to be chance: q = 0.01"."""
    q = signal.p_adjusted if signal.p_adjusted is not None else signal.p_value
    if signal.test is None or q is None:
        return "a description of the stories, not a test"
    if q <= ALPHA:
        return f"unlikely to be chance: {q_text(q)}"
    return f"could well be chance: {q_text(q)}"


def _subject(signal: SignalRead) -> str:
    subject = signal.subject or ""
    if subject.startswith("axis:"):
        subject = subject[5:]
    if subject == "sentiment":
        return "the feeling of the stories"
    return _quoted(subject.replace("_", " ")) if subject else "it"


#: Group signals about the feeling of the stories, in words of their own.
_FEELING = {
    "group_divergence": "groups by {attribute} differ in how they feel about it",
    "group_consensus": "groups by {attribute} feel much the same about it",
}


def headline(signal: SignalRead) -> str:
    template = KINDS.get(signal.kind, ("", signal.kind.replace("_", " ")))[1]
    if signal.subject == "sentiment":
        template = _FEELING.get(signal.kind, template)
    poles = signal.evidence.get("poles")
    text = template.format(
        subject=_subject(signal),
        attribute=_quoted(signal.attribute) if signal.attribute else "the",
    )
    if isinstance(poles, list) and len(poles) == 2 and signal.kind.endswith("_polarised"):
        text += f", between {_quoted(poles[0])} and {_quoted(poles[1])}"
    anchors = signal.evidence.get("anchors")
    if isinstance(anchors, list) and anchors and signal.kind == "triad_shift":
        text += f" ({', '.join(map(str, anchors))})"
    return text[0].upper() + text[1:]


def _side_label(signal: SignalRead, side: str) -> str:
    evidence = signal.evidence
    poles = evidence.get("poles")
    if side in ("left", "right") and isinstance(poles, list) and len(poles) == 2:
        return f"towards {_quoted(poles[0 if side == 'left' else 1])}"
    if side in ("left", "right"):
        return f"towards the {side} end"
    if side in ("favourable", "critical"):
        return "in favour" if side == "favourable" else "critical"
    if side in ("positive", "negative"):
        return f"the most {side} stories"
    if side == "theme":
        return "stories of this theme"
    if signal.attribute:
        return f"{signal.attribute} {_quoted(side)}"
    return _quoted(side)


def signal_view(signal: SignalRead) -> SignalView:
    sides = [
        Side(_side_label(signal, name), [m.snippet for m in members if m.snippet])
        for name, members in signal.exemplars.items()
    ]
    sides = [s for s in sides if s.quotes]
    title = headline(signal)
    strength = strength_words(
        signal.strength, signal.strength_name, consensus=signal.kind == "group_consensus"
    )
    chance = chance_words(signal)
    return SignalView(
        id=signal.id,
        flagged=signal.flagged,
        kind=kind_label(signal.kind),
        themes=", ".join(t.label or t.key for t in signal.themes) or "the whole project",
        headline=title,
        strength=strength,
        summary=_summary(signal, title, strength, chance),
        measure=signal.strength_name.replace("_", " "),
        test=chance,
        sides=sides,
        facts=facts(signal),
    )


def _summary(signal: SignalRead, title: str, strength: str, chance: str) -> str:
    """One line for a signal listed below the flagged ones."""
    if signal.flagged:
        return f"{title}: {strength}"
    if signal.kind == "group_consensus":
        return f"{title}? No: {strength}"
    if signal.test is None:
        return f"{title}: {strength}"
    return f"{title}? Not clearly: {strength}, {chance}"


def _number(value: object) -> str:
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def facts(signal: SignalRead) -> list[str]:
    """The few numbers behind a signal a convenor can read (the rest stay in the API)."""
    evidence = signal.evidence
    found: list[str] = []
    centres, counts = evidence.get("centres"), evidence.get("counts")
    if isinstance(centres, dict) and centres:
        middle = "median" if evidence.get("centre") == "median" else "average"
        found.append(
            f"The {middle} of {_subject(signal)} in each group: "
            + "; ".join(
                f"{group} {_number(value)}"
                + (
                    f" ({counts[group]} stories)"
                    if isinstance(counts, dict) and group in counts
                    else ""
                )
                for group, value in centres.items()
            )
        )
    summary, poles = evidence.get("summary"), evidence.get("poles")
    if isinstance(summary, dict) and isinstance(poles, list) and len(poles) == 2:
        left, right = summary.get("left_share"), summary.get("right_share")
        if isinstance(left, float) and isinstance(right, float):
            found.append(
                f"Of {summary.get('n')} stories, {left:.0%} lean towards {_quoted(poles[0])} "
                f"and {right:.0%} towards {_quoted(poles[1])}."
            )
    anchors, theme, rest = evidence.get("anchors"), evidence.get("theme"), evidence.get("rest")
    if isinstance(anchors, list) and isinstance(theme, dict) and isinstance(rest, dict):
        inside, outside = theme.get("arithmetic_mean"), rest.get("arithmetic_mean")
        if isinstance(inside, list) and isinstance(outside, list):
            found.append(
                "On average, this theme weighs "
                + ", ".join(f"{a} {x:.0%}" for a, x in zip(anchors, inside, strict=False))
                + "; the other themes "
                + ", ".join(f"{a} {x:.0%}" for a, x in zip(anchors, outside, strict=False))
                + "."
            )
    sides = evidence.get("sides")
    if isinstance(sides, dict) and signal.kind == "opposing_sides":
        shares = [
            f"{_side_label(signal, name)} {side['share']:.0%}"
            for name, side in sides.items()
            if isinstance(side, dict) and isinstance(side.get("share"), float)
        ]
        if shares:
            found.append("Share of the theme's stories on each side: " + ", ".join(shares) + ".")
    return found
