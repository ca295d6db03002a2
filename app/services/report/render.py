"""A report as a page (HTML with its styles and charts inline) and as an A4 PDF.

The PDF is made by WeasyPrint in the process, from the same HTML; its fetcher accepts only
`data:` addresses, so making a PDF never reads a file or the network."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

import app.services.report.charts as charts
from app.errors import ServiceUnavailable
from app.services.report.content import Report

TEMPLATES = Path(__file__).resolve().parents[2] / "ui" / "templates" / "report"

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _percent(value: float | None) -> str:
    if value is None:
        return "\u2013"
    return "<1%" if 0 < value < 0.005 else f"{100 * value:.0f}%"


def _clock(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%H:%M")


def _stamp(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%d %b %H:%M")


def _day(value: datetime | None) -> str:
    return "\u2013" if value is None else value.strftime("%d %b %Y, %H:%M UTC")


_env.filters["percent"] = _percent
_env.filters["clock"] = _clock
_env.filters["day"] = _day
_env.filters["stamp"] = _stamp


def _chart(report: Report) -> Markup | None:
    if not report.themes:
        return None
    bars = [(t.label, t.share) for t in report.themes]
    return charts.share_bars(bars, "Share of the messages in each top theme")


def html(report: Report, *, links: dict[str, str] | None = None) -> str:
    """The report as one self-contained page; `links` adds the dashboard's way back and a PDF."""
    template = _env.get_template("report.html")
    return template.render(
        r=report,
        chart=_chart(report),
        palette=charts.PALETTE,
        links=links or {},
    )


def pdf(report: Report) -> bytes:
    """The report as an A4 PDF."""
    # imported here: loading Pango and the fonts costs a moment only reports should pay
    try:
        from weasyprint import HTML
        from weasyprint.urls import URLFetcher
    except OSError as missing:  # WeasyPrint loads Pango with ctypes when imported
        raise ServiceUnavailable(
            "PDF reports need the Pango library on the server (Debian: libpango-1.0-0 "
            "libpangoft2-1.0-0); the same report is available as a page without ?format=pdf"
        ) from missing
    fetcher = URLFetcher(allowed_protocols=("data",))
    written: bytes = HTML(string=html(report), url_fetcher=fetcher).write_pdf()
    return written
