"""Charts of a report as vector SVG drawn on the server: no script, so they print and
convert to PDF as they are."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

#: Okabe and Ito's colour-blind-safe palette (the dashboard's).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")

_WIDTH = 640
_LABEL = 300
_BAR = 22
_GAP = 8
_CHARS = 42


def _short(label: str) -> str:
    return label if len(label) <= _CHARS else label[: _CHARS - 1].rstrip() + "\u2026"


def share_bars(bars: Sequence[tuple[str, float]], title: str) -> Markup:
    """Horizontal bars of each theme's share, with the share written beside each bar."""
    top = max((share for _, share in bars), default=0.0) or 1.0
    room = _WIDTH - _LABEL - 60
    height = len(bars) * (_BAR + _GAP) + _GAP
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {_WIDTH} {height}" '
        f'width="{_WIDTH}" height="{height}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for i, (label, share) in enumerate(bars):
        y = _GAP + i * (_BAR + _GAP)
        width = max(1.0, room * share / top)
        colour = PALETTE[i % len(PALETTE)]
        middle = y + _BAR / 2 + 4
        parts += [
            f'<text x="{_LABEL - 8}" y="{middle:.1f}" text-anchor="end" font-size="12">'
            f"{escape(_short(label))}</text>",
            f'<rect x="{_LABEL}" y="{y}" width="{width:.1f}" height="{_BAR}" fill="{colour}"/>',
            f'<text x="{_LABEL + width + 6:.1f}" y="{middle:.1f}" font-size="12">'
            f"{100 * share:.0f}%</text>",
        ]
    parts.append("</svg>")
    return Markup("".join(parts))
