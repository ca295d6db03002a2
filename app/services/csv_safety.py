"""CSV that spreadsheets open safely, shared by every CSV Weft writes.

A spreadsheet reads a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula, and
one that starts with a tab or carriage return may be read so too once the whitespace is
trimmed: an ``external_id`` of ``=HYPERLINK(...)`` or ``+cmd|' /C calc'!A0`` in an export
would run in whoever opens it. As OWASP's CSV injection guidance advises, such a text cell is
written with a single quote in front, which spreadsheets show as text and do not display.

The rule goes by the cell's type, not its first character alone: text (anything a user could
have typed: ids, keys, labels) is neutralised; numbers Weft computes (ids, probabilities) are
written as numbers, so a -0.5 stays a number a spreadsheet can sum. A number that arrived as
text, such as an ``external_id`` of ``-12``, is text and gets the quote.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import TextIO

#: first characters that make a spreadsheet read a cell as a formula
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

Cell = str | int | float | bool | None


def text_cell(value: str | None) -> str:
    """`value` as a CSV cell a spreadsheet shows as text; None is an empty cell."""
    if value is None:
        return ""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


class SafeCsvWriter:
    """A `csv.writer` whose text cells are neutralised (see the module); booleans are written
    ``true``/``false``, floats with `float_format`, None as an empty cell."""

    def __init__(self, buffer: TextIO, float_format: str = ".6f") -> None:
        self._writer = csv.writer(buffer)
        self.float_format = float_format

    def _cell(self, value: Cell) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float):
            return format(value, self.float_format)
        return text_cell(value)

    def writerow(self, cells: Iterable[Cell]) -> None:
        self._writer.writerow([self._cell(value) for value in cells])
