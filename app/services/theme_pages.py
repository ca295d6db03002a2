"""The answers of the theme endpoints: pages of themes, one theme, a key's history, similar
narratives. The stored analysis is read in `themes`; this module shapes it into schemas.

(It is a module apart from `themes` because `tensions` reads snippets from `themes`, while a
theme's page shows its tension signals.)
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.errors import NotFound
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
    ThemeDetail,
    ThemeHistory,
    ThemesPage,
    ThemeSummary,
)
from app.services import analyses as analysis_service
from app.services import narratives as narrative_service
from app.services import segments as segment_service
from app.services import tensions as tension_service
from app.services import themes as theme_service
from app.services.incremental import EMERGING
from app.services.narratives import NarrativeFilter
from app.services.themes import Level, Membership, ThemeCount, VectorIndex
from models import Analysis, Project, Theme, ThemeLineage


def _keyword(pair: object) -> Keyword:
    # stored as [term, weight]
    assert isinstance(pair, list | tuple) and len(pair) == 2
    return Keyword(term=str(pair[0]), weight=float(pair[1]))


def _flow(overlap: object) -> LineageFlow:
    match overlap:
        case [previous, current, int(shared)]:
            return LineageFlow(previous=str(previous), current=str(current), shared=shared)
    raise TypeError(f"lineage overlap {overlap!r} is not [previous key, current key, shared]")


def _summary(
    theme: Theme,
    size: int,
    share: float,
    texts: dict[int, str],
    children: list[ThemeChild],
    parent: str | None,
) -> ThemeSummary:
    return ThemeSummary(
        key=theme.key,
        label=theme.label,
        level=theme.level,
        parent=parent,
        emerging=EMERGING in (theme.flags or []),
        children=children,
        keywords=[_keyword(pair) for pair in theme.keywords],
        size=size,
        share=share,
        exemplars=[
            Exemplar(id=i, snippet=theme_service.snippet(texts[i]))
            for i in theme.exemplars
            if isinstance(i, int) and i in texts
        ],
        x=theme.x,
        y=theme.y,
    )


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


def themes_page(
    session: Session,
    project: Project,
    flt: NarrativeFilter,
    level: Level,
    membership: Membership,
    limit: int,
    offset: int,
) -> ThemesPage:
    """One page of the latest analysis's themes; empty, with notes, before the first."""
    analysis = analysis_service.latest(session, project)
    if analysis is None:
        return ThemesPage(
            analysis=None,
            notes=analysis_service.no_analysis_notes(session, project),
            level=level,
            membership=membership,
            total_narratives=0,
            unclustered=0,
            total=0,
            limit=limit,
            offset=offset,
            themes=[],
        )
    listing = theme_service.list_themes(session, project, analysis, flt, level, membership)
    page = listing.themes[offset : offset + limit]
    texts = theme_service.texts_by_id(
        session, [i for c in page for i in c.theme.exemplars if isinstance(i, int)]
    )
    parents = {t.id: t.key for t in theme_service.parents(session, [c.theme for c in page])}
    return ThemesPage(
        analysis=AnalysisRead.model_validate(analysis),
        notes=[str(note) for note in analysis.notes],
        level=level,
        membership=membership,
        total_narratives=listing.total_narratives,
        unclustered=listing.unclustered,
        total=len(listing.themes),
        limit=limit,
        offset=offset,
        themes=[
            _summary(
                c.theme,
                c.size,
                c.share,
                segment_service.exemplar_quotes(session, analysis.model_name, c.theme, texts),
                [_child(k) for k in c.children],
                parents.get(c.theme.parent_id or 0),
            )
            for c in page
        ],
    )


def theme_detail(
    session: Session, project: Project, key: str, limit: int, offset: int
) -> ThemeDetail:
    """One theme of the latest analysis with a page of its members and its signals."""
    analysis = _latest_or_404(session, project)
    theme = theme_service.get_theme(session, analysis, key)
    texts = theme_service.texts_by_id(session, [i for i in theme.exemplars if isinstance(i, int)])
    texts = segment_service.exemplar_quotes(session, analysis.model_name, theme, texts)
    members = theme_service.members(session, theme, limit, offset)
    children = [
        ThemeChild(key=k.key, label=k.label, size=k.size, share=k.share)
        for k in theme_service.children(session, theme)
    ]
    summary = _summary(
        theme, theme.size, theme.share, texts, children, theme_service.parent_key(session, theme)
    )
    return ThemeDetail(
        **summary.model_dump(),
        analysis_id=analysis.id,
        members=[
            Member(id=i, snippet=theme_service.snippet(t), probability=p) for i, t, p in members
        ],
        members_total=theme.size,
        limit=limit,
        offset=offset,
        signals=tension_service.theme_signals(session, analysis, theme.key),
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


def theme_history(session: Session, project: Project, key: str) -> ThemeHistory:
    """A theme key across the project's analyses: its appearances and lineage events."""
    found = theme_service.history(session, project, key)
    return ThemeHistory(
        key=key,
        appearances=[_appearance(a) for a in found.appearances],
        events=[_event(e) for e in found.events],
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
