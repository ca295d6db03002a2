"""Placing new narratives into an existing analysis without re-clustering it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from pipelines.embed import unit_rows
from pipelines.themes.api import ThemeDescription
from pipelines.themes.describe import ThemeDescriber

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Reference neighbours consulted for each new narrative.
N_NEIGHBORS = 15
#: Share of the neighbours' (similarity-weighted) vote the winning theme needs.
MIN_VOTE = 0.5
#: A new narrative fits its theme when its mean similarity to its reference neighbours is no
#: further below this quantile of the same figure for the theme's own members than the
#: quantile lies below their median (a sample of a few dozen members rarely shows the tail
#: that new narratives of the same kind reach).
FIT_QUANTILE = 0.02
#: A new narrative whose nearest neighbours (old and new together) are new by at least this
#: much more than its theme's share of new narratives may join an emerging theme even when
#: an existing theme would take it.
MIN_NEW_EXCESS = 0.25
#: After grouping, a new narrative joins an emerging theme when at least this share of its
#: nearest neighbours is new and most of its new neighbours are in that theme.
MIN_ABSORB_SHARE = 0.2
#: Reference narratives sampled to learn those per-theme figures.
CALIBRATION_SAMPLE = 600
#: Re-analysis is due once the narratives added since the last analysis reach this share of
#: the narratives it saw...
REANALYSIS_ADDED_SHARE = 0.25
#: ...or once this share of the added narratives fit no existing theme (emerging or not)...
REANALYSIS_UNASSIGNED_SHARE = 0.2
#: ...counted only from this many added narratives on, so one odd message decides nothing.
REANALYSIS_MIN_ADDED = 30


@dataclass(frozen=True)
class IncrementalResult:
    """Where each new narrative goes.

    Attributes
    ----------
    labels : ndarray of shape (n_new,)
        Existing theme (``0..n_themes-1``), emerging theme (``n_themes + e``) or ``-1``.
    probabilities : ndarray of shape (n_new,)
        Strength of that placement in ``[0, 1]`` (``0`` for ``-1``).
    emerging : list of ThemeDescription
        The emerging themes, ``theme`` = their label value, ``emerging=True``; keywords and
        label are empty without texts. Exemplars index into the new narratives.
    fit_scores : ndarray of shape (n_new,)
        Mean cosine similarity of each new narrative to its nearest reference narratives.
    n_unassigned : int
        New narratives in no existing theme (those in emerging themes included).
    """

    labels: IntArray
    probabilities: FloatArray
    emerging: list[ThemeDescription] = field(default_factory=list)
    fit_scores: FloatArray = field(default_factory=lambda: np.zeros(0))
    n_unassigned: int = 0


@dataclass(frozen=True)
class ReanalysisAdvice:
    """Whether a full analysis is due, and why (plain language)."""

    due: bool
    reason: str
    added_share: float
    unassigned_share: float


def _unit(X: npt.ArrayLike) -> FloatArray:
    A = np.asarray(X, dtype=np.float64)
    if A.ndim != 2:
        raise ValueError(f"expected a 2-D matrix, got shape {A.shape}")
    return np.asarray(unit_rows(A), dtype=np.float64)


def _neighbours(
    queries: FloatArray, reference: FloatArray, k: int, skip_self: bool = False
) -> tuple[IntArray, FloatArray]:
    """Top-``k`` cosine neighbours of each query in ``reference`` (ties by index)."""
    sims = queries @ reference.T
    if skip_self:
        sims[np.arange(queries.shape[0]), np.arange(queries.shape[0])] = -np.inf
    k = min(k, reference.shape[0] - (1 if skip_self else 0))
    part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    part_s = np.take_along_axis(sims, part, axis=1)
    order = np.lexsort((part, -part_s), axis=1)
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(part_s, order, axis=1)


def _fit_thresholds(
    reference: FloatArray, labels: IntArray, n_themes: int, k: int, random_state: int
) -> FloatArray:
    """Per theme, the lowest mean similarity to its neighbours a member may have (see
    ``FIT_QUANTILE``)."""
    rng = np.random.default_rng(random_state)
    clustered = np.flatnonzero(labels >= 0)
    if clustered.size == 0:
        return np.zeros(n_themes)
    # Sample evenly across themes so small themes get a threshold of their own.
    per_theme = max(30, CALIBRATION_SAMPLE // max(n_themes, 1))
    picks: list[IntArray] = []
    for t in range(n_themes):
        members = np.flatnonzero(labels == t)
        if members.size > per_theme:
            members = np.sort(rng.choice(members, per_theme, replace=False))
        picks.append(members)
    sample = np.concatenate(picks) if picks else np.zeros(0, dtype=np.int64)
    ref32 = reference.astype(np.float32)
    sims = ref32[sample] @ ref32.T
    sims[np.arange(sample.size), sample] = -np.inf
    kk = min(k, reference.shape[0] - 1)
    top = -np.partition(-sims, kk - 1, axis=1)[:, :kk]
    fit = top.mean(axis=1).astype(np.float64)
    out = np.full(n_themes, _lower_bound(fit))
    for t in range(n_themes):
        own = fit[labels[sample] == t]
        if own.size >= 10:
            out[t] = _lower_bound(own)
    return out


def _lower_bound(fit: FloatArray) -> float:
    low = float(np.quantile(fit, FIT_QUANTILE))
    return low - (float(np.median(fit)) - low)


def _new_neighbour_share(new: FloatArray, reference: FloatArray, k: int) -> FloatArray:
    """Share of each new narrative's ``k`` nearest neighbours (reference and other new
    narratives together) that are new."""
    n_new = new.shape[0]
    if n_new < 2:
        return np.zeros(n_new)
    pool = np.vstack([new, reference]) if reference.shape[0] else new
    idx, _ = _neighbours(new, pool, k + 1)
    # Drop each narrative itself (its own row in the pool, first among the ties by index).
    own = idx == np.arange(n_new)[:, None]
    is_new = (idx < n_new) & ~own
    counted = np.maximum((~own).sum(axis=1), 1)
    return np.asarray(is_new.sum(axis=1) / counted, dtype=np.float64)


def _absorb(
    new: FloatArray,
    reference: FloatArray,
    groups: IntArray,
    n_groups: int,
    crowd: FloatArray,
    k: int,
) -> IntArray:
    """One pass that adds to each emerging group the new narratives drawn to it.

    A narrative not yet in a group joins the group most of its new neighbours are in, when
    at least ``MIN_ABSORB_SHARE`` of all its neighbours are new and more than half of those
    new neighbours are in that group.
    """
    n_new = new.shape[0]
    pool = np.vstack([new, reference]) if reference.shape[0] else new
    idx, _ = _neighbours(new, pool, k + 1)
    out = groups.copy()
    for i in np.flatnonzero((groups < 0) & (crowd >= MIN_ABSORB_SHARE)):
        mates = [int(j) for j in idx[i] if j < n_new and j != i]
        if not mates:
            continue
        votes = np.bincount(np.maximum(groups[mates], 0), minlength=n_groups)
        votes[0] -= int(np.sum(groups[mates] < 0))
        best = int(np.argmax(votes))
        if votes[best] * 2 > len(mates):
            out[i] = best
    return out


def _emerging_groups(X: FloatArray, min_size: int, min_similarity: float) -> IntArray:
    """Dense groups among narratives that fit no theme: ``-1`` or a group number per row.

    Two narratives link when each is among the other's nearest neighbours and their cosine
    is at least ``min_similarity``; groups are connected components of at least ``min_size``
    whose members keep most of their links inside the group.
    """
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    n = X.shape[0]
    out = np.full(n, -1, dtype=np.int64)
    if n < min_size or n < 2:
        return out
    k = min(max(5, min_size), n - 1)
    idx, sims = _neighbours(X, X, k, skip_self=True)
    rows = np.repeat(np.arange(n), idx.shape[1])
    strong = sims.ravel() >= min_similarity
    adj = csr_matrix(
        (np.ones(int(strong.sum())), (rows[strong], idx.ravel()[strong])), shape=(n, n)
    )
    mutual = adj.multiply(adj.T)
    _, comp = connected_components(mutual, directed=False)
    sizes = np.bincount(comp)
    big = np.flatnonzero(sizes >= min_size)
    # Largest groups first, ties by first member, so numbering is reproducible.
    firsts = np.array([np.flatnonzero(comp == c)[0] for c in big], dtype=np.int64)
    order = big[np.lexsort((firsts, -sizes[big]))]
    for g, c in enumerate(order):
        out[comp == c] = g
    return out


def assign_incremental(
    new_embeddings: npt.ArrayLike,
    reference_embeddings: npt.ArrayLike,
    reference_labels: npt.ArrayLike,
    centroids: npt.ArrayLike,
    *,
    new_texts: Sequence[str] | None = None,
    n_neighbors: int = N_NEIGHBORS,
    min_vote: float = MIN_VOTE,
    min_emerging_size: int | None = None,
    n_keywords: int = 10,
    n_exemplars: int = 5,
    random_state: int = 0,
) -> IncrementalResult:
    """Place new narratives into the themes of an existing analysis, without re-clustering.

    Each new narrative looks at its ``n_neighbors`` most similar reference narratives. It
    joins the theme with the largest similarity-weighted share of them when that share is at
    least ``min_vote`` and its mean similarity to those neighbours is no lower than that of
    the least typical members of the theme (measured on a seeded sample of the
    reference). The rest fit no theme. Those, and the new narratives whose nearest
    neighbours among old and new narratives together are mostly new, are candidates: groups
    of mutually nearest candidates at least as similar as a typical theme neighbourhood
    become emerging themes (their members leave any existing theme they were placed in).
    A whole session on one existing theme does not look new against a reference that holds
    many of its narratives; against a reference of only a few it can, which is also when a
    re-analysis is due.

    Parameters
    ----------
    new_embeddings : array-like of shape (n_new, n_features)
        Embeddings of the new narratives.
    reference_embeddings : array-like of shape (n_ref, n_features)
        Embeddings of the narratives of the existing analysis.
    reference_labels : array-like of shape (n_ref,)
        Their themes, ``-1`` for unclustered.
    centroids : array-like of shape (n_themes, n_features)
        Theme centroids of the existing analysis (rows beyond ``max(labels)`` count as
        themes without reference members).
    new_texts : sequence of str or None
        Texts of the new narratives, to describe emerging themes.
    n_neighbors : int, default=15
        Reference neighbours per new narrative.
    min_vote : float, default=0.5
        Share of the neighbourhood vote the theme needs.
    min_emerging_size : int or None, default=None
        Smallest emerging theme; ``None`` uses ``max(5, round(sqrt(n_new)))``.
    n_keywords, n_exemplars : int
        Keywords and exemplars per emerging theme.
    random_state : int, default=0
        Seed of the calibration sample; same inputs and seed give the same result.

    Returns
    -------
    IncrementalResult
    """
    new = _unit(new_embeddings)
    ref = _unit(reference_embeddings)
    ref_labels = np.asarray(reference_labels, dtype=np.int64)
    cents = _unit(centroids) if np.asarray(centroids).size else np.zeros((0, new.shape[1]))
    if ref_labels.shape != (ref.shape[0],):
        raise ValueError("reference_labels must have one entry per reference embedding")
    if new.shape[0] and ref.shape[0] and new.shape[1] != ref.shape[1]:
        raise ValueError("new and reference embeddings must have the same dimension")
    if new_texts is not None and len(new_texts) != new.shape[0]:
        raise ValueError("new_texts must have one entry per new embedding")
    n_new = new.shape[0]
    n_themes = max(cents.shape[0], int(ref_labels.max()) + 1 if ref_labels.size else 0)
    labels = np.full(n_new, -1, dtype=np.int64)
    probs = np.zeros(n_new)
    fit = np.zeros(n_new)
    if n_new == 0:
        return IncrementalResult(labels, probs, [], fit, 0)

    if ref.shape[0] >= 2 and n_themes > 0 and (ref_labels >= 0).any():
        idx, sims = _neighbours(new, ref, n_neighbors)
        fit = sims.mean(axis=1)
        weights = np.maximum(sims, 0.0)
        neigh = ref_labels[idx]
        votes = np.zeros((n_new, n_themes))
        for t in range(n_themes):
            votes[:, t] = np.where(neigh == t, weights, 0.0).sum(axis=1)
        total = np.maximum(weights.sum(axis=1), 1e-12)
        share = votes / total[:, None]
        best = np.argmax(share, axis=1)
        best_share = share[np.arange(n_new), best]
        thresholds = _fit_thresholds(ref, ref_labels, n_themes, n_neighbors, random_state)
        fits = (best_share >= min_vote) & (fit >= thresholds[best])
        labels[fits] = best[fits]
        probs[fits] = best_share[fits]
        typical = float(np.median(thresholds)) if thresholds.size else 0.0
    else:
        typical = 0.0

    # A narrative whose nearest neighbours are mostly other new narratives is denser with
    # the new arrivals than with anything the analysis saw: a candidate for an emerging
    # theme even when the old themes would take it.
    # Placed narratives are compared with the share of new narratives their theme would hold
    # anyway (the new ones placed in it over all its members), so a session that simply adds
    # much to one old theme does not look new.
    crowd = _new_neighbour_share(new, ref, n_neighbors)
    expected = np.zeros(n_new)
    placed = labels >= 0
    if placed.any():
        added = np.bincount(labels[placed], minlength=n_themes).astype(np.float64)
        held = np.bincount(ref_labels[ref_labels >= 0], minlength=n_themes).astype(np.float64)
        expected[placed] = (added / np.maximum(added + held, 1.0))[labels[placed]]
    candidates = np.flatnonzero(~placed | (crowd >= expected + MIN_NEW_EXCESS))
    n_unassigned = int(np.sum(labels < 0))
    min_size = (
        int(min_emerging_size)
        if min_emerging_size is not None
        else max(5, round(float(np.sqrt(n_new))))
    )
    emerging: list[ThemeDescription] = []
    if candidates.size >= min_size:
        # Linked pairs must be at least as close as a theme member is to its neighbours.
        groups = _emerging_groups(new[candidates], min_size, max(typical, 0.0))
        n_groups = int(groups.max()) + 1 if groups.size and groups.max() >= 0 else 0
        group_labels = np.full(n_new, -1, dtype=np.int64)
        group_labels[candidates] = groups
        if n_groups:
            group_labels = _absorb(new, ref, group_labels, n_groups, crowd, n_neighbors)
        n_unassigned = int(np.sum((labels < 0) | (group_labels >= 0)))
        describer: ThemeDescriber | None = None
        group_centroids = np.zeros((n_groups, new.shape[1]))
        for g in range(n_groups):
            c = new[group_labels == g].mean(axis=0)
            group_centroids[g] = c / (np.linalg.norm(c) or 1.0)
        if n_groups:
            describer = ThemeDescriber(n_keywords=n_keywords, n_exemplars=n_exemplars)
            describer.fit(
                list(new_texts) if new_texts is not None else [""] * n_new,
                group_labels,
                new,
                group_centroids,
            )
        for g in range(n_groups):
            members = np.flatnonzero(group_labels == g)
            labels[members] = n_themes + g
            probs[members] = np.clip(new[members] @ group_centroids[g], 0.0, 1.0)
            assert describer is not None
            keywords = describer.keywords_[g] if new_texts is not None else []
            emerging.append(
                ThemeDescription(
                    theme=n_themes + g,
                    label=describer.theme_labels_[g] if new_texts is not None else "",
                    keywords=keywords,
                    exemplars=describer.exemplars_[g],
                    size=int(members.size),
                    centroid=group_centroids[g],
                    emerging=True,
                )
            )
    return IncrementalResult(labels, probs, emerging, fit, n_unassigned)


def reanalysis_due(n_analysed: int, n_added: int, n_unassigned: int) -> ReanalysisAdvice:
    """The rule for when incremental placement is no longer enough.

    A full analysis is due when the narratives added since the last analysis reach 25% of
    those it saw, or when at least 30 have been added and more than 20% of them fit no
    existing theme (emerging themes included, since only a full analysis settles them).

    Parameters
    ----------
    n_analysed : int
        Narratives the last full analysis saw.
    n_added : int
        Narratives placed incrementally since.
    n_unassigned : int
        Of those, the ones that fit no existing theme.

    Returns
    -------
    ReanalysisAdvice
    """
    if n_added < 0 or n_unassigned < 0 or n_analysed < 0 or n_unassigned > n_added:
        raise ValueError("counts must be non-negative and n_unassigned <= n_added")
    added_share = n_added / n_analysed if n_analysed else (1.0 if n_added else 0.0)
    unassigned_share = n_unassigned / n_added if n_added else 0.0
    if n_analysed == 0 and n_added > 0:
        return ReanalysisAdvice(True, "no analysis yet", added_share, unassigned_share)
    if added_share >= REANALYSIS_ADDED_SHARE:
        return ReanalysisAdvice(
            True,
            f"{n_added} narratives added since the last analysis "
            f"({added_share:.0%} of the {n_analysed} it saw)",
            added_share,
            unassigned_share,
        )
    if n_added >= REANALYSIS_MIN_ADDED and unassigned_share > REANALYSIS_UNASSIGNED_SHARE:
        return ReanalysisAdvice(
            True,
            f"{n_unassigned} of {n_added} added narratives ({unassigned_share:.0%}) fit no "
            "existing theme",
            added_share,
            unassigned_share,
        )
    return ReanalysisAdvice(
        False, "themes still cover the added narratives", added_share, unassigned_share
    )
