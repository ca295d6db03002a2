"""Everything the trends answer computes, from one crossed count table and no database.

The cells of the table are tuples holding one value per *axis* (an attribute, the session,
or a calendar period), every combination of the axes' values in order
(:func:`crossed_table`). :func:`summarise` then gives:

* the share of each theme in each cell, with its Wilson interval;
* distinctive themes across the *groups*: the cells without their calendar period, pooled
  over periods (a session is a group of its own; no groups when the only axis is a period);
* emerging and fading themes per *timeline*: the whole table when the ordered axis (the
  session or a period) stands alone, else one history per value of the other axis, each
  its own false-discovery family;
* each timeline's shares for sparklines, NaN where a period holds no narratives.

>>> axes = [
...     Axis({"North": "North", "South": "South"}),
...     Axis({"2026-01": "January 2026", "2026-02": "February 2026"}, timeline="month"),
... ]
>>> rows = [("beds", ("North", "2026-02"), 4), ("beds", ("South", "2026-01"), 1)]
>>> totals = {("North", "2026-01"): 5, ("North", "2026-02"): 6, ("South", "2026-01"): 7}
>>> summary = summarise(crossed_table(rows, totals, ["beds"], axes), axes)
>>> summary.cell_labels[1], summary.groups.labels
('North · February 2026', ('North', 'South'))
>>> [(t.label, t.table.counts.tolist()) for t in summary.timelines]
[('North', [[0, 4]]), ('South', [[1, 0]])]
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from pipelines.trends.counts import CountTable, FloatArray
from pipelines.trends.distinctive import Distinctiveness, distinctive_themes
from pipelines.trends.emerging import TrendReport, detect_trends
from pipelines.trends.errors import TrendInputError, TrendSettingError
from pipelines.trends.shares import ShareTable, share_table

#: A cell of a crossed table: one value per axis.
Cell = tuple[str, ...]


@dataclass(frozen=True)
class Axis:
    """One dimension of a crossed table.

    Attributes
    ----------
    labels : mapping of str to str
        Each value of the axis with its display label, in display order (oldest first for
        sessions and periods).
    timeline : str or None
        ``"session"``, ``"week"``, ``"month"`` or ``"quarter"`` when the axis is ordered
        and tested for trends; ``None`` for an attribute.
    """

    labels: Mapping[str, str]
    timeline: str | None = None

    @property
    def values(self) -> tuple[str, ...]:
        """The axis's values in display order."""
        return tuple(self.labels)

    @property
    def grouped(self) -> bool:
        """Whether the groups compared for distinctive themes keep this axis: a calendar
        period is pooled over, a session is a group of its own."""
        return self.timeline in (None, "session")


@dataclass(frozen=True)
class GroupComparison:
    """Distinctive themes across the groups (the cells without their period).

    ``result.table`` holds the pooled theme x group counts and the group totals.
    """

    keys: tuple[Cell, ...]
    labels: tuple[str, ...]
    result: Distinctiveness


@dataclass(frozen=True)
class Timeline:
    """One ordered history tested for emerging and fading themes.

    Attributes
    ----------
    group : tuple of str or None
        The values of the other axes this history is for; ``None`` for all narratives.
    label : str
        The group's label, or ``"all narratives"``.
    table : CountTable
        Theme x period (or session) counts, oldest first; cells are the axis's values.
    report : TrendReport
        Rising, falling and new themes in the latest period or session.
    shares : ndarray of float64, shape (n_themes, n_periods)
        Share of each theme per period; NaN where the period has no narratives.
    """

    group: Cell | None
    label: str
    table: CountTable
    report: TrendReport
    shares: FloatArray


@dataclass(frozen=True)
class TrendSummary:
    """Shares per cell, distinctive themes per group and trends per timeline.

    Attributes
    ----------
    axes : tuple of Axis
        The axes of the table, as given.
    table : CountTable
        The crossed table summarised.
    cells : tuple of tuple of str
        Its cells, one value per axis.
    cell_labels : tuple of str
        Each cell's label, its axes' labels joined by ``" · "``.
    shares : ShareTable
        Share of each theme in each cell, with the Wilson 95% interval.
    groups : GroupComparison or None
        ``None`` when no axis makes groups (only a calendar period).
    timelines : tuple of Timeline
        Empty without an ordered axis.
    """

    axes: tuple[Axis, ...]
    table: CountTable
    cells: tuple[Cell, ...]
    cell_labels: tuple[str, ...]
    shares: ShareTable
    groups: GroupComparison | None
    timelines: tuple[Timeline, ...]


def crossed_table(
    counts: Iterable[tuple[str, Cell, int]],
    totals: Mapping[Cell, int],
    themes: Sequence[str],
    axes: Sequence[Axis],
) -> CountTable:
    """A theme x cell table over every combination of the axes' values, empty ones included.

    Parameters
    ----------
    counts : iterable of (theme, cell, count)
        Narratives per theme and cell; themes not in ``themes`` are dropped.
    totals : mapping of cell to int
        Narratives per cell, unassigned ones included.
    themes : sequence of str
        The rows, in order.
    axes : sequence of Axis
        The cells are the product of their values, the first axis varying slowest.

    Returns
    -------
    CountTable
    """
    cells = list(itertools.product(*(axis.values for axis in axes)))
    return CountTable.from_rows(counts, totals, themes=themes, cells=cells)


def summarise(
    table: CountTable,
    axes: Sequence[Axis],
    *,
    alpha: float = 0.05,
    window: int = 8,
    baseline: int = 3,
) -> TrendSummary:
    """Shares, distinctive themes and trends of a crossed table.

    Parameters
    ----------
    table : CountTable
        Cells are tuples, one value per axis (see :func:`crossed_table`).
    axes : sequence of Axis
        At most one of them ordered (a timeline).
    alpha : float, default 0.05
        False-discovery rate of every flag.
    window, baseline : int, default 8 and 3
        Passed to :func:`~pipelines.trends.emerging.detect_trends` for each timeline.

    Returns
    -------
    TrendSummary

    Raises
    ------
    TrendSettingError
        For two ordered axes, or settings ``detect_trends`` or ``distinctive_themes``
        refuse (a baseline not shorter than the window, an alpha outside (0, 1)).
    TrendInputError
        When a cell does not hold one known value per axis.
    """
    cells = _cells(table, axes)
    ordered = [k for k, axis in enumerate(axes) if axis.timeline is not None]
    if len(ordered) > 1:
        raise TrendSettingError("at most one axis may be a session or a period")
    everything = range(len(axes))
    timelines: tuple[Timeline, ...] = ()
    if ordered:
        timelines = _timelines(table, cells, axes, ordered[0], alpha, window, baseline)
    return TrendSummary(
        axes=tuple(axes),
        table=table,
        cells=tuple(cells),
        cell_labels=tuple(_label(axes, everything, cell) for cell in cells),
        shares=share_table(table),
        groups=_compare_groups(table, cells, axes, alpha),
        timelines=timelines,
    )


def _cells(table: CountTable, axes: Sequence[Axis]) -> list[Cell]:
    cells: list[Cell] = []
    for cell in table.cells:
        if not isinstance(cell, tuple) or len(cell) != len(axes):
            raise TrendInputError(f"cell {cell!r} does not hold one value per axis")
        for value, axis in zip(cell, axes, strict=True):
            if value not in axis.labels:
                raise TrendInputError(f"cell {cell!r} holds {value!r}, not a value of its axis")
        cells.append(cell)
    return cells


def _label(axes: Sequence[Axis], positions: Sequence[int], values: Cell) -> str:
    """The labels of ``values``, read on the axes at ``positions``, joined."""
    return " · ".join(axes[k].labels[v] for k, v in zip(positions, values, strict=True))


def _compare_groups(
    table: CountTable, cells: list[Cell], axes: Sequence[Axis], alpha: float
) -> GroupComparison | None:
    positions = [k for k, axis in enumerate(axes) if axis.grouped]
    if not positions:
        return None
    of_cell = [tuple(cell[k] for k in positions) for cell in cells]
    keys = list(dict.fromkeys(of_cell))
    index = {key: n for n, key in enumerate(keys)}
    # cells x groups indicator: pooling over periods is one matrix product
    member = np.zeros((len(cells), len(keys)), dtype=np.int64)
    for j, key in enumerate(of_cell):
        member[j, index[key]] = 1
    pooled = CountTable(
        themes=table.themes,
        cells=tuple(keys),
        counts=table.counts @ member,
        totals=table.totals @ member,
    )
    return GroupComparison(
        keys=tuple(keys),
        labels=tuple(_label(axes, positions, key) for key in keys),
        result=distinctive_themes(pooled, alpha=alpha),
    )


def _timelines(
    table: CountTable,
    cells: list[Cell],
    axes: Sequence[Axis],
    time: int,
    alpha: float,
    window: int,
    baseline: int,
) -> tuple[Timeline, ...]:
    axis = axes[time]
    kind = axis.timeline
    assert kind is not None
    others = [k for k in range(len(axes)) if k != time]
    # one history for all narratives, even an empty one, or one per value of the others
    columns: dict[Cell, list[int]] = {} if others else {(): list(range(len(cells)))}
    if others:
        for j, cell in enumerate(cells):
            columns.setdefault(tuple(cell[k] for k in others), []).append(j)
    timelines = []
    for group, cols in columns.items():
        periods = tuple(cells[j][time] for j in cols)
        sub = CountTable(
            themes=table.themes,
            cells=periods,
            counts=table.counts[:, cols],
            totals=table.totals[cols],
        )
        report = detect_trends(
            sub,
            kind=kind,
            labels=[axis.labels[p] for p in periods],
            window=window,
            baseline=baseline,
            alpha=alpha,
        )
        timelines.append(
            Timeline(
                group=group or None,
                label=_label(axes, others, group) if others else "all narratives",
                table=sub,
                report=report,
                shares=_period_shares(sub),
            )
        )
    return tuple(timelines)


def _period_shares(table: CountTable) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = table.counts / np.where(table.totals > 0, table.totals, 1)
    return np.asarray(np.where(table.totals[None, :] > 0, shares, np.nan), dtype=np.float64)
