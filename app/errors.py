"""Typed errors, each rendered once as ``application/problem+json``."""

from __future__ import annotations

from typing import Any


class WeftError(Exception):
    """Base of every expected failure; subclasses set the status and title."""

    status_code: int = 500
    title: str = "Internal error"
    type_: str = "about:blank"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class BadRequest(WeftError):
    status_code, title = 400, "Bad request"


class Unauthorized(WeftError):
    status_code, title = 401, "Missing or unknown API key"


class SignInNeeded(Unauthorized):
    """A dashboard page asked for without a live sign-in; pages answer with the sign-in form."""

    title = "Sign in to see this page"


class CsrfFailed(WeftError):
    status_code, title = 403, "This form has expired"


class Forbidden(WeftError):
    status_code, title = 403, "API key lacks the needed scope"


class NotFound(WeftError):
    status_code, title = 404, "Not found"


class Conflict(WeftError):
    status_code, title = 409, "Conflict"


class PayloadTooLarge(WeftError):
    status_code, title = 413, "Payload too large"


class UnsupportedMediaType(WeftError):
    status_code, title = 415, "Unsupported media type"


class UnprocessableEntity(WeftError):
    status_code, title = 422, "Invalid input"


class UnreadableUpload(WeftError):
    """A file that cannot be read at all (empty, binary, the wrong format, no text column)."""

    status_code, title = 422, "Unreadable file"


class ServiceUnavailable(WeftError):
    status_code, title = 503, "Service not ready"
