"""The checks JSON batches and files share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from pipelines.ingest.guards import (
    MAX_NESTING,
    datetime_problem,
    is_invisible,
    nesting_depth_over,
    non_finite_at,
)


@pytest.mark.parametrize(
    "text", ["", "   ", "\u200b\u200c\u200d\ufeff", "\u2060\t\u00a0", "\x00\x07"]
)
def test_text_with_nothing_to_see_is_invisible(text: str) -> None:
    assert is_invisible(text)


@pytest.mark.parametrize("text", ["a", "\u200bhello", "👍", "٣", "—"])
def test_text_with_something_to_see_is_not(text: str) -> None:
    assert not is_invisible(text)


def test_non_finite_numbers_are_found_with_their_place() -> None:
    assert non_finite_at({"a": 1.5, "b": [0.1, float("nan")]}) == "b[1]"
    assert non_finite_at(float("inf"), "age") == "age"
    assert non_finite_at(float("1e309")) == ""
    assert non_finite_at({"a": [1, 2.0, "nan", {"x": 0.5}]}) is None


def test_nesting_is_bounded() -> None:
    shallow: object = 1
    for _ in range(MAX_NESTING):
        shallow = [shallow]
    assert not nesting_depth_over(shallow)
    assert nesting_depth_over([shallow])


@pytest.mark.parametrize(
    "value",
    [
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))),
        datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-1))),
        datetime(1899, 12, 31, 23, 59, tzinfo=UTC),
        datetime(2100, 1, 1),
    ],
)
def test_edge_datetimes_are_refused_not_crashed_on(value: datetime) -> None:
    assert datetime_problem(value) is not None


def test_ordinary_datetimes_pass() -> None:
    assert datetime_problem(datetime(2024, 5, 1, 9, tzinfo=timezone(timedelta(hours=2)))) is None
    assert datetime_problem(datetime(1900, 1, 1)) is None
