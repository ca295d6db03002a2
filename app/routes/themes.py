from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from app.deps import ReadProject, RuntimeDep, SessionDep
from app.errors import NotFound
from app.routes.filters import FilterDep
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
from app.services import tensions as tension_service
from app.services import themes as theme_service
from app.services.incremental import EMERGING
from models import Analysis, Project, Theme

router = APIRouter(prefix="/v1/projects/{project_id}", tags=["themes"])


def _keyword(pair: object) -> Keyword:
    # stored as [term, weight]
    assert isinstance(pair, list | tuple) and len(pair) == 2
    return Keyword(term=str(pair[0]), weight=float(pair[1]))


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


def _latest_or_404(session: Session, project: Project) -> Analysis:
    analysis = analysis_service.latest(session, project)
    if analysis is None:
        raise NotFound("the project has no finished analysis yet; POST /analyses to run one")
    return analysis


def _child(count: theme_service.ThemeCount) -> ThemeChild:
    return ThemeChild(
        key=count.theme.key, label=count.theme.label, size=count.size, share=count.share
    )


LevelQuery = Annotated[
    Literal["top", "leaf"],
    Query(description="top: the top-level themes; leaf: sub-themes and childless themes."),
]
MembershipQuery = Annotated[
    Literal["primary", "any"],
    Query(
        description="primary: each narrative counts in its own theme; any: in each of its "
        "top three themes (top level only)."
    ),
]


@router.get("/themes", response_model=ThemesPage)
def list_themes(
    project: ReadProject,
    session: SessionDep,
    flt: FilterDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
    level: LevelQuery = "top",
    membership: MembershipQuery = "primary",
) -> ThemesPage:
    """The latest analysis's themes, largest first; filters recount sizes from stored results."""
    analysis = analysis_service.latest(session, project)
    if analysis is None:
        return ThemesPage(
            analysis=None,
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
                texts,
                [_child(k) for k in c.children],
                parents.get(c.theme.parent_id or 0),
            )
            for c in page
        ],
    )


@router.get("/themes/{key}", response_model=ThemeDetail)
def read_theme(
    key: str,
    project: ReadProject,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> ThemeDetail:
    """One theme of the latest analysis: keywords with weights, exemplars, members by typicality."""
    analysis = _latest_or_404(session, project)
    theme = theme_service.get_theme(session, analysis, key)
    texts = theme_service.texts_by_id(session, [i for i in theme.exemplars if isinstance(i, int)])
    members = theme_service.members(session, theme, limit, offset)
    children = [
        ThemeChild(key=k.key, label=k.label, size=k.size, share=k.share)
        for k in theme_service.children(session, theme)
    ]
    summary = _summary(
        theme, theme.size, theme.share, texts, children, theme_service.parent_key(session, theme)
    )
    signals = tension_service.theme_signals(session, analysis, theme.key)
    return ThemeDetail(
        **summary.model_dump(),
        analysis_id=analysis.id,
        members=[
            Member(id=i, snippet=theme_service.snippet(t), probability=p) for i, t, p in members
        ],
        members_total=theme.size,
        limit=limit,
        offset=offset,
        signals=signals,
    )


@router.get("/themes/{key}/history", response_model=ThemeHistory)
def theme_history(key: str, project: ReadProject, session: SessionDep) -> ThemeHistory:
    """A theme key across analyses: where it appeared, and the splits, merges and endings
    that name it (lineage is recorded each time an analysis is matched to the one before)."""
    found = theme_service.history(session, project, key)
    return ThemeHistory(
        key=key,
        appearances=[
            ThemeAppearance(
                analysis_id=a.analysis.id,
                finished_at=a.analysis.finished_at,
                level=a.theme.level,
                parent=a.parent_key,
                label=a.theme.label,
                size=a.theme.size,
                share=a.theme.share,
                emerging=EMERGING in (a.theme.flags or []),
            )
            for a in found.appearances
        ],
        events=[
            LineageEventRead(
                analysis_id=e.analysis_id,
                previous_analysis_id=e.previous_analysis_id,
                level=e.level,
                kind=e.kind,
                previous_keys=[str(k) for k in e.previous_keys],
                current_keys=[str(k) for k in e.current_keys],
                flows=[
                    LineageFlow(previous=str(f[0]), current=str(f[1]), shared=int(f[2]))  # type: ignore[index]
                    for f in e.overlaps
                ],
                similarity=e.similarity,
            )
            for e in found.events
        ],
    )


@router.get("/narratives/{narrative_id}/similar", response_model=SimilarList)
def similar_narratives(
    narrative_id: int,
    project: ReadProject,
    session: SessionDep,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> SimilarList:
    """More stories like this: the nearest narratives of the project by cosine similarity."""
    narrative = narrative_service.get(session, project, narrative_id)
    found = theme_service.similar(
        session, runtime.vectors, project, narrative, runtime.embedder.name, limit
    )
    texts = theme_service.texts_by_id(session, [i for i, _ in found])
    return SimilarList(
        narrative_id=narrative_id,
        items=[
            SimilarNarrative(id=i, similarity=round(s, 6), snippet=theme_service.snippet(texts[i]))
            for i, s in found
        ],
    )


@router.get(
    "/assignments",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/json": {}, "text/csv": {}}}},
)
def export_assignments(
    project: ReadProject,
    session: SessionDep,
    runtime: RuntimeDep,
    format: Literal["json", "csv"] = "json",
) -> StreamingResponse:
    """Every narrative's theme, sub-theme and top three themes in the latest analysis, streamed."""
    analysis = _latest_or_404(session, project)
    chunks = theme_service.iter_assignments(runtime.session_factory, analysis.id)
    filename = f"weft-{project.id}-analysis-{analysis.id}.{format}"
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if format == "csv":
        return StreamingResponse(_csv(chunks), media_type="text/csv", headers=headers)
    return StreamingResponse(
        _json(chunks, analysis.id), media_type="application/json", headers=headers
    )


_COLUMNS = (
    "narrative_id",
    "external_id",
    "theme_key",
    "subtheme_key",
    "probability",
    "incremental",
)
#: Soft membership in CSV: the second and third themes, flattened.
_SOFT_COLUMNS = ("theme_2_key", "theme_2_probability", "theme_3_key", "theme_3_probability")


def _csv(chunks: Iterator[list[theme_service.AssignmentRow]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(_COLUMNS + _SOFT_COLUMNS)
    for chunk in chunks:
        for r in chunk:
            others = r.memberships[1:3]
            soft = [v for key, p in others for v in (key, f"{p:.6f}")]
            soft += [""] * (len(_SOFT_COLUMNS) - len(soft))
            writer.writerow(
                [
                    r.narrative_id,
                    r.external_id or "",
                    r.theme_key or "",
                    r.subtheme_key or "",
                    f"{r.probability:.6f}",
                    "true" if r.incremental else "false",
                    *soft,
                ]
            )
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def _json(chunks: Iterator[list[theme_service.AssignmentRow]], analysis_id: int) -> Iterator[str]:
    yield f'{{"analysis_id": {analysis_id}, "assignments": ['
    first = True
    for chunk in chunks:
        for r in chunk:
            item = json.dumps(
                {
                    "narrative_id": r.narrative_id,
                    "external_id": r.external_id,
                    "theme_key": r.theme_key,
                    "subtheme_key": r.subtheme_key,
                    "probability": round(r.probability, 6),
                    "incremental": r.incremental,
                    "memberships": [
                        {"theme_key": key, "probability": round(p, 6)} for key, p in r.memberships
                    ],
                }
            )
            yield item if first else "," + item
            first = False
    yield "]}"
