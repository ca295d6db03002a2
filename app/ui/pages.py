"""The dashboard's own pages: signing in and out, and the way in."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from app.deps import SessionDep
from app.errors import CsrfFailed, Unauthorized
from app.services import ui_sessions
from app.ui import render
from app.ui.deps import SESSION_COOKIE, ViewerDep
from app.ui.vendor import plotly_bundle

router = APIRouter(prefix="/ui", include_in_schema=False)

#: a double-submit token for the sign-in form itself, before there is a session
SIGNIN_COOKIE = "weft_signin"


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: SessionDep) -> Response:
    """The signed-in project's overview, or the sign-in form."""
    found = ui_sessions.viewer(session, request.cookies.get(SESSION_COOKIE))
    target = f"/ui/p/{found.project.id}/" if found else "/ui/sign-in"
    return RedirectResponse(target, status_code=303)


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_form(request: Request, next: str = "", error: str = "") -> Response:
    token = secrets.token_urlsafe(24)
    response = render.page(
        request, "sign_in.html", None, csrf=token, next=_local(next), error=error
    )
    response.set_cookie(
        SIGNIN_COOKIE, token, httponly=True, samesite="strict", secure=_secure(request)
    )
    return response


def _local(target: str) -> str:
    """Only a path on this dashboard may follow a sign-in (no open redirect)."""
    return target if target.startswith("/ui/") and not target.startswith("//") else ""


@router.post("/sign-in")
def sign_in(
    request: Request,
    session: SessionDep,
    key: Annotated[str, Form(max_length=200)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Exchange a project key for a session cookie."""
    expected = request.cookies.get(SIGNIN_COOKIE, "")
    if not expected or not secrets.compare_digest(csrf.encode(), expected.encode()):
        raise CsrfFailed("the sign-in form was open too long or came from elsewhere; reload it")
    try:
        token, viewer = ui_sessions.sign_in(session, key)
    except Unauthorized as exc:
        # the form again, with the message (a browser logs any 4xx page as an error)
        return render.page(
            request, "sign_in.html", None, csrf=expected, next=next, error=exc.detail
        )
    response = RedirectResponse(_local(next) or f"/ui/p/{viewer.project.id}/", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(ui_sessions.SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )
    response.delete_cookie(SIGNIN_COOKIE)
    return response


@router.post("/sign-out")
def sign_out(request: Request, session: SessionDep, viewer: ViewerDep) -> Response:
    """End the session (its CSRF token was checked by ViewerDep)."""
    ui_sessions.sign_out(session, request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/ui/sign-in", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/static/vendor/plotly.min.js")
def plotly_js() -> FileResponse:
    """Plotly's bundle, served from the installed package: nothing comes from elsewhere."""
    return FileResponse(plotly_bundle(), media_type="text/javascript")
