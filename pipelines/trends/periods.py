"""Calendar buckets for narratives: ISO week, month and quarter keys, in UTC.

Keys are short strings that sort in time order and match what the database can compute
itself, so a ``GROUP BY`` on the key and a bucket made here agree:

========  ============  ===========================================  ==========================
period    key           PostgreSQL (``ts AT TIME ZONE 'UTC'``)        SQLite (3.46+ for weeks)
========  ============  ===========================================  ==========================
week      ``2026-W07``  ``to_char(ts, 'IYYY-"W"IW')``                ``strftime('%G-W%V', ts)``
month     ``2026-03``   ``to_char(ts, 'YYYY-MM')``                   ``strftime('%Y-%m', ts)``
quarter   ``2026-Q1``   ``to_char(ts, 'YYYY-"Q"Q')``                 computed from the month
========  ============  ===========================================  ==========================

Weeks are ISO 8601 weeks (Monday first; week 1 holds the year's first Thursday), so the
days around New Year can belong to the neighbouring year's week.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Literal, get_args

Period = Literal["week", "month", "quarter"]

PERIODS: tuple[Period, ...] = get_args(Period)

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")


def _utc_date(when: datetime | date) -> date:
    """Calendar date of ``when`` in UTC; naive datetimes are taken to be UTC already."""
    if isinstance(when, datetime):
        if when.tzinfo is not None and when.utcoffset() is not None:
            when = when.astimezone(UTC)
        return when.date()
    return when


def check_period(period: str) -> Period:
    """Return ``period`` as a :data:`Period`, or raise ``ValueError`` naming the choices.

    Parameters
    ----------
    period : str
        ``"week"``, ``"month"`` or ``"quarter"``.

    Returns
    -------
    Period
        The same string, typed.
    """
    for choice in PERIODS:
        if period == choice:
            return choice
    raise ValueError(f"unknown period {period!r}; expected one of {', '.join(PERIODS)}")


def period_key(when: datetime | date, period: Period) -> str:
    """The bucket key of one instant.

    Parameters
    ----------
    when : datetime or date
        An aware datetime (converted to UTC), a naive datetime (taken as UTC) or a date.
    period : {"week", "month", "quarter"}
        Bucket width.

    Returns
    -------
    str
        ``"YYYY-Www"`` (ISO week), ``"YYYY-MM"`` or ``"YYYY-Qn"``.

    Examples
    --------
    >>> from datetime import datetime, timezone, timedelta
    >>> period_key(datetime(2027, 1, 1, 12), "week")  # a Friday in ISO week 53 of 2026
    '2026-W53'
    >>> period_key(datetime(2026, 4, 1, 0, 30, tzinfo=timezone(timedelta(hours=2))), "quarter")
    '2026-Q1'
    """
    day = _utc_date(when)
    if period == "week":
        year, week, _ = day.isocalendar()
        return f"{year:04d}-W{week:02d}"
    if period == "month":
        return f"{day.year:04d}-{day.month:02d}"
    if period == "quarter":
        return f"{day.year:04d}-Q{(day.month - 1) // 3 + 1}"
    raise ValueError(f"unknown period {period!r}; expected one of {', '.join(PERIODS)}")


def period_keys(values: Iterable[datetime | date], period: Period) -> list[str]:
    """Bucket keys of many instants, in the same order.

    Parameters
    ----------
    values : iterable of datetime or date
        Instants, as for :func:`period_key`.
    period : {"week", "month", "quarter"}
        Bucket width.

    Returns
    -------
    list of str
        One key per instant.
    """
    return [period_key(value, period) for value in values]


def parse_period_key(key: str) -> tuple[Period, date]:
    """The kind of a key and the first day of its bucket.

    Parameters
    ----------
    key : str
        A key made by :func:`period_key`.

    Returns
    -------
    (Period, date)
        ``("month", date(2026, 3, 1))`` for ``"2026-03"``; a week starts on its Monday.

    Raises
    ------
    ValueError
        When ``key`` is not a week, month or quarter key.
    """
    if match := _WEEK.match(key):
        year, week = int(match[1]), int(match[2])
        try:
            return "week", date.fromisocalendar(year, week, 1)
        except ValueError:
            raise ValueError(f"{key!r} is not an ISO week") from None
    if match := _MONTH.match(key):
        year, month = int(match[1]), int(match[2])
        if not 1 <= month <= 12:
            raise ValueError(f"{key!r} is not a month")
        return "month", date(year, month, 1)
    if match := _QUARTER.match(key):
        year, quarter = int(match[1]), int(match[2])
        return "quarter", date(year, 3 * (quarter - 1) + 1, 1)
    raise ValueError(f"{key!r} is not a period key (YYYY-Www, YYYY-MM or YYYY-Qn)")


def period_bounds(key: str) -> tuple[datetime, datetime]:
    """The UTC instants a bucket covers, ``[start, end)``, for a time-window filter.

    Parameters
    ----------
    key : str
        A week, month or quarter key.

    Returns
    -------
    (datetime, datetime)
        Aware UTC datetimes: the first instant of the bucket and of the next one.

    Examples
    --------
    >>> start, end = period_bounds("2026-Q4")
    >>> start.isoformat(), end.isoformat()
    ('2026-10-01T00:00:00+00:00', '2027-01-01T00:00:00+00:00')
    """
    start = parse_period_key(key)[1]
    end = parse_period_key(next_period_key(key))[1]
    return (
        datetime(start.year, start.month, start.day, tzinfo=UTC),
        datetime(end.year, end.month, end.day, tzinfo=UTC),
    )


def next_period_key(key: str) -> str:
    """The key of the bucket right after ``key``.

    Parameters
    ----------
    key : str
        A week, month or quarter key.

    Returns
    -------
    str
        The next key of the same kind (``"2027-01"`` after ``"2026-12"``).
    """
    period, start = parse_period_key(key)
    if period == "week":
        return period_key(start + timedelta(days=7), "week")
    months = 1 if period == "month" else 3
    index = start.year * 12 + start.month - 1 + months
    return period_key(date(index // 12, index % 12 + 1, 1), period)


def period_range(first: str, last: str) -> list[str]:
    """Every key from ``first`` to ``last`` inclusive, empty buckets included.

    A ``GROUP BY`` returns only buckets that hold narratives; trend tests and sparklines
    need the empty ones too, so the gaps are filled from this list.

    Parameters
    ----------
    first, last : str
        Keys of the same kind, ``first <= last``.

    Returns
    -------
    list of str
        Consecutive keys; ``[]`` when ``last`` comes before ``first``.

    Examples
    --------
    >>> period_range("2025-11", "2026-02")
    ['2025-11', '2025-12', '2026-01', '2026-02']
    >>> period_range("2026-W52", "2027-W01")
    ['2026-W52', '2026-W53', '2027-W01']
    """
    kind_first = parse_period_key(first)[0]
    kind_last, stop = parse_period_key(last)
    if kind_first != kind_last:
        raise ValueError(f"{first!r} and {last!r} are not the same kind of period")
    keys: list[str] = []
    key = first
    while parse_period_key(key)[1] <= stop:
        keys.append(key)
        key = next_period_key(key)
    return keys


def period_label(key: str) -> str:
    """A reader's name for a bucket: ``"March 2026"``, ``"Q1 2026"``, ``"the week of 9 Feb 2026"``.

    Parameters
    ----------
    key : str
        A period key, or any other cell key.

    Returns
    -------
    str
        The reader's name; strings that are not period keys (session names, for
        instance) come back unchanged.

    Examples
    --------
    >>> period_label("2026-03"), period_label("2026-Q1"), period_label("2026-W07")
    ('March 2026', 'Q1 2026', 'the week of 9 Feb 2026')
    """
    try:
        period, start = parse_period_key(key)
    except ValueError:
        return key
    if period == "month":
        return f"{calendar.month_name[start.month]} {start.year}"
    if period == "quarter":
        return f"Q{(start.month - 1) // 3 + 1} {start.year}"
    return f"the week of {start.day} {calendar.month_abbr[start.month]} {start.year}"
