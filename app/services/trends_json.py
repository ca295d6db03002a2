"""The `TrendsPage` answer as plain dicts and lists, for `pydantic_core.to_json`.

A crossed answer holds tens of thousands of numbers; building models for them and letting
FastAPI re-validate them costs more than the query (docs/architecture.md, "Trends"). The
tests validate every answer against `TrendsPage`, so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from app.schemas.themes import AnalysisRead
from app.schemas.trends import Dimension
from models import Analysis
from pipelines.trends import Distinctiveness, Timeline, TrendReport, TrendSummary

JSON = dict[str, Any]


class ThemeRow(Protocol):
    """What a row of the table shows of its theme (a stored theme, or a curated one)."""

    @property
    def key(self) -> str: ...
    @property
    def label(self) -> str: ...
    @property
    def level(self) -> int: ...


def empty_page(dims: Sequence[Dimension], alpha: float, notes: list[str]) -> JSON:
    """The answer before the project's first analysis: no cells, no themes, and why."""
    return {
        "analysis": None,
        "notes": notes,
        "by": [d.spec for d in dims],
        "dimensions": [_dimension(d, []) for d in dims],
        "alpha": alpha,
        "total_narratives": 0,
        "unclustered": 0,
        "excluded": 0,
        "cells": [],
        "groups": [],
        "timelines": [],
        "themes": [],
    }


def page(
    analysis: Analysis,
    dims: Sequence[Dimension],
    themes: Sequence[ThemeRow],
    summary: TrendSummary,
    *,
    alpha: float,
    total_narratives: int,
    unclustered: int,
    excluded: int,
    notes: Sequence[str] = (),
) -> JSON:
    """The answer for one analysis; `dims` are the axes of `summary` and `themes` the rows
    of its table, in the same order."""
    table, groups = summary.table, summary.groups
    theme_rows = _theme_rows(themes, summary)
    theme_rows.sort(key=lambda t: (-t["count"], t["key"]))
    return {
        "analysis": AnalysisRead.model_validate(analysis).model_dump(mode="json"),
        "notes": [str(note) for note in analysis.notes] + list(notes),
        "by": [d.spec for d in dims],
        "dimensions": [
            _dimension(d, list(axis.values)) for d, axis in zip(dims, summary.axes, strict=True)
        ],
        "alpha": alpha,
        "total_narratives": total_narratives,
        "unclustered": unclustered,
        "excluded": excluded,
        "cells": [
            {"key": list(cell), "label": label, "total": total}
            for cell, label, total in zip(
                summary.cells, summary.cell_labels, table.totals.tolist(), strict=True
            )
        ],
        "groups": []
        if groups is None
        else [
            {"key": list(key), "label": label, "total": total}
            for key, label, total in zip(
                groups.keys, groups.labels, groups.result.table.totals.tolist(), strict=True
            )
        ],
        "timelines": [
            {
                "group": _group(t),
                "label": t.label,
                "kind": t.report.kind,
                "periods": [
                    {"key": str(c), "label": name, "total": total}
                    for c, name, total in zip(
                        t.table.cells, t.report.labels, t.table.totals.tolist(), strict=True
                    )
                ],
                "latest": None if t.report.latest is None else str(t.report.latest),
                "window": [str(c) for c in t.report.window],
                "baseline": [str(c) for c in t.report.baseline],
                "n_tests": t.report.n_tests,
                "reason": t.report.reason,
            }
            for t in summary.timelines
        ],
        "themes": theme_rows,
    }


def _dimension(dim: Dimension, values: list[str]) -> JSON:
    return {"by": dim.spec, "kind": dim.kind, "name": dim.name, "values": values}


def _group(timeline: Timeline) -> list[str] | None:
    return None if timeline.group is None else list(timeline.group)


def _theme_rows(themes: Sequence[ThemeRow], summary: TrendSummary) -> list[JSON]:
    table, shares, groups = summary.table, summary.shares, summary.groups
    theme_totals = table.theme_totals.tolist()
    grand = table.grand_total
    counts = table.counts.tolist()
    share_rows, low_rows, high_rows = (
        _rounded(a) for a in (shares.shares, shares.low, shares.high)
    )
    distinctive = (
        _distinctive_rows(groups.result, [list(k) for k in groups.keys])
        if groups is not None
        else [[] for _ in themes]
    )
    timelines = [
        (_group(t), t.report, t.table.counts.tolist(), _rounded(t.shares))
        for t in summary.timelines
    ]
    return [
        {
            "key": theme.key,
            "label": theme.label,
            "level": theme.level,
            "count": theme_totals[i],
            "share": round(theme_totals[i] / grand, 6) if grand else None,
            "cells": [
                {"cell": j, "count": c, "share": s, "low": lo, "high": hi}
                for j, (c, s, lo, hi) in enumerate(
                    zip(counts[i], share_rows[i], low_rows[i], high_rows[i], strict=True)
                )
            ],
            "distinctive": distinctive[i],
            "trends": [_trend(report, i, group) for group, report, _, _ in timelines],
            "series": [
                {"group": group, "counts": c[i], "shares": sh[i]} for group, _, c, sh in timelines
            ],
        }
        for i, theme in enumerate(themes)
    ]


def _nullable(array: Any) -> list[Any]:
    """An array as nested lists, NaN as None (JSON null)."""
    values = np.asarray(array, dtype=np.float64)
    boxed = values.astype(object)
    boxed[np.isnan(values)] = None
    return list(boxed.tolist())


def _rounded(array: Any) -> list[Any]:
    """An array as nested lists of floats rounded to 6 places, NaN as None."""
    return _nullable(np.round(np.asarray(array, dtype=np.float64), 6))


def _opt(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _distinctive_rows(result: Distinctiveness, groups: list[list[str]]) -> list[list[JSON]]:
    """Per theme, one entry per group, read straight from the result's arrays."""
    t = result.table
    counts, totals = t.counts.tolist(), t.totals.tolist()
    theme_totals, grand = t.theme_totals.tolist(), t.grand_total
    log_odds, z = (_rounded(a) for a in (result.log_odds, result.z))
    p, q = _nullable(result.p_value), _nullable(result.q_value)
    rows = []
    for i in range(t.n_themes):
        row = []
        for j, group in enumerate(groups):
            count, total = counts[i][j], totals[j]
            rest_count, rest_total = theme_totals[i] - count, grand - total
            row.append(
                {
                    "group": group,
                    "status": result.status(i, j).value,
                    "count": count,
                    "group_total": total,
                    "share": round(count / total, 6) if total else None,
                    "rest_share": round(rest_count / rest_total, 6) if rest_total else None,
                    "log_odds": log_odds[i][j],
                    "z": z[i][j],
                    "p_value": p[i][j],
                    "q_value": q[i][j],
                    "reason": result.reasons[i][j],
                }
            )
        rows.append(row)
    return rows


def _trend(report: TrendReport, i: int, group: list[str] | None) -> JSON:
    t = report.themes[i]
    return {
        "group": group,
        "status": t.status.value,
        "reading": t.reading,
        "reason": t.reason,
        "latest_count": t.latest_count,
        "latest_total": t.latest_total,
        "latest_share": _opt(t.latest_share),
        "baseline_count": t.baseline_count,
        "baseline_total": t.baseline_total,
        "baseline_share": _opt(t.baseline_share),
        "slope": _opt(t.slope),
        "trend_z": _opt(t.trend_z),
        "trend_p": t.trend_p,
        "jump_p": t.jump_p,
        "p_value": t.p_value,
        "q_value": t.q_value,
        "since": None if t.since is None else str(t.since),
        "run_length": t.run_length,
        "first_seen": None if t.first_seen is None else str(t.first_seen),
    }
