"""The trends answer's statistics over one crossed table: groups, timelines, shares."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

from pipelines.trends import (
    Axis,
    CountTable,
    TrendInputError,
    TrendSettingError,
    TrendStatus,
    crossed_table,
    detect_trends,
    distinctive_themes,
    share_table,
    summarise,
)
from pipelines.trends import summary as summary_module

MONTHS = {
    "2026-01": "January 2026",
    "2026-02": "February 2026",
    "2026-03": "March 2026",
    "2026-04": "April 2026",
}
TRUSTS = {"North": "North", "South": "South"}
# beds per trust and month out of 40 narratives each: rises in the North only
BEDS = {"North": [2, 2, 10, 20], "South": [3, 2, 3, 2]}


def trust_by_month() -> tuple[CountTable, list[Axis]]:
    axes = [Axis(TRUSTS), Axis(MONTHS, timeline="month")]
    rows = [
        ("beds", (trust, month), n)
        for trust, counts in BEDS.items()
        for month, n in zip(MONTHS, counts, strict=True)
    ]
    rows += [("staff", (trust, month), 10) for trust in TRUSTS for month in MONTHS]
    totals = {(trust, month): 40 for trust in TRUSTS for month in MONTHS}
    return crossed_table(rows, totals, ["beds", "staff"], axes), axes


class TestCrossedTable:
    def test_every_combination_in_order_with_empty_cells(self) -> None:
        axes = [Axis({"a": "A", "b": "B"}), Axis({"x": "X", "y": "Y"})]
        table = crossed_table(
            [("t", ("b", "y"), 3), ("gone", ("a", "x"), 1)],
            {("b", "y"): 4, ("a", "x"): 2},
            ["t", "u"],
            axes,
        )
        assert table.cells == (("a", "x"), ("a", "y"), ("b", "x"), ("b", "y"))
        assert table.themes == ("t", "u")
        assert table.counts.tolist() == [[0, 0, 0, 3], [0, 0, 0, 0]]
        assert table.totals.tolist() == [2, 0, 0, 4]

    def test_an_axis_without_values_leaves_no_cells(self) -> None:
        table = crossed_table([], {}, ["t"], [Axis({}), Axis(MONTHS, timeline="month")])
        assert table.n_cells == 0


class TestGroups:
    def test_attribute_cells_are_the_groups(self) -> None:
        axes = [Axis({"manager": "Manager", "nurse": "Nurse"})]
        table = CountTable.from_arrays(
            [[5, 30], [25, 6]],
            [60, 60],
            themes=["staff", "records"],
            cells=[("manager",), ("nurse",)],
        )
        summary = summarise(table, axes)
        assert summary.timelines == ()
        assert summary.cell_labels == ("Manager", "Nurse")
        assert summary.groups is not None
        assert summary.groups.keys == (("manager",), ("nurse",))
        assert summary.groups.labels == ("Manager", "Nurse")
        direct = distinctive_themes(table)
        np.testing.assert_array_equal(summary.groups.result.z, direct.z)
        assert summary.groups.result.for_group(("nurse",))[0].status == "over"

    def test_groups_pool_over_periods(self) -> None:
        table, axes = trust_by_month()
        summary = summarise(table, axes)
        assert summary.groups is not None
        assert summary.groups.keys == (("North",), ("South",))
        pooled = summary.groups.result.table
        assert pooled.counts.tolist() == [[34, 10], [40, 40]]
        assert pooled.totals.tolist() == [160, 160]

    def test_only_a_period_makes_no_groups(self) -> None:
        axes = [Axis(MONTHS, timeline="month")]
        table = crossed_table([], {(m,): 10 for m in MONTHS}, ["t"], axes)
        assert summarise(table, axes).groups is None

    def test_sessions_are_groups_too(self) -> None:
        axes = [Axis({"7": "Circle 1", "3": "Circle 2"}, timeline="session")]
        table = crossed_table([("t", ("3",), 4)], {("7",): 20, ("3",): 20}, ["t"], axes)
        summary = summarise(table, axes)
        assert summary.groups is not None and summary.groups.labels == ("Circle 1", "Circle 2")
        (timeline,) = summary.timelines
        assert timeline.report.kind == "session" and timeline.report.latest == "3"
        assert timeline.report.labels == ("Circle 1", "Circle 2")


class TestTimelines:
    def test_one_history_per_value_of_the_other_axis(self) -> None:
        table, axes = trust_by_month()
        summary = summarise(table, axes, window=4, baseline=2)
        north, south = summary.timelines
        assert (north.group, north.label, south.group, south.label) == (
            ("North",),
            "North",
            ("South",),
            "South",
        )
        assert north.table.cells == tuple(MONTHS)
        assert north.table.counts.tolist() == [BEDS["North"], [10] * 4]
        assert north.report.labels == tuple(MONTHS.values())
        assert north.report.get("beds").status == TrendStatus.RISING
        assert south.report.get("beds").status != TrendStatus.RISING
        # each history is tested as detect_trends tests it alone
        alone = detect_trends(north.table, kind="month", window=4, baseline=2)
        assert north.report.get("beds").q_value == alone.get("beds").q_value

    def test_the_period_may_come_first(self) -> None:
        axes = [Axis(MONTHS, timeline="quarter"), Axis(TRUSTS)]
        table = crossed_table([], {(m, t): 5 for m in MONTHS for t in TRUSTS}, ["t"], axes)
        summary = summarise(table, axes)
        assert [t.group for t in summary.timelines] == [("North",), ("South",)]
        assert summary.timelines[0].table.cells == tuple(MONTHS)
        assert summary.groups is not None and summary.groups.keys == (("North",), ("South",))
        assert summary.cell_labels[1] == "January 2026 · South"

    def test_a_period_alone_is_one_history_for_all(self) -> None:
        axes = [Axis(MONTHS, timeline="month")]
        totals = {("2026-01",): 10, ("2026-02",): 0, ("2026-03",): 8, ("2026-04",): 4}
        table = crossed_table([("t", ("2026-03",), 2)], totals, ["t"], axes)
        (timeline,) = summarise(table, axes).timelines
        assert timeline.group is None and timeline.label == "all narratives"
        assert timeline.table.cells == tuple(MONTHS)
        shares = timeline.shares[0]
        assert shares[0] == 0 and np.isnan(shares[1]) and shares[2] == 0.25

    def test_an_empty_history_is_still_reported(self) -> None:
        axes = [Axis({}, timeline="month")]
        (timeline,) = summarise(crossed_table([], {}, ["t"], axes), axes).timelines
        assert timeline.table.n_cells == 0 and timeline.report.latest is None

    def test_an_empty_other_axis_leaves_no_history(self) -> None:
        axes = [Axis({}), Axis(MONTHS, timeline="month")]
        summary = summarise(crossed_table([], {}, ["t"], axes), axes)
        assert summary.timelines == () and summary.groups is not None
        assert summary.groups.keys == ()


class TestShares:
    def test_shares_are_the_share_table(self) -> None:
        table, axes = trust_by_month()
        summary = summarise(table, axes)
        np.testing.assert_array_equal(summary.shares.shares, share_table(table).shares)
        assert summary.cells == table.cells
        assert summary.cell_labels[0] == "North · January 2026"


class TestRefusals:
    def test_baseline_not_shorter_than_window(self) -> None:
        table, axes = trust_by_month()
        with pytest.raises(TrendSettingError, match="baseline"):
            summarise(table, axes, window=3, baseline=3)

    def test_window_and_baseline_unused_without_a_timeline(self) -> None:
        axes = [Axis(TRUSTS)]
        table = crossed_table([], {("North",): 3}, ["t"], axes)
        assert summarise(table, axes, window=3, baseline=3).timelines == ()

    def test_two_timelines(self) -> None:
        axes = [Axis({"1": "One"}, timeline="session"), Axis(MONTHS, timeline="month")]
        with pytest.raises(TrendSettingError, match="at most one"):
            summarise(crossed_table([], {}, ["t"], axes), axes)

    @pytest.mark.parametrize("cells", [["North"], [("North", "2026-01")], [("West",)]])
    def test_cells_must_hold_one_known_value_per_axis(self, cells: list[object]) -> None:
        table = CountTable.from_arrays([[1]], [2], themes=["t"], cells=cells)  # type: ignore[arg-type]
        with pytest.raises(TrendInputError):
            summarise(table, [Axis(TRUSTS)])


def test_docstring_example() -> None:
    result = doctest.testmod(summary_module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
