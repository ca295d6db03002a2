"""Sentiment per narrative (offline) and per theme; themes holding strong praise and complaint.

The per-narrative score blends two offline signals, each in ``[-1, 1]``:

* VADER's compound score (lexicon and rules; the ``vaderSentiment`` package), and
* an embedding score: mean cosine similarity of the narrative to short positive experience
  statements minus that to negative ones (`SENTIMENT_ANCHORS`, embedded with the same model as
  the narratives), divided by ``embedding_scale`` and clipped to ``[-1, 1]``.

Either part works alone when the other is unavailable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats

from pipelines.signals._core import (
    Correction,
    FloatArray,
    Signal,
    as_labels,
    finalise,
    jsonable,
    theme_ids,
    wilson_interval,
)
from pipelines.signals.axes import axis_positions

#: Positive and negative experience statements; embed both with the narratives' model.
SENTIMENT_ANCHORS: tuple[tuple[str, ...], tuple[str, ...]] = (
    (
        "I am happy and grateful, it was great.",
        "Everything was excellent, thank you.",
        "Nothing needs to change, it was fine.",
    ),
    (
        "I am unhappy and disappointed, it was terrible.",
        "It was slow, rude and badly organised.",
        "This needs to improve, it should be better.",
    ),
)
#: Scores at or beyond this magnitude count as strongly positive / strongly negative. The blend
#: averages two parts, so a narrative reaches it when both lean the same way clearly (VADER's own
#: +-0.5 convention would ask both parts to be near their extremes).
STRONG = 0.3


def vader_scores(texts: Sequence[str]) -> FloatArray:
    """VADER compound score of each text, in ``[-1, 1]``.

    Parameters
    ----------
    texts : sequence of str
        The narratives.

    Returns
    -------
    ndarray of shape (n,)

    Raises
    ------
    ImportError
        When the ``vaderSentiment`` package is not installed.
    """
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    return np.array([analyzer.polarity_scores(t)["compound"] for t in texts], dtype=float)


def embedding_sentiment(
    embeddings: npt.ArrayLike, positive: npt.ArrayLike, negative: npt.ArrayLike
) -> FloatArray:
    """Mean cosine similarity to the positive anchors minus that to the negative anchors.

    Parameters
    ----------
    embeddings : array-like of shape (n, d)
        Unit-length narrative embeddings.
    positive, negative : array-like of shape (k, d)
        Unit-length embeddings of the anchor statements.

    Returns
    -------
    ndarray of shape (n,)
    """
    # sentiment is a declared axis whose poles are the negative and positive anchors
    return axis_positions(embeddings, left=negative, right=positive)


def sentiment_scores(
    texts: Sequence[str] | None = None,
    embeddings: npt.ArrayLike | None = None,
    anchor_embeddings: tuple[npt.ArrayLike, npt.ArrayLike] | None = None,
    *,
    embedding_scale: float = 0.1,
    vader_weight: float = 0.5,
) -> FloatArray:
    """Sentiment of each narrative in ``[-1, 1]`` (positive = favourable), computed offline.

    Parameters
    ----------
    texts : sequence of str or None
        The narratives; scored with VADER when given.
    embeddings : array-like of shape (n, d) or None
        Their unit-length embeddings; used with ``anchor_embeddings``.
    anchor_embeddings : (positive, negative) or None
        Embeddings of ``SENTIMENT_ANCHORS[0]`` and ``SENTIMENT_ANCHORS[1]`` (same model).
    embedding_scale : float, default=0.1
        The similarity difference that counts as fully positive (or negative).
    vader_weight : float, default=0.5
        Weight of VADER in the blend when both parts are available.

    Returns
    -------
    ndarray of shape (n,)

    Raises
    ------
    ValueError
        When neither texts nor embeddings with anchors are given.
    """
    parts: list[tuple[float, FloatArray]] = []
    if texts is not None:
        parts.append((vader_weight, vader_scores(texts)))
    if embeddings is not None and anchor_embeddings is not None:
        raw = embedding_sentiment(embeddings, *anchor_embeddings)
        parts.append((1.0 - vader_weight, np.clip(raw / embedding_scale, -1.0, 1.0)))
    if not parts:
        raise ValueError("give texts (VADER) and/or embeddings with anchor embeddings")
    if len(parts) == 1:
        return parts[0][1]
    total = sum(w for w, _ in parts)
    return np.asarray(sum(w * s for w, s in parts) / total, dtype=float)


@dataclass(frozen=True)
class SentimentSummary:
    """Sentiment of one group of narratives.

    Attributes
    ----------
    n : int
        Narratives scored.
    mean, sd, median : float
        Centre and spread.
    strong_positive, strong_negative : float
        Shares at or beyond ``+strong`` and ``-strong``.
    mean_interval : tuple of float
        95% t-interval of the mean.
    """

    n: int
    mean: float
    sd: float
    median: float
    strong_positive: float
    strong_negative: float
    mean_interval: tuple[float, float]

    def to_json(self) -> dict[str, Any]:
        """The summary as a JSON-ready dict."""
        return dict(jsonable(self.__dict__))


def summarise_sentiment(scores: npt.ArrayLike, strong: float = STRONG) -> SentimentSummary:
    """Mean, spread and strong shares of a set of sentiment scores.

    Parameters
    ----------
    scores : array-like of float
        Scores in ``[-1, 1]``; ``nan`` values are left out.
    strong : float, default=0.3
        Magnitude from which a score is strong.

    Returns
    -------
    SentimentSummary
    """
    s = np.asarray(scores, dtype=float)
    s = s[np.isfinite(s)]
    n = s.size
    if n == 0:
        nan = float("nan")
        return SentimentSummary(0, nan, nan, nan, nan, nan, (nan, nan))
    sd = float(s.std(ddof=1)) if n > 1 else float("nan")
    if n > 1:
        half = float(stats.t.ppf(0.975, n - 1)) * sd / np.sqrt(n)
        interval = (float(s.mean() - half), float(s.mean() + half))
    else:
        interval = (float("nan"), float("nan"))
    return SentimentSummary(
        n=n,
        mean=float(s.mean()),
        sd=sd,
        median=float(np.median(s)),
        strong_positive=float(np.mean(s >= strong)),
        strong_negative=float(np.mean(s <= -strong)),
        mean_interval=interval,
    )


def sentiment_summaries(
    scores: npt.ArrayLike, labels: npt.ArrayLike, strong: float = STRONG
) -> dict[int, SentimentSummary]:
    """`SentimentSummary` per theme.

    Parameters
    ----------
    scores : array-like of float
        Sentiment per narrative.
    labels : array-like of int
        Theme of each narrative (``-1`` = unclustered).
    strong : float, default=0.3
        Magnitude from which a score is strong.

    Returns
    -------
    dict of int to SentimentSummary
        Per theme, and ``-1`` for the whole project.
    """
    s = np.asarray(scores, dtype=float)
    lab = as_labels(labels, s.size)
    out = {-1: summarise_sentiment(s, strong)}
    for t in theme_ids(lab):
        out[t] = summarise_sentiment(s[lab == t], strong)
    return out


def mixed_sentiment_signals(
    scores: npt.ArrayLike,
    labels: npt.ArrayLike,
    *,
    strong: float = STRONG,
    min_share: float = 0.15,
    min_count: int = 20,
    alpha: float = 0.05,
    correction: Correction = "holm",
    n_exemplars: int = 3,
) -> list[Signal]:
    """Themes that hold strongly positive and strongly negative experiences together.

    ``H0``: the strongly positive share or the strongly negative share is at most ``min_share``.
    It is tested as an intersection-union test: two exact one-sided binomial tests (each share
    above ``min_share``), whose larger p-value is the test's p-value. Corrected over the themes.

    Parameters
    ----------
    scores : array-like of float
        Sentiment per narrative in ``[-1, 1]`` (``nan`` = not scored).
    labels : array-like of int
        Theme of each narrative.
    strong : float, default=0.3
        Magnitude from which a score is strong.
    min_share : float, default=0.15
        Share each strong side must clearly exceed for a theme to be mixed.
    min_count : int, default=20
        Least number of scored narratives a theme needs to be tested.
    alpha : float, default=0.05
        Level at which corrected p-values flag a signal.
    correction : {"holm", "bh"}, default="holm"
        Multiple-testing correction over the themes tested.
    n_exemplars : int, default=3
        Exemplars per side: the most positive and the most negative narratives.

    Returns
    -------
    list of Signal
        ``sentiment_mixed`` per tested theme. Strength: the smaller of the two strong shares.
        The evidence holds the theme's summary, the project's summary and Wilson intervals.
    """
    s = np.asarray(scores, dtype=float)
    lab = as_labels(labels, s.size)
    ok = np.isfinite(s)
    project = summarise_sentiment(s[ok], strong).to_json()
    drafts: list[dict[str, Any]] = []
    for t in theme_ids(lab[ok]):
        inside = ok & (lab == t)
        idx = np.flatnonzero(inside)
        x = s[inside]
        n = x.size
        if n < min_count:
            continue
        pos, neg = int(np.sum(x >= strong)), int(np.sum(x <= -strong))
        p = max(
            float(stats.binomtest(pos, n, min_share, "greater").pvalue),
            float(stats.binomtest(neg, n, min_share, "greater").pvalue),
        )
        order = np.argsort(x, kind="stable")
        drafts.append(
            {
                "kind": "sentiment_mixed",
                "themes": (t,),
                "subject": "sentiment",
                "strength": min(pos, neg) / n,
                "strength_name": "weaker_strong_share",
                "test": "intersection_union_binomial",
                "p_value": p,
                "evidence": {
                    "summary": summarise_sentiment(x, strong).to_json(),
                    "project": project,
                    "strong": strong,
                    "min_share": min_share,
                    "positive_interval": wilson_interval(pos, n),
                    "negative_interval": wilson_interval(neg, n),
                },
                "exemplars": {
                    "positive": tuple(
                        int(idx[i]) for i in order[::-1][:n_exemplars] if x[i] >= strong
                    ),
                    "negative": tuple(int(idx[i]) for i in order[:n_exemplars] if x[i] <= -strong),
                },
            }
        )
    return finalise(drafts, alpha=alpha, correction=correction)
