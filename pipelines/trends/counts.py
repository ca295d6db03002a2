"""The one input of every trend statistic: theme x cell counts and the cell totals.

A *cell* is a group (``"nurse"``), a session, a period key (``"2026-03"``) or, when two
dimensions are crossed, a tuple of those (``("Trust A", "2026-03")``). The count of a
theme in a cell is the number of narratives of the cell assigned to the theme; the
cell total is the number of narratives in the cell, whatever their theme. Totals are
given separately because they need not be column sums: unassigned narratives count in
the total only, a theme filter drops rows but not narratives, and a multi-label
assignment counts one narrative under several themes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from pipelines.trends.errors import TrendInputError

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

#: A cell: one group, session or period key, or a tuple of them for crossed dimensions.
CellKey = str | tuple[str, ...]
Cell = TypeVar("Cell", bound=CellKey)

__all__ = ["CellKey", "CountTable", "TrendInputError", "tabulate"]


def _as_counts(values: npt.ArrayLike, name: str) -> IntArray:
    array = np.asarray(values)
    if array.dtype == object:
        raise TrendInputError(f"{name} must be numbers")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        if not np.issubdtype(array.dtype, np.number) or not np.all(np.isfinite(array)):
            raise TrendInputError(f"{name} must be finite whole numbers")
        if not np.array_equal(array, np.round(array)):
            raise TrendInputError(f"{name} must be whole numbers")
    counts = array.astype(np.int64)
    if counts.size and counts.min() < 0:
        raise TrendInputError(f"{name} must not be negative")
    counts.setflags(write=False)
    return counts


@dataclass(frozen=True, eq=False)
class CountTable:
    """Counts of narratives per theme and cell, with the cell totals.

    Build one with :meth:`from_rows` (rows of a SQL aggregate), :meth:`from_arrays` or
    :func:`tabulate` (one theme and cell per narrative). The arrays are read-only.

    Attributes
    ----------
    themes : tuple of str
        Theme keys, one per row of ``counts``.
    cells : tuple of CellKey
        Cell keys, one per column; for periods and sessions, oldest first.
    counts : ndarray of int64, shape (n_themes, n_cells)
        Narratives of each theme in each cell.
    totals : ndarray of int64, shape (n_cells,)
        Narratives in each cell (the denominator of every share).
    """

    themes: tuple[str, ...]
    cells: tuple[CellKey, ...]
    counts: IntArray
    totals: IntArray

    def __post_init__(self) -> None:
        counts = _as_counts(self.counts, "counts")
        totals = _as_counts(self.totals, "totals")
        if counts.ndim != 2:
            raise TrendInputError(f"counts must be 2-D (themes x cells), got {counts.ndim}-D")
        if totals.ndim != 1:
            raise TrendInputError(f"totals must be 1-D (one per cell), got {totals.ndim}-D")
        if counts.shape != (len(self.themes), len(self.cells)):
            raise TrendInputError(
                f"counts has shape {counts.shape} but there are {len(self.themes)} themes "
                f"and {len(self.cells)} cells"
            )
        if totals.shape != (len(self.cells),):
            raise TrendInputError(f"{totals.shape[0]} totals for {len(self.cells)} cells")
        if len(set(self.themes)) != len(self.themes):
            raise TrendInputError("theme keys must be unique")
        if len(set(self.cells)) != len(self.cells):
            raise TrendInputError("cell keys must be unique")
        over = np.argwhere(counts > totals[None, :])
        if over.size:
            i, j = over[0]
            raise TrendInputError(
                f"theme {self.themes[i]!r} has {counts[i, j]} narratives in cell "
                f"{self.cells[j]!r}, which holds only {totals[j]}"
            )
        object.__setattr__(self, "themes", tuple(self.themes))
        object.__setattr__(self, "cells", tuple(self.cells))
        object.__setattr__(self, "counts", counts)
        object.__setattr__(self, "totals", totals)

    @classmethod
    def from_arrays(
        cls,
        counts: npt.ArrayLike,
        totals: npt.ArrayLike,
        themes: Sequence[str] | None = None,
        cells: Sequence[CellKey] | None = None,
    ) -> CountTable:
        """A table from a count matrix and totals; keys default to ``"0"``, ``"1"``, ….

        Parameters
        ----------
        counts : array-like of int, shape (n_themes, n_cells)
            Narratives of each theme in each cell.
        totals : array-like of int, shape (n_cells,)
            Narratives in each cell.
        themes, cells : sequence, optional
            Row and column keys.
        """
        matrix = np.asarray(counts)
        if matrix.ndim != 2:
            raise TrendInputError(f"counts must be 2-D (themes x cells), got {matrix.ndim}-D")
        n_themes, n_cells = matrix.shape
        return cls(
            themes=tuple(themes) if themes is not None else tuple(map(str, range(n_themes))),
            cells=tuple(cells) if cells is not None else tuple(map(str, range(n_cells))),
            counts=_as_counts(matrix, "counts"),
            totals=_as_counts(totals, "totals"),
        )

    @classmethod
    def from_rows(
        cls,
        counts: Iterable[tuple[str, Cell, int]],
        totals: Mapping[Cell, int] | Iterable[tuple[Cell, int]],
        *,
        themes: Sequence[str] | None = None,
        cells: Sequence[Cell] | None = None,
    ) -> CountTable:
        """A table from the rows of two aggregate queries.

        Parameters
        ----------
        counts : iterable of (theme, cell, count)
            ``SELECT theme_key, cell, count(*) ... GROUP BY theme_key, cell``. Missing
            combinations are zero; repeated ones are added up.
        totals : mapping or iterable of (cell, total)
            ``SELECT cell, count(*) ... GROUP BY cell`` over the same narratives, unassigned
            ones included.
        themes : sequence of str, optional
            Row order, and the themes to keep (themes with no narratives get a zero row).
            By default, the themes of ``counts`` in order of first appearance.
        cells : sequence of CellKey, optional
            Column order, and the cells to keep (cells absent from ``totals`` are empty).
            By default, the cells of ``totals`` in their order: order the query by
            period or session date so that trends read oldest to newest. Without it, a
            count in a cell that has no total is an error.

        Returns
        -------
        CountTable
        """
        total_rows = list(totals.items()) if isinstance(totals, Mapping) else list(totals)
        total_of: dict[Cell, int] = {}
        for cell, total in total_rows:
            total_of[cell] = total_of.get(cell, 0) + int(total)
        count_rows = list(counts)
        if themes is None:
            themes = list(dict.fromkeys(theme for theme, _, _ in count_rows))
        cells_given = cells is not None
        if cells is None:
            cells = list(total_of)
        row = {theme: i for i, theme in enumerate(themes)}
        col = {cell: j for j, cell in enumerate(cells)}
        matrix = np.zeros((len(row), len(col)), dtype=np.int64)
        at_i: list[int] = []
        at_j: list[int] = []
        added: list[int] = []
        for theme, cell, count in count_rows:
            i, j = row.get(theme), col.get(cell)
            if j is None and not cells_given:
                raise TrendInputError(f"cell {cell!r} has counts but no total")
            if i is not None and j is not None:
                at_i.append(i)
                at_j.append(j)
                added.append(int(count))
        # one scatter for all the rows (repeated pairs add up)
        np.add.at(matrix, (np.asarray(at_i, np.intp), np.asarray(at_j, np.intp)), added)
        vector = np.array([total_of.get(cell, 0) for cell in cells], dtype=np.int64)
        return cls(themes=tuple(themes), cells=tuple(cells), counts=matrix, totals=vector)

    @property
    def n_themes(self) -> int:
        """Number of themes (rows)."""
        return len(self.themes)

    @property
    def n_cells(self) -> int:
        """Number of cells (columns)."""
        return len(self.cells)

    @property
    def theme_totals(self) -> IntArray:
        """Narratives of each theme over all cells, shape (n_themes,)."""
        return np.asarray(self.counts.sum(axis=1), dtype=np.int64)

    @property
    def grand_total(self) -> int:
        """Narratives over all cells."""
        return int(self.totals.sum())

    def reindex(self, cells: Sequence[CellKey]) -> CountTable:
        """The same counts over ``cells``, in that order.

        Cells not in the table come back empty (count and total zero), which fills the
        gaps of a ``GROUP BY`` over periods (see :func:`~pipelines.trends.periods.period_range`);
        cells of the table not listed are dropped, which selects a slice.

        Parameters
        ----------
        cells : sequence of CellKey
            The cells of the new table.

        Returns
        -------
        CountTable
        """
        col = {cell: j for j, cell in enumerate(self.cells)}
        counts = np.zeros((self.n_themes, len(cells)), dtype=np.int64)
        totals = np.zeros(len(cells), dtype=np.int64)
        for k, cell in enumerate(cells):
            j = col.get(cell)
            if j is not None:
                counts[:, k] = self.counts[:, j]
                totals[k] = self.totals[j]
        return CountTable(themes=self.themes, cells=tuple(cells), counts=counts, totals=totals)

    def split(self, position: int = 0) -> dict[str, CountTable]:
        """Tables of crossed cells, one per value of the tuple element at ``position``.

        For ``by=attribute:trust&by=period:month`` the cells are ``(trust, month)`` pairs;
        ``split(0)`` gives one month-by-month table per trust (for trends within each
        trust), ``split(1)`` one trust table per month (for distinctive themes within
        each month). The remaining element becomes the cell key (a tuple when more than
        one remains); cells keep their order.

        Parameters
        ----------
        position : int, default 0
            Which element of the cell tuples to split on (negative counts from the end).

        Returns
        -------
        dict of str to CountTable
            One table per value, in order of first appearance.

        Raises
        ------
        TrendInputError
            When a cell is not a tuple long enough to hold ``position``.
        """
        columns: dict[str, list[int]] = {}
        keys: dict[str, list[CellKey]] = {}
        for j, cell in enumerate(self.cells):
            if not isinstance(cell, tuple) or not -len(cell) <= position < len(cell):
                raise TrendInputError(f"cell {cell!r} has no element {position}")
            k = position % len(cell)
            others = cell[:k] + cell[k + 1 :]
            columns.setdefault(cell[k], []).append(j)
            keys.setdefault(cell[k], []).append(others[0] if len(others) == 1 else others)
        return {
            value: CountTable(
                themes=self.themes,
                cells=tuple(keys[value]),
                counts=self.counts[:, cols],
                totals=self.totals[cols],
            )
            for value, cols in columns.items()
        }


def tabulate(
    themes: Sequence[str | None],
    cells: Sequence[CellKey],
    *,
    theme_order: Sequence[str] | None = None,
    cell_order: Sequence[CellKey] | None = None,
) -> CountTable:
    """A table from one theme (or ``None``) and one cell per narrative.

    For the cases a SQL aggregate cannot bucket (ISO weeks on an old SQLite) and for tests.

    Parameters
    ----------
    themes : sequence of str or None
        Theme of each narrative; ``None`` for an unassigned one (it counts in the total).
    cells : sequence of CellKey
        Cell of each narrative.
    theme_order, cell_order : sequence, optional
        Row and column order; by default sorted.

    Returns
    -------
    CountTable
    """
    if len(themes) != len(cells):
        raise TrendInputError(f"{len(themes)} themes for {len(cells)} cells")
    theme_keys = (
        list(theme_order)
        if theme_order is not None
        else sorted({theme for theme in themes if theme is not None})
    )
    cell_keys = list(cell_order) if cell_order is not None else sorted(set(cells))
    row = {theme: i for i, theme in enumerate(theme_keys)}
    col = {cell: j for j, cell in enumerate(cell_keys)}
    counts = np.zeros((len(row), len(col)), dtype=np.int64)
    totals = np.zeros(len(col), dtype=np.int64)
    for theme, cell in zip(themes, cells, strict=True):
        j = col.get(cell)
        if j is None:
            continue
        totals[j] += 1
        i = row.get(theme) if theme is not None else None
        if i is not None:
            counts[i, j] += 1
    return CountTable(
        themes=tuple(theme_keys), cells=tuple(cell_keys), counts=counts, totals=totals
    )
