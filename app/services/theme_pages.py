"""The answers of the theme endpoints: pages of themes, one theme, a key's history, similar
narratives. The stored analysis is read in `themes`; this module shapes it into schemas.

(It is a module apart from `themes` because `tensions` reads snippets from `themes`, while a
theme's page shows its tension signals.)
"""

from __future__ import annotations

import weakref

from sqlalchemy.orm import Session

from app.errors import NotFound
from app.schemas.curation import (
    CuratedThemeDetail,
    CuratedThemeHistory,
    CuratedThemesPage,
    CuratedThemeSummary,
    View,
)
from app.schemas.themes import (
    AnalysisRead,
    Exemplar,
    Keyword,
    LineageEventRead,
    LineageFlow,
    Member,
    SimilarList,
    SimilarNarrative,
    ThemeAppearance,
    ThemeChild,
)
from app.services import analyses as analysis_service
from app.services import curation as curation_service
from app.services import curation_state as state_service
from app.services import curation_view, read_facts
from app.services import narratives as narrative_service
from app.services import segments as segment_service
from app.services import tensions as tension_service
from app.services import themes as theme_service
from app.services.curation_state import Overlay
from app.services.curation_view import CuratedTheme
from app.services.incremental import EMERGING
from app.services.narratives import NarrativeFilter
from app.services.themes import Level, Membership, ThemeCount, VectorIndex
from models import Analysis, Project, Theme, ThemeLineage


def _keyword(pair: object) -> Keyword:
    # stored as [term, weight]
    assert isinstance(pair, list | tuple) and len(pair) == 2
    return Keyword(term=str(pair[0]), weight=float(pair[1]))


#: Each theme's keywords as schemas, with the stored list they were made from, for as long as
#: the theme object lives: the themes of an analysis's facts are shared by every read of it
#: and never changed, and a page lists hundreds of keywords.
_KEYWORDS: weakref.WeakKeyDictionary[Theme, tuple[object, list[Keyword]]] = (
    weakref.WeakKeyDictionary()
)


def _keywords(theme: Theme) -> list[Keyword]:
    stored = theme.keywords
    found = _KEYWORDS.get(theme)
    if found is None or found[0] is not stored:
        found = (stored, [_keyword(pair) for pair in stored])
        _KEYWORDS[theme] = found
    return found[1]


def _flow(overlap: object) -> LineageFlow:
    match overlap:
        case [previous, current, int(shared)]:
            return LineageFlow(previous=str(previous), current=str(current), shared=shared)
    raise TypeError(f"lineage overlap {overlap!r} is not [previous key, current key, shared]")


def _child(count: ThemeCount) -> ThemeChild:
    return ThemeChild(
        key=count.theme.key, label=count.theme.label, size=count.size, share=count.share
    )


def _latest_or_404(session: Session, project: Project) -> Analysis:
    """The project's latest succeeded analysis; NotFound before the first."""
    analysis = analysis_service.latest(session, project)
    if analysis is None:
        raise NotFound("the project has no finished analysis yet; POST /analyses to run one")
    return analysis


def _empty_page(
    session: Session,
    project: Project,
    level: Level,
    membership: Membership,
    view: View,
    limit: int,
    offset: int,
) -> CuratedThemesPage:
    return CuratedThemesPage(
        analysis=None,
        notes=analysis_service.no_analysis_notes(session, project),
        level=level,
        membership=membership,
        view=view,
        total_narratives=0,
        unclustered=0,
        total=0,
        limit=limit,
        offset=offset,
        themes=[],
    )


def _machine_entry(count: ThemeCount) -> CuratedTheme:
    theme = count.theme
    return CuratedTheme(
        theme.key, theme.label, theme.label, [count], count.size, count.share, count.children
    )


def _snippets(
    quoted: dict[int, dict[int, str]], themes: list[Theme], texts: dict[int, str]
) -> dict[int, str]:
    """The snippets one entry quotes: `quoted` (see `segments.exemplar_quotes`) of its themes,
    a long story's its segment nearest each theme."""
    own: dict[int, str] = {}
    for theme in themes:
        own.update((i, texts[i]) for i in theme.exemplars if isinstance(i, int) and i in texts)
        own.update(quoted.get(theme.id, {}))
    return {i: theme_service.snippet(t) for i, t in own.items()}


def _theme_snippets(session: Session, analysis: Analysis) -> dict[int, dict[int, str]]:
    """Theme id -> the snippets it quotes (`_snippets`), for every theme of the analysis:
    derived once per analysis (as its facts stand), since no filter changes them."""
    known = read_facts.facts(session, analysis)

    def make() -> dict[int, dict[int, str]]:
        texts = known.exemplar_texts(session)
        themes = list(known.themes)
        quoted = segment_service.exemplar_quotes(session, analysis.model_name, themes, texts)
        return {t.id: _snippets(quoted, [t], texts) for t in themes}

    return known.derived(("snippets", analysis.model_name), make)


def _interleaved(entry: CuratedTheme, texts: dict[int, str]) -> list[Exemplar]:
    """A merged theme's quotes: the most typical of each original theme in turn."""
    queues = [
        [i for i in c.theme.exemplars if isinstance(i, int) and i in texts] for c in entry.counts
    ]
    quotes: list[Exemplar] = []
    for rank in range(max((len(q) for q in queues), default=0)):
        quotes += [Exemplar(id=q[rank], snippet=texts[q[rank]]) for q in queues if rank < len(q)]
    return quotes


def _pooled_keywords(entry: CuratedTheme) -> list[Keyword]:
    """A merged theme's keywords: each original's weights scaled by its size, summed."""
    pooled: dict[str, float] = {}
    for count in entry.counts:
        for keyword in _keywords(count.theme):
            pooled[keyword.term] = pooled.get(keyword.term, 0.0) + keyword.weight * count.size
    total = sum(c.size for c in entry.counts) or 1
    best = sorted(pooled.items(), key=lambda kv: (-kv[1], kv[0]))[: len(entry.theme.keywords)]
    return [Keyword(term=term, weight=round(weight / total, 6)) for term, weight in best]


def _curated_summary(
    entry: CuratedTheme, texts: dict[int, str], parent: str | None
) -> CuratedThemeSummary:
    """One entry of a page; `texts` are the snippets it quotes (`_snippets`)."""
    theme = entry.theme
    merged = len(entry.counts) > 1
    return CuratedThemeSummary(
        key=theme.key,
        label=entry.label,
        # a sub-theme a curation split lifted is a theme of its own in the curated view
        level=0 if entry.split_from else theme.level,
        parent=None if entry.split_from else parent,
        emerging=EMERGING in (theme.flags or []),
        children=[_child(k) for k in entry.children],
        keywords=_pooled_keywords(entry) if merged else _keywords(theme),
        size=entry.size,
        share=entry.share,
        exemplars=(
            _interleaved(entry, texts)
            if merged
            else [
                Exemplar(id=i, snippet=texts[i])
                for i in theme.exemplars
                if isinstance(i, int) and i in texts
            ]
        ),
        x=theme.x,
        y=theme.y,
        machine_label=entry.machine_label,
        hidden=entry.hidden,
        pinned=entry.pinned,
        merged_from=entry.merged_from,
        split_from=entry.split_from,
        edits=entry.edits,
    )


def themes_page(
    session: Session,
    project: Project,
    flt: NarrativeFilter,
    level: Level,
    membership: Membership,
    limit: int,
    offset: int,
    view: View = "curated",
) -> CuratedThemesPage:
    """One page of the latest analysis's themes, curated unless `view` is machine; empty,
    with notes, before the first analysis."""
    analysis = analysis_service.latest(session, project)
    if analysis is None:
        return _empty_page(session, project, level, membership, view, limit, offset)
    listing = theme_service.list_themes(session, project, analysis, flt, level, membership)
    overlay = state_service.overlay(session, project.id, analysis)
    if view == "curated":
        curated = curation_view.curate(session, overlay, listing, level)
        entries, hidden = curated.themes, len(curated.hidden)
    else:
        entries, hidden = [_machine_entry(c) for c in listing.themes], 0
    page = entries[offset : offset + limit]
    snippets = _theme_snippets(session, analysis)
    parents = listing.keys
    return CuratedThemesPage(
        analysis=AnalysisRead.model_validate(analysis),
        notes=[str(note) for note in analysis.notes],
        level=level,
        membership=membership,
        view=view,
        hidden=hidden,
        needs_decision=[curation_service.edit_read(s) for s in overlay.pending],
        total_narratives=listing.total_narratives,
        unclustered=listing.unclustered,
        total=len(entries),
        limit=limit,
        offset=offset,
        themes=[
            _curated_summary(
                e,
                {i: t for c in e.counts for i, t in snippets.get(c.theme.id, {}).items()},
                parents.get(e.theme.parent_id or 0),
            )
            for e in page
        ],
    )


def _merge_notes(entry: CuratedTheme, overlay: Overlay, analysis: Analysis) -> list[str]:
    if len(entry.counts) < 2:
        return []
    names = " and ".join(f"“{curation_view.label_of(overlay, c.theme)}”" for c in entry.counts)
    merge = overlay.merge_of(entry.key)
    made_here = any(
        s.edit.id == merge.edit_id and s.edit.analysis_id == analysis.id
        for s in overlay.states
        if merge is not None
    )
    signals = (
        "its tension signals are shown per original theme (each signal names its theme) "
        "until the next analysis recomputes them"
        if made_here
        else "its tension signals were computed for the merged theme"
    )
    return [f"merged by a curation edit from {names}; {signals}"]


def _detail_entry(
    session: Session, project: Project, analysis: Analysis, theme: Theme, view: View
) -> tuple[CuratedTheme, list[str]]:
    """The curated theme a key's page shows, and the notes saying how curation changed it."""
    count = ThemeCount(theme, theme.size, theme.share)
    if view == "machine":
        return _machine_entry(count), []
    found = curation_view.key_map(session, project, analysis).get(theme.key)
    if found is None or found.split_from == theme.key:
        overlay = state_service.overlay(session, project.id, analysis)
        notes = (
            ["split by a curation edit: the curated view shows its sub-themes as themes"]
            if found is not None
            else []
        )
        return curation_view.entry_for(overlay, count), notes
    notes = _merge_notes(found, state_service.overlay(session, project.id, analysis), analysis)
    if found.key != theme.key:
        notes.insert(0, f"“{theme.label}” is shown merged into “{found.label}” by a curation edit")
    return found, notes


def theme_detail(
    session: Session,
    project: Project,
    key: str,
    limit: int,
    offset: int,
    view: View = "curated",
) -> CuratedThemeDetail:
    """One theme of the latest analysis with a page of its members and its signals; in the
    curated view a key merged away answers with the theme it was merged into."""
    analysis = _latest_or_404(session, project)
    theme = theme_service.get_theme(session, analysis, key)
    entry, notes = _detail_entry(session, project, analysis, theme, view)
    themes = [c.theme for c in entry.counts]
    own = theme_service.texts_by_id(
        session, [i for t in themes for i in t.exemplars if isinstance(i, int)]
    )
    quoted = segment_service.exemplar_quotes(session, analysis.model_name, themes, own)
    texts = _snippets(quoted, themes, own)
    members = theme_service.members_of(session, themes, limit, offset)
    children = [
        _child(ThemeCount(k, k.size, k.share))
        for t in themes
        for k in theme_service.children(session, t)
    ]
    summary = _curated_summary(entry, texts, theme_service.parent_key(session, entry.theme))
    return CuratedThemeDetail(
        **{**summary.model_dump(), "children": children},
        view=view,
        curation_notes=notes,
        analysis_id=analysis.id,
        members=[
            Member(id=i, snippet=theme_service.snippet(t), probability=p) for i, t, p in members
        ],
        members_total=sum(t.size for t in themes),
        limit=limit,
        offset=offset,
        signals=[
            signal
            for t in themes
            for signal in tension_service.theme_signals(session, analysis, t.key)
        ],
    )


def _appearance(found: theme_service.Appearance) -> ThemeAppearance:
    return ThemeAppearance(
        analysis_id=found.analysis.id,
        finished_at=found.analysis.finished_at,
        level=found.theme.level,
        parent=found.parent_key,
        label=found.theme.label,
        size=found.theme.size,
        share=found.theme.share,
        emerging=EMERGING in (found.theme.flags or []),
    )


def _event(event: ThemeLineage) -> LineageEventRead:
    return LineageEventRead(
        analysis_id=event.analysis_id,
        previous_analysis_id=event.previous_analysis_id,
        level=event.level,
        kind=event.kind,
        previous_keys=[str(k) for k in event.previous_keys],
        current_keys=[str(k) for k in event.current_keys],
        flows=[_flow(overlap) for overlap in event.overlaps],
        similarity=event.similarity,
    )


def theme_history(session: Session, project: Project, key: str) -> CuratedThemeHistory:
    """A theme key across the project's analyses: its appearances, lineage events (curation
    merges included) and the curation edits that name it."""
    found = theme_service.history(session, project, key)
    return CuratedThemeHistory(
        key=key,
        appearances=[_appearance(a) for a in found.appearances],
        events=[_event(e) for e in found.events],
        edits=curation_service.key_edits(session, project, key),
    )


def similar_page(
    session: Session,
    index: VectorIndex,
    project: Project,
    narrative_id: int,
    model: str,
    limit: int,
) -> SimilarList:
    """The narratives of the project nearest to one, by cosine similarity of `model`'s vectors."""
    narrative = narrative_service.get(session, project, narrative_id)
    found = theme_service.similar(session, index, project, narrative, model, limit)
    texts = theme_service.texts_by_id(session, [i for i, _ in found])
    return SimilarList(
        narrative_id=narrative_id,
        items=[
            SimilarNarrative(id=i, similarity=round(s, 6), snippet=theme_service.snippet(texts[i]))
            for i, s in found
        ],
    )
