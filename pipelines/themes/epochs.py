"""A seeded layout that uses every core and gives the same coordinates on any number of them.

UMAP runs a seeded layout on one core: its parallel epochs let threads move the same points at
once, so their result depends on thread timing. Here an epoch goes through the points in a
seeded random order, ``BLOCK`` at a time. Within a block the points move in parallel, each
through its own edges; every other point is read as it stood when the block began, and
negative samples come from the moving point's own random stream. UMAP moves both ends of a
sampled edge by the same step; here the far end's step is kept and applied when the block
ends, in edge order. No two threads write the same point and nothing a thread reads depends on
another's timing, so the layout is the same on one core or many.

The start, the weak-edge cut, the edge sampling rates and the fuzzy graph the themes are
clustered on are UMAP's (``umap.umap_``). Where this layout is used and what it scored against
UMAP's: ``graph.PARALLEL_LAYOUT_N``.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from umap.layouts import clip
from umap.umap_ import INT32_MAX, INT32_MIN
from umap.utils import tau_rand_int

FloatArray = npt.NDArray[np.float64]

#: UMAP's defaults for the layout: repulsion strength, negative samples per edge sample and
#: starting learning rate.
GAMMA = 1.0
NEGATIVE_SAMPLE_RATE = 5
INITIAL_ALPHA = 1.0
#: Points moved in parallel at a time; each reads the others as they stood when its block
#: began. Smaller blocks are closer to UMAP's one-point-at-a-time order and cost more starts of
#: the parallel loop.
BLOCK = 128


@numba.njit(fastmath=True, nogil=True)
def _dist2(x: Any, y: Any) -> float:
    """Squared distance, summed in float64 (UMAP's ``rdist`` sums in float32)."""
    total = 0.0
    for d in range(x.shape[0]):
        diff = x[d] - y[d]
        total += diff * diff
    return total


@numba.njit(parallel=True, fastmath=True, nogil=True)
def _epoch(
    embedding: Any,
    snapshot: Any,
    block: int,
    indptr: Any,
    tails: Any,
    epochs_per_sample: Any,
    next_sample: Any,
    epochs_per_negative: Any,
    next_negative: Any,
    pull: Any,
    pulled: Any,
    rng: Any,
    a: float,
    b: float,
    alpha: float,
    epoch: int,
) -> None:
    """One epoch over the points in index order, ``block`` at a time (compiled).

    Within a block the points move in parallel, each reading the others from ``snapshot``;
    after the block its points' new places are copied into ``snapshot`` for the blocks after it.
    """
    n_vertices, dim = embedding.shape
    for first in range(0, n_vertices, block):
        last = min(first + block, n_vertices)
        for j in numba.prange(first, last):
            current = embedding[j]
            for i in range(indptr[j], indptr[j + 1]):
                if next_sample[i] > epoch:
                    continue
                other = snapshot[tails[i]]
                dist2 = _dist2(current, other)
                if dist2 > 0.0:
                    coeff = -2.0 * a * b * dist2 ** (b - 1.0) / (a * dist2**b + 1.0)
                    pulled[i] = True
                    for d in range(dim):
                        step = clip(coeff * (current[d] - other[d])) * alpha
                        current[d] += step
                        pull[i, d] = step
                next_sample[i] += epochs_per_sample[i]
                n_negative = int((epoch - next_negative[i]) / epochs_per_negative[i])
                for _ in range(n_negative):
                    k = tau_rand_int(rng[j]) % n_vertices
                    if k == j:
                        continue
                    other = snapshot[k]
                    dist2 = _dist2(current, other)
                    if dist2 > 0.0:
                        coeff = 2.0 * GAMMA * b / ((0.001 + dist2) * (a * dist2**b + 1.0))
                        for d in range(dim):
                            current[d] += clip(coeff * (current[d] - other[d])) * alpha
                next_negative[i] += n_negative * epochs_per_negative[i]
        snapshot[first:last] = embedding[first:last]
        for j in range(first, last):
            for i in range(indptr[j], indptr[j + 1]):
                if pulled[i]:
                    pulled[i] = False
                    k = tails[i]
                    for d in range(dim):
                        embedding[k, d] -= pull[i, d]
                        snapshot[k, d] -= pull[i, d]


def optimise(
    start: npt.NDArray[np.float32],
    graph: sp.csr_matrix,
    n_epochs: int,
    a: float,
    b: float,
    random_state: np.random.RandomState,
) -> npt.NDArray[np.float32]:
    """Run ``n_epochs`` epochs on ``graph`` (weak edges already cut) from ``start``.

    ``start`` is left as it was. The same inputs and random state give the same
    coordinates whatever the number of numba threads.
    """
    from umap.umap_ import make_epochs_per_sample

    n_vertices = start.shape[0]
    layout = sp.csr_matrix(graph, copy=True)
    layout.eliminate_zeros()
    if layout.nnz == 0 or n_epochs <= 0:
        return np.ascontiguousarray(start, dtype=np.float32)
    # The points are laid out in a seeded random order, so near-duplicates that sit next to
    # each other in the input (one source's answers, one query's results) rarely share a
    # block; renumbered in that order, each block's points and edges are contiguous in memory.
    order = random_state.permutation(n_vertices)
    layout = sp.csr_matrix(layout[order][:, order])
    layout.sort_indices()
    embedding = np.ascontiguousarray(start[order], dtype=np.float32)
    per_sample = make_epochs_per_sample(layout.data, n_epochs).astype(np.float64)
    per_negative = per_sample / NEGATIVE_SAMPLE_RATE
    next_sample = per_sample.copy()
    next_negative = per_negative.copy()
    rng = random_state.randint(INT32_MIN, INT32_MAX, (n_vertices, 3)).astype(np.int64)
    indptr = layout.indptr.astype(np.int64)
    tails = layout.indices.astype(np.int64)
    snapshot = embedding.copy()
    pull = np.zeros((layout.nnz, embedding.shape[1]), dtype=np.float32)
    pulled = np.zeros(layout.nnz, dtype=np.bool_)
    alpha = INITIAL_ALPHA
    for epoch in range(n_epochs):
        _epoch(
            embedding,
            snapshot,
            BLOCK,
            indptr,
            tails,
            per_sample,
            next_sample,
            per_negative,
            next_negative,
            pull,
            pulled,
            rng,
            a,
            b,
            alpha,
            epoch,
        )
        alpha = INITIAL_ALPHA * (1.0 - epoch / n_epochs)
    out = np.empty_like(embedding)
    out[order] = embedding
    return out


def project(
    X: FloatArray,
    indices: npt.NDArray[Any],
    dists: npt.NDArray[Any],
    n_components: int,
    n_epochs: int,
    random_state: int,
) -> tuple[sp.csr_matrix, FloatArray]:
    """UMAP's fuzzy cosine graph of ``X`` from its neighbour lists, and a seeded projection.

    The projection starts from ``X``'s principal components, as UMAP's ``init="pca"`` does,
    with ``min_dist=0``. The graph comes back with UMAP's weak-edge cut applied (the cut
    edges kept as explicit zeros), as ``umap.UMAP.graph_`` has it after a fit.
    """
    from sklearn.decomposition import PCA
    from umap.umap_ import find_ab_params, fuzzy_simplicial_set, noisy_scale_coords

    state = np.random.RandomState(random_state)
    data = np.asarray(X, dtype=np.float32)
    graph, _, _ = fuzzy_simplicial_set(
        data, indices.shape[1], state, "cosine", knn_indices=indices, knn_dists=dists
    )
    graph = sp.csr_matrix(graph)
    if graph.nnz:
        # UMAP's cut: edges under max / epochs, with its 200 epochs for runs of 10 or fewer
        cut_epochs = n_epochs if n_epochs > 10 else 200
        graph.data[graph.data < graph.data.max() / float(cut_epochs)] = 0.0
    start = PCA(n_components=n_components, random_state=state).fit_transform(data)
    start = noisy_scale_coords(start.astype(np.float32), state, max_coord=10, noise=0.0001)
    low, high = start.min(axis=0), start.max(axis=0)
    start = (10.0 * (start - low) / np.where(high > low, high - low, 1.0)).astype(np.float32)
    a, b = find_ab_params(1.0, 0.0)
    reduced = optimise(start, graph, n_epochs, float(a), float(b), state)
    return graph, np.asarray(reduced, dtype=np.float64)
