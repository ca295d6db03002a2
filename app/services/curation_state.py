"""What a project's curation edits mean for one analysis: which apply, which are superseded,
and which need a decision because a key they name ended or split since they were made.

This module reads tables only (no other service), so the analysis step can ask it for the
pinned keys without an import cycle.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.services import read_facts
from models import Analysis, EditKind, Theme, ThemeEdit, ThemeLineage

Status = Literal["applied", "needs_decision", "superseded", "undone"]

#: Lineage kinds written by curation itself (not by matching two analyses).
CURATED_MERGE = "curated_merge"
CURATED_UNMERGE = "curated_unmerge"


@dataclass(frozen=True)
class EditState:
    edit: ThemeEdit
    status: Status
    reason: str | None = None


@dataclass(frozen=True)
class AppliedMerge:
    edit_id: int
    survivor: str
    keys: tuple[str, ...]
    label: str | None


@dataclass
class Overlay:
    """The edits that apply to one analysis, by theme key."""

    labels: dict[str, str] = field(default_factory=dict)
    #: the edit that gave each key its label, so a later rename beats a merge's label
    label_edits: dict[str, int] = field(default_factory=dict)
    hidden: set[str] = field(default_factory=set)
    pinned: set[str] = field(default_factory=set)
    merges: list[AppliedMerge] = field(default_factory=list)
    splits: dict[str, int] = field(default_factory=dict)
    edits_by_key: dict[str, list[int]] = field(default_factory=dict)
    states: list[EditState] = field(default_factory=list)

    def merged_into(self) -> dict[str, AppliedMerge]:
        """Every key merged away (not the survivor) -> the merge it went into."""
        return {k: m for m in self.merges for k in m.keys if k != m.survivor}

    def merged_label(self, merge: AppliedMerge) -> str | None:
        """A merged theme's curated name: a rename made after the merge, else the merge's."""
        renamed = self.label_edits.get(merge.survivor, 0) > merge.edit_id
        return self.labels.get(merge.survivor) if renamed else merge.label

    def merge_of(self, key: str) -> AppliedMerge | None:
        """The merge a key takes part in, as survivor or merged away."""
        return next((m for m in self.merges if key in m.keys), None)

    @property
    def pending(self) -> list[EditState]:
        return [s for s in self.states if s.status == "needs_decision"]


def edit_keys(edit: ThemeEdit) -> list[str]:
    return [str(k) for k in edit.keys]


def project_edits(session: Session, project_id: str) -> list[ThemeEdit]:
    """Every edit of the project, oldest first."""
    return list(
        session.scalars(
            select(ThemeEdit).where(ThemeEdit.project_id == project_id).order_by(ThemeEdit.id)
        )
    )


def any_edit(session: Session, project_id: str) -> bool:
    """Whether the project holds an edit, live or undone (one row's id read, not every edit)."""
    found = session.scalar(select(ThemeEdit.id).where(ThemeEdit.project_id == project_id).limit(1))
    return found is not None


def pinned_keys(session: Session, project_id: str) -> list[str]:
    """Keys the latest live pin edit of each key pins (a later unpin or undo releases it)."""
    pinned: dict[str, bool] = {}
    for edit in project_edits(session, project_id):
        if edit.kind == EditKind.pinned and edit.undone_at is None:
            for key in edit_keys(edit):
                pinned[key] = bool(edit.value)
    return sorted(k for k, on in pinned.items() if on)


def pinned_rows(
    pinned: Sequence[str], previous: Mapping[str, Set[int]], ids: Sequence[int]
) -> list[list[int]]:
    """The clusterer's ``keep_apart`` groups: the rows (indices into ``ids``) holding each
    pinned key's narratives in the previous analysis, then the rows of every other previous
    theme as one group. A pinned theme's sub-themes may take in new narratives, never
    another theme's; other themes may still merge among themselves."""
    if not pinned:
        return []
    row = {narrative_id: i for i, narrative_id in enumerate(ids)}
    others: set[int] = set().union(*(m for k, m in previous.items() if k not in pinned))
    groups = [previous.get(key, set()) for key in pinned] + [others]
    rows = [sorted(row[n] for n in group if n in row) for group in groups]
    return [r for r in rows if r]


def _lineage_since(
    session: Session, project_id: str, analysis: Analysis
) -> list[tuple[int, ThemeLineage]]:
    rows = session.scalars(
        select(ThemeLineage)
        .join(Analysis, Analysis.id == ThemeLineage.analysis_id)
        .where(Analysis.project_id == project_id, ThemeLineage.analysis_id <= analysis.id)
        .order_by(ThemeLineage.analysis_id, ThemeLineage.id)
    )
    return [(row.analysis_id, row) for row in rows]


def _broken(
    edit: ThemeEdit,
    themes: dict[str, Theme],
    children: dict[str, int],
    lineage: Sequence[tuple[int, ThemeLineage]],
) -> str | None:
    """Why the edit cannot be applied to this analysis as it stands, or None."""
    made_on = edit.analysis_id or 0
    for key in edit_keys(edit):
        for analysis_id, event in lineage:
            if analysis_id <= made_on or key not in event.previous_keys:
                continue
            if event.kind == "split":
                into = ", ".join(str(k) for k in event.current_keys)
                return f"theme {key} split into {into} in analysis {analysis_id}"
            if event.kind in ("ended", "merged") and key not in themes:
                return f"theme {key} ended in analysis {analysis_id}"
        if key not in themes:
            return f"theme {key} is not in the latest analysis"
    if edit.kind == EditKind.split_theme and children.get(edit_keys(edit)[0], 0) < 2:
        return f"theme {edit_keys(edit)[0]} has no sub-themes to split into now"
    return None


def _latest_wins(states: list[EditState]) -> list[EditState]:
    """Of several applied edits of one key and flag, only the newest counts."""
    seen: set[tuple[EditKind, str]] = set()
    kept: list[EditState] = []
    for state in reversed(states):
        edit = state.edit
        if state.status == "applied" and edit.kind in (
            EditKind.label,
            EditKind.hidden,
            EditKind.pinned,
        ):
            slot = (edit.kind, edit_keys(edit)[0])
            if slot in seen:
                state = EditState(edit, "superseded", "a later edit of the same theme replaced it")
            seen.add(slot)
        kept.append(state)
    return list(reversed(kept))


def _states(
    edits: Iterable[ThemeEdit],
    themes: dict[str, Theme],
    children: dict[str, int],
    lineage: Sequence[tuple[int, ThemeLineage]],
) -> list[EditState]:
    states: list[EditState] = []
    for edit in edits:
        if edit.undone_at is not None:
            states.append(EditState(edit, "undone"))
            continue
        reason = _broken(edit, themes, children, lineage)
        states.append(EditState(edit, "needs_decision" if reason else "applied", reason))
    return _latest_wins(states)


def overlay(session: Session, project_id: str, analysis: Analysis | None) -> Overlay:
    """The project's edits as they apply to `analysis` (all pending when there is none)."""
    edits = project_edits(session, project_id)
    result = Overlay()
    if not edits:
        return result
    themes: dict[str, Theme] = {}
    lineage: list[tuple[int, ThemeLineage]] = []
    if analysis is not None:
        # the analysis's themes as its facts hold them: kept between reads, not queried again
        themes = {t.key: t for t in read_facts.facts(session, analysis).themes}
        lineage = _lineage_since(session, project_id, analysis)
    by_id = {t.id: t for t in themes.values()}
    children: dict[str, int] = {}
    for theme in themes.values():
        if theme.parent_id is not None and theme.parent_id in by_id:
            parent = by_id[theme.parent_id].key
            children[parent] = children.get(parent, 0) + 1
    result.states = _states(edits, themes, children, lineage)
    for state in result.states:
        for key in edit_keys(state.edit):
            result.edits_by_key.setdefault(key, []).append(state.edit.id)
        if state.status == "applied":
            _apply(result, state.edit)
    return result


def _apply(result: Overlay, edit: ThemeEdit) -> None:
    keys = edit_keys(edit)
    if edit.kind == EditKind.label:
        if isinstance(edit.value, str):
            result.labels[keys[0]] = edit.value
        else:
            result.labels.pop(keys[0], None)
        result.label_edits[keys[0]] = edit.id
    elif edit.kind == EditKind.hidden:
        (result.hidden.add if edit.value else result.hidden.discard)(keys[0])
    elif edit.kind == EditKind.pinned:
        (result.pinned.add if edit.value else result.pinned.discard)(keys[0])
    elif edit.kind == EditKind.merge:
        label = edit.value if isinstance(edit.value, str) else None
        result.merges.append(AppliedMerge(edit.id, keys[0], tuple(keys), label))
    elif edit.kind == EditKind.split_theme:
        result.splits[keys[0]] = edit.id
