"""The theme page's curation controls: rename, hide or show, pin or unpin, split, merge, and
undo or keep an edit. Each form posts here (a write key, with the CSRF token), calls the
curation service the API calls, and goes back to the theme page; a refusal is a page in
the convenor's words."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from app.deps import SessionDep
from app.errors import UnprocessableEntity, WeftError
from app.schemas.common import RowId
from app.schemas.curation import ThemeMerge, ThemePatch
from app.services import curation as curation_service
from app.services.ui_sessions import Viewer
from app.ui.deps import ProjectWriter

router = APIRouter(prefix="/ui", include_in_schema=False)

Action = Annotated[str, Form(max_length=16)]
Label = Annotated[str, Form(max_length=300)]
OtherKey = Annotated[str, Form(max_length=32)]

_KEY = re.compile(r"\bt[0-9a-f]{8}\b")
_EDIT = re.compile(r"\b(?:merge |split )?edit \d+\b")


def _in_words(session: Session, viewer: Viewer, error: WeftError) -> WeftError:
    """The same error with theme keys written as the themes' names and edits as changes."""
    labels = curation_service.current_labels(session, viewer.project)
    detail = _KEY.sub(lambda m: f"“{labels.get(m.group(0), 'an earlier theme')}”", error.detail)
    detail = _EDIT.sub("an earlier change", detail)
    error.detail = detail[:1].upper() + detail[1:]
    return error


def _back(viewer: Viewer, key: str) -> RedirectResponse:
    return RedirectResponse(f"/ui/p/{viewer.project.id}/themes/{key}#curate", status_code=303)


_PATCHES = {
    "hide": {"hidden": True},
    "show": {"hidden": False},
    "pin": {"pinned": True},
    "unpin": {"pinned": False},
}


@router.post("/p/{project_id}/themes/{key}/curate")
def curate_theme(
    key: str, viewer: ProjectWriter, session: SessionDep, action: Action, label: Label = ""
) -> RedirectResponse:
    """Rename (an empty name gives back the machine's), hide, show, pin, unpin or split."""
    try:
        api_key = curation_service.viewer_key(session, viewer.csrf_token)
        if action == "split":
            curation_service.split(session, viewer.project, api_key, key)
        elif action == "rename":
            body = ThemePatch(label=label.strip() or None)
            curation_service.patch(session, viewer.project, api_key, key, body)
        elif action in _PATCHES:
            body = ThemePatch.model_validate(_PATCHES[action])
            curation_service.patch(session, viewer.project, api_key, key, body)
        else:
            raise UnprocessableEntity("choose rename, hide, show, pin, unpin or split")
    except WeftError as error:
        raise _in_words(session, viewer, error) from None
    return _back(viewer, key)


@router.post("/p/{project_id}/themes/{key}/merge")
def merge_theme(
    key: str, viewer: ProjectWriter, session: SessionDep, other: OtherKey, label: Label = ""
) -> RedirectResponse:
    """Merge this theme with another; the page of the merged theme follows."""
    try:
        api_key = curation_service.viewer_key(session, viewer.csrf_token)
        if other == key:
            raise UnprocessableEntity("choose another theme to merge this one with")
        body = ThemeMerge(keys=[key, other], label=label.strip() or None)
        made = curation_service.merge(session, viewer.project, api_key, body)
    except WeftError as error:
        raise _in_words(session, viewer, error) from None
    return _back(viewer, made.keys[0])


@router.post("/p/{project_id}/themes/{key}/edits/{edit_id}/{decision}")
def decide_edit(
    key: str, edit_id: RowId, decision: str, viewer: ProjectWriter, session: SessionDep
) -> RedirectResponse:
    """Undo an edit, or keep one that needs a decision."""
    try:
        api_key = curation_service.viewer_key(session, viewer.csrf_token)
        if decision == "undo":
            curation_service.undo(session, viewer.project, api_key, edit_id)
        elif decision == "keep":
            curation_service.confirm(session, viewer.project, api_key, edit_id)
        else:
            raise UnprocessableEntity("a change can be undone or kept")
    except WeftError as error:
        raise _in_words(session, viewer, error) from None
    return _back(viewer, key)
