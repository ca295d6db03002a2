"""Third-party files the dashboard serves from installed packages, never from the network."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path


@cache
def plotly_bundle() -> Path:
    """plotly.min.js as shipped inside the `plotly` wheel."""
    return Path(str(resources.files("plotly") / "package_data" / "plotly.min.js"))
