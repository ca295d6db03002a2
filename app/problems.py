"""One renderer for every error: `application/problem+json` with a detail saying what to fix."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.errors import SignInNeeded, WeftError
from app.ui.render import error_page

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


def problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _located(loc: Sequence[Any]) -> dict[str, Any]:
    """Where an error is: the item index in a batch, and the field as a dotted path."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    where: dict[str, Any] = {}
    # batches: ("narratives", 3, "signifiers", "mood") -> index 3, field "signifiers.mood"
    if len(parts) >= 2 and isinstance(parts[0], str) and isinstance(parts[1], int):
        where["index"] = parts[1]
        parts = parts[2:]
    where["field"] = ".".join(str(p) for p in parts)
    return where


def _is_page(request: Request) -> bool:
    """A dashboard page, answered in words on a page; its data endpoints stay JSON."""
    path = request.url.path
    return path.startswith("/ui/") and not path.startswith(("/ui/api/", "/ui/static/"))


def _answer(request: Request, status: int, title: str, detail: str, **extra: Any) -> Response:
    if _is_page(request):
        return error_page(request, status, title, detail)
    return problem(status, title, detail, **extra)


async def _weft_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, WeftError)
    if isinstance(exc, SignInNeeded) and _is_page(request):
        return RedirectResponse(f"/ui/sign-in?next={request.url.path}", status_code=303)
    return _answer(request, exc.status_code, exc.title, exc.detail, **exc.extra)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [{**_located(e["loc"]), "message": e["msg"]} for e in exc.errors()]
    first = errors[0] if errors else {"field": "", "message": "invalid request"}
    where = f"item {first['index']}, " if "index" in first else ""
    detail = f"{where}{first['field'] or 'body'}: {first['message']}"
    if len(errors) > 1:
        detail += f" (and {len(errors) - 1} more)"
    return _answer(request, 422, "Invalid input", detail, errors=errors)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    return _answer(request, exc.status_code, str(exc.detail), str(exc.detail))


async def _integrity_error(_request: Request, exc: Exception) -> JSONResponse:
    log.info("integrity error: %s", exc)
    return problem(
        409, "Conflict", "a concurrent request stored the same data first; retry the request"
    )


async def _operational_error(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("database unavailable", exc_info=exc)
    return problem(503, "Service unavailable", "the database is unavailable or busy; retry")


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error", exc_info=exc)
    return _answer(
        request, 500, "Internal error", "an unexpected error occurred; it has been logged"
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(WeftError, _weft_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(OperationalError, _operational_error)
    app.add_exception_handler(Exception, _unexpected)
