"""Corrections, the Signal record, and dyad profiles and tests on data with a known answer."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from pipelines.signals import (
    adjust_pvalues,
    dyad_signals,
    dyad_summaries,
    polarisation_test,
    summarise_dyad,
)


def test_holm_and_bh_match_a_hand_computation() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.005, np.nan])
    order = [3, 0, 2, 1]  # ascending p
    m = 4
    holm = np.full(5, np.nan)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        holm[i] = running
    bh = np.full(5, np.nan)
    running = 1.0
    for rank in range(m - 1, -1, -1):
        i = order[rank]
        running = min(running, p[i] * m / (rank + 1))
        bh[i] = running
    np.testing.assert_allclose(adjust_pvalues(p, "holm"), holm, equal_nan=True)
    np.testing.assert_allclose(adjust_pvalues(p, "bh"), bh, equal_nan=True)


def test_summary_matches_an_independent_computation() -> None:
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1, 200)
    values: list[float | None] = [*x.tolist(), None, None]
    s = summarise_dyad(values)
    counts = [
        np.sum(x < 0.2),
        np.sum((x >= 0.2) & (x < 0.4)),
        np.sum((x >= 0.4) & (x < 0.6)),
        np.sum((x >= 0.6) & (x < 0.8)),
        np.sum(x >= 0.8),
    ]
    np.testing.assert_allclose(s.bands, np.array(counts) / 200)
    assert s.n == 200 and s.n_not_applicable == 2
    assert s.mean == pytest.approx(x.mean())
    assert s.left_share == pytest.approx(counts[0] / 200)
    assert s.right_share == pytest.approx(counts[4] / 200)
    g, k = stats.skew(x, bias=False), stats.kurtosis(x, bias=False)
    assert s.bimodality_coefficient == pytest.approx((g**2 + 1) / (k + 3 * 199**2 / (198 * 197)))


def test_not_applicable_is_never_zero() -> None:
    s = summarise_dyad([0.9, 0.9, None, None])
    assert s.mean == pytest.approx(0.9) and s.left_share == 0.0


def test_polarisation_test_against_scipy_sign_tests() -> None:
    x = np.r_[np.full(30, 0.1), np.full(5, 0.5), np.full(25, 0.9)]
    index, p = polarisation_test(x)
    assert index == pytest.approx((25 - 5) / 60)
    expected = max(
        stats.binomtest(30, 35, 0.5, "greater").pvalue,
        stats.binomtest(25, 30, 0.5, "greater").pvalue,
    )
    assert p == pytest.approx(expected)


def _planted(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    labels = np.repeat([0, 1, 2], 60)
    values = np.r_[
        np.r_[rng.beta(1.2, 8, 30), rng.beta(8, 1.2, 30)],  # theme 0: polarised
        rng.beta(4, 4, 60),  # theme 1: unimodal in the middle
        rng.beta(6, 2, 60),  # theme 2: shifted right, one pole
    ]
    return values, labels


def test_planted_bimodal_dyad_is_flagged_and_only_it() -> None:
    values, labels = _planted(np.random.default_rng(0))
    signals = dyad_signals(values, labels, subject="d1", poles=("fixed", "changing"))
    polarised = {s.themes[0]: s for s in signals if s.kind == "dyad_polarised"}
    assert polarised[0].flagged
    assert not polarised[1].flagged and not polarised[2].flagged
    assert polarised[0].correction == "holm"
    assert polarised[0].p_adjusted is not None and polarised[0].p_value is not None
    assert polarised[0].p_adjusted >= polarised[0].p_value
    assert set(polarised[0].exemplars) == {"left", "right"}
    assert all(values[i] < 0.5 for i in polarised[0].exemplars["left"])
    shifts = {s.themes[0]: s for s in signals if s.kind == "dyad_shift"}
    assert shifts[2].flagged and shifts[2].evidence["direction"] == "right"
    json.dumps([s.to_json() for s in signals])


def test_too_little_data_is_not_tested() -> None:
    values, labels = _planted(np.random.default_rng(0))
    keep = np.r_[np.arange(10), np.arange(60, 180)]
    signals = dyad_signals(values[keep], labels[keep], min_count=20)
    assert all(s.themes[0] != 0 for s in signals)


def test_summaries_per_theme() -> None:
    values, labels = _planted(np.random.default_rng(0))
    out = dyad_summaries(values, labels)
    assert set(out) == {-1, 0, 1, 2}
    assert out[0].mean == pytest.approx(values[:60].mean())
