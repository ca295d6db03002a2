"""Placing new narratives into an existing analysis: ``assign_incremental``."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.themes import assign_incremental, reanalysis_due
from tests.pipelines.themes.synthetic import make_blobs


@pytest.fixture(scope="module")
def world() -> tuple[np.ndarray, np.ndarray]:
    """Five blobs: four known to the reference analysis, the fifth only in new sessions."""
    return make_blobs([200, 200, 200, 200, 60], spread=0.12, seed=11)


def _centroids(X: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    c = np.vstack([X[y == t].mean(axis=0) for t in range(k)])
    return c / np.linalg.norm(c, axis=1, keepdims=True)


def test_known_narratives_join_their_themes(world: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = world
    ref, new = np.arange(0, 800, 2), np.arange(1, 800, 2)[:80]
    out = assign_incremental(X[new], X[ref], y[ref], _centroids(X[ref], y[ref], 4))
    assert out.labels.shape == (80,) and out.probabilities.shape == (80,)
    placed = out.labels >= 0
    # Most join, and none joins a wrong theme; the least typical tenth may be left out.
    assert placed.mean() >= 0.8
    np.testing.assert_array_equal(out.labels[placed], y[new][placed])
    assert not out.emerging
    assert np.all((out.probabilities > 0) == (out.labels >= 0))
    assert np.all((out.probabilities >= 0) & (out.probabilities <= 1))


def test_planted_group_becomes_an_emerging_theme(world: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = world
    ref = np.flatnonzero((y < 4) & (np.arange(y.size) % 2 == 0))
    known = np.flatnonzero((y < 4) & (np.arange(y.size) % 2 == 1))[::5]
    novel = np.flatnonzero(y == 4)[:40]
    new = np.concatenate([known, novel])
    texts = ["ward nurses shift"] * known.size + ["parking fees visitors"] * novel.size
    out = assign_incremental(X[new], X[ref], y[ref], _centroids(X[ref], y[ref], 4), new_texts=texts)
    assert len(out.emerging) == 1
    theme = out.emerging[0]
    assert theme.emerging and theme.theme == 4
    in_theme = out.labels == 4
    assert in_theme[known.size :].mean() >= 0.8
    assert in_theme[: known.size].mean() <= 0.05
    assert theme.size == int(in_theme.sum())
    assert "parking" in theme.label.lower()
    assert all(out.labels[i] == 4 for i in theme.exemplars)
    assert out.n_unassigned >= theme.size


def test_isolated_outliers_fit_no_theme(world: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = world
    ref = np.flatnonzero(y < 4)
    rng = np.random.default_rng(5)
    odd = rng.normal(size=(3, X.shape[1]))
    out = assign_incremental(odd, X[ref], y[ref], _centroids(X[ref], y[ref], 4))
    assert out.labels.tolist() == [-1, -1, -1] and not out.emerging
    assert out.n_unassigned == 3


def test_same_inputs_same_output(world: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = world
    ref = np.flatnonzero(y < 4)
    new = np.flatnonzero(y == 4)
    c = _centroids(X[ref], y[ref], 4)
    a = assign_incremental(X[new], X[ref], y[ref], c, random_state=1)
    b = assign_incremental(X[new], X[ref], y[ref], c, random_state=1)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.probabilities, b.probabilities)


def test_empty_and_bad_inputs(world: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = world
    out = assign_incremental(np.zeros((0, X.shape[1])), X, y, _centroids(X, y, 5))
    assert out.labels.shape == (0,)
    with pytest.raises(ValueError):
        assign_incremental(X[:3], X, y[:5], _centroids(X, y, 5))


def test_reanalysis_rule() -> None:
    assert not reanalysis_due(1000, 100, 5).due
    assert reanalysis_due(1000, 250, 0).due
    assert reanalysis_due(1000, 100, 30).due
    assert not reanalysis_due(1000, 10, 10).due  # too few added to judge
    assert reanalysis_due(0, 5, 0).due
    with pytest.raises(ValueError):
        reanalysis_due(10, 1, 2)
