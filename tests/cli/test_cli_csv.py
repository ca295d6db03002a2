"""CSV the command writes is safe to open in a spreadsheet, as the API's is."""

from __future__ import annotations

import csv
import io

from app.cli.results import themes_csv


def _theme(label: str, keyword: str) -> dict[str, object]:
    return {
        "key": "t-1",
        "label": label,
        "level": 0,
        "parent": None,
        "emerging": False,
        "size": 12,
        "share": 0.25,
        "keywords": [{"term": keyword, "weight": 0.5}],
    }


def test_formula_cells_are_written_as_text() -> None:
    written = themes_csv([_theme('=HYPERLINK("http://x")', "@SUM(A1)")])
    header, row = list(csv.reader(io.StringIO(written)))
    assert header[:2] == ["key", "label"]
    assert row[1] == '\'=HYPERLINK("http://x")'
    assert row[7] == "'@SUM(A1)"


def test_numbers_stay_numbers() -> None:
    row = list(csv.reader(io.StringIO(themes_csv([_theme("Staffing", "rota")]))))[1]
    assert row[1:] == ["Staffing", "0", "", "false", "12", "0.250000", "rota"]
