"""Rendering dashboard pages and their errors from the templates beside this module."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from app.services.left_out import reason_in_words
from app.services.ui_sessions import Viewer

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")

#: Okabe and Ito's colour-blind-safe palette, then the same colours again for more themes.
PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#000000",
)


def _percent(value: float | None, digits: int = 0) -> str:
    return "\u2013" if value is None else f"{100 * value:.{digits}f}%"


def _when(value: datetime | None) -> str:
    return "\u2013" if value is None else value.strftime("%d %b %Y, %H:%M UTC")


templates.env.filters["percent"] = _percent
templates.env.filters["when"] = _when
templates.env.filters["left_out_reason"] = reason_in_words
templates.env.globals["palette"] = PALETTE


def page(
    request: Request, name: str, viewer: Viewer | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """The template `name` with the viewer (None on the sign-in page) and `context`."""
    return templates.TemplateResponse(
        request, name, {"viewer": viewer, **context}, status_code=status_code
    )


#: What a convenor reads for each status, above the error's own detail.
_PLAIN = {
    400: "Weft could not read that request.",
    403: "Your key does not allow this.",
    404: "There is nothing here, or it belongs to another project.",
    409: "That cannot be done yet.",
    413: "That file is too large.",
    415: "Weft cannot read that kind of file here.",
    422: "Something in what was sent needs fixing.",
    503: "Weft is busy or starting up; try again in a moment.",
}


def error_page(request: Request, status: int, title: str, detail: str) -> HTMLResponse:
    """An error as a page: a plain sentence, what to do, and the way back."""
    lead = _PLAIN.get(status, "Something went wrong on Weft's side; it has been logged.")
    return page(
        request,
        "error.html",
        None,
        status_code=status,
        status=status,
        title=title,
        lead=lead,
        detail=detail,
    )
