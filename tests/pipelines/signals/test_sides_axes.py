"""Opposing sides in text and declared polarity axes, on constructed embeddings."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from pipelines.signals import (
    axis_positions,
    axis_signals,
    contrast_keywords,
    opposing_sides_signals,
    project_scale,
    split_sides,
)
from pipelines.signals.sides import two_means_threshold


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _project(
    rng: np.random.Generator, d: int = 48
) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Theme 0 splits into two opposed sides; theme 1 into two sub-topics with no lean."""
    topic0, topic1, side_dir, sub_dir = _unit(rng.normal(size=(4, d)))
    n = 80
    side = np.r_[np.ones(n // 2 + 10), -np.ones(n // 2 - 10)]
    sub = np.r_[np.ones(n // 2), -np.ones(n // 2)]
    X0 = 2 * topic0 + 0.5 * side[:, None] * side_dir + 0.35 * rng.normal(size=(n, d))
    X1 = 2 * topic1 + 0.5 * sub[:, None] * sub_dir + 0.35 * rng.normal(size=(n, d))
    X = _unit(np.r_[X0, X1])
    texts = [
        ("we stick to the plan and the schedule" if s > 0 else "we adapt as things emerge")
        + f" story {i}"
        for i, s in enumerate(side)
    ] + [("the rota" if s > 0 else "the canteen") + f" note {i}" for i, s in enumerate(sub)]
    seed = np.r_[side + rng.normal(0, 1.2, n), rng.normal(0, 1.2, n)]
    labels = np.repeat([0, 1], n)
    return texts, X, labels, seed


def test_planted_two_sided_theme_is_found_and_sub_topics_are_not() -> None:
    texts, X, labels, seed = _project(np.random.default_rng(0))
    signals = opposing_sides_signals(
        texts, X, labels, seed, side_names=("plan", "emergence"), n_permutations=499
    )
    by_theme = {s.themes[0]: s for s in signals}
    assert by_theme[0].flagged and not by_theme[1].flagged
    ev = by_theme[0].evidence
    assert ev["sides"]["plan"]["share"] == pytest.approx(0.625, abs=0.1)
    assert "plan" in dict(ev["sides"]["plan"]["keywords"])
    assert "emerge" in dict(ev["sides"]["emergence"]["keywords"])
    assert "plan" in ev["some_say"] and "emerge" in ev["others_say"]
    assert all(i < 50 for i in by_theme[0].exemplars["plan"])


def test_side_scores_recover_the_sides() -> None:
    _texts, X, _labels, seed = _project(np.random.default_rng(1))
    split = split_sides(X[:80], seed[:80], n_permutations=199)
    truth = np.arange(80) < 50
    # the content-smoothed side score separates the sides better than the noisy seed itself
    assert roc_auc_score(truth, split.scores) > max(0.93, roc_auc_score(truth, seed[:80]))
    assert np.mean(split.side_a == truth) > 0.8
    assert split.statistic > 0.3 and split.p_value < 0.01


def test_two_means_threshold_and_keywords() -> None:
    assert two_means_threshold([0.0, 0.1, 0.2, 5.0, 5.1]) == pytest.approx(2.6)
    a, b = contrast_keywords(
        ["red apple", "red car", "blue sea", "blue sky"], [True, True, False, False]
    )
    assert a[0][0] == "red" and b[0][0] == "blue"


def test_axis_positions_and_planted_polarised_theme() -> None:
    rng = np.random.default_rng(2)
    d = 32
    left, right, topic0, topic1 = _unit(rng.normal(size=(4, d)))
    n = 100
    pole = np.r_[np.ones(n // 2), -np.ones(n // 2)]
    X0 = topic0 + 0.6 * pole[:, None] * (right - left) + 0.2 * rng.normal(size=(n, d))
    X1 = topic1 + 0.2 * rng.normal(size=(n, d))
    X = _unit(np.r_[X0, X1])
    raw = axis_positions(X, left, right)
    np.testing.assert_allclose(raw, X @ right - X @ left)
    scaled = project_scale(raw)
    assert scaled.min() > 0 and scaled.max() < 1
    labels = np.repeat([0, 1], n)
    signals = axis_signals(
        X,
        labels,
        left,
        right,
        subject="plan-emergence",
        poles=("follow the plan", "work with emergence"),
    )
    polarised = {s.themes[0]: s for s in signals if s.kind == "axis_polarised"}
    assert polarised[0].flagged and not polarised[1].flagged


def test_contrast_keywords_with_a_one_word_vocabulary_is_empty() -> None:
    import warnings

    from pipelines.signals.sides import contrast_keywords

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert contrast_keywords(["waiting", "waiting!", "Waiting"], [True, False, True]) == (
            [],
            [],
        )
