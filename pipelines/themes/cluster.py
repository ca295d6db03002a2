"""Theme clustering of sentence embeddings: UMAP graph, HDBSCAN sub-themes, modularity merging."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.utils.validation import check_array

from pipelines.embed import unit_rows
from pipelines.themes.graph import (
    NarrativeGraph,
    build_graph,
    group_weights,
    modularity,
    own_share,
    propagate,
)
from pipelines.themes.levels import (
    AUTO_FIXED_MAX_N,
    choose_level,
    greedy_modularity,
    settle_boundaries,
)
from pipelines.themes.outliers import place_by_agreement, place_by_reach
from pipelines.themes.timing import StepClock

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

__all__ = ["AUTO_FIXED_MAX_N", "ThemeClusterer", "adaptive_min_theme_size"]

#: Below this many narratives a theme may be as small as two.
SMALL_SESSION_N = 50


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


class ThemeClusterer(ClusterMixin, BaseEstimator):  # type: ignore[misc]
    """Find themes in sentence embeddings.

    The narratives are joined in a fuzzy k-nearest-neighbour graph (cosine), projected to a
    few dimensions with UMAP (seeded), and HDBSCAN finds dense *sub-themes* there. Sub-themes
    whose narratives are strongly linked in the graph are then merged greedily while the
    graph's modularity rises (or until ``n_themes`` remain): these merged groups are the
    top-level *themes*. Without ``n_themes`` and above 1,000 narratives, k-means in the
    reduced space, started from the themes' dense cores, then redraws their borders over
    every narrative, and the reach rule (:mod:`pipelines.themes.outliers`) has the last
    word in the input space: a narrative
    outside the reach of every theme stays unclustered (``-1``). Up to 1,000 narratives the
    merged themes keep their borders and a narrative outside the dense cores also needs 40%
    of its graph neighbourhood (by edge weight) in its theme.

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
    n_epochs : int or None, default=200
        UMAP optimisation epochs; ``None`` keeps UMAP's own choice (200 above 10,000 points,
        500 below, which is slower and measured no better for clustering). Above 10,000
        narratives (``graph.EXACT_KNN_N``) at most 40 epochs are run, from a PCA start
        instead of a spectral one.
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
        core that stayed in its theme, half the depth inside the theme's reach
        (``1 - distance / reach``) for the others, ``0`` when unclustered. With ``n_themes``
        every narrative gets its neighbourhood agreement (or its HDBSCAN probability, if
        higher).
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
    timings_ : dict of str to float
        Wall seconds of each step of the last fit: ``knn`` (neighbour lists), ``embedding``
        (fuzzy graph and projection), ``hdbscan``, ``merge`` (propagation, merging and the
        automatic level) and ``borders`` (borders redrawn, outliers placed, themes numbered).
    """

    def __init__(
        self,
        min_theme_size: int | None = None,
        n_themes: int | None = None,
        n_neighbors: int = 15,
        n_components: int = 5,
        min_samples: int | None = None,
        resolution: float | str = "auto",
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
        self.n_epochs = n_epochs
        self.random_state = random_state
        self.keep_apart = keep_apart

    # -- steps -------------------------------------------------------------------------------

    def _build_graph(self, X: FloatArray, clock: StepClock) -> NarrativeGraph:
        view = build_graph(
            X, self.n_neighbors, self.n_components, self.n_epochs, self.random_state, clock
        )
        self.knn_ = view.knn
        return view

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
            # two jobs start joblib worker processes: on the pooled 55,895 the first call
            # took 2.4 s against 1.2 s on one
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

    def fit(
        self, X: Any, y: None = None, on_step: Callable[[str], None] | None = None
    ) -> ThemeClusterer:
        """Find the themes of the narratives whose embeddings are the rows of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Sentence embeddings, one row per narrative (need not be unit length).
        y : None
            Ignored.
        on_step : callable or None
            Told each step's name (``pipelines.themes.STEPS``) as it ends: after ``knn``
            the rest of the fit needs one core (no steps below three narratives).

        Returns
        -------
        self : ThemeClusterer
            The fitted estimator.
        """
        clock = StepClock(on_step)
        self.timings_ = clock.laps
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

        view = self._build_graph(X, clock)
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
        clock.lap("hdbscan")

        if n_seeds == 0:
            self._finish(X, np.full(n, -1), np.zeros(n), np.full(n, -1), np.zeros(0, np.int64))
            self.modularity_ = float("nan")
            self.resolution_ = float("nan")
            return self

        # Attach left-out narratives to sub-themes for the merge, so degrees count everyone.
        reach = propagate(graph, seeds, n_seeds, rounds=3)
        weights = group_weights(graph, reach, n_seeds)
        apart = _pin_tags(self.keep_apart, reach, n_seeds)
        parent, self.resolution_ = self._merge(weights, target, view.reduced, seeds, apart)
        n_top = int(parent.max()) + 1
        clock.lap("merge")

        top = np.where(reach >= 0, parent[np.maximum(reach, 0)], -1)
        if target is not None:
            self._finish_target(X, graph, view.reduced, seeds, seed_prob, top, target)
            clock.lap("borders")
            return self
        core = seeds >= 0
        if n <= AUTO_FIXED_MAX_N:
            self._finish_small(X, graph, seeds, seed_prob, top, parent)
            clock.lap("borders")
            return self
        settled = settle_boundaries(view.reduced, top, core, self.random_state)
        n_top = int(settled.max()) + 1
        labels, depth = place_by_reach(X, settled, core, n_top)
        parent, in_parent = _subtheme_parents(seeds, labels, n_top)
        prob = np.where(in_parent, seed_prob, 0.5 * depth)
        self._finish(X, labels, prob, np.where(in_parent, seeds, -1), parent)
        self.modularity_ = modularity(graph, self.labels_, 1.0)
        clock.lap("borders")
        return self

    def _finish_small(
        self,
        X: FloatArray,
        graph: sp.csr_matrix,
        seeds: IntArray,
        seed_prob: FloatArray,
        top: IntArray,
        parent: IntArray,
    ) -> None:
        """Up to ``AUTO_FIXED_MAX_N`` narratives: merged themes as they are, the agreement rule."""
        n_top = int(parent.max()) + 1
        agreement = own_share(graph, top, n_top)
        labels, kept = place_by_agreement(X, top, seeds >= 0, agreement, n_top)
        prob = np.where(kept, seed_prob, np.where(labels >= 0, 0.5 * agreement, 0.0))
        self._finish(X, labels, prob, np.where(kept, seeds, -1), parent)
        self.modularity_ = modularity(graph, self.labels_, 1.0)

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
        scores = [modularity(graph, c, 1.0) for c in candidates]
        labels = candidates[int(np.argmax(scores))]
        _, labels = np.unique(labels, return_inverse=True)
        labels = labels.astype(np.int64)
        n_top = int(labels.max()) + 1

        parent, in_parent = _subtheme_parents(seeds, labels, n_top)
        agreement = own_share(graph, labels, n_top)
        prob = np.where(in_parent, np.maximum(seed_prob, agreement), agreement)
        self._finish(X, labels, prob, np.where(in_parent, seeds, -1), parent)
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
            return greedy_modularity(weights, 1.0, target, apart), 1.0
        if self.resolution != "auto":
            gamma = float(self.resolution)
            return greedy_modularity(weights, gamma, None, apart), gamma
        return choose_level(weights, reduced, seeds, self.random_state, apart)

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


def _subtheme_parents(seeds: IntArray, labels: IntArray, n_top: int) -> tuple[IntArray, BoolArray]:
    """Each sub-theme's theme (where most of its members ended) and which narratives stay in
    their sub-theme (those placed in its theme)."""
    n_seeds = int(seeds.max()) + 1 if (seeds >= 0).any() else 0
    parent = np.zeros(n_seeds, dtype=np.int64)
    for sub_id in range(n_seeds):
        placed = labels[(seeds == sub_id) & (labels >= 0)]
        if placed.size:
            parent[sub_id] = np.bincount(placed, minlength=n_top).argmax()
    in_parent = (seeds >= 0) & (labels >= 0) & (parent[np.maximum(seeds, 0)] == labels)
    return parent, in_parent
