"""One renderer for every error: `application/problem+json` with a detail saying what to fix."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from app.errors import SignInNeeded, WeftError
from app.schemas.common import Problem
from app.ui.render import error_page
from pipelines.ingest.guards import TOO_DEEP

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


def problem(
    status: int,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    headers = dict(headers or {})
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
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


def _not_json(request: Request, exc: RequestValidationError) -> bool:
    """A JSON body sent with another content type (FastAPI then hands the route raw bytes)."""
    body = exc.body
    return isinstance(body, bytes | bytearray) and any(
        tuple(e["loc"]) == ("body",) for e in exc.errors()
    )


def _where(error: dict[str, Any]) -> str:
    where = f"item {error['index']}, " if "index" in error else ""
    field, message = error["field"], error["message"]
    # a message that names its field ("occurred_at is outside ...") is not prefixed again
    name = field.rsplit(".", 1)[-1]
    if field and not message.startswith(name):
        return f"{where}{field}: {message}"
    return f"{where}{message}" if field else f"{where}body: {message}"


async def _weft_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, WeftError)
    if isinstance(exc, SignInNeeded) and _is_page(request):
        return RedirectResponse(f"/ui/sign-in?next={request.url.path}", status_code=303)
    return _answer(request, exc.status_code, exc.title, exc.detail, **exc.extra)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    if _not_json(request, exc):
        content_type = request.headers.get("content-type") or "none"
        return _answer(
            request,
            415,
            "Unsupported media type",
            f"send the body as JSON with 'Content-Type: application/json' (got {content_type})",
        )
    # FastAPI's own parse of a JSON body: ("body", <position>); a Json form field is not this
    broken = next(
        (
            e
            for e in exc.errors()
            if e.get("type") == "json_invalid"
            and len(e["loc"]) == 2
            and isinstance(e["loc"][1], int)
        ),
        None,
    )
    if broken is not None:
        at, why = broken["loc"][-1], broken.get("ctx", {}).get("error", "")
        detail = f"the body is not valid JSON: {why} at character {at}"
        return _answer(
            request, 422, "Invalid input", detail, errors=[{"field": "", "message": detail}]
        )
    errors = [{**_located(e["loc"]), "message": e["msg"]} for e in exc.errors()]
    first = errors[0] if errors else {"field": "", "message": "invalid request"}
    detail = _where(first)
    if len(errors) > 1:
        detail += f" (and {len(errors) - 1} more)"
    return _answer(request, 422, "Invalid input", detail, errors=errors)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed(request: Request) -> str:
    """Every method some route of this path answers (the router names only the first
    route's, and several routes share a path: GET and POST of /narratives)."""
    routes = request.app.router.routes
    return ", ".join(
        method
        for method in _METHODS
        if any(r.matches({**request.scope, "method": method})[0] is Match.FULL for r in routes)
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    status, text = exc.status_code, str(exc.detail)
    headers = dict(exc.headers or {})
    if status == 405:
        headers["Allow"] = _allowed(request) or headers.get("Allow", "")
        detail = f"{request.method} is not allowed here; this path answers {headers['Allow']}"
        return problem(status, "Method not allowed", detail, headers=headers)
    cause = exc.__cause__
    if status == 400 and cause is not None:
        # FastAPI could not parse the JSON body: say why instead of a bare "error parsing"
        if isinstance(cause, RecursionError):
            return problem(422, "Invalid input", f"the JSON body {TOO_DEEP}")
        reason = str(cause)
        if "integer string conversion" in reason:
            reason = "a number in it has more than 4300 digits"
        return problem(400, "Bad request", f"the JSON body could not be read: {reason}")
    if _is_page(request):
        return error_page(request, status, text, text)
    return problem(status, text, text, headers=headers)


async def _integrity_error(_request: Request, exc: Exception) -> JSONResponse:
    log.info("integrity error: %s", exc)
    return problem(
        409, "Conflict", "a concurrent request stored the same data first; retry the request"
    )


async def _data_error(_request: Request, exc: Exception) -> JSONResponse:
    # a value the database refuses (a NUL in text on PostgreSQL, a number out of a column's
    # range): the request's fault, answered as such; the checks in front should catch it first
    log.warning("data error: %s", exc)
    return problem(
        422,
        "Invalid input",
        "a value in the request cannot be stored as given; check the "
        "numbers and text sent (control characters such as NUL are not kept)",
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
    app.add_exception_handler(DataError, _data_error)
    app.add_exception_handler(OperationalError, _operational_error)
    app.add_exception_handler(Exception, _unexpected)


_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}

#: The error answers every operation may give, and those of operations with a key or a body.
_ALWAYS = {"422": "Invalid input: `errors` names each field", "4XX": "Any other client error"}
_KEYED = {
    "401": "Missing or unknown API key",
    "403": "The key lacks the scope the operation needs",
    "404": "Not found (another project's key also sees 404)",
}
_BODY = {"413": "The body is over the size limit", "415": "The body is not of the type expected"}


def _declare_problems(schema: dict[str, Any]) -> None:
    """Declare the problem+json answers on every operation, and the Problem schema."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    problem_schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(problem_schema.pop("$defs", {}))
    components["Problem"] = problem_schema
    for item in schema.get("paths", {}).values():
        for method, operation in item.items():
            if method not in ("get", "put", "post", "patch", "delete", "head", "options"):
                continue
            wanted = dict(_ALWAYS)
            keyed = "security" in operation or any(
                p.get("name") == "project_id" for p in operation.get("parameters", [])
            )
            if keyed:
                wanted.update(_KEYED)
            if "requestBody" in operation:
                wanted.update(_BODY)
            responses = operation.setdefault("responses", {})
            for status, description in wanted.items():
                responses[status] = {
                    "description": description,
                    "content": {PROBLEM_JSON: {"schema": _PROBLEM_REF}},
                }
    # FastAPI's own validation-error shape is never sent
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)


def document(app: FastAPI) -> None:
    """Declare the error answers in the app's OpenAPI, for every route, those included later
    too: the schema is built (and cached) the first time it is asked for."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _declare_problems(build())
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
