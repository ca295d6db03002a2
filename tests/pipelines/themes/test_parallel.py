"""Two cores for one analysis: layouts that let other threads run, and the same results."""

from __future__ import annotations

import threading
import warnings
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

from pipelines.themes import find_themes
from pipelines.themes.graph import _exact_graph, approximate_knn
from pipelines.themes.layout import graph_map
from pipelines.themes.parallel import beside, release_layout_lock


def _blobs(n: int, dim: int = 16, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(4, dim))
    X = centres[rng.integers(0, 4, n)] + 0.3 * rng.normal(size=(n, dim))
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def _layout(graph: sp.csr_matrix, X: np.ndarray) -> np.ndarray:
    from umap.umap_ import find_ab_params, simplicial_set_embedding

    a, b = find_ab_params(1.0, 0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        coords, _ = simplicial_set_embedding(
            X.astype(np.float32),
            sp.coo_matrix(graph),
            2,
            1.0,
            a,
            b,
            1.0,
            5,
            40,
            X[:, :2].copy(),
            np.random.RandomState(0),
            "euclidean",
            {},
            False,
            {},
            False,
        )
    return np.asarray(coords)


def test_layout_epochs_release_the_lock_and_compute_what_they_did() -> None:
    import umap.layouts as layouts

    X = _blobs(300)
    graph = _exact_graph(X, 15, 0)
    before = layouts._nb_optimize_layout_euclidean_single_epoch
    # the layout with UMAP's own compiled epoch, whatever an earlier test installed
    original = before
    if before.targetoptions.get("nogil"):
        import numba

        original = numba.njit(layouts._optimize_layout_euclidean_single_epoch, fastmath=True)
    layouts._nb_optimize_layout_euclidean_single_epoch = original
    try:
        plain = _layout(graph, X)
    finally:
        layouts._nb_optimize_layout_euclidean_single_epoch = before
    assert release_layout_lock()
    assert layouts._nb_optimize_layout_euclidean_single_epoch.targetoptions["nogil"] is True
    np.testing.assert_array_equal(_layout(graph, X), plain)


def test_a_map_laid_out_in_a_thread_is_the_map_laid_out_alone() -> None:
    X = _blobs(400)
    graph = _exact_graph(X, 15, 0)
    alone = graph_map(graph, X[:, :5], random_state=2)
    results: list[np.ndarray] = []
    threads = [
        threading.Thread(target=lambda: results.append(graph_map(graph, X[:, :5], random_state=2)))
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for coords in results:
        np.testing.assert_array_equal(coords, alone)


@pytest.mark.descent
def test_neighbour_descent_on_its_threads_gives_the_same_graph_every_run() -> None:
    X = _blobs(3000, dim=32).astype(np.float32)
    first = approximate_knn(X, 15, 7)
    second = approximate_knn(X, 15, 7)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    assert (first[0][:, 0] == np.arange(3000)).mean() > 0.99  # each row's own index first


def test_work_beside_hands_back_its_error_and_its_thread_ends() -> None:
    def fails() -> int:
        raise ValueError("the map could not be laid out")

    future, end = beside(fails)
    with pytest.raises(ValueError, match="could not be laid out"):
        future.result()
    end()
    assert not any(t.name.startswith("weft-beside") for t in threading.enumerate())


def test_find_themes_ends_its_threads_when_the_description_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pipelines.themes import api

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("describing failed")

    monkeypatch.setattr(api, "_describe", broken)
    X = _blobs(120)
    with pytest.raises(RuntimeError, match="describing failed"):
        find_themes([f"text {i}" for i in range(120)], X)
    assert not any(t.name.startswith("weft-beside") for t in threading.enumerate())


def _blas_threads() -> set[int]:
    from threadpoolctl import threadpool_info

    return {int(p["num_threads"]) for p in threadpool_info() if p["user_api"] == "blas"}


def test_an_analysis_runs_blas_on_one_thread_and_gives_back_the_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from threadpoolctl import threadpool_limits

    from pipelines.themes import api

    seen: list[set[int]] = []
    describe = api._describe

    def watched(*args: Any, **kwargs: Any) -> Any:
        seen.append(_blas_threads())  # while the map is laid out beside
        return describe(*args, **kwargs)

    monkeypatch.setattr(api, "_describe", watched)
    X = _blobs(200)
    with threadpool_limits(limits=2, user_api="blas"):
        assert _blas_threads() == {2}
        result = find_themes([f"text {i}" for i in range(200)], X)
        assert _blas_threads() == {2}
    assert seen == [{1}]
    assert result.n_themes >= 1
