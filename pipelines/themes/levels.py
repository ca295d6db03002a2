"""How far dense sub-themes are merged into themes: greedy modularity and the automatic level."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Up to this many narratives ``resolution="auto"`` merges at the standard resolution 1.0:
#: choosing by the Davies-Bouldin index (the criterion before the silhouette) over-merged
#: samples of 120-500 short texts (10-15 NMI points lower on stackoverflow and tweet89 samples).
AUTO_FIXED_MAX_N = 1000
#: Narratives whose silhouette scores a candidate partition (a seeded sample above this).
SILHOUETTE_SAMPLE = 2000
#: With ``resolution="auto"``, a partition whose largest theme holds more than this share of
#: the dense narratives is not chosen (patient feedback merged into one theme of 75% at the
#: coarsest resolution).
AUTO_MAX_THEME_SHARE = 0.5
#: Resolutions tried when ``resolution="auto"``: coarse (0.25) to the standard modularity (1.0).
AUTO_RESOLUTIONS = tuple(round(1.0 - 0.05 * i, 2) for i in range(16))


def greedy_modularity(
    weights: FloatArray, resolution: float, target: int | None, apart: IntArray | None = None
) -> IntArray:
    """Merge groups greedily by modularity gain on a small weighted graph.

    Without ``target`` merging stops when no merge raises the modularity (at the given
    resolution); with ``target`` it goes on until that many groups remain.
    Nodes with different non-negative ``apart`` tags are never merged (pinned themes).
    Returns the merged group of every input node, numbered 0..k-1 by first appearance.
    """
    s = weights.shape[0]
    tags = np.full(s, -1, dtype=np.int64) if apart is None else np.asarray(apart).copy()
    total = float(weights.sum())
    if s <= 1 or total <= 0.0:
        return np.arange(s, dtype=np.int64)
    e = weights / total
    a = e.sum(axis=1)
    gain = e - resolution * np.outer(a, a)
    np.fill_diagonal(gain, -np.inf)
    gain[clashing(tags, tags)] = -np.inf
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
        row[~alive | clashing(tags[i : i + 1], tags)[0]] = -np.inf
        row[i] = -np.inf
        gain[i, :] = row
        gain[:, i] = row
        gain[j, :] = -np.inf
        gain[:, j] = -np.inf
        owner[owner == j] = i
        remaining -= 1
    _, merged = np.unique(owner, return_inverse=True)
    return merged.astype(np.int64)


def clashing(left: IntArray, right: IntArray) -> npt.NDArray[np.bool_]:
    """Pairs of nodes that carry different pins."""
    clash: npt.NDArray[np.bool_] = (
        (left[:, None] >= 0) & (right[None, :] >= 0) & (left[:, None] != right[None, :])
    )
    return clash


def spread(points: FloatArray, labels: IntArray, random_state: int) -> float:
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


def choose_level(
    weights: FloatArray,
    reduced: FloatArray,
    seeds: IntArray,
    random_state: int,
    apart: IntArray | None = None,
) -> tuple[IntArray, float]:
    """The automatic level: each sub-theme's theme and the resolution that merged them.

    Among the partitions greedy modularity gives at ``AUTO_RESOLUTIONS``, keeps the one whose
    themes are most compact and separated in the clustered space (mean silhouette of the
    dense sub-theme members), never one whose largest theme holds more than
    ``AUTO_MAX_THEME_SHARE`` of them unless it is the finest. Up to ``AUTO_FIXED_MAX_N``
    narratives the resolution is 1.0.
    """
    if seeds.size <= AUTO_FIXED_MAX_N:
        return greedy_modularity(weights, 1.0, None, apart), 1.0
    core = np.flatnonzero(seeds >= 0)
    best: tuple[float, float, IntArray] | None = None
    seen: set[bytes] = set()
    for gamma in AUTO_RESOLUTIONS:
        parent = greedy_modularity(weights, gamma, None, apart)
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
        index = spread(reduced[core], groups, random_state)
        if best is None or index < best[0]:
            best = (index, gamma, parent)
    if best is None or not np.isfinite(best[0]):
        return greedy_modularity(weights, 1.0, None, apart), 1.0
    return best[2], best[1]


def settle_boundaries(
    reduced: FloatArray, themes: IntArray, core: npt.NDArray[np.bool_], random_state: int
) -> IntArray:
    """Redraw the borders between the merged themes: k-means in the clustered space, started
    from each theme's dense-core mean, over every narrative.

    Merging whole sub-themes keeps each one's borders, and the graph propagation that gives
    the narratives outside the cores a sub-theme follows chains of neighbours; on the five
    labelled sets both left themes less compact than the same number of k-means clusters.
    Returns labels ``0..k-1`` (a theme k-means empties is dropped).
    """
    from sklearn.cluster import KMeans

    k = int(themes.max()) + 1 if themes.size and themes.max() >= 0 else 0
    if k < 2 or reduced.shape[0] <= k:
        return themes.copy()
    starts = np.zeros((k, reduced.shape[1]))
    for t in range(k):
        members = themes == t
        inner = members & core
        starts[t] = reduced[inner if inner.any() else members].mean(axis=0)
    model = KMeans(n_clusters=k, init=starts, n_init=1, random_state=random_state)
    _, labels = np.unique(model.fit_predict(reduced), return_inverse=True)
    return labels.astype(np.int64)
