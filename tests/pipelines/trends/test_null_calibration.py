"""False-positive rates under the null: shuffled dates and shuffled groups, 200 times each.

Under a shuffle no theme changes over time or differs between groups, so every flag is a
false positive. The rates are printed (``pytest -s``) and asserted against the nominal 5%
with a tolerance of three binomial standard errors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pytest

from pipelines.trends import CountTable, TrendStatus, detect_trends, distinctive_themes

SHUFFLES = 200
ALPHA = 0.05
#: Theme shares of the simulated project: a few large themes and a long tail of rare ones.
THEME_SHARES = np.array([0.2, 0.15, 0.12, 0.1, 0.1, 0.08, 0.07, 0.06, 0.05, 0.03, 0.02, 0.01])


def tolerance(n_tests: int) -> float:
    """Three binomial standard errors of a 5% rate over ``n_tests`` tests."""
    return 3.0 * float(np.sqrt(ALPHA * (1 - ALPHA) / n_tests))


@dataclass
class Rates:
    tests: int = 0
    flagged: int = 0
    runs_with_a_flag: int = 0
    raw: int = 0
    raw_a: int = 0
    raw_b: int = 0
    new: int = 0

    def show(self, name: str, parts: bool = False) -> None:
        line = (
            f"\n{name}: {self.tests} tests over {SHUFFLES} shuffles; "
            f"flagged at 5% FDR {self.flagged / self.tests:.4f}, "
            f"runs with any flag {self.runs_with_a_flag / SHUFFLES:.3f}, "
            f"unadjusted p<=0.05 {self.raw / self.tests:.4f}"
        )
        if parts:
            line += (
                f" (trend test {self.raw_a / self.tests:.4f}, "
                f"jump test {self.raw_b / self.tests:.4f}), new themes {self.new}"
            )
        print(line)


def simulate(sizes: list[int], seed: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """One theme per narrative, drawn once; cells are reshuffled per run."""
    rng = np.random.default_rng(seed)
    themes = rng.choice(THEME_SHARES.size, size=sum(sizes), p=THEME_SHARES / THEME_SHARES.sum())
    cells = np.repeat(np.arange(len(sizes)), sizes)
    return themes, cells


def shuffled_tables(sizes: list[int], seed: int) -> list[CountTable]:
    themes, cells = simulate(sizes, seed)
    rng = np.random.default_rng(seed + 1)
    n_themes, n_cells = THEME_SHARES.size, len(sizes)
    tables = []
    for _ in range(SHUFFLES):
        shuffled = rng.permutation(cells)
        counts = np.bincount(themes * n_cells + shuffled, minlength=n_themes * n_cells)
        tables.append(CountTable.from_arrays(counts.reshape(n_themes, n_cells), sizes))
    return tables


def trend_rates(sizes: list[int], seed: int) -> Rates:
    rates = Rates()
    for table in shuffled_tables(sizes, seed):
        flags = 0
        for trend in detect_trends(table):
            rates.new += trend.status == TrendStatus.NEW
            if trend.p_value is None or trend.trend_p is None or trend.jump_p is None:
                continue
            rates.tests += 1
            rates.raw += trend.p_value <= ALPHA
            rates.raw_a += trend.trend_p <= ALPHA
            rates.raw_b += trend.jump_p <= ALPHA
            flags += trend.status in (TrendStatus.RISING, TrendStatus.FALLING)
        rates.flagged += flags
        rates.runs_with_a_flag += flags > 0
    return rates


class TestShuffledDates:
    @pytest.mark.parametrize(
        ("name", "sizes"),
        [
            ("ten sessions of 60-250", [120, 80, 200, 150, 60, 90, 250, 110, 70, 140]),
            ("twelve small months of 15-40", [25, 15, 40, 30, 20, 35, 18, 22, 40, 28, 16, 30]),
        ],
    )
    def test_false_positive_rate_is_at_most_nominal(self, name: str, sizes: list[int]) -> None:
        rates = trend_rates(sizes, seed=len(sizes))
        rates.show(f"trends, {name}", parts=True)
        tol = tolerance(rates.tests)
        assert rates.tests > 500
        # Themes flagged rising or falling at a 5% FDR: the benchmark's null control.
        assert rates.flagged / rates.tests <= ALPHA
        assert rates.runs_with_a_flag / SHUFFLES <= ALPHA + 3 * np.sqrt(ALPHA * 0.95 / SHUFFLES)
        # The tests themselves are calibrated (not merely rescued by the correction) ...
        assert rates.raw / rates.tests <= ALPHA + tol
        assert rates.raw_a / rates.tests <= ALPHA + tol
        assert rates.raw_b / rates.tests <= ALPHA + tol
        # ... and not so conservative that they cannot see anything.
        assert rates.raw_a / rates.tests >= ALPHA - tol - 0.01
        assert rates.new == 0


class TestShuffledGroups:
    @pytest.mark.parametrize(
        ("name", "sizes"),
        [
            ("five groups of 30-400", [30, 60, 120, 250, 400]),
            ("eight groups of 10-40", [10, 12, 15, 20, 25, 30, 35, 40]),
        ],
    )
    def test_false_positive_rate_is_at_most_nominal(self, name: str, sizes: list[int]) -> None:
        rates = Rates()
        for table in shuffled_tables(sizes, seed=len(sizes)):
            result = distinctive_themes(table)
            tested = ~np.isnan(result.p_value)
            rates.tests += int(tested.sum())
            rates.raw += int((result.p_value[tested] <= ALPHA).sum())
            flags = int((result.q_value[tested] <= ALPHA).sum())
            rates.flagged += flags
            rates.runs_with_a_flag += flags > 0
        rates.show(f"distinctive themes, {name}")
        assert rates.tests > 1000
        assert rates.flagged / rates.tests <= ALPHA
        assert rates.runs_with_a_flag / SHUFFLES <= ALPHA + 3 * np.sqrt(ALPHA * 0.95 / SHUFFLES)
        assert rates.raw / rates.tests <= ALPHA + tolerance(rates.tests)
