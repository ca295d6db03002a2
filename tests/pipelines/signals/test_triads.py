"""Triads: zero replacement, compositional centre, zones, dispersion and a planted shift."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.signals import (
    geometric_mean,
    ilr,
    ilr_inverse,
    replace_zeros,
    summarise_triad,
    total_variance,
    triad_signals,
    zones,
)
from pipelines.signals.triads import ZONES


def test_multiplicative_replacement_keeps_ratios_and_rows() -> None:
    x = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
    r = replace_zeros(x, 0.01)
    np.testing.assert_allclose(r.sum(axis=1), 1.0)
    assert r.min() == pytest.approx(0.01)
    np.testing.assert_allclose(r[0], [0.98, 0.01, 0.01])
    assert r[1, 0] / r[1, 1] == pytest.approx(1.0)
    np.testing.assert_allclose(r[2], x[2])


def test_geometric_mean_and_variance_match_an_independent_computation() -> None:
    rng = np.random.default_rng(1)
    x = rng.dirichlet([2, 3, 4], 50)
    x[0] = [1.0, 0.0, 0.0]  # a point on a vertex stays in
    delta = 0.005
    rep = x.copy()
    for row in rep:
        zero = row < delta
        row[~zero] *= (1 - zero.sum() * delta) / row[~zero].sum()
        row[zero] = delta
    logs = np.log(rep)
    g = np.exp(logs.mean(axis=0))
    np.testing.assert_allclose(geometric_mean(x, delta), g / g.sum())
    clr = logs - logs.mean(axis=1, keepdims=True)
    # total variance is basis-free: the trace of the clr covariance equals that of the ilr one
    assert total_variance(x, delta) == pytest.approx(np.trace(np.cov(clr.T)))
    s = summarise_triad(x)
    assert s.n == 50 and s.n_zero_parts == 2


def test_ilr_round_trip() -> None:
    x = np.random.default_rng(2).dirichlet([1, 1, 1], 20)
    np.testing.assert_allclose(ilr_inverse(ilr(x, 1e-9)), x, atol=1e-9)


def test_zones_follow_the_sensemaker_rules() -> None:
    x = np.array(
        [
            [0.7, 0.2, 0.1],  # vertex 0
            [0.1, 0.6, 0.3],  # vertex 1 (exactly 60%)
            [0.45, 0.45, 0.1],  # edge between 0 and 1 (anchor 2 low)
            [0.1, 0.45, 0.45],  # edge between 1 and 2
            [0.34, 0.33, 0.33],  # centre
            [0.2, 0.2, 0.6],  # vertex 2
        ]
    )
    assert [ZONES[z] for z in zones(x)] == [
        "vertex_0",
        "vertex_1",
        "edge_01",
        "edge_12",
        "centre",
        "vertex_2",
    ]


def test_not_applicable_rows_are_left_out() -> None:
    s = summarise_triad([[0.2, 0.3, 0.5], None, [50, 25, 25]])
    assert s.n == 2 and s.n_not_applicable == 1


def test_planted_triad_shift_is_flagged() -> None:
    rng = np.random.default_rng(4)
    base = rng.dirichlet([3, 3, 3], 150)
    shifted = rng.dirichlet([8, 2, 2], 50)
    shifted[:5] = [1.0, 0.0, 0.0]  # vertices are kept via zero replacement
    values = np.r_[base, shifted]
    labels = np.r_[np.repeat([0, 1, 2], 50), np.full(50, 3)]
    signals = triad_signals(
        values, labels, subject="t", anchors=("a", "b", "c"), n_permutations=499
    )
    by_theme = {s.themes[0]: s for s in signals}
    assert by_theme[3].flagged
    # the other themes may differ from a rest that holds the shifted theme, but far less
    assert all(by_theme[t].strength < by_theme[3].strength / 2 for t in (0, 1, 2))
    assert by_theme[3].evidence["share_ratio"][0] > 1.5
    assert by_theme[3].evidence["theme"]["n"] == 50
