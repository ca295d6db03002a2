"""Theme clustering of sentence embeddings: UMAP graph, HDBSCAN sub-themes, modularity merging."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.utils.validation import check_array

from pipelines.embed import unit_rows

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Below this many narratives the graph is built exactly and no UMAP projection is made.
SMALL_N = 64
#: Below this many narratives a theme may be as small as two.
SMALL_SESSION_N = 50
#: Up to this many narratives ``resolution="auto"`` merges at the standard resolution 1.0:
#: choosing by the Davies-Bouldin index (the criterion before the silhouette) over-merged
#: samples of 120-500 short texts (10-15 NMI points lower on stackoverflow and tweet89 samples).
AUTO_FIXED_MAX_N = 1000
#: Up to this many narratives neighbours are found exactly (blocked dot products); above it
#: by nearest-neighbour descent, which is faster at that size and nearly as accurate.
EXACT_KNN_N = 25_000
#: Above ``EXACT_KNN_N`` narratives the projection starts from PCA rather than a spectral
#: layout and runs at most this many epochs: on large inputs the spectral start and the
#: epochs dominate the run time, and the clustering needs only the coarse shape (on the five
#: labelled sets pooled, 55,895 texts, 60 epochs gave NMI/ARI 70.8/39.1 against 70.3/38.4 at 80).
LARGE_N_EPOCHS = 60


def adaptive_min_theme_size(n: int) -> int:
    """The smallest theme a default run reports for ``n`` narratives.

    Grows like ``sqrt(n) / 5`` (10 at 2,500, 28 at 20,000), never above 100, and never
    below 3 from 50 narratives on so that two similar messages do not make a theme in a
    sizeable set. Below 50 (a short chat) a pair is allowed: on samples of 30 short texts
    the floor of 3 left most of their few themes unfound.
    """
    if n < SMALL_SESSION_N:
        return 2
    return int(np.clip(round(np.sqrt(max(n, 1)) / 5.0), 3, 100))


@dataclass(frozen=True)
class _Graph:
    """Neighbourhood graph and a low-dimensional view of the narratives."""

    graph: sp.csr_matrix
    reduced: FloatArray


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


def _greedy_modularity(
    weights: FloatArray, resolution: float, target: int | None, apart: IntArray | None = None
) -> IntArray:
    """Merge groups greedily by modularity gain on a small weighted graph.

    Without ``target`` merging stops when no merge raises the modularity (at the given
    resolution); with ``target`` it goes on until that many groups remain.
    Nodes with different non-negative ``apart`` tags are never merged (pinned themes).
    Returns the merged group of every input node, numbered 0..k-1 by first appearance.
    """
    s = weights.shape[0]
    tags = np.full(s, -1) if apart is None else np.asarray(apart).copy()
    total = float(weights.sum())
    if s <= 1 or total <= 0.0:
        return np.arange(s, dtype=np.int64)
    e = weights / total
    a = e.sum(axis=1)
    gain = e - resolution * np.outer(a, a)
    np.fill_diagonal(gain, -np.inf)
    gain[_clashing(tags, tags)] = -np.inf
    alive = np.ones(s, dtype=bool)
    owner = np.arange(s)
    remaining = s
    while remaining > 1:
        if target is not None and remaining <= target:
            break
        flat = int(np.argmax(gain))
        i, j = divmod(flat, s)
        if (target is None and gain[i, j] <= 0.0) or gain[i, j] == -np.inf:
            break
        # Keep the lower index as the survivor so the result does not depend on float ties.
        i, j = min(i, j), max(i, j)
        e[i, :] += e[j, :]
        e[:, i] += e[:, j]
        a[i] += a[j]
        alive[j] = False
        tags[i] = tags[i] if tags[i] >= 0 else tags[j]
        row = e[i, :] - resolution * a[i] * a
        row[~alive | _clashing(tags[i : i + 1], tags)[0]] = -np.inf
        row[i] = -np.inf
        gain[i, :] = row
        gain[:, i] = row
        gain[j, :] = -np.inf
        gain[:, j] = -np.inf
        owner[owner == j] = i
        remaining -= 1
    _, merged = np.unique(owner, return_inverse=True)
    return merged.astype(np.int64)


def _clashing(left: IntArray, right: IntArray) -> npt.NDArray[np.bool_]:
    """Pairs of nodes that carry different pins."""
    clash: npt.NDArray[np.bool_] = (
        (left[:, None] >= 0) & (right[None, :] >= 0) & (left[:, None] != right[None, :])
    )
    return clash


def _pin_tags(
    keep_apart: Sequence[Sequence[int]] | None, reach: IntArray, n_seeds: int
) -> IntArray:
    """Each sub-theme's pin: the group of ``keep_apart`` holding most of its narratives."""
    tags = np.full(n_seeds, -1, dtype=np.int64)
    if not keep_apart:
        return tags
    sizes = np.bincount(reach[reach >= 0], minlength=n_seeds)
    for tag, group in enumerate(keep_apart):
        inside = reach[np.asarray(group, dtype=np.int64)]
        held = np.bincount(inside[inside >= 0], minlength=n_seeds)
        tags[(tags < 0) & (2 * held > sizes)] = tag
    return tags


#: Narratives whose silhouette scores a candidate partition (a seeded sample above this).
SILHOUETTE_SAMPLE = 2000


def _spread(points: FloatArray, labels: IntArray, random_state: int) -> float:
    """Minus the mean silhouette of a seeded sample (lower is better: compact, separated
    themes); ``inf`` for fewer than two groups."""
    if np.unique(labels).size < 2:
        return float("inf")
    from sklearn.metrics import silhouette_score

    if labels.size > SILHOUETTE_SAMPLE:
        rng = np.random.default_rng(random_state)
        pick = np.sort(rng.choice(labels.size, SILHOUETTE_SAMPLE, replace=False))
        points, labels = points[pick], labels[pick]
        if np.unique(labels).size < 2:
            return float("inf")
    return -float(silhouette_score(points, labels))


#: With ``resolution="auto"``, a partition whose largest theme holds more than this share of
#: the dense narratives is not chosen (patient feedback merged into one theme of 75% at the
#: coarsest resolution).
AUTO_MAX_THEME_SHARE = 0.5
#: Resolutions tried when ``resolution="auto"``: coarse (0.25) to the standard modularity (1.0).
AUTO_RESOLUTIONS = tuple(round(1.0 - 0.05 * i, 2) for i in range(16))


#: A left-out narrative joins a theme only if its cosine distance to the theme's centroid is
#: at most this multiple of the distance within which 95% of the theme's core members lie.
REACH_STRETCH = 1.5


def _within_reach(
    X: FloatArray, top: IntArray, core: npt.NDArray[np.bool_], n_top: int
) -> npt.NDArray[np.bool_]:
    """Whether each narrative lies within its tentative theme's reach (see ``REACH_STRETCH``)."""
    out = np.zeros(top.size, dtype=bool)
    for t in range(n_top):
        members = top == t
        inner = members & core
        if not inner.any():
            continue
        centre = X[inner].mean(axis=0)
        centre /= np.linalg.norm(centre) or 1.0
        dist = 1.0 - X[members] @ centre
        # A handful of core members gives a noisy quantile; the bulk of all members is a floor.
        radius = max(
            float(np.quantile(1.0 - X[inner] @ centre, 0.95)), float(np.quantile(dist, 0.75))
        )
        out[members] = dist <= REACH_STRETCH * max(radius, 1e-6)
    return out


def _votes(graph: sp.csr_matrix, labels: IntArray, n_labels: int) -> sp.csr_matrix:
    """Edge weight from every node to the labelled nodes of each label (sparse n x k)."""
    known = np.flatnonzero(labels >= 0)
    member = sp.csr_matrix(
        (np.ones(known.size), (known, labels[known])), shape=(labels.size, n_labels)
    )
    return sp.csr_matrix(graph @ member)


def _own_share(graph: sp.csr_matrix, labels: IntArray, n_labels: int) -> FloatArray:
    """Share of each node's edge weight that goes to nodes with its own label (0 if none)."""
    n = labels.size
    if n_labels == 0:
        return np.zeros(n)
    votes = _votes(graph, labels, n_labels)
    rows = np.arange(n)
    own = np.asarray(votes[rows, np.maximum(labels, 0)]).ravel()
    own = np.where(labels >= 0, own, 0.0)
    total = np.asarray(graph.sum(axis=1)).ravel()
    share: FloatArray = np.divide(own, total, out=np.zeros(n), where=total > 0)
    return share


def _propagate(graph: sp.csr_matrix, labels: IntArray, n_labels: int, rounds: int) -> IntArray:
    """Give unlabelled nodes the label most of their graph neighbours carry, a few hops out."""
    out = labels.copy()
    for _ in range(rounds):
        missing = out < 0
        if not missing.any() or n_labels == 0:
            break
        votes = _votes(graph, out, n_labels)
        reach = votes.max(axis=1).toarray().ravel() > 0
        step = missing & reach
        if not step.any():
            break
        out[step] = np.asarray(votes[step].argmax(axis=1)).ravel()
    return out


class ThemeClusterer(ClusterMixin, BaseEstimator):  # type: ignore[misc]
    """Find themes in sentence embeddings.

    The narratives are joined in a fuzzy k-nearest-neighbour graph (cosine), projected to a
    few dimensions with UMAP (seeded), and HDBSCAN finds dense *sub-themes* there. Sub-themes
    whose narratives are strongly linked in the graph are then merged greedily while the
    graph's modularity rises (or until ``n_themes`` remain): these merged groups are the
    top-level *themes*. Narratives HDBSCAN left out are attached to a theme when most of
    their graph neighbours belong to it, with a lower membership probability; the rest stay
    unclustered (``-1``).

    Parameters
    ----------
    min_theme_size : int or None, default=None
        Smallest sub-theme HDBSCAN may report (its ``min_cluster_size``). ``None`` adapts to
        the number of narratives ``n``: ``clip(round(sqrt(n) / 5), 3, 100)``, 2 below 50.
    n_themes : int or None, default=None
        Number of top-level themes wanted. ``None`` lets the data decide. When given,
        sub-themes are merged (or, if there are too few, the reduced space is split with
        k-means) until exactly ``min(n_themes, n)`` themes remain; that partition competes
        with k-means on the reduced space, the one with the higher graph modularity is kept,
        and every narrative is placed in a theme.
    n_neighbors : int, default=15
        Neighbours per narrative in the graph (capped at ``n - 1``).
    n_components : int, default=5
        Dimensions of the UMAP projection that HDBSCAN clusters.
    min_samples : int or None, default=None
        HDBSCAN ``min_samples``; ``None`` uses ``min_theme_size``.
    resolution : float or "auto", default="auto"
        Modularity resolution for merging sub-themes: lower merges more, higher keeps more
        themes apart. ``"auto"`` tries resolutions from 1.0 down to 0.25 and keeps the
        partition whose dense sub-theme members have the highest mean silhouette in the
        clustered space (on a seeded sample), so coarse data get a few broad themes and
        finely structured data many, never one catch-all theme; up to 1,000 narratives
        ``"auto"`` means 1.0. Ignored when ``n_themes`` is given (sub-themes are merged at
        resolution 1).
    min_agreement : float, default=0.4
        Share of its graph neighbourhood (by edge weight) that must lie in a theme for a
        narrative HDBSCAN left out to be attached to that theme. Without ``n_themes`` every
        theme member, core or attached, must also lie within 1.5 times the cosine distance
        from the theme centroid that holds 95% of the theme's dense core (or 75% of all its
        members, if larger).
    n_epochs : int or None, default=200
        UMAP optimisation epochs; ``None`` keeps UMAP's own choice (200 above 10,000 points,
        500 below, which is slower and measured no better for clustering). Above 25,000
        narratives at most 80 epochs are run, from a PCA start instead of a spectral one.
    random_state : int, default=0
        Seed for UMAP and k-means. The same input and seed give identical labels.
    keep_apart : sequence of sequences of int or None, default=None
        Groups of row indices (a pinned theme's narratives) whose sub-themes are never merged
        with another group's; a sub-theme belongs to the group holding most of its
        narratives. With ``n_themes`` the k-means candidates may still join them.

    Attributes
    ----------
    labels_ : ndarray of shape (n_samples,)
        Top-level theme of each narrative, ``0..n_themes_-1``, or ``-1`` when unclustered.
        Themes are numbered by decreasing size.
    probabilities_ : ndarray of shape (n_samples,)
        Membership strength in ``[0, 1]``: HDBSCAN's probability for narratives in a dense
        core, half the neighbourhood agreement (share of graph weight in the same theme) for
        attached narratives, ``0`` when unclustered. With ``n_themes`` every narrative gets
        its neighbourhood agreement (or its HDBSCAN probability, if higher).
    subtheme_labels_ : ndarray of shape (n_samples,)
        HDBSCAN sub-theme of each narrative (``-1`` when not in one), numbered by theme.
    subtheme_parents_ : ndarray of shape (n_subthemes_,)
        Theme each sub-theme belongs to.
    centroids_ : ndarray of shape (n_themes_, n_features)
        Unit-length mean embedding of each theme's members.
    n_themes_ : int
        Number of top-level themes found.
    n_subthemes_ : int
        Number of sub-themes.
    embedding_ : ndarray of shape (n_samples, n_reduced)
        The low-dimensional view that was clustered (the unit-normalised input when the
        input was too small to project).
    graph_ : scipy.sparse.csr_matrix of shape (n_samples, n_samples)
        The symmetric fuzzy neighbourhood graph.
    knn_ : tuple of (indices, distances) or None
        The k-nearest-neighbour lists UMAP computed, reusable for a 2-D map.
    min_theme_size_ : int
        The minimum sub-theme size actually used.
    modularity_ : float
        Modularity of the top-level partition on the graph (``nan`` when undefined).
    resolution_ : float
        The modularity resolution the themes were merged at.
    """

    def __init__(
        self,
        min_theme_size: int | None = None,
        n_themes: int | None = None,
        n_neighbors: int = 15,
        n_components: int = 5,
        min_samples: int | None = None,
        resolution: float | str = "auto",
        min_agreement: float = 0.4,
        n_epochs: int | None = 200,
        random_state: int = 0,
        keep_apart: Sequence[Sequence[int]] | None = None,
    ) -> None:
        self.min_theme_size = min_theme_size
        self.n_themes = n_themes
        self.n_neighbors = n_neighbors
        self.n_components = n_components
        self.min_samples = min_samples
        self.resolution = resolution
        self.min_agreement = min_agreement
        self.n_epochs = n_epochs
        self.random_state = random_state
        self.keep_apart = keep_apart

    # -- steps -------------------------------------------------------------------------------

    def _build_graph(self, X: FloatArray) -> _Graph:
        n = X.shape[0]
        if n < SMALL_N:
            self.knn_ = None
            return _Graph(_exact_graph(X, self.n_neighbors, self.random_state), X)
        import umap

        k = min(self.n_neighbors, n - 1)
        # UMAP computes all pairwise distances for small inputs through a slow Python metric;
        # exact neighbours from dot products are the same graph in a fraction of the time.
        precomputed: Any = (None, None, None)
        epochs = self.n_epochs
        init = "spectral"
        if n <= EXACT_KNN_N:
            indices, dists = exact_knn(X, k)
            precomputed = (indices, dists, None)
        else:
            epochs = min(epochs if epochs is not None else 200, LARGE_N_EPOCHS)
            init = "pca"
        reducer = umap.UMAP(
            n_neighbors=k,
            n_components=self.n_components,
            min_dist=0.0,
            metric="cosine",
            n_epochs=epochs,
            init=init,
            random_state=self.random_state,
            precomputed_knn=precomputed,
            force_approximation_algorithm=True,
        )
        with warnings.catch_warnings():
            # UMAP warns that a seed disables parallelism; reproducibility is the point.
            warnings.simplefilter("ignore", UserWarning)
            reduced = reducer.fit_transform(X.astype(np.float32))
        knn_indices = getattr(reducer, "_knn_indices", None)
        knn_dists = getattr(reducer, "_knn_dists", None)
        self.knn_ = (
            (np.asarray(knn_indices), np.asarray(knn_dists))
            if knn_indices is not None and knn_dists is not None
            else None
        )
        return _Graph(sp.csr_matrix(reducer.graph_), np.asarray(reduced, dtype=np.float64))

    def _seeds(self, reduced: FloatArray, min_size: int, leaf: bool) -> tuple[IntArray, FloatArray]:
        import hdbscan

        n = reduced.shape[0]
        if n < 2 * min_size and not leaf:
            # Too few narratives for two themes of the minimum size: one theme or none.
            return self._single_theme(reduced, min_size)
        min_samples = self.min_samples if self.min_samples is not None else min_size
        model = hdbscan.HDBSCAN(
            min_cluster_size=max(2, min_size),
            min_samples=max(1, min(min_samples, n - 1)),
            cluster_selection_method="leaf" if leaf else "eom",
            allow_single_cluster=n < 4 * min_size,
            core_dist_n_jobs=1,
        )
        model.fit(reduced)
        return (
            np.asarray(model.labels_, dtype=np.int64),
            np.nan_to_num(np.asarray(model.probabilities_, dtype=np.float64)),
        )

    @staticmethod
    def _single_theme(reduced: FloatArray, min_size: int) -> tuple[IntArray, FloatArray]:
        n = reduced.shape[0]
        if n < min_size:
            return np.full(n, -1, dtype=np.int64), np.zeros(n)
        return np.zeros(n, dtype=np.int64), np.ones(n)

    # -- fit ---------------------------------------------------------------------------------

    def fit(self, X: Any, y: None = None) -> ThemeClusterer:
        """Find the themes of the narratives whose embeddings are the rows of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Sentence embeddings, one row per narrative (need not be unit length).
        y : None
            Ignored.

        Returns
        -------
        self : ThemeClusterer
            The fitted estimator.
        """
        X = check_array(X, dtype=[np.float64, np.float32], ensure_min_samples=0)
        X = unit_rows(np.asarray(X, dtype=np.float64))
        n = X.shape[0]
        if self.n_themes is not None and self.n_themes < 1:
            raise ValueError(f"n_themes must be at least 1, got {self.n_themes}")
        min_size = (
            int(self.min_theme_size)
            if self.min_theme_size is not None
            else adaptive_min_theme_size(n)
        )
        if min_size < 1:
            raise ValueError(f"min_theme_size must be positive, got {self.min_theme_size}")
        self.min_theme_size_ = min_size
        if n < 3:
            self._fit_tiny(X, min_size)
            return self

        view = self._build_graph(X)
        graph = view.graph
        self.graph_ = graph
        self.embedding_ = view.reduced
        # A short chat (under SMALL_SESSION_N) takes HDBSCAN's finest clusters: the
        # excess-of-mass choice tends to keep one broad group of a few dozen messages.
        seeds, seed_prob = self._seeds(view.reduced, min_size, leaf=n < SMALL_SESSION_N)
        target = None if self.n_themes is None else min(int(self.n_themes), n)
        n_seeds = int(seeds.max()) + 1
        if target is not None and n_seeds < target:
            seeds, seed_prob = self._seeds(view.reduced, max(2, min_size // 2), leaf=True)
            n_seeds = int(seeds.max()) + 1
            if n_seeds < target:
                seeds, seed_prob = self._kmeans_seeds(view.reduced, target)
                n_seeds = target

        if n_seeds == 0:
            self._finish(X, np.full(n, -1), np.zeros(n), np.full(n, -1), np.zeros(0, np.int64))
            self.modularity_ = float("nan")
            self.resolution_ = float("nan")
            return self

        # Attach left-out narratives to sub-themes for the merge, so degrees count everyone.
        reach = _propagate(graph, seeds, n_seeds, rounds=3)
        known = reach >= 0
        member = sp.csr_matrix(
            (np.ones(int(known.sum())), (np.flatnonzero(known), reach[known])),
            shape=(n, n_seeds),
        )
        weights = np.asarray((member.T @ graph @ member).toarray(), dtype=np.float64)
        apart = _pin_tags(self.keep_apart, reach, n_seeds)
        parent, self.resolution_ = self._merge(weights, target, view.reduced, seeds, apart)
        n_top = int(parent.max()) + 1

        top = np.where(reach >= 0, parent[np.maximum(reach, 0)], -1)
        core = seeds >= 0
        # Agreement of each narrative's neighbourhood with its theme, on top-level labels.
        agreement = _own_share(graph, top, n_top)
        near = _within_reach(X, top, core, n_top)
        attached = ~core & (top >= 0) & (agreement >= self.min_agreement) & near
        # UMAP can pull a lone narrative into a dense region; the input space has the last word.
        core = core & near
        if target is not None:
            self._finish_target(X, graph, view.reduced, seeds, seed_prob, top, target)
            return self
        labels = np.where(core | attached, top, -1)
        prob = np.where(core, seed_prob, np.where(attached, 0.5 * agreement, 0.0))
        sub = np.where(core, seeds, -1)
        self._finish(X, labels, prob, sub, parent)
        self.modularity_ = _modularity(graph, self.labels_, 1.0)
        return self

    def _finish_target(
        self,
        X: FloatArray,
        graph: sp.csr_matrix,
        reduced: FloatArray,
        seeds: IntArray,
        seed_prob: FloatArray,
        merged: IntArray,
        target: int,
    ) -> None:
        """Settle on exactly ``target`` themes covering every narrative.

        Candidates: the merged sub-themes (every narrative with a graph neighbour placed),
        k-means in the reduced space started from those themes, and k-means from k-means++
        starts. The candidate with the highest modularity on the neighbourhood graph wins:
        merging keeps a long tail of small themes intact, k-means suits broad, even themes.
        """
        from sklearn.cluster import KMeans

        candidates: list[IntArray] = []
        if (merged >= 0).all() and np.unique(merged).size == target:
            candidates.append(merged)
            means = np.vstack([reduced[merged == t].mean(axis=0) for t in range(target)])
            started = KMeans(
                n_clusters=target, init=means, n_init=1, random_state=self.random_state
            )
            candidates.append(np.asarray(started.fit_predict(reduced), dtype=np.int64))
        fresh = KMeans(n_clusters=target, n_init=4, random_state=self.random_state)
        candidates.append(np.asarray(fresh.fit_predict(reduced), dtype=np.int64))
        scores = [_modularity(graph, c, 1.0) for c in candidates]
        labels = candidates[int(np.argmax(scores))]
        _, labels = np.unique(labels, return_inverse=True)
        labels = labels.astype(np.int64)
        n_top = int(labels.max()) + 1

        # Sub-themes belong to the theme most of their members ended in.
        n_seeds = int(seeds.max()) + 1 if (seeds >= 0).any() else 0
        parent = np.zeros(n_seeds, dtype=np.int64)
        for sub_id in range(n_seeds):
            parent[sub_id] = np.bincount(labels[seeds == sub_id], minlength=n_top).argmax()
        in_parent = (seeds >= 0) & (parent[np.maximum(seeds, 0)] == labels)
        sub = np.where(in_parent, seeds, -1)
        agreement = _own_share(graph, labels, n_top)
        prob = np.where(in_parent, np.maximum(seed_prob, agreement), agreement)
        self._finish(X, labels, prob, sub, parent)
        self.modularity_ = float(max(scores))

    def _merge(
        self,
        weights: FloatArray,
        target: int | None,
        reduced: FloatArray,
        seeds: IntArray,
        apart: IntArray | None = None,
    ) -> tuple[IntArray, float]:
        """Group sub-themes into themes; returns each sub-theme's theme and the resolution."""
        if target is not None:
            return _greedy_modularity(weights, 1.0, target, apart), 1.0
        if self.resolution != "auto":
            gamma = float(self.resolution)
            return _greedy_modularity(weights, gamma, None, apart), gamma
        if seeds.size <= AUTO_FIXED_MAX_N:
            return _greedy_modularity(weights, 1.0, None, apart), 1.0
        # Among the partitions modularity gives at a range of resolutions, keep the one whose
        # themes are most compact and separated in the clustered space (mean silhouette).
        core = np.flatnonzero(seeds >= 0)
        best: tuple[float, float, IntArray] | None = None
        seen: set[bytes] = set()
        for gamma in AUTO_RESOLUTIONS:
            parent = _greedy_modularity(weights, gamma, None, apart)
            key = parent.tobytes()
            if key in seen:
                continue
            seen.add(key)
            groups = parent[seeds[core]]
            # A partition with one theme holding most of the narratives is a catch-all, not
            # a compact theme, however well it scores; the finest partition stays eligible.
            largest = np.bincount(groups).max() / max(groups.size, 1)
            if largest > AUTO_MAX_THEME_SHARE and gamma != AUTO_RESOLUTIONS[0]:
                continue
            index = _spread(reduced[core], groups, self.random_state)
            if best is None or index < best[0]:
                best = (index, gamma, parent)
        if best is None or not np.isfinite(best[0]):
            return _greedy_modularity(weights, 1.0, None, apart), 1.0
        return best[2], best[1]

    def _kmeans_seeds(self, reduced: FloatArray, k: int) -> tuple[IntArray, FloatArray]:
        from sklearn.cluster import KMeans

        model = KMeans(n_clusters=k, n_init=3, random_state=self.random_state).fit(reduced)
        return np.asarray(model.labels_, dtype=np.int64), np.ones(reduced.shape[0])

    def _fit_tiny(self, X: FloatArray, min_size: int) -> None:
        n = X.shape[0]
        self.graph_ = sp.csr_matrix((n, n))
        self.embedding_ = X
        self.knn_ = None
        # One or two narratives: one theme when there are enough for a theme, else none.
        wanted = self.n_themes is not None
        together = n >= 1 and (wanted or n >= min_size)
        if n == 2 and not wanted and float(X[0] @ X[1]) < 0.5:
            together = False
        if wanted and self.n_themes is not None and n == 2 and self.n_themes >= 2:
            labels = np.arange(2, dtype=np.int64)
            parents = np.arange(2, dtype=np.int64)
        elif together:
            labels = np.zeros(n, dtype=np.int64)
            parents = np.zeros(1, dtype=np.int64)
        else:
            labels = np.full(n, -1, dtype=np.int64)
            parents = np.zeros(0, dtype=np.int64)
        prob = np.where(labels >= 0, 1.0, 0.0)
        self._finish(X, labels, prob, labels.copy(), parents)
        self.modularity_ = float("nan")
        self.resolution_ = float("nan")

    def _finish(
        self,
        X: FloatArray,
        labels: IntArray,
        prob: FloatArray,
        sub: IntArray,
        parent: IntArray,
    ) -> None:
        """Renumber themes by decreasing size, sub-themes by theme, and store the results."""
        labels = np.asarray(labels, dtype=np.int64)
        n_top = int(labels.max()) + 1 if labels.size and labels.max() >= 0 else 0
        sizes = np.bincount(labels[labels >= 0], minlength=n_top)
        # Stable order: larger first, ties by first appearance.
        order = np.lexsort((np.arange(n_top), -sizes))
        rank = np.empty(n_top, dtype=np.int64)
        rank[order] = np.arange(n_top)
        new_labels = (
            np.where(labels >= 0, rank[np.maximum(labels, 0)], -1)
            if n_top
            else np.full(labels.shape, -1, dtype=np.int64)
        )

        # Sub-themes keep only those with members; renumber grouped by their theme.
        present = np.unique(sub[sub >= 0])
        sub_parent = rank[parent[present]] if present.size else np.zeros(0, dtype=np.int64)
        sub_order = np.lexsort((present, sub_parent))
        sub_rank = np.full(int(sub.max()) + 1 if sub.size and sub.max() >= 0 else 0, -1)
        sub_rank[present[sub_order]] = np.arange(present.size)
        new_sub = (
            np.where(sub >= 0, sub_rank[np.maximum(sub, 0)], -1)
            if present.size
            else np.full(sub.shape, -1, dtype=np.int64)
        )

        centroids = np.zeros((n_top, X.shape[1]))
        for t in range(n_top):
            centroids[t] = X[new_labels == t].mean(axis=0)
        self.labels_ = new_labels.astype(np.int64)
        self.probabilities_ = np.clip(np.asarray(prob, dtype=np.float64), 0.0, 1.0)
        self.probabilities_[self.labels_ < 0] = 0.0
        self.subtheme_labels_ = new_sub.astype(np.int64)
        self.subtheme_parents_ = np.sort(sub_parent).astype(np.int64)
        self.centroids_ = unit_rows(centroids) if n_top else centroids
        self.n_themes_ = n_top
        self.n_subthemes_ = int(present.size)

    def fit_predict(self, X: Any, y: None = None, **kwargs: Any) -> IntArray:
        """Fit and return ``labels_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Sentence embeddings.
        y : None
            Ignored.
        **kwargs : dict
            Ignored; accepted for scikit-learn compatibility.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Theme of each narrative, ``-1`` when unclustered.
        """
        return self.fit(X).labels_


def _modularity(graph: sp.csr_matrix, labels: IntArray, resolution: float) -> float:
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
