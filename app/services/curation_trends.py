"""The rows of a curated trends table: which stored themes each row counts, and its label.

A merged theme is one row summing its themes' narratives; a split theme's sub-themes are
rows of their own; a hidden theme is no row, while its narratives stay in every cell total.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.services import curation_view
from models import Analysis, Project, Theme


@dataclass(frozen=True)
class Row:
    """A row of the table, shaped as the trends answer reads a theme."""

    key: str
    label: str
    level: int


@dataclass
class RowPlan:
    rows: list[Row]
    #: stored theme id (top-level, or sub-theme where ``leaf``) -> the row key it counts in
    key_of: dict[int, str]
    #: count assignments by sub-theme where a theme has them (a split applies)
    leaf: bool
    hidden: int = 0
    notes: list[str] = field(default_factory=list)


def _note(hidden: int) -> list[str]:
    if not hidden:
        return []
    return [
        f"curated view: hidden: {hidden} theme(s) left out of the rows; their narratives stay "
        "in every total (view=machine shows the analysis as it ran)"
    ]


def _top_plan(session: Session, project: Project, analysis: Analysis) -> RowPlan:
    listing = curation_view.curated_themes(session, project, analysis)
    split = bool(listing.overlay.splits)
    subs_of: dict[int, list[int]] = {}
    if split:
        for sub_id, parent_id in session.execute(
            select(Theme.id, Theme.parent_id).where(
                Theme.analysis_id == analysis.id, Theme.parent_id.is_not(None)
            )
        ):
            if parent_id is None:
                continue
            subs_of.setdefault(int(parent_id), []).append(int(sub_id))
    key_of: dict[int, str] = {}
    rows: list[Row] = []
    for entry in listing.themes:
        rows.append(Row(entry.key, entry.label, 0))
        for theme_id in entry.theme_ids:
            key_of[theme_id] = entry.key
            # counted by sub-theme where a theme has them: each sub-theme counts for it
            for sub_id in subs_of.get(theme_id, []):
                key_of.setdefault(sub_id, entry.key)
    for entry in listing.hidden:
        for theme_id in entry.theme_ids:
            key_of.pop(theme_id, None)
    return RowPlan(rows, key_of, split, len(listing.hidden), _note(len(listing.hidden)))


def _leaf_plan(session: Session, project: Project, analysis: Analysis) -> RowPlan:
    listing = curation_view.curated_themes(session, project, analysis, level="leaf")
    rows = [Row(e.key, e.label, e.theme.level) for e in listing.themes]
    key_of = {e.theme.id: e.key for e in listing.themes}
    return RowPlan(rows, key_of, True, len(listing.hidden), _note(len(listing.hidden)))


def plan(
    session: Session,
    project: Project,
    analysis: Analysis,
    level: Literal["top", "leaf"],
    wanted: list[str],
) -> RowPlan | None:
    """The curated rows of the analysis's table at `level`, only `wanted` keys when given;
    None when a wanted key is no row of the curated view (hidden, merged away or split):
    a theme asked for by name is then counted as the analysis found it."""
    found = (_top_plan if level == "top" else _leaf_plan)(session, project, analysis)
    if not wanted:
        return found
    rows = [r for r in found.rows if r.key in wanted]
    if set(wanted) - {r.key for r in rows}:
        return None
    keys = {r.key for r in rows}
    key_of = {i: k for i, k in found.key_of.items() if k in keys}
    return RowPlan(rows, key_of, found.leaf, found.hidden, found.notes)
