"""Tension and polarity signals: the analysis step that loads their inputs and stores them,
and reading them back. The detectors themselves are `pipelines.signals.analysis`."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Select, delete, func, insert, or_, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import Transaction
from app.schemas.curation import View
from app.schemas.signals import SignalExemplar, SignalRead, SignalTheme
from app.schemas.tensions import TensionsPage, TensionsQuery
from app.schemas.themes import AnalysisRead
from app.services import analyses as analysis_service
from app.services import curation_state
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
from pipelines.signals.analysis import Computed, Found, SignalConfig, SignalInputs, compute

log = logging.getLogger("weft.tensions")

#: Evidence entries that index the detector's inputs; they mean nothing once stored.
_INPUT_INDEXED = ("members", "scores")
SIGNIFIER_KINDS = ("dyad", "triad", "stones", "mcq")


def signal_config(settings: Settings) -> SignalConfig:
    """The detectors' thresholds from the settings ``signals_*``."""
    # every field of the config is the setting of the same name with the prefix
    values = {f.name: getattr(settings, f"signals_{f.name}") for f in fields(SignalConfig)}
    return SignalConfig(**values)


# --- the analysis step ---------------------------------------------------------------------


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
            labels, merged = curated_labels(session, analysis_id, inputs.theme_keys, labels)
        # the detectors may run for minutes: no transaction is held open meanwhile
        computed = compute(signal_config(settings), embedder, texts, X, labels, inputs)
        with transaction() as session:
            count = store(session, analysis_id, ids, inputs.theme_keys, computed)
            flagged = sum(1 for f in computed.found if f.signal.flagged)
            notes = [*computed.notes, *merged]
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


def curated_labels(
    session: Session, analysis_id: int, keys: list[str], labels: npt.ArrayLike
) -> tuple[npt.NDArray[np.int64], list[str]]:
    """The clustering's labels with every curation merge that applies to the analysis made
    one theme (the survivor's), so its signals are computed for the merged theme; and notes
    saying which."""
    analysis = session.get_one(Analysis, analysis_id)
    overlay = curation_state.overlay(session, analysis.project_id, analysis)
    merged = np.asarray(labels, dtype=np.int64).copy()
    index = {key: i for i, key in enumerate(keys)}
    notes: list[str] = []
    for merge in overlay.merges:
        if merge.survivor not in index:
            continue
        for key in merge.keys:
            if key != merge.survivor and key in index:
                merged[merged == index[key]] = index[merge.survivor]
        notes.append(
            f"signals: themes {', '.join(merge.keys)} merged by curation are counted as one "
            f"({merge.survivor})"
        )
    return merged, notes


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
    #: themes hidden by curation: their signals are left out (whole-project signals stay)
    hidden: tuple[str, ...] = ()


def _query(analysis: Analysis, flt: SignalFilter) -> Select[Any]:
    query = select(SignalRow).where(SignalRow.analysis_id == analysis.id)
    if flt.themes:
        query = query.where(SignalRow.theme_key.in_(flt.themes))
    if flt.hidden:
        query = query.where(
            or_(SignalRow.theme_key.is_(None), SignalRow.theme_key.not_in(flt.hidden))
        )
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


def tensions_page(
    session: Session, project: Project, query: TensionsQuery, view: View = "curated"
) -> TensionsPage:
    """The latest analysis's signals that match the query, flagged first, as one page; in
    the curated view with curated labels, without hidden themes' signals."""
    analysis = analysis_service.latest(session, project)
    if analysis is None:
        return TensionsPage(
            analysis_id=None,
            analysis=None,
            computed=False,
            notes=analysis_service.no_analysis_notes(session, project),
            total=0,
            limit=query.limit,
            offset=query.offset,
            signals=[],
        )
    overlay = curation_state.overlay(session, project.id, analysis) if view == "curated" else None
    flt = SignalFilter(
        themes=tuple(query.theme),
        kinds=tuple(query.kind),
        attributes=tuple(query.attribute),
        min_strength=query.min_strength,
        flagged_only=query.flagged_only,
        hidden=tuple(sorted(overlay.hidden)) if overlay else (),
    )
    total, rows = list_signals(session, analysis, flt, query.limit, query.offset)
    notes = list(analysis.notes) + (_curation_notes(overlay, analysis) if overlay else [])
    placed = analysis.incremental_count
    if placed:
        notes.append(
            f"{placed} narratives placed into themes since this analysis ran are not in these "
            "signals; run an analysis to include them"
        )
    return TensionsPage(
        analysis_id=analysis.id,
        analysis=AnalysisRead.model_validate(analysis),
        computed=computed(analysis),
        notes=notes,
        placed_since=placed,
        total=total,
        limit=query.limit,
        offset=query.offset,
        signals=render_signals(rows, context(session, analysis, rows, overlay)),
    )


def _curation_notes(overlay: curation_state.Overlay, analysis: Analysis) -> list[str]:
    notes = []
    if overlay.hidden:
        notes.append(f"curated view: hidden: {len(overlay.hidden)}; their signals are left out")
    made_here = {s.edit.id for s in overlay.states if s.edit.analysis_id == analysis.id}
    for merge in overlay.merges:
        if merge.edit_id in made_here:
            notes.append(
                f"themes {', '.join(merge.keys)} are merged in the curated view; their signals "
                "are shown per original theme until the next analysis recomputes them"
            )
    return notes


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


def context(
    session: Session,
    analysis: Analysis,
    rows: Sequence[SignalRow],
    overlay: curation_state.Overlay | None = None,
) -> SignalContext:
    """The theme labels (curated ones with an `overlay`) and exemplar texts that rendering
    `rows` needs."""
    labels = dict(
        session.execute(
            select(Theme.key, Theme.label).where(Theme.analysis_id == analysis.id)
        ).all()
    )
    if overlay is not None:
        labels.update(overlay.labels)
        for merge in overlay.merges:
            labels[merge.survivor] = overlay.merged_label(merge) or labels.get(merge.survivor, "")
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
