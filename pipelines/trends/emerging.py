"""Emerging and fading themes over ordered sessions or periods.

Each theme is tested two ways over the most recent periods (the *window*, latest last):

* a **trend** test, Cochran-Armitage on the theme's share over the window (a gradual
  rise or fall; see :func:`~pipelines.trends.stats.cochran_armitage`);
* a **jump** test, Fisher's exact test of the latest period against the pooled *baseline*
  periods just before it (a sudden change).

The two p-values are combined with Bonferroni, ``p = min(1, 2 * min(p_trend, p_jump))``,
which is valid whatever their dependence, and the combined p-values are corrected with
Benjamini-Hochberg across themes. A theme is ``rising`` or ``falling`` when its q-value is
at most ``alpha``, in the direction of the test that gave the smaller p-value; otherwise it
is ``stable``. A theme first seen in the latest period, after a history with enough
narratives, is ``new`` (not tested: a first appearance is a fact, not an estimate). Short
histories, small latest periods and rare themes are ``insufficient`` with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from scipy.special import xlogy

from pipelines.trends.counts import CellKey, CountTable, IntArray
from pipelines.trends.errors import TrendInputError, TrendSettingError
from pipelines.trends.periods import PERIODS, period_label
from pipelines.trends.rules import MinimumData
from pipelines.trends.stats import benjamini_hochberg, cochran_armitage, fisher_exact_two_sided

#: Names of the ordered dimension, singular and plural, for the readings.
UNITS: dict[str, tuple[str, str]] = {
    "session": ("session", "sessions"),
    "week": ("week", "weeks"),
    "month": ("month", "months"),
    "quarter": ("quarter", "quarters"),
}


class TrendStatus(StrEnum):
    """What happened to a theme in the latest period or session."""

    RISING = "rising"
    FALLING = "falling"
    STABLE = "stable"
    NEW = "new"
    INSUFFICIENT = "insufficient"


@dataclass(frozen=True)
class ThemeTrend:
    """One theme's trend, its evidence and a plain reading.

    Attributes
    ----------
    theme : str
        Theme key.
    status : TrendStatus
        ``rising``, ``falling``, ``stable``, ``new`` or ``insufficient``.
    reading : str
        One phrase for a dashboard: ``"rising in the last 3 sessions (from 4% to 12%)"``,
        ``"fading since March 2026 (from 20% to 8%)"``, ``"new in the latest session
        (7 narratives)"``, ``"not enough data: …"``.
    reason : str or None
        Why the theme was not tested (``insufficient`` only).
    latest_count, latest_total : int
        Narratives of the theme in the latest period, and in the latest period.
    baseline_count, baseline_total : int
        The same, pooled over the baseline periods before the latest.
    latest_share, baseline_share : float or None
        The two shares (None when the total is 0).
    slope : float or None
        Change in share per period over the window (weighted least squares).
    trend_z, trend_p : float or None
        Cochran-Armitage z (positive = rising) and its two-sided p-value.
    jump_p : float or None
        Fisher exact two-sided p-value, latest against baseline.
    p_value, q_value : float or None
        Combined p-value and its Benjamini-Hochberg q-value across themes.
    since : CellKey or None
        For a rising or falling theme, the first period of the changed run: the best
        single step in the share within the window (see ``run_length``).
    run_length : int or None
        Periods with narratives from ``since`` to the latest, both included.
    first_seen : CellKey or None
        First period in which the theme has a narrative.
    """

    theme: str
    status: TrendStatus
    reading: str
    reason: str | None
    latest_count: int
    latest_total: int
    latest_share: float | None
    baseline_count: int
    baseline_total: int
    baseline_share: float | None
    slope: float | None = None
    trend_z: float | None = None
    trend_p: float | None = None
    jump_p: float | None = None
    p_value: float | None = None
    q_value: float | None = None
    since: CellKey | None = None
    run_length: int | None = None
    first_seen: CellKey | None = None


@dataclass(frozen=True)
class TrendReport:
    """Emerging and fading themes for one ordered table.

    Attributes
    ----------
    kind : str
        ``"session"``, ``"week"``, ``"month"`` or ``"quarter"``.
    cells : tuple of CellKey
        All periods or sessions, oldest first.
    labels : tuple of str
        Display name of each cell.
    latest : CellKey or None
        The period or session judged (the last cell).
    window : tuple of CellKey
        Cells the trend test used, the latest included.
    baseline : tuple of CellKey
        Cells pooled as the baseline of the jump test.
    alpha : float
        False-discovery rate of the ``rising`` and ``falling`` statuses.
    n_tests : int
        Themes tested (the BH family size).
    reason : str or None
        Why no theme could be tested, when the history itself is too short or small.
    themes : tuple of ThemeTrend
        One per theme, in table order.
    """

    kind: str
    cells: tuple[CellKey, ...]
    labels: tuple[str, ...]
    latest: CellKey | None
    window: tuple[CellKey, ...]
    baseline: tuple[CellKey, ...]
    alpha: float
    n_tests: int
    reason: str | None
    themes: tuple[ThemeTrend, ...]

    def __iter__(self) -> Iterator[ThemeTrend]:
        return iter(self.themes)

    def get(self, theme: str) -> ThemeTrend:
        """The trend of one theme; ``KeyError`` when absent."""
        for trend in self.themes:
            if trend.theme == theme:
                return trend
        raise KeyError(theme)

    def by_status(self, status: TrendStatus | str) -> list[ThemeTrend]:
        """Themes with one status, strongest evidence first."""
        chosen = [trend for trend in self.themes if trend.status == status]
        return sorted(chosen, key=lambda t: t.q_value if t.q_value is not None else 2.0)

    def flagged(self) -> list[ThemeTrend]:
        """Rising and falling themes, strongest evidence first."""
        return sorted(
            (t for t in self.themes if t.status in (TrendStatus.RISING, TrendStatus.FALLING)),
            key=lambda t: t.q_value if t.q_value is not None else 2.0,
        )


def _percent(share: float | None) -> str:
    if share is None:
        return "n/a"
    if share == 0:
        return "0%"
    if share < 0.1:
        return f"{100 * share:.1f}%"
    return f"{100 * share:.0f}%"


def _share(count: int, total: int) -> float | None:
    return count / total if total else None


def _default_label(cell: CellKey) -> str:
    return period_label(cell) if isinstance(cell, str) else " · ".join(map(period_label, cell))


def detect_trends(
    table: CountTable,
    *,
    kind: str = "session",
    labels: Sequence[str] | None = None,
    window: int = 8,
    baseline: int = 3,
    alpha: float = 0.05,
    rules: MinimumData | None = None,
) -> TrendReport:
    """Which themes rise, fall or appear in the latest period or session.

    Parameters
    ----------
    table : CountTable
        Theme x period counts and period totals, **oldest first, latest last**. For
        calendar periods fill gaps first (``table.reindex(period_range(first, last))``) so
        the trend test sees the real spacing; empty periods carry no weight.
    kind : {"session", "week", "month", "quarter"}, default "session"
        What the cells are; sets the wording of the readings.
    labels : sequence of str, optional
        Display names of the cells (session names or dates); by default period keys
        become ``"March 2026"`` and other keys are used as they are.
    window : int, default 8
        Most recent cells the trend test covers, the latest included.
    baseline : int, default 3
        Cells just before the latest pooled as the jump test's baseline; less than
        ``window``.
    alpha : float, default 0.05
        False-discovery rate across themes.
    rules : MinimumData, optional
        ``min_periods``, ``min_latest_total``, ``min_baseline_total`` (whole history) and
        ``min_theme_count`` (per theme, over the window).

    Returns
    -------
    TrendReport

    Raises
    ------
    TrendSettingError
        For an unknown ``kind``, a ``baseline`` not shorter than ``window``, or ``alpha``
        outside (0, 1).
    TrendInputError
        When ``labels`` does not name every cell.
    """
    if kind not in UNITS:
        raise TrendSettingError(f"unknown kind {kind!r}; expected session or one of {PERIODS}")
    if baseline < 1 or window <= baseline:
        raise TrendSettingError("need baseline >= 1 and window > baseline")
    if not 0.0 < alpha < 1.0:
        raise TrendSettingError("alpha must be in (0, 1)")
    rules = rules or MinimumData()
    names = tuple(labels) if labels is not None else tuple(map(_default_label, table.cells))
    if len(names) != table.n_cells:
        raise TrendInputError(f"{len(names)} labels for {table.n_cells} cells")
    one, many = UNITS[kind]
    frame = _Frame.of(table, window, baseline)
    reason = _history_reason(frame, rules, one, many)
    # an empty history has no latest period to name (and nothing new in it)
    named = kind != "session" and table.n_cells > 0
    latest_label = names[frame.last] if named else f"the latest {one}"

    trends: dict[int, ThemeTrend] = {}
    tested: list[int] = []
    for i in range(table.n_themes):
        if frame.is_new(i, rules):
            count = frame.latest[i]
            noun = "narrative" if count == 1 else "narratives"
            reading = f"new in {latest_label} ({count} {noun})"
            trends[i] = frame.trend(i, TrendStatus.NEW, reading)
            continue
        theme_reason = reason or _theme_reason(frame, i, rules, many)
        if theme_reason is not None:
            reading = f"not enough data: {theme_reason}"
            trends[i] = frame.trend(i, TrendStatus.INSUFFICIENT, reading, reason=theme_reason)
            continue
        tested.append(i)

    for i, test in zip(tested, _test_themes(frame, tested), strict=True):
        latest_share, base_share = frame.shares(i)
        if test.trend_p is not None and (test.jump_p is None or test.trend_p <= test.jump_p):
            rising = (test.trend_z or 0.0) > 0
        else:
            rising = (latest_share or 0.0) > (base_share or 0.0)
        change: _Change | None = None
        if test.q_value is not None and test.q_value <= alpha:
            status = TrendStatus.RISING if rising else TrendStatus.FALLING
            change = _change_point(table.counts[i], table.totals, frame.window, rising)
            reading = _change_reading(kind, rising, change, names[change.start], latest_label)
        else:
            status = TrendStatus.STABLE
            if kind == "session":
                reading = f"no clear change over the last {frame.window.size} {many}"
            else:
                reading = f"no clear change since {names[frame.window[0]]}"
        trends[i] = frame.trend(i, status, reading, test=test, change=change)

    cells = table.cells
    return TrendReport(
        kind=kind,
        cells=cells,
        labels=names,
        latest=cells[frame.last] if table.n_cells else None,
        window=tuple(cells[j] for j in frame.window),
        baseline=tuple(cells[j] for j in frame.baseline),
        alpha=alpha,
        n_tests=len(tested),
        reason=reason,
        themes=tuple(trends[i] for i in range(table.n_themes)),
    )


def _optional(value: float) -> float | None:
    return None if value != value else value  # NaN is the one value unequal to itself


@dataclass(frozen=True)
class _Test:
    """One theme's test results."""

    slope: float | None
    trend_z: float | None
    trend_p: float | None
    jump_p: float | None
    p_value: float | None
    q_value: float | None


@dataclass(frozen=True, eq=False)
class _Frame:
    """Where the latest period, the baseline and the window sit in a table, with what every
    theme's trend reads from them worked out once for all the themes (as plain numbers: a
    table has a few hundred themes, and each read of one array element costs more than
    the arithmetic)."""

    table: CountTable
    last: int
    window: IntArray
    baseline: IntArray
    latest_counts: IntArray
    baseline_counts: IntArray
    latest_total: int
    baseline_total: int
    history_total: int
    window_total: int
    #: per theme: narratives in the latest cell, in the baseline and in the window
    latest: list[int]
    base: list[int]
    in_window: list[int]
    #: per theme: the first cell with a narrative of it, or None
    first: list[int | None]

    @classmethod
    def of(cls, table: CountTable, window: int, baseline: int) -> _Frame:
        n_cells = table.n_cells
        last = max(n_cells - 1, 0)
        base_idx = np.arange(max(0, last - baseline), last, dtype=np.int64)
        window_idx = np.arange(max(0, n_cells - window), n_cells, dtype=np.int64)
        latest = table.counts[:, last] if n_cells else np.zeros(table.n_themes, np.int64)
        latest_counts = np.asarray(latest, np.int64)
        baseline_counts = np.asarray(table.counts[:, base_idx].sum(axis=1), np.int64)
        seen = table.counts > 0
        first_cell: list[int] = (
            np.argmax(seen, axis=1).tolist() if n_cells else [0] * table.n_themes
        )
        ever: list[bool] = np.any(seen, axis=1).tolist() if n_cells else [False] * table.n_themes
        return cls(
            table=table,
            last=last,
            window=window_idx,
            baseline=base_idx,
            latest_counts=latest_counts,
            baseline_counts=baseline_counts,
            latest_total=int(table.totals[last]) if n_cells else 0,
            baseline_total=int(table.totals[base_idx].sum()),
            history_total=int(table.totals[:last].sum()),
            window_total=int(table.totals[window_idx].sum()),
            latest=latest_counts.tolist(),
            base=baseline_counts.tolist(),
            in_window=table.counts[:, window_idx].sum(axis=1).tolist(),
            first=[j if e else None for j, e in zip(first_cell, ever, strict=True)],
        )

    def shares(self, i: int) -> tuple[float | None, float | None]:
        """Latest and baseline share of theme ``i``."""
        return (
            _share(self.latest[i], self.latest_total),
            _share(self.base[i], self.baseline_total),
        )

    def is_new(self, i: int, rules: MinimumData) -> bool:
        """First seen in the latest period, after a history with enough narratives."""
        return (
            self.last > 0
            and self.first[i] == self.last
            and self.history_total >= rules.min_baseline_total
        )

    def trend(
        self,
        i: int,
        status: TrendStatus,
        reading: str,
        *,
        reason: str | None = None,
        test: _Test | None = None,
        change: _Change | None = None,
    ) -> ThemeTrend:
        latest_share, baseline_share = self.shares(i)
        first = self.first[i]
        return ThemeTrend(
            theme=self.table.themes[i],
            status=status,
            reading=reading,
            reason=reason,
            latest_count=self.latest[i],
            latest_total=self.latest_total,
            latest_share=latest_share,
            baseline_count=self.base[i],
            baseline_total=self.baseline_total,
            baseline_share=baseline_share,
            slope=test.slope if test else None,
            trend_z=test.trend_z if test else None,
            trend_p=test.trend_p if test else None,
            jump_p=test.jump_p if test else None,
            p_value=test.p_value if test else None,
            q_value=test.q_value if test else None,
            since=self.table.cells[change.start] if change else None,
            run_length=change.run if change else None,
            first_seen=self.table.cells[first] if first is not None else None,
        )


def _history_reason(frame: _Frame, rules: MinimumData, one: str, many: str) -> str | None:
    """Why no theme can be tested on this history, or None."""
    totals = frame.table.totals
    filled = int((totals[frame.window] > 0).sum())
    if frame.table.n_cells == 0:
        return f"no {many} yet"
    if frame.latest_total == 0:
        return f"no narratives in the latest {one}"
    if filled < rules.min_periods:
        noun = one if filled == 1 else many
        return f"only {filled} {noun} with narratives (needs {rules.min_periods})"
    if frame.latest_total < rules.min_latest_total:
        return (
            f"the latest {one} has {frame.latest_total} narratives (needs {rules.min_latest_total})"
        )
    if frame.baseline_total < rules.min_baseline_total:
        return (
            f"the {frame.baseline.size} {many} before the latest have {frame.baseline_total} "
            f"narratives (need {rules.min_baseline_total})"
        )
    return None


def _theme_reason(frame: _Frame, i: int, rules: MinimumData, many: str) -> str | None:
    """Why theme ``i`` cannot be tested on a history that can, or None."""
    in_window = frame.in_window[i]
    window_total = frame.window_total
    span = f"the last {frame.window.size} {many}"
    if in_window < rules.min_theme_count:
        return f"the theme has {in_window} narratives in {span} (needs {rules.min_theme_count})"
    if in_window >= window_total:
        return f"every narrative of {span} is in this theme"
    return None


def _test_themes(frame: _Frame, tested: Sequence[int]) -> list[_Test]:
    """Trend and jump tests of the given themes, combined and BH-corrected together."""
    idx = np.asarray(tested, dtype=np.int64)
    table = frame.table
    trend = cochran_armitage(
        table.counts[idx][:, frame.window], table.totals[frame.window], frame.window
    )
    jump = fisher_exact_two_sided(
        frame.latest_counts[idx],
        frame.latest_total,
        frame.baseline_counts[idx],
        frame.baseline_total,
    )
    # the smaller of the two p-values, Bonferroni-corrected for the tests that could be made
    made = (~np.isnan(trend.p_value)).astype(np.int64) + (~np.isnan(jump)).astype(np.int64)
    smallest = np.fmin(trend.p_value, jump)
    combined = np.where(made > 0, np.minimum(1.0, made * smallest), np.nan)
    q = benjamini_hochberg(combined)
    columns = (trend.slope, trend.z, trend.p_value, jump, combined, q)
    return [
        _Test(*(_optional(v) for v in row))
        for row in zip(*(np.asarray(c, np.float64).tolist() for c in columns), strict=True)
    ]


@dataclass(frozen=True)
class _Change:
    """A step in a theme's share: the run of periods from ``start`` to the latest."""

    start: int
    run: int
    before: float
    after: float


def _binomial_loglik(y: float, n: float) -> float:
    return float(xlogy(y, y / n) + xlogy(n - y, (n - y) / n)) if n > 0 else 0.0


def _change_point(
    counts: IntArray,
    totals: IntArray,
    window_idx: IntArray,
    rising: bool,
) -> _Change:
    """Where a change starts: the best single step in the share within the window.

    Every split of the window's periods into an earlier and a later run is scored by the
    binomial likelihood ratio of two shares against one; the best split whose later share
    lies on the side of the change wins. A jump in the latest period gives a run of one;
    a steady climb gives a run of about half the window. Only periods with narratives
    count.
    """
    filled = [int(j) for j in window_idx if totals[j] > 0]
    y = np.array([counts[j] for j in filled], dtype=np.float64)
    n = np.array([totals[j] for j in filled], dtype=np.float64)
    best: _Change | None = None
    best_score = -np.inf
    for m in range(1, len(filled)):
        y1, n1, y2, n2 = y[:m].sum(), n[:m].sum(), y[m:].sum(), n[m:].sum()
        before, after = y1 / n1, y2 / n2
        if (after > before) != rising or after == before:
            continue
        score = (
            _binomial_loglik(y1, n1) + _binomial_loglik(y2, n2) - _binomial_loglik(y1 + y2, n1 + n2)
        )
        if score > best_score:
            best_score = score
            best = _Change(start=filled[m], run=len(filled) - m, before=before, after=after)
    if best is None:
        before_y, before_n = y[:-1].sum(), n[:-1].sum()
        before = before_y / before_n if before_n else 0.0
        best = _Change(start=filled[-1], run=1, before=before, after=y[-1] / n[-1])
    return best


def _change_reading(
    kind: str, rising: bool, change: _Change, start_label: str, latest_label: str
) -> str:
    """A phrase like "rising in the last 3 sessions (from 4% to 12%)"."""
    shares = f"(from {_percent(change.before)} to {_percent(change.after)})"
    if change.run <= 1:
        return f"{'up' if rising else 'down'} in {latest_label} {shares}"
    verb = "rising" if rising else "fading"
    if kind == "session":
        return f"{verb} in the last {change.run} sessions {shares}"
    return f"{verb} since {start_label} {shares}"
