"""One analysis's signals from plain inputs: every detector run over the themes, with one
correction over all of their tests. No database: the caller loads the inputs and stores the
result."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

from pipelines.signals._core import Correction, Signal, correct_together
from pipelines.signals.axes import axis_positions, axis_signals, project_scale
from pipelines.signals.groups import group_divergence_signals
from pipelines.signals.sentiment import (
    SENTIMENT_ANCHORS,
    mixed_sentiment_signals,
    sentiment_scores,
    sentiment_summaries,
)
from pipelines.signals.sides import EVALUATIVE_ANCHORS, opposing_sides_signals, polarity_seed
from pipelines.signals.signifiers import signifier_signals
from pipelines.signals.votes import (
    TallyLike,
    comment_votes,
    reaction_table,
    vote_signals,
    vote_table,
)

#: Permutations used above `SignalConfig.large_project` narratives.
LARGE_PROJECT_PERMUTATIONS = 199


class Encoder(Protocol):
    """Turns texts into vectors comparable with the narratives' embeddings."""

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]: ...


@dataclass(frozen=True)
class SignalConfig:
    """The thresholds of one analysis's detectors (the service's settings ``signals_*``)."""

    alpha: float
    correction: Correction
    min_count: int
    min_choice_count: int
    min_sides_count: int
    min_group_count: int
    min_votes_count: int
    max_groups: int
    permutations: int
    large_project: int


@dataclass
class SignalInputs:
    """What the detectors need besides texts, embeddings and labels, aligned with the ids."""

    theme_keys: list[str]
    signifiers: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    values: dict[str, list[Any]] = field(default_factory=dict)
    groups: dict[str, list[str | None]] = field(default_factory=dict)
    # keyed by the narrative's position in the ids, as a string
    tallies: dict[str, dict[str, TallyLike]] = field(default_factory=dict)
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
    """What `compute` found: the signals, scores per narrative by name, and notes."""

    found: list[Found]
    scores: dict[str, npt.NDArray[np.float64]]
    notes: list[str]


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
    config: SignalConfig,
    embedder: Encoder,
    texts: list[str],
    X: npt.NDArray[np.float32],
    labels: npt.ArrayLike,
    inputs: SignalInputs,
) -> Computed:
    """Run every detector over one analysis's themes; `labels` index `inputs.theme_keys`."""
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
    large = n > config.large_project
    permutations = (
        min(config.permutations, LARGE_PROJECT_PERMUTATIONS) if large else config.permutations
    )
    if large:
        notes.append(
            f"signals: {n} narratives is above {config.large_project}, so permutation "
            f"tests used {permutations} permutations and opposing sides were not looked for"
        )
    common: dict[str, Any] = {"alpha": config.alpha, "n_exemplars": 3}
    tested: dict[str, Any] = {**common, "n_permutations": permutations, "random_state": 0}

    for key, kind, definition in inputs.signifiers:
        min_count = config.min_choice_count if kind in ("mcq", "stones") else config.min_count
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
        for s in mixed_sentiment_signals(sentiment, lab, min_count=config.min_count, **common)
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
                min_count=config.min_sides_count,
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
                min_count=config.min_count,
                **common,
            )
        ]

    attributes = _group_attributes(inputs, lab, config)
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
                    min_group_count=config.min_group_count,
                    **tested,
                )
            ]

    min_votes = config.min_votes_count
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
        alpha=config.alpha,
        correction=config.correction,
    )
    found = _consistent_consensus(
        [Found(s, f.attribute) for s, f in zip(signals, found, strict=True)]
    )
    if not any(s.p_value is not None for s in signals):
        notes.append(
            "signals: no theme has enough data to test (a theme needs at least "
            f"{config.min_count} narratives with a value, "
            f"{config.min_group_count} per group)"
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
    inputs: SignalInputs, labels: npt.NDArray[np.int64], config: SignalConfig
) -> list[str]:
    """Attributes worth comparing: 2 to `config.max_groups` values, two of them large enough."""
    chosen = []
    clustered = labels >= 0
    for attribute in sorted(inputs.groups):
        values = [v for v, c in zip(inputs.groups[attribute], clustered, strict=True) if c and v]
        counts = Counter(values)
        if not 2 <= len(counts) <= config.max_groups:
            continue
        if sum(1 for c in counts.values() if c >= config.min_group_count) >= 2:
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
