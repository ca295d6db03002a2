"""Stones quadrants and multiple choice against the rest: tests, fallback and driving cells."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from pipelines.signals import (
    adjusted_residuals,
    choice_shares,
    choice_signals,
    contingency_test,
    quadrant_shares,
    quadrants,
    stone_positions,
    stones_signals,
)


def test_chi_square_matches_scipy_and_residuals_match_by_hand() -> None:
    rng = np.random.default_rng(0)
    cats = rng.integers(0, 3, 300)
    inside = rng.random(300) < 0.3
    res = contingency_test(cats, inside, 3)
    table = np.array(
        [
            [np.sum(inside & (cats == k)) for k in range(3)],
            [np.sum(~inside & (cats == k)) for k in range(3)],
        ]
    )
    chi2, p, _, expected = stats.chi2_contingency(table, correction=False)
    assert res["test"] == "chi_square"
    assert res["statistic"] == pytest.approx(chi2)
    assert res["p_value"] == pytest.approx(p)
    n = table.sum()
    r, c = table.sum(1, keepdims=True) / n, table.sum(0, keepdims=True) / n
    manual = (table - expected) / np.sqrt(expected * (1 - r) * (1 - c))
    np.testing.assert_allclose(adjusted_residuals(table), manual)
    assert res["cramers_v"] == pytest.approx(np.sqrt(chi2 / n))


def test_small_counts_use_the_permutation_fallback() -> None:
    cats = np.array([0] * 6 + [1] * 30 + [2] * 4)
    inside = np.zeros(40, dtype=bool)
    inside[:6] = True
    res = contingency_test(cats, inside, 3, n_permutations=499)
    assert res["test"] == "chi_square_permutation"
    assert res["p_value"] < 0.01


def test_planted_choice_shift_names_the_driving_option() -> None:
    rng = np.random.default_rng(1)
    opts = ["calm", "angry", "sad", "glad"]
    values: list[str | list[str] | None] = [str(o) for o in rng.choice(opts, 200)]
    labels = np.repeat([0, 1, 2, 3], 50)
    for i in range(150, 200):
        values[i] = "angry" if rng.random() < 0.7 else str(rng.choice(opts))
    values[0] = None
    signals = choice_signals(values, labels, subject="feel", options=opts)
    by_theme = {s.themes[0]: s for s in signals}
    assert by_theme[3].flagged
    assert by_theme[3].evidence["drivers"][0]["option"] == "angry"
    assert by_theme[3].evidence["drivers"][0]["direction"] == "over"
    shares = choice_shares(values, labels, opts)
    assert shares[0].n == 49
    assert sum(shares[3].shares.values()) == pytest.approx(1.0)


def test_multi_choice_is_tested_per_option() -> None:
    rng = np.random.default_rng(2)
    values: list[str | list[str] | None] = [
        [o for o in ("a", "b", "c") if rng.random() < 0.3] for _ in range(160)
    ]
    for i in range(120, 160):
        values[i] = ["c", "a"] if rng.random() < 0.9 else ["a"]
    labels = np.repeat([0, 1, 2, 3], 40)
    signals = choice_signals(values, labels)
    flagged = [(s.themes[0], s.evidence["option"]) for s in signals if s.flagged]
    assert (3, "c") in flagged


def test_stones_quadrants() -> None:
    pos = np.array([[0.1, 0.1], [0.9, 0.1], [0.1, 0.9], [0.9, 0.9], [np.nan, np.nan]])
    assert quadrants(pos).tolist() == [0, 1, 2, 3, -1]
    stored = [{"s": {"x": 0.2, "y": 0.7}}, None, {"t": {"x": 0.5, "y": 0.5}}]
    got = stone_positions(stored, "s")
    assert got[0].tolist() == [0.2, 0.7] and np.isnan(got[1]).all() and np.isnan(got[2]).all()
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 1, (200, 2))
    xy[150:] = rng.uniform(0.6, 1.0, (50, 2))
    labels = np.repeat([0, 1, 2, 3], 50)
    signals = stones_signals(xy, labels, subject="risk/people")
    top = max(signals, key=lambda s: s.strength)
    assert top.themes == (3,) and top.flagged and top.kind == "stones_quadrant_shift"
    assert top.evidence["drivers"][0]["option"] == "high_x_high_y"
    assert quadrant_shares(xy, labels)[3].shares["high_x_high_y"] == 1.0
