"""Fixtures for the theme pipeline tests."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from tests.pipelines.themes.synthetic import make_blobs


@pytest.fixture(scope="session")
def blobs() -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    return make_blobs([80, 70, 60, 50, 40])
