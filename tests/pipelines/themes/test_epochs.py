"""The large regime's projection: UMAP's graph, a layout that separates groups, the same
coordinates on any number of threads."""

from __future__ import annotations

import warnings

import numba
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.metrics import silhouette_score

from pipelines.themes.epochs import optimise, project
from pipelines.themes.graph import approximate_knn


def _blobs(n: int, dim: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(4, dim))
    group = rng.integers(0, 4, n)
    X = centres[group] + 0.3 * rng.normal(size=(n, dim))
    return X / np.linalg.norm(X, axis=1, keepdims=True), group


@pytest.fixture(scope="module")
def blobs() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    X, group = _blobs(1500)
    indices, dists = approximate_knn(X, 15, 0)
    return X, group, indices, dists


@pytest.mark.descent
def test_the_graph_is_umaps_graph_after_a_fit(blobs: tuple[np.ndarray, ...]) -> None:
    import umap

    X, _, indices, dists = blobs
    reducer = umap.UMAP(
        n_neighbors=15,
        n_components=5,
        min_dist=0.0,
        metric="cosine",
        n_epochs=40,
        init="pca",
        random_state=0,
        precomputed_knn=(indices, dists, None),
        force_approximation_algorithm=True,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reducer.fit(X.astype(np.float32))
    graph, _ = project(X, indices, dists, 5, 40, 0)
    expected = sp.csr_matrix(reducer.graph_)
    assert (graph != expected).nnz == 0
    # UMAP's cut of weak edges stays in the graph the themes are clustered on
    assert (graph.data == 0).sum() == (expected.data == 0).sum() > 0


@pytest.mark.descent
def test_the_projection_is_the_same_on_one_thread_and_on_two(
    blobs: tuple[np.ndarray, ...],
) -> None:
    X, _, indices, dists = blobs
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        _, one = project(X, indices, dists, 5, 40, 3)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))  # type: ignore[attr-defined]
        _, two = project(X, indices, dists, 5, 40, 3)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(one, two)
    _, other_seed = project(X, indices, dists, 5, 40, 4)
    assert not np.array_equal(one, other_seed)


@pytest.mark.descent
def test_the_layout_pulls_groups_together_from_a_random_start(
    blobs: tuple[np.ndarray, ...],
) -> None:
    X, group, _, _ = blobs
    graph, _ = project(X, *blobs[2:], 5, 40, 0)
    start = np.random.default_rng(0).uniform(0, 10, size=(X.shape[0], 2)).astype(np.float32)
    assert silhouette_score(start, group) < 0.05
    from umap.umap_ import find_ab_params

    a, b = find_ab_params(1.0, 0.0)
    laid = optimise(start.copy(), graph, 100, float(a), float(b), np.random.RandomState(0))
    assert silhouette_score(laid, group) > 0.6


@pytest.mark.descent
def test_no_epochs_leave_the_start_and_the_graph_whole(blobs: tuple[np.ndarray, ...]) -> None:
    X, _, indices, dists = blobs
    from umap.umap_ import fuzzy_simplicial_set

    graph, reduced = project(X, indices, dists, 5, 0, 0)
    whole, _, _ = fuzzy_simplicial_set(
        X.astype(np.float32),
        15,
        np.random.RandomState(0),
        "cosine",
        knn_indices=indices,
        knn_dists=dists,
    )
    whole = sp.csr_matrix(whole)
    # UMAP cuts at max / 200 when it runs 10 epochs or fewer, not at max / 0
    np.testing.assert_array_equal(graph.data == 0, whole.data < whole.data.max() / 200)
    assert np.isfinite(reduced).all()
    assert reduced.min() >= 0.0 and reduced.max() <= 10.0 + 1e-5  # the scaled start, unmoved


def test_an_empty_graph_leaves_the_start_where_it_was() -> None:
    start = np.arange(10, dtype=np.float32).reshape(5, 2)
    out = optimise(start.copy(), sp.csr_matrix((5, 5)), 40, 1.9, 0.8, np.random.RandomState(0))
    np.testing.assert_array_equal(out, start)
