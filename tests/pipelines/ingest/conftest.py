"""Shared fixtures for the ingest parser tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"

ReadFixture = Callable[[str], bytes]


@pytest.fixture
def fixture_bytes() -> ReadFixture:
    """Read a file from the fixtures folder as bytes."""

    def read(name: str) -> bytes:
        return (FIXTURES / name).read_bytes()

    return read
