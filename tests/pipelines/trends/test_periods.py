"""Period keys: ISO weeks, months and quarters in UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from pipelines.trends import (
    check_period,
    next_period_key,
    parse_period_key,
    period_bounds,
    period_key,
    period_keys,
    period_label,
    period_range,
)


class TestPeriodKey:
    def test_month_and_quarter(self) -> None:
        when = datetime(2026, 3, 31, 23, 59, tzinfo=UTC)
        assert period_key(when, "month") == "2026-03"
        assert period_key(when, "quarter") == "2026-Q1"
        assert period_key(date(2026, 10, 1), "quarter") == "2026-Q4"

    def test_iso_weeks_cross_the_new_year(self) -> None:
        # 1 Jan 2027 is a Friday: still ISO week 53 of 2026.
        assert period_key(date(2027, 1, 1), "week") == "2026-W53"
        # 29 Dec 2025 is a Monday: ISO week 1 of 2026.
        assert period_key(date(2025, 12, 29), "week") == "2026-W01"
        assert period_key(date(2026, 2, 9), "week") == "2026-W07"

    def test_aware_datetimes_are_converted_to_utc(self) -> None:
        plus_two = timezone(timedelta(hours=2))
        # 00:30 on 1 April at +02:00 is 22:30 on 31 March UTC.
        when = datetime(2026, 4, 1, 0, 30, tzinfo=plus_two)
        assert period_key(when, "month") == "2026-03"
        assert period_key(when, "quarter") == "2026-Q1"
        minus_five = timezone(timedelta(hours=-5))
        assert period_key(datetime(2026, 12, 31, 20, tzinfo=minus_five), "month") == "2027-01"

    def test_naive_datetimes_are_taken_as_utc(self) -> None:
        assert period_key(datetime(2026, 6, 30, 23, 59), "month") == "2026-06"

    def test_many(self) -> None:
        days = [date(2026, 1, 5), date(2026, 1, 11), date(2026, 1, 12)]
        assert period_keys(days, "week") == ["2026-W02", "2026-W02", "2026-W03"]

    def test_unknown_period(self) -> None:
        with pytest.raises(ValueError, match="unknown period"):
            period_key(date(2026, 1, 1), "day")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="unknown period"):
            check_period("year")
        assert check_period("week") == "week"


class TestParseAndRange:
    @pytest.mark.parametrize(
        ("key", "period", "start"),
        [
            ("2026-W07", "week", date(2026, 2, 9)),
            ("2026-03", "month", date(2026, 3, 1)),
            ("2026-Q3", "quarter", date(2026, 7, 1)),
        ],
    )
    def test_parse(self, key: str, period: str, start: date) -> None:
        assert parse_period_key(key) == (period, start)

    @pytest.mark.parametrize("key", ["2026-13", "2025-W53", "2026-Q5", "March", "2026-3"])
    def test_bad_keys(self, key: str) -> None:
        with pytest.raises(ValueError):
            parse_period_key(key)

    def test_round_trip_every_day_of_two_years(self) -> None:
        day = date(2025, 1, 1)
        while day < date(2027, 1, 1):
            for period in ("week", "month", "quarter"):
                key = period_key(day, period)
                start, end = period_bounds(key)
                assert start.date() <= day < end.date()
            day += timedelta(days=1)

    def test_next_and_range(self) -> None:
        assert next_period_key("2026-12") == "2027-01"
        assert next_period_key("2026-Q4") == "2027-Q1"
        assert next_period_key("2026-W53") == "2027-W01"
        assert period_range("2026-Q3", "2027-Q2") == ["2026-Q3", "2026-Q4", "2027-Q1", "2027-Q2"]
        assert period_range("2026-03", "2026-03") == ["2026-03"]
        assert period_range("2026-04", "2026-03") == []
        assert len(period_range("2026-W01", "2026-W53")) == 53

    def test_range_of_mixed_kinds(self) -> None:
        with pytest.raises(ValueError, match="same kind"):
            period_range("2026-03", "2026-Q4")

    def test_keys_sort_in_time_order(self) -> None:
        keys = period_range("2025-W40", "2026-W20")
        assert keys == sorted(keys)

    def test_bounds_are_utc(self) -> None:
        start, end = period_bounds("2026-W53")
        assert start == datetime(2026, 12, 28, tzinfo=UTC)
        assert end == datetime(2027, 1, 4, tzinfo=UTC)


def test_labels() -> None:
    assert period_label("2026-03") == "March 2026"
    assert period_label("2026-Q2") == "Q2 2026"
    assert period_label("2026-W07") == "the week of 9 Feb 2026"
    assert period_label("CoP session 4") == "CoP session 4"
