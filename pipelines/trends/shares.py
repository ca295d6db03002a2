"""Shares of each cell per theme with Wilson intervals, and per-theme time series."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from pipelines.trends.counts import CellKey, CountTable, FloatArray, IntArray
from pipelines.trends.errors import TrendInputError
from pipelines.trends.periods import period_label
from pipelines.trends.stats import wilson_interval


def _optional_row(values: FloatArray) -> tuple[float | None, ...]:
    """Floats with NaN as None, for JSON."""
    return tuple(None if math.isnan(v) else v for v in values.tolist())


def _readonly(array: FloatArray) -> FloatArray:
    array.setflags(write=False)
    return array


@dataclass(frozen=True)
class ShareRow:
    """One theme in one cell.

    ``share``, ``low`` and ``high`` are ``None`` for an empty cell (no narratives).
    """

    theme: str
    cell: CellKey
    count: int
    total: int
    share: float | None
    low: float | None
    high: float | None


@dataclass(frozen=True, eq=False)
class ShareTable:
    """Count, share of the cell and its interval, per theme and cell.

    Attributes
    ----------
    table : CountTable
        The counts the shares came from (``table.totals`` are the cell totals).
    shares : ndarray, shape (n_themes, n_cells)
        ``count / total``; NaN for an empty cell.
    low, high : ndarray, shape (n_themes, n_cells)
        Wilson score interval of each share; NaN for an empty cell.
    confidence : float
        Coverage of the intervals.
    """

    table: CountTable
    shares: FloatArray
    low: FloatArray
    high: FloatArray
    confidence: float

    def rows(self) -> Iterator[ShareRow]:
        """Every (theme, cell) pair, theme by theme, cells in table order."""
        t = self.table
        totals = t.totals.tolist()
        for i, theme in enumerate(t.themes):
            counts = t.counts[i].tolist()
            shares, lows, highs = (_optional_row(v[i]) for v in (self.shares, self.low, self.high))
            for j, cell in enumerate(t.cells):
                yield ShareRow(
                    theme=theme,
                    cell=cell,
                    count=counts[j],
                    total=totals[j],
                    share=shares[j],
                    low=lows[j],
                    high=highs[j],
                )

    def __iter__(self) -> Iterator[ShareRow]:
        return self.rows()


def share_table(table: CountTable, confidence: float = 0.95) -> ShareTable:
    """Share of each cell's narratives in each theme, with Wilson intervals.

    Parameters
    ----------
    table : CountTable
        Theme x cell counts and cell totals.
    confidence : float, default 0.95
        Coverage of the intervals.

    Returns
    -------
    ShareTable
    """
    totals = np.broadcast_to(table.totals, table.counts.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = np.where(totals > 0, table.counts / np.where(totals > 0, totals, 1), np.nan)
    low, high = wilson_interval(table.counts, totals, confidence)
    return ShareTable(
        table=table,
        shares=_readonly(np.asarray(shares, np.float64)),
        low=_readonly(low),
        high=_readonly(high),
        confidence=confidence,
    )


@dataclass(frozen=True)
class ThemeSeries:
    """One theme over the periods of a :class:`TimeSeries` (a sparkline).

    ``shares``, ``low`` and ``high`` hold ``None`` for periods without narratives, so a
    chart can leave a gap rather than draw a false zero.
    """

    theme: str
    counts: tuple[int, ...]
    shares: tuple[float | None, ...]
    low: tuple[float | None, ...]
    high: tuple[float | None, ...]


@dataclass(frozen=True)
class TimeSeries:
    """Counts and shares per period for every theme.

    Attributes
    ----------
    periods : tuple of CellKey
        Period keys or sessions, oldest first.
    labels : tuple of str
        A reader's name for each period.
    totals : tuple of int
        Narratives per period.
    series : tuple of ThemeSeries
        One per theme, in table order.
    """

    periods: tuple[CellKey, ...]
    labels: tuple[str, ...]
    totals: tuple[int, ...]
    series: tuple[ThemeSeries, ...]


def _label(cell: CellKey) -> str:
    return period_label(cell) if isinstance(cell, str) else " · ".join(map(period_label, cell))


def time_series(
    table: CountTable, confidence: float = 0.95, labels: Sequence[str] | None = None
) -> TimeSeries:
    """Per-theme counts and shares over ordered periods or sessions.

    Parameters
    ----------
    table : CountTable
        Cells are periods or sessions, oldest first. Fill calendar gaps first with
        ``table.reindex(period_range(first, last))`` so that empty periods show.
    confidence : float, default 0.95
        Coverage of the share intervals.
    labels : sequence of str, optional
        Display names of the cells; by default :func:`~pipelines.trends.periods.period_label`.

    Returns
    -------
    TimeSeries
    """
    shares = share_table(table, confidence)
    names = tuple(labels) if labels is not None else tuple(_label(cell) for cell in table.cells)
    if len(names) != table.n_cells:
        raise TrendInputError(f"{len(names)} labels for {table.n_cells} periods")

    counts: IntArray = table.counts
    return TimeSeries(
        periods=table.cells,
        labels=names,
        totals=tuple(table.totals.tolist()),
        series=tuple(
            ThemeSeries(
                theme=theme,
                counts=tuple(counts[i].tolist()),
                shares=_optional_row(shares.shares[i]),
                low=_optional_row(shares.low[i]),
                high=_optional_row(shares.high[i]),
            )
            for i, theme in enumerate(table.themes)
        ),
    )
