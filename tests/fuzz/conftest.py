"""The fuzz run's counts in the terminal summary, whether or not output is captured."""

from __future__ import annotations

import pytest

from tests.fuzz.test_schema_fuzz import REPORT


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if REPORT:
        terminalreporter.section("schema fuzz run")
        for line in REPORT:
            terminalreporter.write_line(line)
