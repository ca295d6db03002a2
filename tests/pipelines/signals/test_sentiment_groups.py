"""Sentiment summaries and mixed themes; divergence and consensus across groups."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from pipelines.signals import (
    embedding_sentiment,
    group_divergence_signals,
    mixed_sentiment_signals,
    sentiment_scores,
    sentiment_summaries,
)


def test_embedding_sentiment_and_blend() -> None:
    pos = np.array([[1.0, 0.0]])
    neg = np.array([[0.0, 1.0]])
    X = np.array([[1.0, 0.0], [0.0, 1.0], [np.sqrt(0.5), np.sqrt(0.5)]])
    np.testing.assert_allclose(embedding_sentiment(X, pos, neg), [1.0, -1.0, 0.0], atol=1e-12)
    s = sentiment_scores(embeddings=X, anchor_embeddings=(pos, neg), embedding_scale=0.5)
    np.testing.assert_allclose(s, [1.0, -1.0, 0.0], atol=1e-12)
    with pytest.raises(ValueError):
        sentiment_scores()


def test_vader_part() -> None:
    pytest.importorskip("vaderSentiment")
    s = sentiment_scores(["This was wonderful, thank you so much!", "Awful, rude and useless."])
    assert s[0] > 0.5 and s[1] < -0.5


def test_summaries_and_planted_mixed_theme() -> None:
    rng = np.random.default_rng(0)
    calm = rng.uniform(-0.3, 0.6, 100)
    mixed = np.r_[
        rng.uniform(0.6, 1.0, 25), rng.uniform(-1.0, -0.6, 25), rng.uniform(-0.2, 0.2, 10)
    ]
    scores = np.r_[calm, mixed]
    labels = np.r_[np.repeat([0, 1], 50), np.full(60, 2)]
    summaries = sentiment_summaries(scores, labels)
    assert summaries[2].mean == pytest.approx(mixed.mean())
    assert summaries[2].sd == pytest.approx(mixed.std(ddof=1))
    assert summaries[2].strong_negative == pytest.approx(25 / 60)
    signals = mixed_sentiment_signals(scores, labels)
    flagged = [s.themes[0] for s in signals if s.flagged]
    assert flagged == [2]
    s2 = next(s for s in signals if s.themes == (2,))
    assert set(s2.exemplars) == {"positive", "negative"}
    assert all(scores[i] >= 0.5 for i in s2.exemplars["positive"])


def test_planted_group_difference_and_consensus() -> None:
    rng = np.random.default_rng(1)
    n = 240
    labels = np.repeat([0, 1], n // 2)
    groups = [("north", "south", "east")[i % 3] for i in range(n)]
    values = rng.normal(0, 1, n)
    south_in_0 = (labels == 0) & (np.array(groups) == "south")
    values[south_in_0] += 1.5
    signals = group_divergence_signals(
        values, labels, groups, subject="sentiment", attribute="site"
    )
    div = {s.themes[0]: s for s in signals if s.kind == "group_divergence"}
    con = {s.themes[0]: s for s in signals if s.kind == "group_consensus"}
    assert div[0].flagged and not div[1].flagged
    assert con[1].flagged and not con[0].flagged
    x = values[labels == 0]
    g = np.array(groups)[labels == 0]
    h = stats.kruskal(*[x[g == k] for k in ("east", "north", "south")])
    assert div[0].p_value == pytest.approx(h.pvalue)
    assert div[0].strength == pytest.approx((h.statistic - 2) / (x.size - 3))
    assert "south" in div[0].exemplars


def test_planted_triad_group_difference() -> None:
    rng = np.random.default_rng(2)
    n = 150
    groups = ["a" if i % 2 else "b" for i in range(n)]
    values = rng.dirichlet([3, 3, 3], n)
    b = np.array(groups) == "b"
    values[b] = rng.dirichlet([9, 2, 2], int(b.sum()))
    labels = np.zeros(n, dtype=int)
    signals = group_divergence_signals(values, labels, groups, variable="triad", n_permutations=299)
    assert signals[0].kind == "group_divergence" and signals[0].flagged
    assert 0.1 < signals[0].strength < 1.0
