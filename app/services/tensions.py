"""Tension and polarity signals: declared axes, the analysis step that computes and stores
signals, and reading them back."""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from sqlalchemy import Select, delete, func, insert, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import Transaction
from app.schemas.tensions import SignalExemplar, SignalRead, SignalTheme
from app.services.themes import snippet, texts_by_id
from models import (
    Analysis,
    MeetingSession,
    Narrative,
    NarrativeAttribute,
    NarrativeScore,
    PolarityAxis,
    Project,
    Reaction,
    Signifier,
    SignifierValue,
    Theme,
    VoteTally,
)
from models import Signal as SignalRow
from pipelines.embed import Embedder
from pipelines.signals import (
    EVALUATIVE_ANCHORS,
    SENTIMENT_ANCHORS,
    Signal,
    axis_positions,
    axis_signals,
    comment_votes,
    correct_together,
    group_divergence_signals,
    mixed_sentiment_signals,
    opposing_sides_signals,
    polarity_seed,
    project_scale,
    reaction_table,
    sentiment_scores,
    sentiment_summaries,
    signifier_signals,
    vote_signals,
    vote_table,
)

log = logging.getLogger("weft.tensions")

#: Permutations used above `Settings.signals_large_project` narratives.
LARGE_PROJECT_PERMUTATIONS = 199
#: Evidence entries that index the detector's inputs; they mean nothing once stored.
_INPUT_INDEXED = ("members", "scores")
SIGNIFIER_KINDS = ("dyad", "triad", "stones", "mcq")


# --- declared polarity axes ---------------------------------------------------------------


def declare_axes(
    session: Session, project: Project, axes: Sequence[tuple[str, str, str, str]]
) -> list[PolarityAxis]:
    """Create axes, or update them by key; (key, label, left pole, right pole) each."""
    existing = {a.key: a for a in list_axes(session, project)}
    for key, label, left, right in axes:
        axis = existing.get(key)
        if axis is None:
            axis = PolarityAxis(project_id=project.id, key=key)
            session.add(axis)
            existing[key] = axis
        axis.label, axis.left, axis.right = label, left, right
    session.flush()
    return list_axes(session, project)


def list_axes(session: Session, project: Project) -> list[PolarityAxis]:
    return list(
        session.scalars(
            select(PolarityAxis)
            .where(PolarityAxis.project_id == project.id)
            .order_by(PolarityAxis.id)
        )
    )


# --- the analysis step ---------------------------------------------------------------------


@dataclass
class SignalInputs:
    """What the detectors need besides texts, embeddings and labels, aligned with the ids."""

    theme_keys: list[str]
    signifiers: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    values: dict[str, list[Any]] = field(default_factory=dict)
    groups: dict[str, list[str | None]] = field(default_factory=dict)
    # keyed by the narrative's position in the ids, as a string
    tallies: dict[str, dict[str, VoteTally]] = field(default_factory=dict)
    reactors: list[list[str]] = field(default_factory=list)
    authors: list[str | None] = field(default_factory=list)
    axes: list[tuple[str, str, str]] = field(default_factory=list)


@dataclass
class Found:
    """A detector's signal with the attribute it was grouped by (divergence, consensus)."""

    signal: Signal
    attribute: str | None = None


@dataclass
class Computed:
    found: list[Found]
    scores: dict[str, npt.NDArray[np.float64]]
    notes: list[str]


def load_inputs(
    session: Session, analysis_id: int, project_id: str, ids: list[int]
) -> SignalInputs:
    """Read signifier values, attributes, sessions, votes, reactions and axes in one session."""
    position = {narrative_id: i for i, narrative_id in enumerate(ids)}
    n = len(ids)
    # top-level themes are stored in the order of the clustering's labels
    keys = list(
        session.scalars(
            select(Theme.key)
            .where(Theme.analysis_id == analysis_id, Theme.level == 0)
            .order_by(Theme.id)
        )
    )
    inputs = SignalInputs(theme_keys=keys)

    signifiers = session.execute(
        select(Signifier.id, Signifier.key, Signifier.kind, Signifier.definition)
        .where(Signifier.project_id == project_id, Signifier.kind.in_(SIGNIFIER_KINDS))
        .order_by(Signifier.position, Signifier.id)
    ).all()
    by_id: dict[int, str] = {}
    for sid, key, kind, definition in signifiers:
        inputs.signifiers.append((key, str(kind), dict(definition or {})))
        inputs.values[key] = [None] * n
        by_id[sid] = key
    if by_id:
        for narrative_id, sid, not_applicable, value in session.execute(
            select(
                SignifierValue.narrative_id,
                SignifierValue.signifier_id,
                SignifierValue.not_applicable,
                SignifierValue.value,
            ).where(SignifierValue.signifier_id.in_(list(by_id)))
        ):
            i = position.get(narrative_id)
            if i is not None and not not_applicable:
                inputs.values[by_id[sid]][i] = value

    for narrative_id, key, value in session.execute(
        select(
            NarrativeAttribute.narrative_id, NarrativeAttribute.key, NarrativeAttribute.value
        ).where(NarrativeAttribute.project_id == project_id)
    ):
        i = position.get(narrative_id)
        if i is not None:
            inputs.groups.setdefault(key, [None] * n)[i] = value

    meeting_names = {
        sid: name + (f" ({held_on.isoformat()})" if held_on else "")
        for sid, name, held_on in session.execute(
            select(MeetingSession.id, MeetingSession.name, MeetingSession.held_on).where(
                MeetingSession.project_id == project_id
            )
        )
    }
    inputs.authors = [None] * n
    sessions: list[str | None] = [None] * n
    for narrative_id, session_id, author in session.execute(
        select(Narrative.id, Narrative.session_id, Narrative.author).where(
            Narrative.project_id == project_id
        )
    ):
        i = position.get(narrative_id)
        if i is None:
            continue
        inputs.authors[i] = author
        if session_id is not None:
            sessions[i] = meeting_names.get(session_id, str(session_id))
    if any(s is not None for s in sessions) and "session" not in inputs.groups:
        inputs.groups["session"] = sessions

    for tally in session.scalars(
        select(VoteTally)
        .join(Narrative, Narrative.id == VoteTally.narrative_id)
        .where(Narrative.project_id == project_id)
    ):
        i = position.get(tally.narrative_id)
        if i is not None:
            inputs.tallies.setdefault(str(i), {})[tally.group_key] = tally

    inputs.reactors = [[] for _ in range(n)]
    for narrative_id, author in session.execute(
        select(Reaction.narrative_id, Reaction.author).where(Reaction.project_id == project_id)
    ):
        i = position.get(narrative_id)
        if i is not None and author:
            inputs.reactors[i].append(author)

    inputs.axes = [
        (a.key, a.left, a.right)
        for a in session.scalars(
            select(PolarityAxis)
            .where(PolarityAxis.project_id == project_id)
            .order_by(PolarityAxis.id)
        )
    ]
    return inputs


def _reactor_groups(inputs: SignalInputs, attributes: list[str]) -> tuple[str, dict[str, str]]:
    """Group each participant by the attribute that places the most reactors in a group."""
    reactors = {a for people in inputs.reactors for a in people}
    best: tuple[str, dict[str, str]] = ("", {})
    for attribute in attributes:
        seen: dict[str, Counter[str]] = defaultdict(Counter)
        for author, value in zip(inputs.authors, inputs.groups[attribute], strict=True):
            if author and value is not None:
                seen[author][value] += 1
        members = {a: c.most_common(1)[0][0] for a, c in seen.items()}
        if len(set(members.values())) >= 2 and len(reactors & members.keys()) > len(
            reactors & best[1].keys()
        ):
            best = (attribute, members)
    return best


def compute(
    settings: Settings,
    embedder: Embedder,
    texts: list[str],
    X: npt.NDArray[np.float32],
    labels: npt.ArrayLike,
    inputs: SignalInputs,
) -> Computed:
    """Run every detector on one analysis; no database access, so no transaction is open."""
    n = len(texts)
    lab = np.asarray(labels, dtype=np.int64)
    notes: list[str] = []
    found: list[Found] = []
    scores: dict[str, npt.NDArray[np.float64]] = {}
    if n == 0 or not inputs.theme_keys:
        return Computed(found, scores, notes)
    if int(lab.max(initial=-1)) >= len(inputs.theme_keys):
        raise ValueError(
            f"labels name {int(lab.max()) + 1} themes but the analysis stored "
            f"{len(inputs.theme_keys)} top-level themes"
        )
    large = n > settings.signals_large_project
    permutations = (
        min(settings.signals_permutations, LARGE_PROJECT_PERMUTATIONS)
        if large
        else settings.signals_permutations
    )
    if large:
        notes.append(
            f"signals: {n} narratives is above {settings.signals_large_project}, so permutation "
            f"tests used {permutations} permutations and opposing sides were not looked for"
        )
    common: dict[str, Any] = {"alpha": settings.signals_alpha, "n_exemplars": 3}
    tested: dict[str, Any] = {**common, "n_permutations": permutations, "random_state": 0}

    for key, kind, definition in inputs.signifiers:
        min_count = (
            settings.signals_min_choice_count
            if kind in ("mcq", "stones")
            else settings.signals_min_count
        )
        options = tested if kind != "dyad" else common
        for s in signifier_signals(
            kind,
            inputs.values[key],
            lab,
            key=key,
            definition=definition,
            min_count=min_count,
            **options,
        ):
            found.append(Found(s))

    anchors = (
        embedder.encode(list(SENTIMENT_ANCHORS[0])),
        embedder.encode(list(SENTIMENT_ANCHORS[1])),
    )
    sentiment = sentiment_scores(texts, X, anchors)
    scores["sentiment"] = sentiment
    found += [Found(s) for s in _sentiment_summaries(sentiment, lab)]
    found += [
        Found(s)
        for s in mixed_sentiment_signals(
            sentiment, lab, min_count=settings.signals_min_count, **common
        )
    ]
    if not large:
        evaluative = (
            embedder.encode(list(EVALUATIVE_ANCHORS[0])),
            embedder.encode(list(EVALUATIVE_ANCHORS[1])),
        )
        seed = polarity_seed(sentiment, X, evaluative)
        found += [
            Found(s)
            for s in opposing_sides_signals(
                texts,
                X,
                lab,
                seed,
                side_names=("favourable", "critical"),
                min_count=settings.signals_min_sides_count,
                **tested,
            )
        ]

    for key, left, right in inputs.axes:
        poles = embedder.encode([left, right])
        scores[f"axis:{key}"] = project_scale(axis_positions(X, poles[0], poles[1]))
        found += [
            Found(s)
            for s in axis_signals(
                X,
                lab,
                poles[0],
                poles[1],
                subject=key,
                poles=(left, right),
                min_count=settings.signals_min_count,
                **common,
            )
        ]

    attributes = _group_attributes(inputs, lab, settings)
    variables: list[tuple[str, Any, Literal["scalar", "triad"]]] = [
        ("sentiment", sentiment, "scalar")
    ]
    for key, kind, _ in inputs.signifiers:
        if kind == "dyad":
            variables.append((key, _scalars(inputs.values[key]), "scalar"))
        elif kind == "triad":
            variables.append((key, inputs.values[key], "triad"))
    variables += [(f"axis:{key}", scores[f"axis:{key}"], "scalar") for key, _, _ in inputs.axes]
    for attribute in attributes:
        for subject, values, variable in variables:
            found += [
                Found(s, attribute)
                for s in group_divergence_signals(
                    values,
                    lab,
                    inputs.groups[attribute],
                    variable=variable,
                    subject=subject,
                    attribute=attribute,
                    min_group_count=settings.signals_min_group_count,
                    **tested,
                )
            ]

    min_votes = settings.signals_min_votes_count
    voted = np.array(sorted(int(i) for i in inputs.tallies), dtype=np.int64)
    if voted.size:
        table = vote_table(inputs.tallies, items=[str(i) for i in voted])
        if table.groups:
            votes = comment_votes(table, min_group_votes=min_votes, n_permutations=permutations)
            for name, values in (
                ("consensus", votes.consensus),
                ("divisiveness", votes.divisiveness),
            ):
                scores[name] = np.full(n, np.nan)
                scores[name][voted] = values
            found += [
                Found(_reindex(s, voted), "votes")
                for s in vote_signals(table, lab[voted], votes=votes, min_count=min_votes, **tested)
            ]
    reacted = np.array([i for i, people in enumerate(inputs.reactors) if people], dtype=np.int64)
    if reacted.size:
        attribute, members = _reactor_groups(inputs, attributes)
        if members:
            table = reaction_table([inputs.reactors[i] for i in reacted], members)
            found += [
                Found(_reindex(s, reacted), attribute)
                # not reacting while present is a pass, and it counts: reactions have no "disagree"
                for s in vote_signals(
                    table,
                    lab[reacted],
                    min_count=min_votes,
                    min_group_votes=min_votes,
                    include_pass=True,
                    **tested,
                )
            ]

    signals = correct_together(
        [f.signal for f in found],
        alpha=settings.signals_alpha,
        correction=settings.signals_correction,
    )
    found = _consistent_consensus(
        [Found(s, f.attribute) for s, f in zip(signals, found, strict=True)]
    )
    if not any(s.p_value is not None for s in signals):
        notes.append(
            "signals: no theme has enough data to test (a theme needs at least "
            f"{settings.signals_min_count} narratives with a value, "
            f"{settings.signals_min_group_count} per group)"
        )
    return Computed(found, scores, notes)


def _consistent_consensus(found: list[Found]) -> list[Found]:
    """A theme is no consensus theme where its divergence is flagged after the analysis-wide
    correction (the detector judged consensus on its own call's correction)."""
    divergence = {
        (f.signal.themes, f.signal.subject, f.attribute): f.signal
        for f in found
        if f.signal.kind == "group_divergence"
    }
    out = []
    for f in found:
        twin = divergence.get((f.signal.themes, f.signal.subject, f.attribute))
        if f.signal.kind == "group_consensus" and twin is not None:
            evidence = {**f.signal.evidence, "divergence_p_adjusted": twin.p_adjusted}
            flagged = f.signal.flagged and not twin.flagged
            f = Found(replace(f.signal, flagged=flagged, evidence=evidence), f.attribute)
        out.append(f)
    return out


def _reindex(signal: Signal, index: npt.NDArray[np.int64]) -> Signal:
    """The signal with exemplars indexing all narratives instead of a subset of them."""
    exemplars = {k: tuple(int(index[i]) for i in v) for k, v in signal.exemplars.items()}
    return replace(signal, exemplars=exemplars)


def _scalars(values: list[Any]) -> npt.NDArray[np.float64]:
    return np.array(
        [float(v) if isinstance(v, int | float) else np.nan for v in values], dtype=float
    )


def _group_attributes(
    inputs: SignalInputs, labels: npt.NDArray[np.int64], settings: Settings
) -> list[str]:
    """Attributes worth comparing: 2 to `signals_max_groups` values, two of them large enough."""
    chosen = []
    clustered = labels >= 0
    for attribute in sorted(inputs.groups):
        values = [v for v, c in zip(inputs.groups[attribute], clustered, strict=True) if c and v]
        counts = Counter(values)
        if not 2 <= len(counts) <= settings.signals_max_groups:
            continue
        if sum(1 for c in counts.values() if c >= settings.signals_min_group_count) >= 2:
            chosen.append(attribute)
    return chosen


def _sentiment_summaries(
    scores: npt.NDArray[np.float64], labels: npt.NDArray[np.int64]
) -> list[Signal]:
    """Each theme's sentiment (mean, spread, strong shares), with its warmest and coldest."""
    out = []
    for theme, summary in sorted(sentiment_summaries(scores, labels).items()):
        if theme < 0 or summary.n == 0:
            continue
        idx = np.flatnonzero((labels == theme) & np.isfinite(scores))
        order = idx[np.argsort(scores[idx], kind="stable")]
        out.append(
            Signal(
                kind="sentiment_summary",
                themes=(int(theme),),
                strength=float(summary.mean),
                strength_name="mean_sentiment",
                flagged=False,
                interval=summary.mean_interval,
                subject="sentiment",
                evidence=summary.to_json(),
                exemplars={
                    "positive": tuple(int(i) for i in order[::-1][:3]),
                    "negative": tuple(int(i) for i in order[:3]),
                },
            )
        )
    return out


def _rows(
    analysis_id: int, ids: list[int], theme_keys: list[str], found: list[Found]
) -> list[dict[str, Any]]:
    rows = []
    for f in found:
        s = f.signal
        keys = [theme_keys[t] for t in s.themes if 0 <= t < len(theme_keys)]
        data = s.to_json()
        evidence = {k: v for k, v in data["evidence"].items() if k not in _INPUT_INDEXED}
        interval = data["interval"]
        rows.append(
            {
                "analysis_id": analysis_id,
                "kind": s.kind,
                "subject": s.subject,
                "attribute": f.attribute,
                "theme_key": keys[0] if keys else None,
                "theme_keys": keys,
                "strength": data["strength"] if data["strength"] is not None else 0.0,
                "strength_name": s.strength_name,
                "flagged": bool(s.flagged),
                "test": s.test,
                "p_value": data["p_value"],
                "p_adjusted": data["p_adjusted"],
                "correction": s.correction,
                "interval_low": interval[0] if interval else None,
                "interval_high": interval[1] if interval else None,
                "evidence": evidence,
                "exemplars": {
                    side: [ids[i] for i in members if 0 <= i < len(ids)]
                    for side, members in s.exemplars.items()
                },
            }
        )
    return rows


def store(
    session: Session,
    analysis_id: int,
    ids: list[int],
    theme_keys: list[str],
    computed: Computed,
) -> int:
    """Replace the analysis's signals and scores; the caller's transaction holds them all."""
    session.execute(delete(SignalRow).where(SignalRow.analysis_id == analysis_id))
    session.execute(delete(NarrativeScore).where(NarrativeScore.analysis_id == analysis_id))
    rows = _rows(analysis_id, ids, theme_keys, computed.found)
    if rows:
        session.execute(insert(SignalRow), rows)
    score_rows = [
        {"analysis_id": analysis_id, "narrative_id": ids[i], "name": name, "value": float(v)}
        for name, values in computed.scores.items()
        for i, v in enumerate(values)
        if np.isfinite(v)
    ]
    for start in range(0, len(score_rows), 5000):
        session.execute(insert(NarrativeScore), score_rows[start : start + 5000])
    return len(rows)


def run_step(
    transaction: Transaction,
    settings: Settings,
    embedder: Embedder,
    analysis_id: int,
    project_id: str,
    ids: list[int],
    texts: list[str],
    X: npt.NDArray[np.float32],
    labels: npt.ArrayLike,
) -> list[str]:
    """Compute and store an analysis's signals; returns notes. Never raises: the themes are
    already stored, and a failure here is recorded in the notes instead of failing them."""
    if not settings.signals_enabled:
        return []
    try:
        with transaction() as session:
            inputs = load_inputs(session, analysis_id, project_id, ids)
        computed = compute(settings, embedder, texts, X, labels, inputs)
        with transaction() as session:
            count = store(session, analysis_id, ids, inputs.theme_keys, computed)
            flagged = sum(1 for f in computed.found if f.signal.flagged)
            notes = [*computed.notes]
            if count:
                notes.append(f"signals: {flagged} of {count} flagged")
            _add_notes(session, analysis_id, notes)
        return notes
    except Exception as exc:
        log.exception("signals of analysis %s failed", analysis_id)
        note = f"signals could not be computed ({type(exc).__name__}: {exc}"[:500] + ")"
        with transaction() as session:
            _add_notes(session, analysis_id, [note])
        return [note]


def _add_notes(session: Session, analysis_id: int, notes: list[str]) -> None:
    analysis = session.get_one(Analysis, analysis_id)
    analysis.notes = [*analysis.notes, *notes]


# --- reading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignalFilter:
    themes: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    attributes: tuple[str, ...] = ()
    min_strength: float | None = None
    flagged_only: bool = False


def _query(analysis: Analysis, flt: SignalFilter) -> Select[Any]:
    query = select(SignalRow).where(SignalRow.analysis_id == analysis.id)
    if flt.themes:
        query = query.where(SignalRow.theme_key.in_(flt.themes))
    if flt.kinds:
        query = query.where(SignalRow.kind.in_(flt.kinds))
    if flt.attributes:
        query = query.where(SignalRow.attribute.in_(flt.attributes))
    if flt.min_strength is not None:
        query = query.where(SignalRow.strength >= flt.min_strength)
    if flt.flagged_only:
        query = query.where(SignalRow.flagged.is_(True))
    return query


def list_signals(
    session: Session, analysis: Analysis, flt: SignalFilter, limit: int, offset: int
) -> tuple[int, list[SignalRow]]:
    """Matching signals of the analysis, flagged first, then by corrected p-value and strength."""
    query = _query(analysis, flt)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(
            SignalRow.flagged.desc(),
            SignalRow.p_adjusted.is_(None),
            SignalRow.p_adjusted,
            SignalRow.strength.desc(),
            SignalRow.id,
        )
        .limit(limit)
        .offset(offset)
    ).all()
    return total, list(rows)


def computed(analysis: Analysis) -> bool:
    """Whether the analysis's signal step has run (its timings record it)."""
    return "signals_seconds" in (analysis.timings or {})


@dataclass
class SignalContext:
    """What rendering signals needs besides the rows: theme labels and exemplar texts."""

    labels: dict[str, str]
    texts: dict[int, str]

    def snippet(self, narrative_id: int) -> str | None:
        text = self.texts.get(narrative_id)
        return None if text is None else snippet(text)


def context(session: Session, analysis: Analysis, rows: Sequence[SignalRow]) -> SignalContext:
    labels = dict(
        session.execute(
            select(Theme.key, Theme.label).where(Theme.analysis_id == analysis.id)
        ).all()
    )
    wanted = [
        int(i)
        for row in rows
        for members in row.exemplars.values()
        if isinstance(members, list)
        for i in members
        if isinstance(i, int)
    ]
    return SignalContext(labels=labels, texts=texts_by_id(session, wanted))


def render_signals(rows: Sequence[SignalRow], context: SignalContext) -> list[SignalRead]:
    """Stored signal rows as the API shows them, with theme labels and exemplar snippets."""
    return [
        SignalRead(
            id=row.id,
            kind=row.kind,
            themes=[
                SignalTheme(key=str(k), label=context.labels.get(str(k))) for k in row.theme_keys
            ],
            subject=row.subject,
            attribute=row.attribute,
            strength=row.strength,
            strength_name=row.strength_name,
            flagged=row.flagged,
            test=row.test,
            p_value=row.p_value,
            p_adjusted=row.p_adjusted,
            correction=row.correction,
            interval=(
                None
                if row.interval_low is None or row.interval_high is None
                else [row.interval_low, row.interval_high]
            ),
            evidence=row.evidence,
            exemplars={
                side: [
                    SignalExemplar(id=i, snippet=context.snippet(i))
                    for i in members
                    if isinstance(i, int)
                ]
                for side, members in row.exemplars.items()
                if isinstance(members, list)
            },
        )
        for row in rows
    ]


def theme_signals(
    session: Session, analysis: Analysis, theme_key: str, limit: int = 200
) -> list[SignalRead]:
    """The signals of one theme of the analysis, as `GET /themes/{key}` lists them."""
    _, rows = list_signals(session, analysis, SignalFilter(themes=(theme_key,)), limit, 0)
    return render_signals(rows, context(session, analysis, rows))
