"""Building blocks against published values and independent computations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import pipelines.trends.stats as stats_module
from pipelines.trends import (
    benjamini_hochberg,
    cochran_armitage,
    fisher_exact_two_sided,
    wilson_interval,
)


class TestWilson:
    def test_known_values(self) -> None:
        low, high = wilson_interval([0, 5, 10, 1], [10, 10, 10, 50])
        np.testing.assert_allclose(low, [0.0, 0.236593, 0.722467, 0.003539], atol=1e-5)
        np.testing.assert_allclose(high, [0.277533, 0.763407, 1.0, 0.104954], atol=1e-5)

    def test_empty_cell_is_nan(self) -> None:
        low, high = wilson_interval([0, 3], [0, 3])
        assert np.isnan(low[0]) and np.isnan(high[0])
        assert high[1] == 1.0

    def test_coverage_is_close_to_nominal(self) -> None:
        # Exact coverage over a grid of true shares, for small and moderate totals.
        for n in (10, 30, 100):
            k = np.arange(n + 1)
            low, high = wilson_interval(k, n)
            coverages = []
            for p in np.linspace(0.02, 0.98, 49):
                pmf = stats.binom.pmf(k, n, p)
                coverages.append(pmf[(low <= p) & (p <= high)].sum())
            assert 0.935 <= np.mean(coverages) <= 0.965

    def test_confidence_is_checked(self) -> None:
        with pytest.raises(ValueError):
            wilson_interval(1, 2, confidence=1.0)


class TestBenjaminiHochberg:
    def test_matches_scipy(self) -> None:
        p = np.random.default_rng(0).uniform(size=200) ** 2
        np.testing.assert_allclose(benjamini_hochberg(p), stats.false_discovery_control(p))

    def test_nan_is_not_a_test_and_shape_is_kept(self) -> None:
        p = np.array([[0.01, np.nan], [0.02, 0.5]])
        q = benjamini_hochberg(p)
        assert q.shape == (2, 2)
        assert np.isnan(q[0, 1])
        np.testing.assert_allclose(
            q[~np.isnan(p)], stats.false_discovery_control([0.01, 0.02, 0.5])
        )

    def test_no_tests(self) -> None:
        assert benjamini_hochberg([]).shape == (0,)
        assert np.isnan(benjamini_hochberg([np.nan])).all()


class TestCochranArmitage:
    def test_agresti_alcohol_and_malformation(self) -> None:
        # Agresti, Categorical Data Analysis (2002), Table 3.7: M^2 = 6.57, P = 0.010.
        present = [48, 38, 5, 1, 1]
        totals = [17114, 14502, 793, 127, 38]
        result = cochran_armitage(present, totals, [0.0, 0.5, 1.5, 4.0, 7.0])
        assert result.z[0] ** 2 == pytest.approx(6.57, abs=0.005)
        assert result.p_value[0] == pytest.approx(0.0104, abs=0.0001)
        assert result.z[0] > 0

    def test_equals_linear_by_linear_statistic(self) -> None:
        rng = np.random.default_rng(1)
        totals = rng.integers(20, 80, size=7)
        counts = rng.binomial(totals, 0.3)
        result = cochran_armitage(counts, totals)
        # (N - 1) r^2 on the narrative-level data: score of the cell against 0/1 membership.
        scores = np.repeat(np.arange(7.0), totals)
        member = np.concatenate(
            [np.r_[np.ones(c), np.zeros(n - c)] for c, n in zip(counts, totals, strict=True)]
        )
        r = np.corrcoef(scores, member)[0, 1]
        assert result.z[0] ** 2 == pytest.approx((totals.sum() - 1) * r * r)
        slope = np.polyfit(scores, member, 1)[0]
        assert result.slope[0] == pytest.approx(slope)

    def test_vectorised_over_themes_and_undefined_cases(self) -> None:
        result = cochran_armitage([[1, 2, 3], [0, 0, 0], [4, 4, 4]], [4, 4, 4])
        assert result.z.shape == (3,)
        assert np.isnan(result.z[1]) and np.isnan(result.p_value[1])  # theme absent
        assert np.isnan(result.z[2])  # theme in every narrative
        single = cochran_armitage([[3, 0]], [5, 0])  # all narratives in one cell
        assert np.isnan(single.z[0])
        assert np.isnan(cochran_armitage([[0]], [0]).z[0])


def test_fisher_matches_scipy_on_large_samples_in_any_block_size(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a latest month of 3,000 narratives against a baseline of 9,000, some themes empty
    rng = np.random.default_rng(5)
    a, c = rng.integers(0, 400, size=40), rng.integers(0, 1200, size=40)
    a[:3] = 0
    theirs = [
        stats.fisher_exact([[a[i], 3000 - a[i]], [c[i], 9000 - c[i]]]).pvalue for i in range(40)
    ]
    whole = fisher_exact_two_sided(a, 3000, c, 9000)
    np.testing.assert_allclose(whole, theirs, rtol=1e-8, atol=1e-12)
    # themes taken a few at a time give the same p-values
    monkeypatch.setattr(stats_module, "_FISHER_BLOCK", 1000)
    np.testing.assert_allclose(fisher_exact_two_sided(a, 3000, c, 9000), whole, rtol=1e-12)


def test_fisher_matches_scipy() -> None:
    rng = np.random.default_rng(2)
    n_a, n_b = rng.integers(1, 60, size=(2, 300))
    a, c = rng.integers(0, n_a + 1), rng.integers(0, n_b + 1)
    a[:50] = 0
    ours = fisher_exact_two_sided(a, n_a, c, n_b)
    theirs = [
        stats.fisher_exact([[a[i], n_a[i] - a[i]], [c[i], n_b[i] - c[i]]]).pvalue
        for i in range(300)
    ]
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)
    assert fisher_exact_two_sided(0, 10, 0, 10) == 1.0
    assert fisher_exact_two_sided(3, 0, 1, 5) == 1.0  # an empty sample compares nothing
