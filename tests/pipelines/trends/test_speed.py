"""A 20,000-narrative project's tables are analysed in a fraction of a second."""

from __future__ import annotations

import time

import numpy as np

from pipelines.trends import (
    CountTable,
    detect_trends,
    distinctive_themes,
    period_range,
    share_table,
    time_series,
)


def project_table(n_cells: int, cells: list[str] | None = None) -> CountTable:
    rng = np.random.default_rng(n_cells)
    shares = rng.dirichlet(np.full(200, 0.5))
    totals = rng.multinomial(20_000, np.full(n_cells, 1 / n_cells))
    counts = np.array([rng.multinomial(n, shares) for n in totals]).T
    return CountTable.from_arrays(counts, totals, cells=cells)


def test_two_hundred_themes_by_fifty_groups_and_twenty_four_months() -> None:
    groups = project_table(50)
    months = project_table(24, period_range("2024-07", "2026-06"))
    start = time.perf_counter()
    list(share_table(groups))
    result = distinctive_themes(groups)
    result.significant()
    for group in groups.cells[:5]:
        result.for_group(group)
    detect_trends(months, kind="month")
    time_series(months)
    assert time.perf_counter() - start < 1.0
