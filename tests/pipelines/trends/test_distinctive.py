"""Distinctive themes per group: weighted log-odds with an informative Dirichlet prior."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from pipelines.trends import (
    CountTable,
    MinimumData,
    Representation,
    benjamini_hochberg,
    distinctive_themes,
)


def planted_table(seed: int, lift: float = 0.15, size: int = 300) -> CountTable:
    """Four groups; theme "t3" holds 10% of every group but ``10% + lift`` of group B."""
    rng = np.random.default_rng(seed)
    base = np.array([0.3, 0.25, 0.2, 0.1, 0.1, 0.05])
    columns = []
    for group in "ABCD":
        p = base.copy()
        if group == "B":
            p[3] += lift
            p[[0, 1, 2]] -= lift * p[[0, 1, 2]] / p[[0, 1, 2]].sum()
        columns.append(rng.multinomial(size, p))
    return CountTable.from_arrays(
        np.array(columns).T,
        [size] * 4,
        themes=[f"t{i}" for i in range(6)],
        cells=list("ABCD"),
    )


class TestPlanted:
    def test_planted_theme_is_found_over_represented(self) -> None:
        result = distinctive_themes(planted_table(seed=3))
        top = result.significant()[0]
        assert (top.theme, top.group, top.status) == ("t3", "B", Representation.OVER)
        assert top.q_value is not None and top.q_value < 0.05
        assert result.for_group("B")[0].theme == "t3"
        for group in "ACD":
            row = next(r for r in result.for_group(group) if r.theme == "t3")
            assert row.status != Representation.OVER

    def test_planted_theme_is_found_in_most_samples(self) -> None:
        found = sum(
            any(
                (r.theme, r.group, r.status) == ("t3", "B", Representation.OVER)
                for r in distinctive_themes(planted_table(seed))
            )
            for seed in range(40)
        )
        assert found >= 36

    def test_under_representation(self) -> None:
        table = CountTable.from_arrays(
            [[5, 40, 40], [95, 60, 60]], [100, 100, 100], themes=["a", "b"], cells=list("xyz")
        )
        row = next(r for r in distinctive_themes(table) if (r.theme, r.group) == ("a", "x"))
        assert row.status == Representation.UNDER and row.z is not None and row.z < -4


class TestStatistic:
    def test_matches_the_formula(self) -> None:
        table = CountTable.from_arrays([[12, 30], [20, 50]], [40, 100], cells=["g", "h"])
        a0 = 10.0
        result = distinctive_themes(table, prior_strength=a0)
        y, n, y2, n2 = 12, 40, 30, 100
        a_w = a0 * 42 / 140
        delta = np.log((y + a_w) / (n - y + a0 - a_w)) - np.log((y2 + a_w) / (n2 - y2 + a0 - a_w))
        var = 1 / (y + a_w) + 1 / (n - y + a0 - a_w) + 1 / (y2 + a_w) + 1 / (n2 - y2 + a0 - a_w)
        assert result.log_odds[0, 0] == pytest.approx(delta)
        assert result.se[0, 0] == pytest.approx(np.sqrt(var))
        assert result.z[0, 0] == pytest.approx(delta / np.sqrt(var))

    def test_two_groups_are_mirror_images(self) -> None:
        table = CountTable.from_arrays([[30, 10], [70, 90]], [100, 100])
        z = distinctive_themes(table).z
        np.testing.assert_allclose(z[:, 0], -z[:, 1])

    def test_prior_shrinks_small_groups_more(self) -> None:
        # Group "small" has 50% in the theme, "big" 30%, against a background near 20%.
        table = CountTable.from_arrays(
            [[6, 300, 200]], [12, 1000, 1000], cells=["small", "big", "rest"]
        )
        weak = distinctive_themes(table, prior_strength=1.0)
        strong = distinctive_themes(table, prior_strength=200.0)
        shrink = strong.log_odds / weak.log_odds
        assert 0 < shrink[0, 0] < shrink[0, 1] <= 1.0

    def test_bh_runs_over_every_theme_and_group(self) -> None:
        result = distinctive_themes(planted_table(seed=1))
        assert result.n_tests == 24
        np.testing.assert_allclose(result.q_value, benjamini_hochberg(result.p_value))

    def test_no_difference_gives_z_zero(self) -> None:
        table = CountTable.from_arrays([[20, 20, 20], [30, 30, 30]], [50, 50, 50])
        result = distinctive_themes(table)
        np.testing.assert_allclose(result.z, 0.0, atol=1e-12)
        assert {r.status for r in result} == {Representation.NEUTRAL}

    def test_rows_serialise(self) -> None:
        json.dumps([dataclasses.asdict(r) for r in distinctive_themes(planted_table(0))])

    def test_arguments_are_checked(self) -> None:
        table = planted_table(0)
        with pytest.raises(ValueError):
            distinctive_themes(table, prior_strength=0)
        with pytest.raises(ValueError):
            distinctive_themes(table, alpha=1.5)
        with pytest.raises(KeyError):
            distinctive_themes(table).for_group("Z")


class TestNotEnoughData:
    def test_one_group(self) -> None:
        result = distinctive_themes(CountTable.from_arrays([[10], [20]], [40]))
        assert result.n_tests == 0
        assert {r.status for r in result} == {Representation.INSUFFICIENT}
        assert all(r.reason == "needs at least two groups to compare" for r in result)
        assert all(r.z is None and r.q_value is None for r in result)

    def test_small_and_empty_groups(self) -> None:
        table = CountTable.from_arrays(
            [[20, 2, 0, 30], [40, 3, 0, 50]], [80, 6, 0, 100], cells=["a", "tiny", "empty", "b"]
        )
        result = distinctive_themes(table)
        by_group = {r.group: r for r in result if r.theme == "0"}
        assert by_group["tiny"].status == Representation.INSUFFICIENT
        assert by_group["tiny"].reason == "the group has 6 narratives (needs 10)"
        assert by_group["empty"].share is None
        assert by_group["a"].status != Representation.INSUFFICIENT
        assert result.n_tests == 4

    def test_rare_theme_and_zero_counts(self) -> None:
        table = CountTable.from_arrays(
            [[2, 1, 0], [0, 0, 0], [30, 0, 25]], [50, 50, 50], themes=["rare", "none", "common"]
        )
        result = distinctive_themes(table)
        rows = {(r.theme, r.group): r for r in result}
        assert rows["rare", "0"].reason == "the theme has 3 narratives (needs 5)"
        assert rows["none", "0"].status == Representation.INSUFFICIENT
        # A zero count in a common theme stays finite and reads as under-represented.
        assert rows["common", "1"].status == Representation.UNDER
        assert np.isfinite(result.z[2]).all()

    def test_all_narratives_in_one_theme(self) -> None:
        result = distinctive_themes(CountTable.from_arrays([[30, 40]], [30, 40]))
        assert [r.reason for r in result] == ["every narrative is in this theme"] * 2

    def test_rules_are_adjustable(self) -> None:
        table = CountTable.from_arrays([[2, 1, 0]], [6, 6, 6])
        assert distinctive_themes(table).n_tests == 0
        loose = MinimumData(min_group_total=5, min_theme_count=3)
        assert distinctive_themes(table, rules=loose).n_tests == 3

    def test_empty_table(self) -> None:
        result = distinctive_themes(CountTable.from_rows([], {}))
        assert list(result) == [] and result.n_tests == 0
