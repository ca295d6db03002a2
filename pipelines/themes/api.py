"""One call from texts and their embeddings to described themes on a map."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from pipelines.embed import Embedder, unit_rows
from pipelines.themes.cluster import ThemeClusterer
from pipelines.themes.describe import ThemeDescriber
from pipelines.themes.layout import graph_map, narrative_map, theme_positions
from pipelines.themes.membership import complete_subthemes, theme_distribution, top_memberships
from pipelines.themes.parallel import beside, one_blas_thread
from pipelines.themes.timing import StepClock

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
T = TypeVar("T")


@dataclass(frozen=True)
class ThemeDescription:
    """One top-level theme.

    ``exemplars`` index into the texts given to :func:`find_themes`, most central first;
    ``keywords`` are (phrase, c-TF-IDF weight) pairs, best first.
    """

    theme: int
    label: str
    keywords: list[tuple[str, float]]
    exemplars: list[int]
    size: int
    centroid: FloatArray
    subthemes: list[int] = field(default_factory=list)
    emerging: bool = False


@dataclass(frozen=True)
class SubthemeDescription:
    """One sub-theme: a dense core inside a top-level theme.

    ``exemplars`` index into the texts given to :func:`find_themes`; ``size`` counts the
    narratives whose ``subtheme_labels`` entry is this sub-theme; ``parent`` is its theme.
    """

    subtheme: int
    parent: int
    label: str
    keywords: list[tuple[str, float]]
    exemplars: list[int]
    size: int
    centroid: FloatArray


def _empty_top() -> IntArray:
    return np.zeros((0, 3), dtype=np.int64)


def _empty_top_probabilities() -> FloatArray:
    return np.zeros((0, 3))


@dataclass(frozen=True)
class ThemeResult:
    """Everything one analysis found, as plain arrays, lists and dicts.

    Attributes
    ----------
    labels : ndarray of shape (n,)
        Theme of each narrative (``0..n_themes-1``, by decreasing size) or ``-1``.
    probabilities : ndarray of shape (n,)
        Membership strength in ``[0, 1]`` (``0`` for unclustered narratives).
    themes : list of ThemeDescription
        One per theme, in label order.
    coords : ndarray of shape (n, 2)
        Map position of each narrative, in ``[-1, 1]``.
    theme_coords : ndarray of shape (n_themes, 2)
        Map position of each theme.
    subtheme_labels : ndarray of shape (n,)
        Finer sub-theme of each narrative, ``-1`` when not in the dense core of one.
    subtheme_parents : ndarray of shape (n_subthemes,)
        Theme of each sub-theme.
    unclustered_share : float
        Share of narratives labelled ``-1``.
    parameters : dict
        Parameters actually used (including adapted ones) and library versions, JSON-ready.
    timings : dict
        Wall seconds of the three stages (``cluster``, ``describe``, ``map``) and ``total``,
        and of the steps inside them (:data:`STEPS`; a step that did not run is absent:
        ``knn`` alone for the tiniest inputs, nothing of the clustering below three). Two
        steps run beside others, each timed on its own thread: ``keywords`` (the phrase
        counts) beside the clustering and ``map`` beside the describing, so the steps and
        stages can add up to more than ``total``.
    subthemes : list of SubthemeDescription
        One per sub-theme, in sub-theme label order, each with its parent theme.
    top_themes : ndarray of shape (n, 3)
        Each narrative's most likely themes, its own theme first, ``-1`` padded
        (all ``-1`` for unclustered narratives).
    top_probabilities : ndarray of shape (n, 3)
        Their probabilities; each row sums to at most 1.
    leaf_labels : ndarray of shape (n,)
        Sub-theme of every member of a theme with two or more sub-themes (members outside
        every core go to the nearest sub-theme of their theme), ``-1`` elsewhere.
    """

    labels: IntArray
    probabilities: FloatArray
    themes: list[ThemeDescription]
    coords: FloatArray
    theme_coords: FloatArray
    subtheme_labels: IntArray
    subtheme_parents: IntArray
    unclustered_share: float
    parameters: dict[str, Any]
    timings: dict[str, float]
    subthemes: list[SubthemeDescription] = field(default_factory=list)
    top_themes: IntArray = field(default_factory=_empty_top)
    top_probabilities: FloatArray = field(default_factory=_empty_top_probabilities)
    leaf_labels: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def n_themes(self) -> int:
        return len(self.themes)


#: The steps ``ThemeResult.timings`` may time, in pipeline order: the neighbour search, the
#: fuzzy graph and its projection, HDBSCAN's sub-themes, the merge into themes (with the
#: automatic level), borders and outlier placement, keywords (phrase counts and c-TF-IDF),
#: naming, exemplars, the sub-themes' descriptions, soft membership, and the 2-D map.
STEPS = (
    "knn",
    "embedding",
    "hdbscan",
    "merge",
    "borders",
    "keywords",
    "naming",
    "exemplars",
    "subthemes",
    "membership",
    "map",
)
#: The stages and the whole, also in ``ThemeResult.timings``.
STAGES = ("cluster", "describe", "map", "total")

#: The libraries whose versions shape a clustering's results.
CLUSTERING_LIBRARIES = ("numpy", "scikit-learn", "scipy", "umap-learn", "hdbscan")


def library_versions(names: Sequence[str] = CLUSTERING_LIBRARIES) -> dict[str, str]:
    """Installed versions of the distributions `names`; "absent" for one not installed."""
    out: dict[str, str] = {}
    for dist in names:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "absent"
    return out


def _describe_subthemes(
    texts: Sequence[str],
    emb: FloatArray,
    sub_labels: IntArray,
    parents: IntArray,
    n_keywords: int,
    n_exemplars: int,
    counts: tuple[Any, Any] | None = None,
    embedder: Embedder | None = None,
) -> list[SubthemeDescription]:
    """Keywords, label, exemplars, size and centroid of every sub-theme (``emb``: the
    narratives' unit vectors)."""
    n_sub = int(parents.size)
    if n_sub == 0:
        return []
    centroids = np.zeros((n_sub, emb.shape[1]))
    for s in range(n_sub):
        members = sub_labels == s
        if members.any():
            c = emb[members].mean(axis=0)
            centroids[s] = c / (np.linalg.norm(c) or 1.0)
    describer = ThemeDescriber(n_keywords=n_keywords, n_exemplars=n_exemplars)
    describer.fit(texts, sub_labels, emb, centroids, phrase_counts=counts, phrase_embedder=embedder)
    return [
        SubthemeDescription(
            subtheme=s,
            parent=int(parents[s]),
            label=describer.theme_labels_[s],
            keywords=describer.keywords_[s],
            exemplars=describer.exemplars_[s],
            size=int(describer.sizes_[s]) if s < describer.sizes_.size else 0,
            centroid=centroids[s],
        )
        for s in range(n_sub)
    ]


def _timed(work: Callable[..., T], *args: Any) -> tuple[T, float]:
    """``work(*args)`` and its wall seconds."""
    began = time.perf_counter()
    out = work(*args)
    return out, time.perf_counter() - began


def _map(clusterer: ThemeClusterer, X: FloatArray, wanted: bool, random_state: int) -> FloatArray:
    """The narratives' 2-D map: laid out on the clustering's graph from its projection, or
    from the embeddings when no projection was made; zeros when not ``wanted``."""
    if not wanted:
        return np.zeros((X.shape[0], 2))
    if clusterer.embedding_.shape[1] < X.shape[1] and clusterer.graph_.nnz:
        return graph_map(clusterer.graph_, clusterer.embedding_, random_state=random_state)
    return narrative_map(
        X, knn=clusterer.knn_, n_neighbors=clusterer.n_neighbors, random_state=random_state
    )


def _describe(
    texts: Sequence[str],
    X: npt.NDArray[np.float32],
    clusterer: ThemeClusterer,
    describer: ThemeDescriber,
    counts: tuple[Any, Any] | None,
    embedder: Embedder | None,
    steps: dict[str, float],
) -> tuple[list[SubthemeDescription], IntArray, FloatArray, IntArray]:
    """Describe the themes (on ``describer``) and sub-themes and work out every narrative's
    memberships, adding each step's seconds to ``steps``."""
    clock = StepClock()
    counts = counts if clusterer.n_themes_ else None
    # one float64 copy of the unit vectors serves every step below
    unit = np.asarray(unit_rows(X.astype(np.float64)), dtype=np.float64)
    describer.fit(
        texts,
        clusterer.labels_,
        unit,
        clusterer.centroids_,
        phrase_counts=counts,
        phrase_embedder=embedder,
    )
    clock.lap("fit")
    for step, seconds in describer.timings_.items():
        steps[step] = steps.get(step, 0.0) + seconds
    subthemes = _describe_subthemes(
        texts,
        unit,
        clusterer.subtheme_labels_,
        clusterer.subtheme_parents_,
        describer.n_keywords,
        describer.n_exemplars,
        counts,
        embedder,
    )
    steps["subthemes"] = clock.lap("subthemes")
    distribution = theme_distribution(
        unit,
        np.asarray(clusterer.centroids_, dtype=np.float64),
        clusterer.graph_ if clusterer.graph_.shape[0] == X.shape[0] else None,
        clusterer.labels_,
    )
    top_themes, top_probabilities = top_memberships(distribution, clusterer.labels_)
    leaf_labels = complete_subthemes(
        unit,
        clusterer.labels_,
        clusterer.subtheme_labels_,
        clusterer.subtheme_parents_,
        np.stack([s.centroid for s in subthemes]) if subthemes else np.zeros((0, X.shape[1])),
    )
    steps["membership"] = clock.lap("membership")
    return subthemes, top_themes, top_probabilities, leaf_labels


def find_themes(
    texts: Sequence[str],
    embeddings: npt.ArrayLike,
    *,
    n_themes: int | None = None,
    random_state: int = 0,
    min_theme_size: int | None = None,
    n_keywords: int = 10,
    n_exemplars: int = 5,
    with_map: bool = True,
    clusterer_params: Mapping[str, Any] | None = None,
    embedder: Embedder | None = None,
) -> ThemeResult:
    """Cluster narratives into themes, describe each theme and place everything on a 2-D map.

    Parameters
    ----------
    texts : sequence of str
        The narratives' texts, used for keywords and exemplars.
    embeddings : array-like of shape (len(texts), n_features)
        Their sentence embeddings.
    n_themes : int or None, default=None
        Number of top-level themes wanted; ``None`` lets the data decide.
    random_state : int, default=0
        Seed for every random step; the same inputs and seed give the same result.
    min_theme_size : int or None, default=None
        Smallest sub-theme; ``None`` adapts to the number of narratives.
    n_keywords, n_exemplars : int
        Keywords and exemplars kept per theme.
    with_map : bool, default=True
        Compute 2-D coordinates (all zeros otherwise).
    clusterer_params : mapping or None
        Further :class:`ThemeClusterer` parameters.
    embedder : Embedder or None
        The model that made ``embeddings``; when given, the candidate names of every theme are
        embedded by it in one batch per level and scored by their own vectors (closer to the
        theme than the default, which places a phrase at its narratives' mean vector).

    Returns
    -------
    ThemeResult
    """
    start = time.perf_counter()
    X = np.asarray(embeddings, dtype=np.float32)
    if X.ndim != 2 or X.shape[0] != len(texts):
        raise ValueError(
            f"embeddings must be a (len(texts), dim) matrix; got shape {X.shape} "
            f"for {len(texts)} texts"
        )
    describer = ThemeDescriber(n_keywords=n_keywords, n_exemplars=n_exemplars)
    # The phrase counts need the texts alone: they are made while the clustering's layout
    # runs (the neighbour search before it takes both cores), and the 2-D map is laid out
    # while the themes are described (parallel.py).
    neighbours_found = threading.Event()

    def count() -> tuple[tuple[Any, Any] | None, float]:
        neighbours_found.wait()
        return _timed(describer.count, texts)

    # the threads end on leaving the block, however it is left; from the end of the neighbour
    # search (whose exact products use every core) the analysis's own threads take both cores
    # and numpy's BLAS runs on one (parallel.py)
    with ExitStack() as stack:

        def after(step: str) -> None:
            if step == "knn":
                stack.enter_context(one_blas_thread())
                neighbours_found.set()

        counting, end_counting = beside(count)
        stack.callback(end_counting)
        clusterer = ThemeClusterer(
            min_theme_size=min_theme_size,
            n_themes=n_themes,
            random_state=random_state,
            **dict(clusterer_params or {}),
        )
        try:
            clusterer.fit(X, on_step=after)
        finally:
            neighbours_found.set()
        t_cluster = time.perf_counter()
        n = X.shape[0]
        mapping, end_mapping = beside(
            lambda: _timed(_map, clusterer, X, with_map and n > 0, random_state)
        )
        stack.callback(end_mapping)
        steps: dict[str, float] = dict(clusterer.timings_)
        counts, steps["keywords"] = counting.result()
        described = _describe(texts, X, clusterer, describer, counts, embedder, steps)
        t_describe = time.perf_counter()
        coords, steps["map"] = mapping.result()
    subthemes, top_themes, top_probabilities, leaf_labels = described
    labels = clusterer.labels_
    positions = theme_positions(coords, labels, clusterer.n_themes_)
    t_map = time.perf_counter()

    parents = clusterer.subtheme_parents_
    themes = [
        ThemeDescription(
            theme=t,
            label=describer.theme_labels_[t],
            keywords=describer.keywords_[t],
            exemplars=describer.exemplars_[t],
            size=int(describer.sizes_[t]),
            centroid=np.asarray(clusterer.centroids_[t], dtype=np.float64),
            subthemes=[int(s) for s in np.flatnonzero(parents == t)],
        )
        for t in range(clusterer.n_themes_)
    ]
    params: dict[str, Any] = {
        **{k: v for k, v in clusterer.get_params().items()},
        "min_theme_size_used": clusterer.min_theme_size_,
        "resolution_used": (
            float(clusterer.resolution_) if np.isfinite(clusterer.resolution_) else None
        ),
        "n_keywords": n_keywords,
        "n_exemplars": n_exemplars,
        "with_map": with_map,
        # names scored by their own vectors; a later re-description without the model differs
        "names_embedded": embedder is not None,
        "n_narratives": n,
        "versions": library_versions(),
    }
    return ThemeResult(
        labels=labels,
        probabilities=clusterer.probabilities_,
        themes=themes,
        coords=coords,
        theme_coords=positions,
        subtheme_labels=clusterer.subtheme_labels_,
        subtheme_parents=parents,
        unclustered_share=float(np.mean(labels < 0)) if n else 0.0,
        parameters=params,
        subthemes=subthemes,
        top_themes=top_themes,
        top_probabilities=top_probabilities,
        leaf_labels=leaf_labels,
        timings={
            **steps,
            "cluster": t_cluster - start,
            "describe": t_describe - t_cluster,
            "total": t_map - start,
        },
    )
