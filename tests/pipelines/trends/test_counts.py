"""CountTable: the validated input of every statistic."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.trends import CountTable, TrendInputError, tabulate


class TestCountTable:
    def test_from_rows_fills_missing_pairs_with_zero(self) -> None:
        table = CountTable.from_rows(
            [("a", "x", 3), ("b", "y", 2), ("a", "y", 1)], [("x", 5), ("y", 4)]
        )
        assert table.themes == ("a", "b")
        assert table.cells == ("x", "y")
        assert table.counts.tolist() == [[3, 1], [0, 2]]
        assert table.totals.tolist() == [5, 4]
        assert table.theme_totals.tolist() == [4, 2]
        assert table.grand_total == 9

    def test_from_rows_with_explicit_orders_selects(self) -> None:
        table = CountTable.from_rows(
            [("a", "x", 3), ("b", "y", 2), ("c", "y", 1)],
            {"x": 5, "y": 4},
            themes=["b", "a", "z"],
            cells=["y", "x", "w"],
        )
        assert table.counts.tolist() == [[2, 0, 0], [0, 3, 0], [0, 0, 0]]
        assert table.totals.tolist() == [4, 5, 0]

    def test_from_rows_rejects_counts_without_a_total(self) -> None:
        with pytest.raises(TrendInputError, match="no total"):
            CountTable.from_rows([("a", "x", 3)], {"y": 4})

    def test_crossed_cells_are_tuples(self) -> None:
        table = CountTable.from_rows(
            [("a", ("Trust A", "2026-03"), 2)],
            {("Trust A", "2026-03"): 4, ("Trust B", "2026-03"): 6},
        )
        assert table.cells == (("Trust A", "2026-03"), ("Trust B", "2026-03"))
        assert table.counts.tolist() == [[2, 0]]

    @pytest.mark.parametrize(
        ("counts", "totals", "message"),
        [
            ([[1, 2]], [1, 1], "holds only 1"),
            ([[-1, 0]], [1, 1], "negative"),
            ([[0.5, 0]], [1, 1], "whole numbers"),
            ([[np.nan, 0]], [1, 1], "finite"),
            ([1, 2], [3, 3], "2-D"),
            ([[1, 2]], [3], "totals for 2 cells"),
        ],
    )
    def test_rejects_bad_input(
        self, counts: list[list[float]] | list[int], totals: list[int], message: str
    ) -> None:
        with pytest.raises(TrendInputError, match=message):
            CountTable.from_arrays(counts, totals)

    def test_rejects_duplicate_keys(self) -> None:
        with pytest.raises(TrendInputError, match="unique"):
            CountTable.from_arrays([[1], [1]], [3], themes=["a", "a"])

    def test_shape_must_match_keys(self) -> None:
        with pytest.raises(TrendInputError, match="shape"):
            CountTable.from_arrays([[1, 1]], [3, 3], cells=["x"])

    def test_float_whole_numbers_are_accepted_and_arrays_are_read_only(self) -> None:
        table = CountTable.from_arrays([[1.0, 2.0]], [3.0, 4.0])
        assert table.counts.dtype == np.int64
        with pytest.raises(ValueError):
            table.counts[0, 0] = 5

    def test_empty_table(self) -> None:
        table = CountTable.from_rows([], {})
        assert table.counts.shape == (0, 0)
        assert table.grand_total == 0

    def test_reindex_fills_gaps_and_selects(self) -> None:
        table = CountTable.from_arrays([[1, 2], [3, 4]], [5, 9], cells=["2026-01", "2026-03"])
        filled = table.reindex(["2026-01", "2026-02", "2026-03"])
        assert filled.counts.tolist() == [[1, 0, 2], [3, 0, 4]]
        assert filled.totals.tolist() == [5, 0, 9]
        assert table.reindex(["2026-03"]).counts.tolist() == [[2], [4]]


def test_tabulate_counts_unassigned_in_totals_only() -> None:
    table = tabulate(["a", "b", None, "a", "a"], ["x", "x", "x", "y", "z"], cell_order=["x", "y"])
    assert table.themes == ("a", "b")
    assert table.cells == ("x", "y")
    assert table.counts.tolist() == [[1, 1], [1, 0]]
    assert table.totals.tolist() == [3, 1]
    with pytest.raises(TrendInputError):
        tabulate(["a"], ["x", "y"])


def test_split_crossed_cells() -> None:
    table = CountTable.from_rows(
        [("a", ("A", "2026-01"), 1), ("a", ("B", "2026-01"), 2), ("a", ("A", "2026-02"), 3)],
        [(("A", "2026-01"), 5), (("B", "2026-01"), 6), (("A", "2026-02"), 7)],
    )
    by_trust = table.split(0)
    assert list(by_trust) == ["A", "B"]
    assert by_trust["A"].cells == ("2026-01", "2026-02")
    assert by_trust["A"].counts.tolist() == [[1, 3]]
    assert by_trust["A"].totals.tolist() == [5, 7]
    by_month = table.split(-1)
    assert by_month["2026-01"].cells == ("A", "B")
    assert by_month["2026-01"].counts.tolist() == [[1, 2]]
    with pytest.raises(TrendInputError, match="no element"):
        CountTable.from_arrays([[1]], [2], cells=["x"]).split(0)
