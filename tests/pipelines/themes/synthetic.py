"""Synthetic embeddings for the theme pipeline tests (no model is loaded)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def make_blobs(
    sizes: list[int], dim: int = 32, spread: float = 0.08, seed: int = 0
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """Unit vectors around well separated random directions, one blob per size."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(sizes), dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    rows = [c + spread * rng.normal(size=(s, dim)) for c, s in zip(centres, sizes, strict=True)]
    X = np.vstack(rows)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    y = np.repeat(np.arange(len(sizes)), sizes)
    return X.astype(np.float32), y.astype(np.int64)
