"""Share tables and time series."""

from __future__ import annotations

import dataclasses
import json

import numpy as np

from pipelines.trends import CountTable, period_range, share_table, time_series


def test_shares_use_cell_totals_not_column_sums() -> None:
    # 10 narratives in the cell, 4 of them without a theme.
    table = CountTable.from_arrays([[3, 0], [3, 5]], [10, 5], themes=["a", "b"], cells=["x", "y"])
    result = share_table(table)
    np.testing.assert_allclose(result.shares, [[0.3, 0.0], [0.3, 1.0]])
    assert np.all(result.low <= result.shares) and np.all(result.shares <= result.high)
    assert result.low[0, 1] == 0.0 and result.high[1, 1] == 1.0
    rows = list(result.rows())
    assert [(r.theme, r.cell, r.count, r.total) for r in rows] == [
        ("a", "x", 3, 10),
        ("a", "y", 0, 5),
        ("b", "x", 3, 10),
        ("b", "y", 5, 5),
    ]


def test_empty_cell_gives_none_not_zero() -> None:
    table = CountTable.from_arrays([[2, 0]], [4, 0], cells=["2026-01", "2026-02"])
    row = list(share_table(table).rows())[1]
    assert row.total == 0 and row.share is None and row.low is None and row.high is None
    # Rows serialise to JSON as they are.
    json.dumps([dataclasses.asdict(r) for r in share_table(table).rows()])


def test_all_narratives_in_one_theme() -> None:
    table = CountTable.from_arrays([[7, 3]], [7, 3])
    result = share_table(table)
    np.testing.assert_allclose(result.shares, [[1.0, 1.0]])
    np.testing.assert_allclose(result.high, [[1.0, 1.0]])
    assert result.low[0, 1] < result.low[0, 0] < 1.0


def test_crossed_cells() -> None:
    table = CountTable.from_rows(
        [("a", ("Trust A", "2026-03"), 2), ("a", ("Trust B", "2026-03"), 1)],
        {("Trust A", "2026-03"): 4, ("Trust B", "2026-03"): 5},
    )
    shares = {r.cell: r.share for r in share_table(table).rows()}
    assert shares == {("Trust A", "2026-03"): 0.5, ("Trust B", "2026-03"): 0.2}
    assert time_series(table).labels == ("Trust A · March 2026", "Trust B · March 2026")


def test_time_series_for_sparklines() -> None:
    table = CountTable.from_rows(
        [("a", "2026-01", 2), ("a", "2026-03", 6), ("b", "2026-03", 1)],
        {"2026-01": 10, "2026-03": 12},
    ).reindex(period_range("2026-01", "2026-03"))
    series = time_series(table)
    assert series.periods == ("2026-01", "2026-02", "2026-03")
    assert series.labels == ("January 2026", "February 2026", "March 2026")
    assert series.totals == (10, 0, 12)
    a, b = series.series
    assert a.theme == "a" and a.counts == (2, 0, 6)
    assert a.shares == (0.2, None, 0.5)
    assert b.counts == (0, 0, 1) and b.low[1] is None and b.low[0] == 0.0
    json.dumps(dataclasses.asdict(series))


def test_no_themes_and_no_cells() -> None:
    assert list(share_table(CountTable.from_rows([], {})).rows()) == []
    assert time_series(CountTable.from_rows([], {"s1": 3})).series == ()
