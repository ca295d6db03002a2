"""Curation use cases: rename, hide, pin, merge and split themes, undo or confirm an edit,
and list the edits. Edits are rows of the project (``theme_edits``) naming stable keys; how
they apply to an analysis is worked out in `curation_state`, the curated view in
`curation_view`."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import Conflict, NotFound, UnprocessableEntity
from app.schemas.curation import EditList, EditRead, EditsMade, ThemeMerge, ThemePatch
from app.services import analyses as analysis_service
from app.services import curation_state as state_service
from app.services import themes as theme_service
from app.services.curation_state import CURATED_MERGE, CURATED_UNMERGE, EditState, Overlay
from models import (
    Analysis,
    ApiKey,
    EditKind,
    Project,
    Theme,
    ThemeEdit,
    ThemeLineage,
    UiSession,
)
from models.base import utcnow


def _analysis(session: Session, project: Project) -> Analysis:
    analysis = analysis_service.latest(session, project)
    if analysis is None:
        raise Conflict("there are no themes to edit yet: run an analysis first")
    return analysis


def _top_level(theme: Theme, action: str) -> None:
    if theme.level != 0:
        raise UnprocessableEntity(
            f"theme {theme.key} is a sub-theme; only top-level themes can be {action}"
        )


def _free(overlay: Overlay, key: str, action: str) -> None:
    merge = overlay.merge_of(key)
    if merge is not None:
        raise Conflict(
            f"theme {key} is part of merge edit {merge.edit_id} (into {merge.survivor}); "
            f"undo that edit before it can be {action}"
        )
    if key in overlay.splits:
        raise Conflict(
            f"theme {key} is split by edit {overlay.splits[key]}; undo that edit before it "
            f"can be {action}"
        )


def _record(
    session: Session,
    project: Project,
    analysis: Analysis,
    key: ApiKey,
    kind: EditKind,
    keys: list[str],
    value: object,
) -> ThemeEdit:
    edit = ThemeEdit(
        project_id=project.id,
        kind=kind,
        keys=keys,
        value=value,
        analysis_id=analysis.id,
        key_id=key.id,
        key_name=key.name or key.prefix,
        created_at=utcnow(),
    )
    session.add(edit)
    session.flush()
    return edit


def edit_read(state: EditState) -> EditRead:
    edit = state.edit
    value = edit.value if isinstance(edit.value, str | bool) else None
    return EditRead(
        id=edit.id,
        kind=edit.kind.value,
        keys=state_service.edit_keys(edit),
        value=value,
        analysis_id=edit.analysis_id,
        key_name=edit.key_name,
        created_at=edit.created_at,
        confirmed_at=edit.confirmed_at,
        confirmed_by=edit.confirmed_by,
        undone_at=edit.undone_at,
        undone_by=edit.undone_by,
        status=state.status,
        reason=state.reason,
    )


def _reads(session: Session, project: Project, ids: set[int]) -> list[EditRead]:
    overlay = state_service.overlay(session, project.id, analysis_service.latest(session, project))
    return [edit_read(s) for s in overlay.states if s.edit.id in ids]


def patch(
    session: Session, project: Project, key: ApiKey, theme_key: str, body: ThemePatch
) -> EditsMade:
    """Rename, hide or unhide, pin or unpin a theme: one edit per field sent."""
    analysis = _analysis(session, project)
    theme = theme_service.get_theme(session, analysis, theme_key)
    overlay = state_service.overlay(session, project.id, analysis)
    merged = overlay.merged_into().get(theme_key)
    if merged is not None:
        raise Conflict(
            f"theme {theme_key} is merged into {merged.survivor} by edit {merged.edit_id}: "
            f"edit {merged.survivor}, or undo the merge first"
        )
    fields = body.model_fields_set
    if fields & {"hidden", "pinned"}:
        _top_level(theme, "hidden or pinned")
    made: set[int] = set()
    if "label" in fields:
        made.add(
            _record(session, project, analysis, key, EditKind.label, [theme_key], body.label).id
        )
    for kind, value in ((EditKind.hidden, body.hidden), (EditKind.pinned, body.pinned)):
        if kind.value in fields:
            if value is None:
                raise UnprocessableEntity(f"{kind.value} is true or false, not null")
            made.add(_record(session, project, analysis, key, kind, [theme_key], value).id)
    return EditsMade(edits=_reads(session, project, made))


def merge(session: Session, project: Project, key: ApiKey, body: ThemeMerge) -> EditRead:
    """Merge top-level themes into one that keeps the larger theme's key; lineage records it."""
    analysis = _analysis(session, project)
    themes = [theme_service.get_theme(session, analysis, k) for k in body.keys]
    overlay = state_service.overlay(session, project.id, analysis)
    for theme in themes:
        _top_level(theme, "merged")
        _free(overlay, theme.key, "merged")
    themes.sort(key=lambda t: (-t.size, t.key))
    survivor = themes[0].key
    for theme in themes[1:]:
        if theme.key in overlay.pinned:
            raise Conflict(
                f"theme {theme.key} is pinned, so it cannot be merged away into {survivor}; "
                "unpin it first"
            )
    keys = [t.key for t in themes]
    edit = _record(session, project, analysis, key, EditKind.merge, keys, body.label)
    session.add(
        ThemeLineage(
            analysis_id=analysis.id,
            previous_analysis_id=analysis.id,
            level=0,
            kind=CURATED_MERGE,
            previous_keys=keys,
            current_keys=[survivor],
            overlaps=[[t.key, survivor, t.size] for t in themes],
        )
    )
    session.flush()
    return _reads(session, project, {edit.id})[0]


def split(session: Session, project: Project, key: ApiKey, theme_key: str) -> EditRead:
    """Show a theme as its sub-themes, each a theme of its own in the curated view."""
    analysis = _analysis(session, project)
    theme = theme_service.get_theme(session, analysis, theme_key)
    _top_level(theme, "split")
    overlay = state_service.overlay(session, project.id, analysis)
    _free(overlay, theme_key, "split")
    children = session.scalars(select(Theme.key).where(Theme.parent_id == theme.id)).all()
    if len(children) < 2:
        raise Conflict(
            f"theme {theme_key} has no sub-themes in the latest analysis, so there is nothing "
            "to split it into"
        )
    edit = _record(session, project, analysis, key, EditKind.split_theme, [theme_key], None)
    return _reads(session, project, {edit.id})[0]


def _edit(session: Session, project: Project, edit_id: int) -> ThemeEdit:
    edit = session.get(ThemeEdit, edit_id)
    if edit is None or edit.project_id != project.id:
        raise NotFound(f"edit {edit_id} not found")
    if edit.undone_at is not None:
        raise Conflict(f"edit {edit_id} was undone already ({edit.undone_by}, {edit.undone_at})")
    return edit


def undo(session: Session, project: Project, key: ApiKey, edit_id: int) -> EditRead:
    """Undo an edit: the view goes back to what it would be without it."""
    edit = _edit(session, project, edit_id)
    edit.undone_at = utcnow()
    edit.undone_by = key.name or key.prefix
    latest = analysis_service.latest(session, project)
    if edit.kind == EditKind.merge and latest is not None:
        keys = state_service.edit_keys(edit)
        session.add(
            ThemeLineage(
                analysis_id=latest.id,
                previous_analysis_id=latest.id,
                level=0,
                kind=CURATED_UNMERGE,
                previous_keys=keys[:1],
                current_keys=keys,
                overlaps=[],
            )
        )
    session.flush()
    return _reads(session, project, {edit.id})[0]


def confirm(session: Session, project: Project, key: ApiKey, edit_id: int) -> EditRead:
    """Keep an edit that needs a decision, applied to the latest analysis's themes as they are."""
    edit = _edit(session, project, edit_id)
    analysis = _analysis(session, project)
    present = set(
        session.scalars(
            select(Theme.key).where(
                Theme.analysis_id == analysis.id, Theme.key.in_(state_service.edit_keys(edit))
            )
        )
    )
    missing = [k for k in state_service.edit_keys(edit) if k not in present]
    if missing:
        raise Conflict(
            f"theme {', '.join(missing)} is not in the latest analysis, so edit {edit_id} cannot "
            "be kept; undo it, and make the edit again on the themes that are there now"
        )
    edit.analysis_id = analysis.id
    edit.confirmed_at = utcnow()
    edit.confirmed_by = key.name or key.prefix
    session.flush()
    read = _reads(session, project, {edit.id})[0]
    if read.status == "needs_decision":
        raise Conflict(f"edit {edit_id} cannot be kept: {read.reason}; undo it instead")
    return read


def list_edits(session: Session, project: Project) -> EditList:
    """Every edit of the project with what it does to the latest analysis."""
    analysis = analysis_service.latest(session, project)
    overlay = state_service.overlay(session, project.id, analysis)
    return EditList(
        analysis_id=analysis.id if analysis else None,
        needs_decision=len(overlay.pending),
        edits=[edit_read(s) for s in overlay.states],
    )


def key_edits(session: Session, project: Project, theme_key: str) -> list[EditRead]:
    """Every edit naming a key, undone ones too, oldest first."""
    return [e for e in list_edits(session, project).edits if theme_key in e.keys]


def viewer_key(session: Session, csrf_token: str) -> ApiKey:
    """The API key a dashboard session signed in with (found by its session's CSRF token)."""
    key = session.scalars(
        select(ApiKey)
        .join(UiSession, UiSession.key_id == ApiKey.id)
        .where(UiSession.csrf_token == csrf_token)
    ).first()
    if key is None:
        raise NotFound("your sign-in has ended; sign in again")
    return key


def current_labels(session: Session, project: Project) -> dict[str, str]:
    """Key -> name of every theme of the latest analysis, curated names first."""
    analysis = analysis_service.latest(session, project)
    if analysis is None:
        return {}
    overlay = state_service.overlay(session, project.id, analysis)
    rows = session.execute(select(Theme.key, Theme.label).where(Theme.analysis_id == analysis.id))
    return {str(k): overlay.labels.get(str(k), str(label)) for k, label in rows}


@dataclass
class ThemePanel:
    """What the theme page's curation controls need."""

    edits: list[EditRead]
    pending: list[EditRead]
    #: (key, name) of the other top-level themes it can be merged with
    merge_with: list[tuple[str, str]]
    can_split: bool


def theme_panel(session: Session, project: Project, key: str) -> ThemePanel:
    """The edits naming a theme, those waiting for a decision, and what it can be merged with."""
    analysis = analysis_service.latest(session, project)
    edits = list_edits(session, project).edits
    mine = [e for e in edits if key in e.keys]
    if analysis is None:
        return ThemePanel(mine, [], [], False)
    labels = current_labels(session, project)
    top = session.scalars(
        select(Theme).where(Theme.analysis_id == analysis.id, Theme.level == 0)
    ).all()
    overlay = state_service.overlay(session, project.id, analysis)
    gone = set(overlay.merged_into())
    others = [
        (t.key, labels.get(t.key, t.label)) for t in top if t.key != key and t.key not in gone
    ]
    this = next((t for t in top if t.key == key), None)
    kids = (
        0
        if this is None
        else len(session.scalars(select(Theme.id).where(Theme.parent_id == this.id)).all())
    )
    return ThemePanel(
        edits=mine,
        pending=[e for e in edits if e.status == "needs_decision"],
        merge_with=sorted(others, key=lambda o: o[1].lower()),
        can_split=kids >= 2 and key not in overlay.splits,
    )
