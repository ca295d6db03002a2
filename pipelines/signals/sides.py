"""Opposing poles in text: does a theme split into two opposed sides, and what does each side say?

Two sub-topics split a theme by *what* it is about; two sides split it by *which way* it leans.
The split is therefore driven by a polarity seed - a score per narrative that says which way it
leans, such as `sentiment_scores` or a position on a declared axis (`axis_positions`) - and asks
how much of that polarity the narratives' content carries:

1. kernel ridge regression (linear kernel on the centred embeddings) predicts the standardised
   seed from the content; the fitted values are the *side scores*. Smoothing the seed through the
   content removes what is idiosyncratic in one narrative's wording (a sarcastic "great", a
   negated cue) and keeps what narratives on the same side share;
2. the test statistic is the correlation between the seed and its leave-one-out prediction (closed
   form for ridge); its p-value comes from permuting the seed across the theme's narratives, which
   reuses the same hat matrix, so a thousand permutations cost one matrix product;
3. the two sides are the two groups of a one-dimensional two-means split of the side scores.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from pipelines.signals._core import (
    Correction,
    FloatArray,
    Signal,
    as_labels,
    finalise,
    permutation_pvalue,
    theme_ids,
)

_WORD = re.compile(r"[a-z][a-z']+[a-z]")
_STOP = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "also",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "even",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "let",
        "like",
        "may",
        "me",
        "might",
        "more",
        "most",
        "much",
        "must",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "people",
        "really",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "us",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "one",
        "get",
        "make",
        "many",
        "way",
        "think",
        "thing",
        "things",
        "lot",
        "also",
        "would",
        "could",
    ]
)


#: Evaluative statements (good / bad); embed both with the narratives' model for `polarity_seed`.
EVALUATIVE_ANCHORS: tuple[tuple[str, ...], tuple[str, ...]] = (
    ("This is good, right and beneficial.",),
    ("This is bad, wrong and harmful.",),
)


def polarity_seed(
    sentiment: npt.ArrayLike,
    embeddings: npt.ArrayLike | None = None,
    evaluative_embeddings: tuple[npt.ArrayLike, npt.ArrayLike] | None = None,
) -> FloatArray:
    """A default polarity seed: standardised sentiment plus standardised evaluative similarity.

    Arguing for or against something mostly reads as praising or condemning it, so how favourable
    a narrative sounds (sentiment) and how close it sits to "good" rather than "bad"
    (`EVALUATIVE_ANCHORS`) both say which way it leans; their standardised sum is steadier than
    either.

    Parameters
    ----------
    sentiment : array-like of shape (n,)
        Sentiment per narrative (e.g. `sentiment_scores`).
    embeddings : array-like of shape (n, d) or None
        Narrative embeddings; with ``evaluative_embeddings`` adds the evaluative part.
    evaluative_embeddings : (good, bad) or None
        Embeddings of ``EVALUATIVE_ANCHORS[0]`` and ``EVALUATIVE_ANCHORS[1]``.

    Returns
    -------
    ndarray of shape (n,)
    """
    from pipelines.signals.sentiment import embedding_sentiment

    seed = _standardise(np.asarray(sentiment, dtype=float))
    if embeddings is not None and evaluative_embeddings is not None:
        seed = seed + _standardise(embedding_sentiment(embeddings, *evaluative_embeddings))
    return seed


@dataclass(frozen=True)
class SideSplit:
    """The two sides of one theme.

    Attributes
    ----------
    scores : ndarray of shape (n,)
        Side score per narrative (standardised fitted seed; positive leans to side ``a``).
    loo_scores : ndarray of shape (n,)
        Leave-one-out predictions of the standardised seed.
    statistic : float
        Correlation between the seed and its leave-one-out prediction.
    p_value : float
        Permutation p-value of ``statistic``.
    threshold : float
        Side-score value splitting the two sides.
    side_a : ndarray of bool, shape (n,)
        True for narratives on side ``a``.
    """

    scores: FloatArray
    loo_scores: FloatArray
    statistic: float
    p_value: float
    threshold: float
    side_a: npt.NDArray[np.bool_]

    @property
    def share_a(self) -> float:
        """Share of the narratives on side ``a``."""
        return float(np.mean(self.side_a)) if self.side_a.size else float("nan")


def _standardise(v: FloatArray) -> FloatArray:
    sd = float(v.std())
    return np.asarray((v - v.mean()) / sd if sd > 0 else v - v.mean(), dtype=float)


def two_means_threshold(values: npt.ArrayLike) -> float:
    """Threshold of the best split of 1-D values into two groups.

    Parameters
    ----------
    values : array-like of float
        The values.

    Returns
    -------
    float
        Midpoint between the two groups of the split with the least within-group sum of squares
        (exact, by scanning the sorted values).
    """
    v = np.sort(np.asarray(values, dtype=float))
    n = v.size
    if n < 2:
        return float(v[0]) if n else 0.0
    csum = np.cumsum(v)
    csq = np.cumsum(v * v)
    k = np.arange(1, n)
    left = csq[:-1] - csum[:-1] ** 2 / k
    right = (csq[-1] - csq[:-1]) - (csum[-1] - csum[:-1]) ** 2 / (n - k)
    best = int(np.argmin(left + right))
    return float(0.5 * (v[best] + v[best + 1]))


def split_sides(
    embeddings: npt.ArrayLike,
    seed: npt.ArrayLike,
    *,
    ridge: float = 8.0,
    n_permutations: int = 999,
    random_state: int | None = 0,
) -> SideSplit:
    """Side scores of one theme's narratives from their embeddings and a polarity seed.

    Parameters
    ----------
    embeddings : array-like of shape (n, d)
        The theme's narrative embeddings.
    seed : array-like of shape (n,)
        Which way each narrative leans (e.g. sentiment, or an axis position); larger = side ``a``.
    ridge : float, default=8.0
        Ridge penalty, in units of the mean squared norm of the centred embeddings.
    n_permutations : int, default=999
        Permutations of the test.
    random_state : int or None, default=0
        Seed of the permutations.

    Returns
    -------
    SideSplit
    """
    X = np.asarray(embeddings, dtype=float)
    y = _standardise(np.asarray(seed, dtype=float))
    n = X.shape[0]
    Xc = X - X.mean(axis=0)
    # ridge in feature space: the hat matrix is Xc A^-1 Xc' with A = Xc'Xc + lam I, never formed
    lam = ridge * max(float((Xc * Xc).sum()) / max(n, 1), 1e-12)
    A_inv = np.linalg.inv(Xc.T @ Xc + lam * np.eye(Xc.shape[1]))
    h = np.clip(((Xc @ A_inv) * Xc).sum(axis=1), 0.0, 1.0 - 1e-9)

    def hat(Y: FloatArray) -> FloatArray:
        return np.asarray(Xc @ (A_inv @ (Xc.T @ Y)), dtype=float)

    def loo(Y: FloatArray) -> FloatArray:
        return np.asarray(Y - (Y - hat(Y)) / (1.0 - h)[:, None], dtype=float)

    def corr(Y: FloatArray, P: FloatArray) -> FloatArray:
        Yc = Y - Y.mean(axis=0)
        Pc = P - P.mean(axis=0)
        denom = np.sqrt((Yc * Yc).sum(axis=0) * (Pc * Pc).sum(axis=0))
        return np.asarray(
            np.where(denom > 0, (Yc * Pc).sum(axis=0) / np.where(denom > 0, denom, 1), 0.0)
        )

    loo_obs = loo(y[:, None])
    statistic = float(corr(y[:, None], loo_obs)[0])
    rng = np.random.default_rng(random_state)
    perm = np.argsort(rng.random((n_permutations, n)), axis=1).T
    Y = y[perm]
    null = corr(Y, loo(Y))
    fitted = _standardise(hat(y[:, None])[:, 0])
    threshold = two_means_threshold(fitted)
    return SideSplit(
        scores=fitted,
        loo_scores=loo_obs[:, 0],
        statistic=statistic,
        p_value=permutation_pvalue(statistic, null),
        threshold=threshold,
        side_a=fitted > threshold,
    )


def contrast_keywords(
    texts: Sequence[str], side_a: npt.ArrayLike, n_keywords: int = 8, prior: float = 0.05
) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """Words that set each side apart: log-odds ratios with an informative Dirichlet prior.

    Parameters
    ----------
    texts : sequence of str
        The theme's narratives.
    side_a : array-like of bool
        Side of each narrative.
    n_keywords : int, default=8
        Words kept per side.
    prior : float, default=0.05
        Prior strength, as a share of the theme's word counts (Monroe, Colaresi & Quinn 2008).

    Returns
    -------
    (keywords_a, keywords_b) : two lists of (word, z-score), most distinctive first
    """
    mask = np.asarray(side_a, dtype=bool)
    counts = [Counter(), Counter()]  # type: list[Counter[str]]
    for text, is_a in zip(texts, mask, strict=True):
        words = [w for w in _WORD.findall(text.lower()) if w not in _STOP]
        counts[0 if is_a else 1].update(set(words))
    vocab = sorted(set(counts[0]) | set(counts[1]))
    if len(vocab) < 2:
        # the log-odds of a word are taken against the rest of the vocabulary: none here
        return [], []
    a = np.array([counts[0][w] for w in vocab], dtype=float)
    b = np.array([counts[1][w] for w in vocab], dtype=float)
    alpha = prior * (a + b) + 0.01
    a0, b0, al0 = a.sum(), b.sum(), alpha.sum()
    delta = np.log((a + alpha) / (a0 + al0 - a - alpha)) - np.log(
        (b + alpha) / (b0 + al0 - b - alpha)
    )
    z = delta / np.sqrt(1.0 / (a + alpha) + 1.0 / (b + alpha))
    order = np.argsort(-z, kind="stable")
    top_a = [(vocab[i], float(z[i])) for i in order[:n_keywords] if z[i] > 0]
    top_b = [(vocab[i], float(-z[i])) for i in order[::-1][:n_keywords] if z[i] < 0]
    return top_a, top_b


def opposing_sides_signals(
    texts: Sequence[str],
    embeddings: npt.ArrayLike,
    labels: npt.ArrayLike,
    seed: npt.ArrayLike,
    *,
    side_names: tuple[str, str] = ("a", "b"),
    min_count: int = 30,
    min_side_share: float = 0.2,
    alpha: float = 0.05,
    correction: Correction = "holm",
    ridge: float = 8.0,
    n_permutations: int = 999,
    random_state: int | None = 0,
    n_keywords: int = 8,
    n_exemplars: int = 3,
) -> list[Signal]:
    """Themes whose narratives split into two opposed sides, with each side's words and exemplars.

    Parameters
    ----------
    texts : sequence of str
        The narratives.
    embeddings : array-like of shape (n, d)
        Their embeddings.
    labels : array-like of int
        Theme of each narrative.
    seed : array-like of shape (n,)
        Polarity per narrative: larger leans to ``side_names[0]``. Sentiment
        (`sentiment_scores`) finds "pleased vs aggrieved" sides; a declared axis position
        (`axis_positions`) finds sides along that axis and names them after its poles.
    side_names : (str, str), default=("a", "b")
        Names of the seed-high and seed-low sides.
    min_count : int, default=30
        Least number of narratives a theme needs to be tested.
    min_side_share : float, default=0.2
        Least share each side must hold for the theme to be flagged.
    alpha : float, default=0.05
        Level at which corrected p-values flag a signal.
    correction : {"holm", "bh"}, default="holm"
        Multiple-testing correction over the themes tested.
    ridge, n_permutations, random_state
        As in `split_sides`.
    n_keywords, n_exemplars : int
        Keywords and exemplars kept per side.

    Returns
    -------
    list of Signal
        ``opposing_sides`` per tested theme. Strength: the leave-one-out correlation between the
        seed and its prediction from content. The evidence holds, per side, its share, mean seed,
        keywords, ``some_say`` / ``others_say`` (the most typical narrative of each side), and the
        side score of every narrative of the theme (``scores``, aligned with ``members``).
    """
    X = np.asarray(embeddings, dtype=float)
    s = np.asarray(seed, dtype=float)
    lab = as_labels(labels, X.shape[0])
    drafts: list[dict[str, Any]] = []
    for t in theme_ids(lab):
        idx = np.flatnonzero((lab == t) & np.isfinite(s))
        if idx.size < min_count:
            continue
        split = split_sides(
            X[idx], s[idx], ridge=ridge, n_permutations=n_permutations, random_state=random_state
        )
        a = split.side_a
        share_a = split.share_a
        kw_a, kw_b = contrast_keywords([texts[int(i)] for i in idx], a, n_keywords)
        order = np.argsort(-split.scores, kind="stable")
        ex_a = tuple(int(idx[i]) for i in order[:n_exemplars] if a[i])
        ex_b = tuple(int(idx[i]) for i in order[::-1][:n_exemplars] if not a[i])
        name_a, name_b = side_names
        drafts.append(
            {
                "kind": "opposing_sides",
                "themes": (t,),
                "strength": split.statistic,
                "strength_name": "loo_seed_correlation",
                "test": "permutation_ridge_loo_correlation",
                "p_value": split.p_value,
                "gate": min(share_a, 1.0 - share_a) >= min_side_share,
                "evidence": {
                    "sides": {
                        name_a: {
                            "share": share_a,
                            "mean_seed": float(s[idx][a].mean()) if a.any() else None,
                            "keywords": kw_a,
                        },
                        name_b: {
                            "share": 1.0 - share_a,
                            "mean_seed": float(s[idx][~a].mean()) if (~a).any() else None,
                            "keywords": kw_b,
                        },
                    },
                    "some_say": texts[ex_a[0]] if ex_a else None,
                    "others_say": texts[ex_b[0]] if ex_b else None,
                    "members": idx.tolist(),
                    "scores": split.scores.tolist(),
                    "min_side_share": min_side_share,
                },
                "exemplars": {name_a: ex_a, name_b: ex_b},
            }
        )
    return finalise(drafts, alpha=alpha, correction=correction)
