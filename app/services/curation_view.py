"""The curated view of an analysis's themes: curated labels, hidden themes counted apart,
merged themes as one, split themes as their sub-themes.

Shares stay shares of all narratives: a hidden theme leaves the list, never the denominator.
`curated_themes` is the one call other readers (reports, exports) use.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from app.services import curation_state as state_service
from app.services import themes as theme_service
from app.services.curation_state import AppliedMerge, Overlay
from app.services.narratives import NarrativeFilter
from app.services.themes import Level, Membership, ThemeCount, ThemeListing
from models import Analysis, Project, Theme


@dataclass
class CuratedTheme:
    """One theme of the curated view; ``counts`` are the analysis's themes behind it."""

    key: str
    label: str
    machine_label: str
    counts: list[ThemeCount]
    size: int
    share: float
    children: list[ThemeCount] = field(default_factory=list)
    hidden: bool = False
    pinned: bool = False
    merged_from: list[str] = field(default_factory=list)
    split_from: str | None = None
    edits: list[int] = field(default_factory=list)

    @property
    def theme(self) -> Theme:
        """The analysis's theme whose key this one carries."""
        return self.counts[0].theme

    @property
    def theme_ids(self) -> list[int]:
        return [c.theme.id for c in self.counts]


@dataclass
class CuratedListing:
    total_narratives: int
    unclustered: int
    themes: list[CuratedTheme]
    hidden: list[CuratedTheme]
    overlay: Overlay


def label_of(overlay: Overlay, theme: Theme) -> str:
    return overlay.labels.get(theme.key, theme.label)


def entry_for(overlay: Overlay, count: ThemeCount, split_from: str | None = None) -> CuratedTheme:
    theme = count.theme
    return CuratedTheme(
        key=theme.key,
        label=label_of(overlay, theme),
        machine_label=theme.label,
        counts=[count],
        size=count.size,
        share=count.share,
        children=list(count.children),
        hidden=theme.key in overlay.hidden
        or (split_from is not None and split_from in overlay.hidden),
        pinned=theme.key in overlay.pinned,
        split_from=split_from,
        edits=overlay.edits_by_key.get(theme.key, []),
    )


def _merged(overlay: Overlay, counts: list[ThemeCount], merge: AppliedMerge) -> CuratedTheme:
    survivor = counts[0].theme
    label = overlay.merged_label(merge)
    children = sorted((k for c in counts for k in c.children), key=lambda k: (-k.size, k.theme.key))
    return CuratedTheme(
        key=survivor.key,
        label=label or label_of(overlay, survivor),
        machine_label=survivor.label,
        counts=counts,
        size=sum(c.size for c in counts),
        share=sum(c.share for c in counts),
        children=children,
        hidden=survivor.key in overlay.hidden,
        pinned=survivor.key in overlay.pinned,
        merged_from=[c.theme.key for c in counts],
        edits=sorted({i for c in counts for i in overlay.edits_by_key.get(c.theme.key, [])}),
    )


def _top_entries(overlay: Overlay, counts: list[ThemeCount]) -> list[CuratedTheme]:
    by_key = {c.theme.key: c for c in counts}
    taken: set[str] = set()
    entries: list[CuratedTheme] = []
    for merge in overlay.merges:
        members = [by_key[k] for k in merge.keys if k in by_key]
        if len(members) >= 1 and members[0].theme.key == merge.survivor:
            entries.append(_merged(overlay, members, merge))
            taken.update(c.theme.key for c in members)
    for count in counts:
        key = count.theme.key
        if key in taken:
            continue
        if key in overlay.splits and count.children:
            entries.extend(entry_for(overlay, child, split_from=key) for child in count.children)
        else:
            entries.append(entry_for(overlay, count))
    entries.sort(key=lambda e: (-e.size, e.key))
    return entries


def _leaf_entries(
    session: Session, overlay: Overlay, counts: list[ThemeCount]
) -> list[CuratedTheme]:
    # at leaf level merges and splits do not change the list; labels and hidden parents do
    # a sub-theme is hidden with its parent: only hidden themes need the parents' keys
    parents = (
        theme_service.parent_keys(session, [c.theme for c in counts]) if overlay.hidden else {}
    )
    entries = []
    for count in counts:
        parent = parents.get(count.theme.parent_id or 0)
        entry = entry_for(overlay, count)
        entry.hidden = entry.hidden or (parent is not None and parent in overlay.hidden)
        entries.append(entry)
    return entries


def curate(
    session: Session, overlay: Overlay, listing: ThemeListing, level: Level = "top"
) -> CuratedListing:
    """The curated view of a listing (sizes as the listing counted them)."""
    if level == "top":
        entries = _top_entries(overlay, listing.themes)
    else:
        entries = _leaf_entries(session, overlay, listing.themes)
    return CuratedListing(
        total_narratives=listing.total_narratives,
        unclustered=listing.unclustered,
        themes=[e for e in entries if not e.hidden],
        hidden=[e for e in entries if e.hidden],
        overlay=overlay,
    )


def curated_themes(
    session: Session,
    project: Project,
    analysis: Analysis,
    flt: NarrativeFilter | None = None,
    level: Level = "top",
    membership: Membership = "primary",
) -> CuratedListing:
    """The analysis's themes as the convenor curated them: what reports and exports show."""
    listing = theme_service.list_themes(
        session, project, analysis, flt or NarrativeFilter(), level, membership
    )
    overlay = state_service.overlay(session, project.id, analysis)
    return curate(session, overlay, listing, level)


def key_map(session: Session, project: Project, analysis: Analysis) -> dict[str, CuratedTheme]:
    """Every key of the analysis's top-level themes -> the curated theme it is shown in."""
    listing = curated_themes(session, project, analysis)
    mapped: dict[str, CuratedTheme] = {}
    for entry in [*listing.themes, *listing.hidden]:
        for count in entry.counts:
            mapped.setdefault(count.theme.key, entry)
        if entry.split_from is not None:
            mapped.setdefault(entry.split_from, entry)
    return mapped
