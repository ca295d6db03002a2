"""Deterministic 2-D coordinates for a theme map."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import numpy.typing as npt

from pipelines.themes.parallel import release_layout_lock

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Below this many narratives the map is a PCA projection rather than a UMAP layout.
SMALL_MAP_N = 64


def pca_2d(X: FloatArray) -> FloatArray:
    """First two principal components with a fixed sign convention (largest loading positive)."""
    n = X.shape[0]
    out = np.zeros((n, 2))
    if n < 2:
        return out
    centred = X - X.mean(axis=0)
    u, s, vt = np.linalg.svd(centred, full_matrices=False)
    k = min(2, vt.shape[0])
    for c in range(k):
        if vt[c, int(np.argmax(np.abs(vt[c])))] < 0:
            u[:, c] = -u[:, c]
    out[:, :k] = u[:, :k] * s[:k]
    return out


def _rescale(coords: FloatArray) -> FloatArray:
    """Centre on the origin and scale so the larger half-range is 1 (empty and flat maps pass)."""
    if coords.size == 0:
        return coords
    centred: FloatArray = coords - (coords.max(axis=0) + coords.min(axis=0)) / 2.0
    span = float(np.abs(centred).max())
    return centred / span if span > 0 else centred


def narrative_map(
    X: Any,
    *,
    knn: tuple[npt.NDArray[Any], npt.NDArray[Any]] | None = None,
    n_neighbors: int = 15,
    n_epochs: int | None = None,
    random_state: int = 0,
) -> FloatArray:
    """2-D coordinates, one row per narrative, in ``[-1, 1]``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Narrative embeddings.
    knn : tuple of (indices, distances) or None
        Neighbour lists already computed for ``X`` (for example ``ThemeClusterer.knn_``);
        reusing them skips the most expensive step of the layout.
    n_neighbors : int, default=15
        Neighbours per narrative for the layout; must match ``knn`` when that is given.
    n_epochs : int or None, default=None
        Layout epochs; ``None`` uses 100 above 10,000 narratives and 200 below.
    random_state : int, default=0
        Seed; the same input and seed give identical coordinates.

    Returns
    -------
    ndarray of shape (n_samples, 2)
        UMAP layout (cosine) for ``n >= 64``, PCA below, centred and scaled to ``[-1, 1]``.
    """
    data = np.asarray(X, dtype=np.float64)
    n = data.shape[0]
    if n < SMALL_MAP_N:
        return _rescale(pca_2d(data))
    import umap

    epochs = n_epochs if n_epochs is not None else (100 if n > 10_000 else 200)
    k = min(n_neighbors, n - 1)
    precomputed: Any = (knn[0], knn[1], None) if knn is not None and knn[0].shape[1] == k else None
    reducer = umap.UMAP(
        n_neighbors=k,
        n_components=2,
        min_dist=0.1,
        metric="cosine",
        n_epochs=epochs,
        random_state=random_state,
        precomputed_knn=precomputed if precomputed is not None else (None, None, None),
        force_approximation_algorithm=True,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        coords = reducer.fit_transform(data.astype(np.float32))
    return _rescale(np.asarray(coords, dtype=np.float64))


def graph_map(
    graph: Any,
    init_view: Any,
    *,
    n_epochs: int | None = None,
    random_state: int = 0,
) -> FloatArray:
    """2-D coordinates laid out on a neighbourhood graph that is already built.

    Starts from the first two principal components of ``init_view`` (for example the 5-D
    projection the themes were clustered in) and runs a short UMAP optimisation on
    ``graph``, so no neighbours are searched and no spectral start is computed again.

    Parameters
    ----------
    graph : sparse matrix of shape (n_samples, n_samples)
        Symmetric fuzzy neighbourhood graph (``ThemeClusterer.graph_``); not modified.
    init_view : array-like of shape (n_samples, d)
        A low-dimensional view to start from (``ThemeClusterer.embedding_``).
    n_epochs : int or None, default=None
        Optimisation epochs; ``None`` uses 60 up to 10,000 narratives and 30 above (the
        start is already a good layout).
    random_state : int, default=0
        Seed; the same input and seed give identical coordinates.

    Returns
    -------
    ndarray of shape (n_samples, 2)
        Centred and scaled to ``[-1, 1]``.
    """
    import scipy.sparse as sp
    from umap.umap_ import find_ab_params, simplicial_set_embedding

    view = np.asarray(init_view, dtype=np.float64)
    n = view.shape[0]
    if n < SMALL_MAP_N:
        return _rescale(pca_2d(view))
    epochs = n_epochs if n_epochs is not None else (60 if n <= 10_000 else 30)
    start = pca_2d(view)
    # Identical starting points would stay stuck together; a seeded nudge separates them.
    rng = np.random.RandomState(random_state)
    start = start + rng.normal(scale=1e-4 * (float(np.abs(start).max()) or 1.0), size=start.shape)
    a, b = find_ab_params(1.0, 0.1)
    release_layout_lock()  # laid out while the themes are described
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        coords, _ = simplicial_set_embedding(
            view.astype(np.float32),
            sp.coo_matrix(graph, copy=True),
            2,
            1.0,
            a,
            b,
            1.0,
            5,
            epochs,
            start,
            np.random.RandomState(random_state),
            "euclidean",
            {},
            False,
            {},
            False,
        )
    return _rescale(np.asarray(coords, dtype=np.float64))


def theme_positions(coords: FloatArray, labels: IntArray, n_themes: int) -> FloatArray:
    """Position of each theme on the map: the median of its members' coordinates."""
    out = np.zeros((n_themes, 2))
    for t in range(n_themes):
        members = coords[labels == t]
        if members.size:
            out[t] = np.median(members, axis=0)
    return out
