"""The neighbourhood graph the themes are found on, and the sums clustering takes over it."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from pipelines.themes.parallel import release_layout_lock
from pipelines.themes.timing import StepClock

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
KnnLists = tuple[npt.NDArray[Any], npt.NDArray[Any]]

#: Below this many narratives the graph is built exactly and no UMAP projection is made.
SMALL_N = 64
#: Up to this many narratives neighbours are found exactly (blocked dot products); above it
#: by nearest-neighbour descent, with the shorter layout below. Set at 10,000 from 25,000: on
#: searchsnippets, banking77 and stackoverflow (12,340-20,000), seeds 0-2, NMI/ARI went from
#: 67.6/60.8, 80.1/49.4, 72.0/56.0 to 68.9/63.5, 80.5/50.7, 72.3/58.3 and the analysis took
#: 5.3, 3.7, 4.3 s instead of 12.7, 12.9, 16.8 s (the exact regime was the cost curve's cliff).
EXACT_KNN_N = 10_000
#: Above ``EXACT_KNN_N`` narratives the projection starts from PCA rather than a spectral
#: layout and runs at most this many epochs: on large inputs the spectral start and the
#: epochs dominate the run time, and the clustering needs only the coarse shape (on the five
#: labelled sets pooled, 55,895 texts, seeds 0-2: NMI/ARI 73.5/42.6 at 40 epochs, 74.0/43.8
#: at 60, 72.7/39.8 at 30; 40 saves a third of the layout's time).
LARGE_N_EPOCHS = 40
#: Above this many narratives the projection's epochs run on every core (``epochs.py``). On
#: the five labelled sets pooled (55,895 texts, seeds 0-2) NMI/ARI were 73.65/43.93 against
#: 73.48/42.39 on UMAP's one-core layout. Below it UMAP's layout is kept: on searchsnippets
#: (12,340 texts, seeds 0-9) the parallel layout scored 67.08/60.10 against 67.93/61.77, and
#: there the layout takes under 2 s anyway.
PARALLEL_LAYOUT_N = 25_000
#: Threads of the nearest-neighbour descent. Its seeded result depends on this number, not on
#: the machine, so it is fixed (a one-core machine runs one and gets another graph); two
#: threads found the pooled 55,895 neighbours 1.7x faster than one.
KNN_THREADS = 2


@dataclass(frozen=True)
class NarrativeGraph:
    """Neighbourhood graph and a low-dimensional view of the narratives.

    ``knn`` holds the neighbour lists UMAP computed (reusable for a 2-D map), ``None`` when
    the graph was built without a projection.
    """

    graph: sp.csr_matrix
    reduced: FloatArray
    knn: KnnLists | None = None


def exact_knn(
    X: FloatArray, k: int, block: int = 2048
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float32]]:
    """Exact cosine k-nearest neighbours of unit-length rows, each row's own index first.

    Works in blocks of rows so memory stays ``O(block * n)``; ties break by index.
    """
    n = X.shape[0]
    k = min(k, n)
    indices = np.empty((n, k), dtype=np.int32)
    dists = np.empty((n, k), dtype=np.float32)
    Xf = X.astype(np.float32)
    for start in range(0, n, block):
        stop = min(start + block, n)
        dist = 1.0 - Xf[start:stop] @ Xf.T
        rows = np.arange(stop - start)
        dist[rows, rows + start] = -1.0  # a point is its own first neighbour
        part = (
            np.argpartition(dist, k - 1, axis=1)[:, :k]
            if k < n
            else np.tile(np.arange(n), (stop - start, 1))
        )
        part_d = np.take_along_axis(dist, part, axis=1)
        order = np.lexsort((part, part_d), axis=1)
        indices[start:stop] = np.take_along_axis(part, order, axis=1)
        dists[start:stop] = np.clip(np.take_along_axis(part_d, order, axis=1), 0.0, 2.0)
    return indices, dists


def _exact_graph(X: FloatArray, n_neighbors: int, random_state: int) -> sp.csr_matrix:
    """Fuzzy k-NN graph from exact cosine neighbours (small inputs)."""
    from umap.umap_ import fuzzy_simplicial_set

    indices, dists = exact_knn(X, n_neighbors)
    graph, _, _ = fuzzy_simplicial_set(
        X.astype(np.float32),
        indices.shape[1],
        np.random.RandomState(random_state),
        "cosine",
        knn_indices=indices,
        knn_dists=dists,
    )
    return sp.csr_matrix(graph)


def approximate_knn(
    X: FloatArray, k: int, random_state: int
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float32]]:
    """Cosine k-nearest neighbours by nearest-neighbour descent (UMAP's own search, seeded),
    each row's own index first, on ``KNN_THREADS`` threads: the same result on every run."""
    import numba
    from umap.umap_ import nearest_neighbors

    indices, dists, _ = nearest_neighbors(
        X.astype(np.float32),
        k,
        "cosine",
        {},
        False,
        np.random.RandomState(random_state),
        low_memory=True,
        use_pynndescent=True,
        n_jobs=min(KNN_THREADS, int(numba.config.NUMBA_NUM_THREADS)),  # type: ignore[attr-defined]
    )
    return np.asarray(indices, dtype=np.int32), np.asarray(dists, dtype=np.float32)


def build_graph(
    X: FloatArray,
    n_neighbors: int,
    n_components: int,
    n_epochs: int | None,
    random_state: int,
    clock: StepClock | None = None,
    *,
    exact_up_to: int | None = None,
    parallel_above: int | None = None,
) -> NarrativeGraph:
    """The fuzzy cosine k-NN graph of unit-length rows and their seeded UMAP projection.

    Below ``SMALL_N`` rows the graph is exact and the rows themselves are the view. Up to
    ``exact_up_to`` rows (``None``: ``EXACT_KNN_N``) neighbours are found exactly, above it by
    the descent with the shorter layout. UMAP lays the rows out on one core; above
    ``parallel_above`` rows (``None``: ``PARALLEL_LAYOUT_N``) the parallel layout of
    :mod:`pipelines.themes.epochs` does. The neighbour search and the projection are lapped on
    ``clock`` as ``knn`` and ``embedding``.
    """
    clock = clock if clock is not None else StepClock()
    n = X.shape[0]
    if n < SMALL_N:
        graph = _exact_graph(X, n_neighbors, random_state)
        clock.lap("knn")
        return NarrativeGraph(graph, X)
    import umap

    k = min(n_neighbors, n - 1)
    epochs = n_epochs
    init = "spectral"
    # UMAP computes all pairwise distances for small inputs through a slow Python metric;
    # exact neighbours from dot products are the same graph in a fraction of the time.
    if n <= (EXACT_KNN_N if exact_up_to is None else exact_up_to):
        indices, dists = exact_knn(X, k)
    else:
        indices, dists = approximate_knn(X, k, random_state)
        epochs = min(epochs if epochs is not None else 200, LARGE_N_EPOCHS)
        init = "pca"
        if n > (PARALLEL_LAYOUT_N if parallel_above is None else parallel_above):
            from pipelines.themes.epochs import project

            clock.lap("knn")
            graph, reduced = project(X, indices, dists, n_components, epochs, random_state)
            clock.lap("embedding")
            return NarrativeGraph(graph, reduced, (np.asarray(indices), np.asarray(dists)))
    clock.lap("knn")
    release_layout_lock()  # another thread (the phrase counts) runs while the epochs do
    reducer = umap.UMAP(
        n_neighbors=k,
        n_components=n_components,
        min_dist=0.0,
        metric="cosine",
        n_epochs=epochs,
        init=init,
        random_state=random_state,
        precomputed_knn=(indices, dists, None),
        force_approximation_algorithm=True,
    )
    with warnings.catch_warnings():
        # UMAP warns that a seed disables parallelism; reproducibility is the point.
        warnings.simplefilter("ignore", UserWarning)
        reduced = reducer.fit_transform(X.astype(np.float32))
    clock.lap("embedding")
    return NarrativeGraph(
        sp.csr_matrix(reducer.graph_),
        np.asarray(reduced, dtype=np.float64),
        (np.asarray(indices), np.asarray(dists)),
    )


def label_votes(graph: sp.csr_matrix, labels: IntArray, n_labels: int) -> sp.csr_matrix:
    """Edge weight from every node to the labelled nodes of each label (sparse n x k)."""
    known = np.flatnonzero(labels >= 0)
    member = sp.csr_matrix(
        (np.ones(known.size), (known, labels[known])), shape=(labels.size, n_labels)
    )
    return sp.csr_matrix(graph @ member)


def own_share(graph: sp.csr_matrix, labels: IntArray, n_labels: int) -> FloatArray:
    """Share of each node's edge weight that goes to nodes with its own label (0 if none)."""
    n = labels.size
    if n_labels == 0:
        return np.zeros(n)
    votes = label_votes(graph, labels, n_labels)
    rows = np.arange(n)
    own = np.asarray(votes[rows, np.maximum(labels, 0)]).ravel()
    own = np.where(labels >= 0, own, 0.0)
    total = np.asarray(graph.sum(axis=1)).ravel()
    share: FloatArray = np.divide(own, total, out=np.zeros(n), where=total > 0)
    return share


def propagate(graph: sp.csr_matrix, labels: IntArray, n_labels: int, rounds: int) -> IntArray:
    """Give unlabelled nodes the label most of their graph neighbours carry, a few hops out."""
    out = labels.copy()
    for _ in range(rounds):
        missing = out < 0
        if not missing.any() or n_labels == 0:
            break
        votes = label_votes(graph, out, n_labels)
        reach = votes.max(axis=1).toarray().ravel() > 0
        step = missing & reach
        if not step.any():
            break
        out[step] = np.asarray(votes[step].argmax(axis=1)).ravel()
    return out


def group_weights(graph: sp.csr_matrix, labels: IntArray, n_labels: int) -> FloatArray:
    """Total edge weight between every pair of labels (unlabelled nodes left out)."""
    known = labels >= 0
    member = sp.csr_matrix(
        (np.ones(int(known.sum())), (np.flatnonzero(known), labels[known])),
        shape=(labels.size, n_labels),
    )
    return np.asarray((member.T @ graph @ member).toarray(), dtype=np.float64)


def modularity(graph: sp.csr_matrix, labels: IntArray, resolution: float) -> float:
    """Newman modularity of ``labels`` on ``graph``; unclustered nodes count as singletons."""
    total = float(graph.sum())
    if total <= 0.0 or labels.size == 0:
        return float("nan")
    groups = labels.copy()
    loose = np.flatnonzero(groups < 0)
    groups[loose] = groups.max() + 1 + np.arange(loose.size)
    _, groups = np.unique(groups, return_inverse=True)
    member = sp.csr_matrix(
        (np.ones(groups.size), (np.arange(groups.size), groups)),
        shape=(groups.size, int(groups.max()) + 1),
    )
    inner = np.asarray((member.T @ graph @ member).diagonal()).ravel() / total
    degree = np.asarray(member.T @ np.asarray(graph.sum(axis=1)).ravel()).ravel() / total
    return float(inner.sum() - resolution * float(np.sum(degree**2)))
