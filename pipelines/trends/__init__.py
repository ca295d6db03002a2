"""Trends across groups and over time, from theme x cell count tables.

Everything here works on counts that a database can aggregate: how many narratives of
each theme fall in each cell (a group, a session, a period, or a pair of them), and how
many narratives each cell holds. Nothing re-clusters or reads a narrative.

* :class:`CountTable` holds the counts (``from_rows`` takes the rows of two ``GROUP BY``
  queries; ``reindex`` fills empty periods or selects cells; ``split`` cuts a crossed
  table, such as trust x month, into one table per trust or per month).
* :func:`share_table`: share of each cell per theme, with a Wilson 95% interval.
* :func:`time_series`: counts and shares per period for sparklines.
* :func:`distinctive_themes`: themes over- or under-represented in a group, by weighted
  log-odds with an informative Dirichlet prior (Monroe, Colaresi & Quinn 2008), BH-corrected
  across all theme x group tests.
* :func:`detect_trends`: rising, falling and new themes in the latest session or period
  (Cochran-Armitage trend and Fisher latest-vs-baseline tests, BH-corrected across themes),
  with a plain reading and "not enough data" below :class:`MinimumData`.
* :func:`period_key`, :func:`period_range`, :func:`period_label`: ISO week, month and
  quarter buckets in UTC.
* :func:`crossed_table` and :func:`summarise`: all of the above for one crossed table of
  :class:`Axis` values (attribute, session, period), as the trends answer needs them.
* :class:`TrendInputError` (a table that cannot be analysed) and :class:`TrendSettingError`
  (a window, baseline, alpha or other setting out of range), both ``ValueError``.

Worked example
--------------
Three themes over six months, as two SQL aggregates return them (the totals include
narratives without a theme, so they exceed the column sums):

>>> from pipelines.trends import (
...     CountTable, detect_trends, distinctive_themes, period_range, share_table, time_series,
... )
>>> rows = [
...     ("waiting", "2026-01", 10), ("waiting", "2026-02", 11), ("waiting", "2026-03", 9),
...     ("waiting", "2026-04", 14), ("waiting", "2026-05", 21), ("waiting", "2026-06", 27),
...     ("staff", "2026-01", 20), ("staff", "2026-02", 19), ("staff", "2026-03", 21),
...     ("staff", "2026-04", 20), ("staff", "2026-05", 18), ("staff", "2026-06", 19),
...     ("parking", "2026-06", 6),
... ]
>>> totals = {"2026-01": 60, "2026-02": 58, "2026-03": 62, "2026-04": 59, "2026-05": 61,
...           "2026-06": 66}
>>> table = CountTable.from_rows(rows, totals, cells=period_range("2026-01", "2026-06"))
>>> table.themes, table.counts.shape
(('waiting', 'staff', 'parking'), (3, 6))

Passing ``cells=period_range(...)`` keeps months without narratives as empty columns.
Each theme's share of each month, with its Wilson interval:

>>> shares = share_table(table)
>>> row = next(r for r in shares.rows() if r.theme == "waiting" and r.cell == "2026-06")
>>> row.count, row.total, round(row.share, 3), round(row.low, 3), round(row.high, 3)
(27, 66, 0.409, 0.299, 0.53)

Emerging and fading themes in the latest month:

>>> report = detect_trends(table, kind="month")
>>> for trend in report:
...     print(f"{trend.theme:8} {trend.status:12} {trend.reading}")
waiting  rising       rising since May 2026 (from 18% to 38%)
staff    stable       no clear change since January 2026
parking  new          new in June 2026 (6 narratives)
>>> waiting = report.get("waiting")
>>> f"trend z={waiting.trend_z:.2f}, jump p={waiting.jump_p:.1e}, q={waiting.q_value:.1e}"
'trend z=3.88, jump p=1.7e-02, q=4.2e-04'

Distinctive themes by group, here trusts:

>>> by_trust = CountTable.from_rows(
...     [("waiting", "Trust A", 60), ("waiting", "Trust B", 20), ("waiting", "Trust C", 25),
...      ("staff", "Trust A", 50), ("staff", "Trust B", 55), ("staff", "Trust C", 52)],
...     {"Trust A": 200, "Trust B": 190, "Trust C": 210},
... )
>>> for d in distinctive_themes(by_trust).significant():
...     print(d.theme, d.group, d.status, round(d.z, 2))
waiting Trust A over 5.46
waiting Trust B under -2.98
waiting Trust C under -2.59

Sparkline data:

>>> series = time_series(table).series[0]
>>> series.theme, series.counts
('waiting', (10, 11, 9, 14, 21, 27))
"""

from pipelines.trends.counts import CellKey, CountTable, tabulate
from pipelines.trends.distinctive import (
    DEFAULT_PRIOR_STRENGTH,
    Distinctiveness,
    DistinctiveTheme,
    Representation,
    distinctive_themes,
)
from pipelines.trends.emerging import ThemeTrend, TrendReport, TrendStatus, detect_trends
from pipelines.trends.errors import TrendInputError, TrendSettingError
from pipelines.trends.periods import (
    PERIODS,
    Period,
    check_period,
    next_period_key,
    parse_period_key,
    period_bounds,
    period_key,
    period_keys,
    period_label,
    period_range,
)
from pipelines.trends.rules import MinimumData
from pipelines.trends.shares import (
    ShareRow,
    ShareTable,
    ThemeSeries,
    TimeSeries,
    share_table,
    time_series,
)
from pipelines.trends.stats import (
    TrendTest,
    benjamini_hochberg,
    cochran_armitage,
    fisher_exact_two_sided,
    wilson_interval,
)
from pipelines.trends.summary import (
    Axis,
    GroupComparison,
    Timeline,
    TrendSummary,
    crossed_table,
    summarise,
)

__all__ = [
    "DEFAULT_PRIOR_STRENGTH",
    "PERIODS",
    "Axis",
    "CellKey",
    "CountTable",
    "DistinctiveTheme",
    "Distinctiveness",
    "GroupComparison",
    "MinimumData",
    "Period",
    "Representation",
    "ShareRow",
    "ShareTable",
    "ThemeSeries",
    "ThemeTrend",
    "TimeSeries",
    "Timeline",
    "TrendInputError",
    "TrendReport",
    "TrendSettingError",
    "TrendStatus",
    "TrendSummary",
    "TrendTest",
    "benjamini_hochberg",
    "check_period",
    "cochran_armitage",
    "crossed_table",
    "detect_trends",
    "distinctive_themes",
    "fisher_exact_two_sided",
    "next_period_key",
    "parse_period_key",
    "period_bounds",
    "period_key",
    "period_keys",
    "period_label",
    "period_range",
    "share_table",
    "summarise",
    "tabulate",
    "time_series",
    "wilson_interval",
]
