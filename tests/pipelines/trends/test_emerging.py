"""Emerging, fading and new themes over sessions and periods."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from pipelines.trends import CountTable, MinimumData, TrendStatus, detect_trends, period_range


def table_from_shares(
    shares: dict[str, list[float]], totals: list[int], **keys: list[str]
) -> CountTable:
    """Exact counts from planted shares (rounded), the rest of each cell in theme "other"."""
    counts = np.array([np.round(np.array(s) * totals) for s in shares.values()], dtype=np.int64)
    other = np.array(totals) - counts.sum(axis=0)
    return CountTable.from_arrays(
        np.vstack([counts, other]), totals, themes=[*shares, "other"], cells=keys.get("cells")
    )


class TestPlantedChanges:
    def test_rising_in_the_last_three_sessions(self) -> None:
        table = table_from_shares(
            {"a": [0.08] * 7 + [0.14, 0.18, 0.22], "b": [0.3] * 10}, [200] * 10
        )
        report = detect_trends(table)
        a = report.get("a")
        assert a.status == TrendStatus.RISING
        assert a.reading == "rising in the last 3 sessions (from 8.0% to 18%)"
        assert a.run_length == 3 and a.since == "7"
        assert a.trend_z is not None and a.trend_z > 0 and a.slope is not None and a.slope > 0
        assert a.q_value is not None and a.q_value < 0.05
        assert report.get("b").status == TrendStatus.STABLE
        assert report.get("b").reading == "no clear change over the last 8 sessions"
        assert [t.theme for t in report.flagged()] == ["a", "other"]

    def test_jump_in_the_latest_session(self) -> None:
        table = table_from_shares({"a": [0.1] * 6 + [0.3]}, [150] * 7)
        a = detect_trends(table).get("a")
        assert a.status == TrendStatus.RISING
        assert a.reading == "up in the latest session (from 10% to 30%)"
        assert a.jump_p is not None and a.trend_p is not None and a.jump_p < a.trend_p
        assert a.latest_count == 45 and a.baseline_count == 45 and a.baseline_total == 450

    def test_fading_since_a_month(self) -> None:
        months = period_range("2025-10", "2026-06")
        table = table_from_shares(
            {"a": [0.3, 0.3, 0.31, 0.29, 0.3, 0.2, 0.16, 0.12, 0.1]}, [120] * 9, cells=months
        )
        a = detect_trends(table, kind="month").get("a")
        assert a.status == TrendStatus.FALLING
        assert a.reading == "fading since March 2026 (from 30% to 14%)"
        assert a.since == "2026-03" and a.run_length == 4

    def test_planted_rise_is_flagged_in_most_samples(self) -> None:
        rng = np.random.default_rng(7)
        flagged = 0
        for _ in range(40):
            shares = np.array([0.08] * 6 + [0.12, 0.15, 0.18])
            counts = rng.binomial(150, shares)
            table = CountTable.from_arrays(
                np.vstack([counts, 150 - counts]), [150] * 9, themes=["a", "rest"]
            )
            flagged += detect_trends(table).get("a").status == TrendStatus.RISING
        assert flagged >= 36

    def test_custom_labels_in_readings(self) -> None:
        table = table_from_shares({"a": [0.1] * 5 + [0.3, 0.35, 0.4]}, [100] * 8)
        labels = [f"CoP {i}" for i in range(1, 9)]
        report = detect_trends(table, kind="week", labels=labels)
        assert report.get("a").reading == "rising since CoP 6 (from 10% to 35%)"
        assert report.labels == tuple(labels)


class TestNewThemes:
    def test_first_seen_in_the_latest_session(self) -> None:
        table = CountTable.from_arrays(
            [[10, 12, 11, 9], [0, 0, 0, 4]], [50, 50, 50, 50], themes=["old", "fresh"]
        )
        report = detect_trends(table)
        fresh = report.get("fresh")
        assert fresh.status == TrendStatus.NEW
        assert fresh.reading == "new in the latest session (4 narratives)"
        assert fresh.first_seen == "3" and fresh.q_value is None
        assert report.n_tests == 1
        assert report.by_status("new") == [fresh]

    def test_new_in_a_month_even_with_a_short_history(self) -> None:
        table = CountTable.from_arrays(
            [[10, 12], [0, 1]], [50, 50], themes=["old", "fresh"], cells=["2026-05", "2026-06"]
        )
        report = detect_trends(table, kind="month")
        assert report.get("fresh").reading == "new in June 2026 (1 narrative)"
        assert report.get("old").status == TrendStatus.INSUFFICIENT

    def test_not_new_without_a_history(self) -> None:
        one = CountTable.from_arrays([[4]], [40])
        assert detect_trends(one).get("0").status == TrendStatus.INSUFFICIENT
        thin = CountTable.from_arrays([[0, 0, 0, 5]], [2, 3, 2, 40])
        assert detect_trends(thin).get("0").status == TrendStatus.INSUFFICIENT

    def test_seen_before_the_window_is_not_new(self) -> None:
        table = CountTable.from_arrays([[3] + [0] * 9 + [6]], [40] * 11)
        trend = detect_trends(table).get("0")
        assert trend.status != TrendStatus.NEW and trend.first_seen == "0"


class TestNotEnoughData:
    def test_one_period(self) -> None:
        report = detect_trends(CountTable.from_arrays([[30], [20]], [50]), kind="month")
        assert report.reason == "only 1 month with narratives (needs 3)"
        assert {t.status for t in report} == {TrendStatus.INSUFFICIENT}
        assert report.get("0").reading == "not enough data: only 1 month with narratives (needs 3)"
        assert report.baseline == () and report.n_tests == 0

    def test_two_sessions(self) -> None:
        report = detect_trends(CountTable.from_arrays([[30, 10]], [50, 50]))
        assert report.reason == "only 2 sessions with narratives (needs 3)"

    def test_small_latest_and_baseline(self) -> None:
        small_latest = detect_trends(CountTable.from_arrays([[10, 10, 10, 2]], [40, 40, 40, 6]))
        assert small_latest.reason == "the latest session has 6 narratives (needs 10)"
        small_base = detect_trends(CountTable.from_arrays([[40, 1, 1, 1, 10]], [80, 3, 3, 3, 40]))
        assert small_base.reason == "the 3 sessions before the latest have 9 narratives (need 10)"

    def test_empty_latest_period(self) -> None:
        report = detect_trends(CountTable.from_arrays([[10, 10, 10, 0]], [40, 40, 40, 0]))
        assert report.reason == "no narratives in the latest session"

    def test_rare_theme(self) -> None:
        table = CountTable.from_arrays([[1, 0, 1, 2], [20, 20, 20, 20]], [50] * 4)
        rare = detect_trends(table).get("0")
        assert rare.status == TrendStatus.INSUFFICIENT
        assert rare.reason == "the theme has 4 narratives in the last 4 sessions (needs 5)"
        assert rare.latest_count == 2 and rare.latest_share == 0.04

    def test_all_narratives_in_one_theme(self) -> None:
        report = detect_trends(CountTable.from_arrays([[20, 30, 25, 40]], [20, 30, 25, 40]))
        assert report.get("0").reason == "every narrative of the last 4 sessions is in this theme"

    def test_empty_table(self) -> None:
        report = detect_trends(CountTable.from_rows([], {}))
        assert report.themes == () and report.reason == "no sessions yet" and report.latest is None

    def test_no_periods_with_themes(self) -> None:
        table = CountTable.from_rows([], {}, themes=["a"])
        report = detect_trends(table, kind="month")
        assert report.reason == "no months yet" and report.latest is None
        assert report.get("a").status == TrendStatus.INSUFFICIENT

    def test_rules_are_adjustable(self) -> None:
        table = CountTable.from_arrays([[5, 5, 9]], [20, 20, 20])
        assert detect_trends(table).reason is None
        strict = MinimumData(min_periods=4)
        assert (
            detect_trends(table, rules=strict).reason == "only 3 sessions with narratives (needs 4)"
        )


class TestWindowAndGaps:
    def test_window_and_baseline(self) -> None:
        table = table_from_shares({"a": [0.2] * 12}, [80] * 12)
        report = detect_trends(table, window=6, baseline=2)
        assert report.window == tuple(map(str, range(6, 12)))
        assert report.baseline == ("9", "10")
        assert report.latest == "11"

    def test_an_old_change_outside_the_window_is_not_flagged(self) -> None:
        table = table_from_shares({"a": [0.05] * 4 + [0.3] * 10}, [150] * 14)
        assert detect_trends(table, window=8).get("a").status == TrendStatus.STABLE
        assert detect_trends(table, window=14).get("a").status == TrendStatus.RISING

    def test_empty_periods_keep_their_place(self) -> None:
        months = period_range("2026-01", "2026-06")
        table = CountTable.from_arrays(
            [[10, 10, 0, 0, 30, 32]], [100, 100, 0, 0, 100, 100], cells=months
        )
        a = detect_trends(table, kind="month").get("0")
        assert a.status == TrendStatus.RISING
        assert a.reading == "rising since May 2026 (from 10% to 31%)"

    def test_bad_arguments(self) -> None:
        table = table_from_shares({"a": [0.2] * 5}, [50] * 5)
        with pytest.raises(ValueError, match="kind"):
            detect_trends(table, kind="year")
        with pytest.raises(ValueError, match="baseline"):
            detect_trends(table, window=3, baseline=3)
        with pytest.raises(ValueError, match="labels"):
            detect_trends(table, labels=["x"])
        with pytest.raises(KeyError):
            detect_trends(table).get("missing")


def test_report_serialises() -> None:
    table = table_from_shares({"a": [0.08] * 7 + [0.14, 0.18, 0.22]}, [200] * 10)
    json.dumps(dataclasses.asdict(detect_trends(table)))
