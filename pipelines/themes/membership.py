"""Soft membership (each narrative's few most likely themes, with probabilities) and the
sub-theme of every member of a theme that has sub-themes."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Softmax temperature on cosine similarity to theme centroids (sentence embeddings place
#: related themes 0.1-0.3 apart in cosine, so 0.05 separates them without being a hard max).
TEMPERATURE = 0.05
#: A secondary theme is listed only with at least this probability.
MIN_SECONDARY = 0.05


def theme_distribution(
    X: FloatArray,
    centroids: FloatArray,
    graph: sp.csr_matrix | None = None,
    labels: IntArray | None = None,
    temperature: float = TEMPERATURE,
) -> FloatArray:
    """Probability of each theme for each narrative, rows summing to 1.

    The mean of two views: a softmax over cosine similarities to the theme centroids, and,
    when a neighbourhood graph and labels are given, the share of the narrative's graph edge
    weight that goes to each theme's members (falling back to the softmax for narratives
    whose neighbours are all unclustered).

    Parameters
    ----------
    X : ndarray of shape (n, n_features)
        Unit-length embeddings.
    centroids : ndarray of shape (n_themes, n_features)
        Unit-length theme centroids.
    graph : sparse matrix of shape (n, n) or None
        Symmetric neighbourhood graph.
    labels : ndarray of shape (n,) or None
        Theme of each narrative, ``-1`` when unclustered.
    temperature : float, default=0.05
        Softmax temperature.

    Returns
    -------
    ndarray of shape (n, n_themes)
    """
    n = X.shape[0]
    k = centroids.shape[0]
    if k == 0 or n == 0:
        return np.zeros((n, k))
    logits = (X @ centroids.T) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    soft = np.exp(logits)
    soft /= soft.sum(axis=1, keepdims=True)
    if graph is None or labels is None or graph.nnz == 0:
        return np.asarray(soft, dtype=np.float64)
    known = np.flatnonzero(labels >= 0)
    member = sp.csr_matrix((np.ones(known.size), (known, labels[known])), shape=(n, k))
    votes = np.asarray((graph @ member).toarray(), dtype=np.float64)
    total = votes.sum(axis=1, keepdims=True)
    share = np.where(total > 0, votes / np.where(total > 0, total, 1.0), soft)
    return np.asarray(0.5 * (soft + share), dtype=np.float64)


def top_memberships(
    distribution: FloatArray,
    labels: IntArray,
    top: int = 3,
    min_secondary: float = MIN_SECONDARY,
) -> tuple[IntArray, FloatArray]:
    """Each narrative's ``top`` themes and their probabilities, its own theme first.

    Parameters
    ----------
    distribution : ndarray of shape (n, n_themes)
        Rows summing to 1 (see :func:`theme_distribution`).
    labels : ndarray of shape (n,)
        Assigned theme, ``-1`` when unclustered: unclustered narratives get ``-1`` and ``0``
        throughout, so they count in no theme.
    top : int, default=3
        Themes listed per narrative.
    min_secondary : float, default=0.05
        Secondary themes below this probability are left out (``-1``, ``0``).

    Returns
    -------
    themes : ndarray of shape (n, top)
        Theme indices, ``-1`` padded.
    probabilities : ndarray of shape (n, top)
        Their probabilities; a row sums to at most 1. The assigned theme's probability is
        at least every listed secondary theme's.
    """
    n, k = distribution.shape
    themes = np.full((n, top), -1, dtype=np.int64)
    probs = np.zeros((n, top))
    if k == 0 or n == 0:
        return themes, probs
    rows = np.flatnonzero(labels >= 0)
    if rows.size == 0:
        return themes, probs
    dist = distribution[rows]
    own = labels[rows].astype(np.int64)
    # Rank the other themes by probability (ties by index), the assigned theme put last.
    ranked = np.where(np.arange(k)[None, :] == own[:, None], -np.inf, dist)
    order = np.lexsort((np.tile(np.arange(k), (rows.size, 1)), -ranked), axis=1)
    others = order[:, : max(0, min(top - 1, k - 1))]
    other_p = np.take_along_axis(dist, others, axis=1)
    keep = other_p >= min_secondary
    own_p = dist[np.arange(rows.size), own]
    best_other = np.where(keep, other_p, 0.0).max(axis=1, initial=0.0)
    # The assigned theme leads even where the centroids alone would rank another higher.
    lead = np.maximum(own_p, best_other)
    scale = np.maximum(1.0, dist.sum(axis=1) - own_p + lead)
    themes[rows, 0] = own
    probs[rows, 0] = lead / scale
    themes[rows, 1 : 1 + others.shape[1]] = np.where(keep, others, -1)
    probs[rows, 1 : 1 + others.shape[1]] = np.where(keep, other_p / scale[:, None], 0.0)
    return themes, probs


def complete_subthemes(
    X: FloatArray,
    labels: IntArray,
    subtheme_labels: IntArray,
    subtheme_parents: IntArray,
    subtheme_centroids: FloatArray,
) -> IntArray:
    """Every member of a theme with two or more sub-themes placed in one of them.

    A sub-theme is the dense core of a part of its theme; members outside every core go to
    the sub-theme of their theme whose centroid is nearest, so the sub-themes of a theme
    cover it exactly. A theme with a single sub-theme has no children: its members get
    ``-1``, as do unclustered narratives.

    Parameters
    ----------
    X : ndarray of shape (n, n_features)
        Unit-length embeddings.
    labels : ndarray of shape (n,)
        Theme of each narrative, ``-1`` when unclustered.
    subtheme_labels : ndarray of shape (n,)
        Core sub-theme of each narrative, ``-1`` outside every core.
    subtheme_parents : ndarray of shape (n_subthemes,)
        Theme of each sub-theme.
    subtheme_centroids : ndarray of shape (n_subthemes, n_features)
        Unit-length sub-theme centroids.

    Returns
    -------
    ndarray of shape (n,)
        Sub-theme of each narrative, or ``-1``.
    """
    labels = np.asarray(labels, dtype=np.int64)
    core = np.asarray(subtheme_labels, dtype=np.int64)
    parents = np.asarray(subtheme_parents, dtype=np.int64)
    out = np.full(labels.shape, -1, dtype=np.int64)
    if parents.size == 0:
        return out
    counts = np.bincount(parents, minlength=int(labels.max(initial=-1)) + 1)
    for theme in np.flatnonzero(counts >= 2):
        children = np.flatnonzero(parents == theme)
        members = np.flatnonzero(labels == theme)
        own = core[members]
        inside = np.isin(own, children)
        out[members[inside]] = own[inside]
        rest = members[~inside]
        if rest.size:
            sims = X[rest] @ np.asarray(subtheme_centroids, dtype=np.float64)[children].T
            out[rest] = children[np.argmax(sims, axis=1)]
    return out


def segment_distribution(
    owners: IntArray,
    segment_vectors: FloatArray,
    lengths: FloatArray,
    centroids: FloatArray,
    n_owners: int,
) -> FloatArray:
    """Each long narrative's share of every theme, from the themes its segments fall in.

    A segment falls in the theme whose centroid is nearest (cosine); a narrative's share of a
    theme is the length of its segments there over the length of all its segments.

    Parameters
    ----------
    owners : ndarray of shape (n_segments,)
        Narrative (``0..n_owners-1``) of each segment.
    segment_vectors : ndarray of shape (n_segments, n_features)
        Unit-length segment embeddings.
    lengths : ndarray of shape (n_segments,)
        Weight of each segment (its characters).
    centroids : ndarray of shape (n_themes, n_features)
        Unit-length theme centroids.
    n_owners : int
        Number of narratives.

    Returns
    -------
    ndarray of shape (n_owners, n_themes)
        Rows summing to 1 (0 for a narrative with no segment).
    """
    k = centroids.shape[0]
    shares = np.zeros((n_owners, k))
    if k == 0 or owners.size == 0:
        return shares
    fell_in = np.argmax(segment_vectors @ centroids.T, axis=1)
    np.add.at(shares, (owners, fell_in), lengths)
    total = shares.sum(axis=1, keepdims=True)
    return np.asarray(shares / np.where(total > 0, total, 1.0), dtype=np.float64)


def closest_segment(segment_vectors: FloatArray, centroid: FloatArray) -> int:
    """Index of the segment nearest a theme's centroid: the one a quote of the theme shows."""
    return int(np.argmax(segment_vectors @ centroid))


def with_segment_shares(
    top_themes: IntArray,
    top_probabilities: FloatArray,
    labels: IntArray,
    centroids: FloatArray,
    rows: IntArray,
    owners: IntArray,
    segment_vectors: FloatArray,
    lengths: FloatArray,
) -> tuple[IntArray, FloatArray]:
    """Soft memberships with the long narratives' rows taken from their segments.

    Each narrative in ``rows`` (with segments; ``owners`` index into ``rows``) gets
    :func:`top_memberships` of its :func:`segment_distribution`: the themes its segments fall
    in, by length share, its own theme first. Other rows are kept as given.

    Parameters
    ----------
    top_themes, top_probabilities : ndarray of shape (n, top)
        Memberships from whole-narrative vectors (see :func:`top_memberships`).
    labels : ndarray of shape (n,)
        Theme of each narrative, ``-1`` when unclustered (an unclustered narrative keeps
        no membership).
    centroids : ndarray of shape (n_themes, n_features)
        Unit-length theme centroids.
    rows : ndarray of shape (n_long,)
        The narratives that have segments.
    owners, segment_vectors, lengths :
        As in :func:`segment_distribution`, with ``owners`` in ``0..n_long-1``.

    Returns
    -------
    themes, probabilities : ndarrays shaped like the inputs
    """
    themes = np.array(top_themes, copy=True)
    probabilities = np.array(top_probabilities, copy=True)
    if rows.size == 0 or centroids.shape[0] == 0:
        return themes, probabilities
    shares = segment_distribution(owners, segment_vectors, lengths, centroids, int(rows.size))
    found, found_p = top_memberships(shares, labels[rows], top=themes.shape[1])
    themes[rows] = found
    probabilities[rows] = found_p
    return themes, probabilities
