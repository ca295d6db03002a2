"""The clusterer's merge step keeps pinned groups of narratives apart."""

from __future__ import annotations

import numpy as np

from pipelines.themes.cluster import ThemeClusterer


def _close_pair_and_one_apart() -> np.ndarray:
    rng = np.random.default_rng(3)
    dim = 16
    a = rng.normal(size=dim)
    b = a + 0.9 * rng.normal(size=dim)
    c = rng.normal(size=dim)

    def around(centre: np.ndarray) -> np.ndarray:
        scale = 0.35 * float(np.linalg.norm(centre)) / np.sqrt(dim)
        return centre + rng.normal(scale=scale, size=(30, dim))

    return np.vstack([around(a), around(b), around(c)])


def _theme_of(labels: np.ndarray, rows: slice) -> int:
    return int(np.bincount(labels[rows] + 1).argmax()) - 1


def test_a_coarse_merge_joins_the_close_pair_unless_one_is_kept_apart() -> None:
    X = _close_pair_and_one_apart()
    first, second = slice(0, 30), slice(30, 60)
    merged = ThemeClusterer(resolution=0.05, random_state=0).fit(X)
    assert _theme_of(merged.labels_, first) == _theme_of(merged.labels_, second)

    pinned = list(range(30, 60))
    others = list(range(30)) + list(range(60, 90))
    apart = ThemeClusterer(resolution=0.05, keep_apart=[pinned, others], random_state=0).fit(X)
    assert _theme_of(apart.labels_, first) != _theme_of(apart.labels_, second)
    assert _theme_of(apart.labels_, second) >= 0
